//! The Tenant's status: the `Ready` condition with a reason and a message a human can act on,
//! `observedGeneration` and the namespaces; a Warning Event on failures.

use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource};
use mtp_core::{Tenant, TenantCondition, TenantStatus};
use serde_json::json;
use tracing::warn;

use super::{Context, Error, Result, tenant_name};

/// The condition type the controller maintains.
pub const READY: &str = "Ready";

/// The status of a Tenant whose plan is applied.
pub fn ready(tenant: &Tenant, namespaces: Vec<String>) -> TenantStatus {
    let n = namespaces.len();
    let message = format!(
        "{n} namespace{} with RBAC, network isolation, limits and quota applied",
        if n == 1 { "" } else { "s" }
    );
    status(tenant, "True", "Reconciled", message, namespaces)
}

/// The status of a Tenant whose reconcile failed with `err`; `retry` says when it is retried.
pub fn failed(tenant: &Tenant, err: &Error, retry: Option<std::time::Duration>) -> TenantStatus {
    let mut message = err.to_string();
    match err {
        Error::Plan(_) | Error::Unnamed => message.push_str("; fix the Tenant's spec"),
        Error::Kube { .. } => {
            if let Some(d) = retry {
                message.push_str(&format!("; retrying in {}s", d.as_secs().max(1)));
            }
        }
    }
    let namespaces = tenant
        .status
        .as_ref()
        .map(|s| s.namespaces.clone())
        .unwrap_or_default();
    status(tenant, "False", err.reason(), message, namespaces)
}

fn status(
    tenant: &Tenant,
    value: &str,
    reason: &str,
    message: String,
    namespaces: Vec<String>,
) -> TenantStatus {
    let generation = tenant.meta().generation;
    let previous = tenant
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == READY));
    // The transition time moves only when the status value changes.
    let last_transition_time = match previous {
        Some(p) if p.status == value => p.last_transition_time.clone(),
        _ => Some(now()),
    };
    TenantStatus {
        conditions: vec![TenantCondition {
            type_: READY.to_owned(),
            status: value.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            last_transition_time,
            observed_generation: generation,
        }],
        observed_generation: generation,
        namespaces,
    }
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Whether the Tenant's current status already says what `wanted` says.
pub fn is_current(tenant: &Tenant, wanted: &TenantStatus) -> bool {
    tenant.status.as_ref() == Some(wanted)
}

/// Writes `wanted` into the Tenant's status (merge patch of `/status`) unless it is current.
/// Returns whether a write was made.
pub async fn write(ctx: &Context, tenant: &Tenant, wanted: &TenantStatus) -> Result<bool> {
    if is_current(tenant, wanted) {
        return Ok(false);
    }
    let name = tenant_name(tenant)?;
    Api::<Tenant>::all(ctx.client.clone())
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": wanted })),
        )
        .await
        .map_err(Error::kube(format!("write the status of Tenant {name}")))?;
    Ok(true)
}

/// Records a failed reconcile: the `Ready=False` status and a Warning Event. Failures of these
/// writes are logged (the apiserver may be the thing that is down).
pub async fn report_failure(
    ctx: &Context,
    tenant: &Tenant,
    err: &Error,
    retry: Option<std::time::Duration>,
) {
    let wanted = failed(tenant, err, retry);
    if let Err(e) = write(ctx, tenant, &wanted).await {
        warn!(error = %e, "cannot record the failure in the Tenant's status");
    }
    let note = wanted
        .conditions
        .first()
        .and_then(|c| c.message.clone())
        .unwrap_or_default();
    let event = Event {
        type_: EventType::Warning,
        reason: err.reason().to_owned(),
        note: Some(truncate(note, 1024)),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &tenant.object_ref(&())).await {
        warn!(error = %e, "cannot publish an Event about the failure");
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}
