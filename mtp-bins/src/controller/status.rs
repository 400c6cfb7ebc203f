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

/// The status of a Tenant whose reconcile failed with `err`. The message says what failed and
/// that it is retried, but not when: a countdown would change the status at every attempt, and
/// every status write is a watch event.
pub fn failed(tenant: &Tenant, err: &Error) -> TenantStatus {
    let mut message = err.to_string();
    match err {
        Error::Plan(_) | Error::Unnamed => message.push_str("; fix the Tenant's spec"),
        Error::Kube { .. } | Error::Store { .. } => {
            message.push_str("; retrying with backoff (1s doubling to 60s)")
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

/// Whether `a` and `b` say the same but for the conditions' `lastTransitionTime`.
pub fn same_but_transition_time(a: &TenantStatus, b: &TenantStatus) -> bool {
    let strip = |s: &TenantStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_transition_time = None;
        }
        s
    };
    strip(a) == strip(b)
}

/// How long a status this controller wrote is trusted over an older copy of the Tenant in the
/// cache (the watch delivers the write within milliseconds; a resync after this long repairs a
/// status someone else changed).
const WRITTEN_TRUST: std::time::Duration = std::time::Duration::from_secs(60);

/// Writes `wanted` into the Tenant's status (merge patch of `/status`) unless it is current, or
/// is what this controller wrote moments ago into a Tenant whose cached copy lags behind.
/// Returns whether a write was made.
pub async fn write(ctx: &Context, tenant: &Tenant, wanted: &TenantStatus) -> Result<bool> {
    if is_current(tenant, wanted) || ctx.recently_written(tenant, wanted, WRITTEN_TRUST) {
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
    ctx.wrote(tenant, wanted);
    Ok(true)
}

/// Records a failed reconcile: the `Ready=False` status and a Warning Event. Failures of these
/// writes are logged (the apiserver may be the thing that is down).
pub async fn report_failure(ctx: &Context, tenant: &Tenant, err: &Error) {
    let wanted = failed(tenant, err);
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
