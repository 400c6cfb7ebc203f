//! The reconciler: finalizer, plan, diff against the cached objects, apply, prune, status.

use std::sync::Arc;
use std::time::Instant;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use mtp_core::diff::{diff, planned_objects};
use mtp_core::{Tenant, plan};
use tracing::{debug, instrument, warn};

use super::{Context, Error, Result, apply, finalizer, prune, status, tenant_name};

/// Reconciles one Tenant. On failure the `Ready` condition says why and a Warning Event is
/// published; [`error_policy`] then retries with exponential backoff.
///
/// Every log line of a reconcile carries the tenant's name and a new `reconcile_id` (the span is
/// error-level so that it is enabled whenever any line is logged); the Kubernetes calls made
/// meanwhile are its child spans.
#[instrument(
    level = "error",
    skip_all,
    fields(
        tenant = %tenant.name_any(),
        reconcile_id = %uuid::Uuid::new_v4(),
        otel.kind = "internal",
        trace_id = tracing::field::Empty,
    )
)]
pub async fn reconcile(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action> {
    crate::telemetry::record_trace_id(&tracing::Span::current());
    let started = Instant::now();
    let deleting = tenant.metadata.deletion_timestamp.is_some();
    let result = if deleting {
        finalizer::cleanup(&ctx, &tenant).await
    } else {
        apply_tenant(&ctx, &tenant).await
    };
    let name = tenant.name_any();
    ctx.metrics
        .observe_reconcile(started.elapsed(), result.as_ref().err().map(Error::reason));
    match &result {
        Ok(_) => {
            ctx.reset_failures(&name);
            if deleting {
                ctx.metrics.forget_tenant(&name);
            }
        }
        Err(Error::Plan(_)) => {}
        Err(e) if e.reason() == "Conflict" => {
            // Someone changed the Tenant or an object meanwhile: routine, retried on fresh data
            // without a Warning Event.
            debug!(error = %e, "conflict; retrying");
        }
        Err(e) => {
            let failures = ctx.failures(&name).saturating_add(1);
            let retry = ctx.backoff.delay(failures);
            warn!(error = %e, retry_in = ?retry, "reconcile failed");
            status::report_failure(&ctx, &tenant, e, Some(retry)).await;
            ctx.metrics.set_tenant(&name, tenant.spec.tier, false);
        }
    }
    result
}

/// What the controller does after a failed reconcile: retry after an exponentially growing delay
/// (1 s, 2 s, 4 s, ... at most 5 minutes); an invalid spec waits for the Tenant to change.
pub fn error_policy(tenant: Arc<Tenant>, err: &Error, ctx: Arc<Context>) -> Action {
    match err {
        Error::Plan(_) | Error::Unnamed => Action::await_change(),
        Error::Kube { .. } => {
            let failures = ctx.record_failure(&tenant.name_any());
            Action::requeue(ctx.backoff.delay(failures))
        }
    }
}

async fn apply_tenant(ctx: &Context, tenant: &Tenant) -> Result<Action> {
    let name = tenant_name(tenant)?;
    let planned = match plan(tenant, &ctx.catalogue, &ctx.settings).and_then(|p| {
        let names = p
            .namespace_names()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        planned_objects(&p).map(|o| (o, names))
    }) {
        Ok(planned) => planned,
        Err(e) => {
            // Nothing is applied for a Tenant the plan refuses; the status says what to fix.
            let err = Error::Plan(e);
            warn!(error = %err, "the tenant's spec cannot be planned");
            status::report_failure(ctx, tenant, &err, None).await;
            ctx.metrics.set_tenant(name, tenant.spec.tier, false);
            return Err(err);
        }
    };
    let (objects, namespaces) = planned;
    finalizer::ensure(ctx, tenant).await?;
    let uid = tenant.uid().unwrap_or_default();
    let observed = ctx.caches.observed(name, &uid);
    let changes = diff(&objects, &observed);
    debug!(
        apply = changes.apply.len(),
        delete = changes.delete.len(),
        "diff against the cluster"
    );
    apply::apply_all(&ctx.client, &objects, &changes.apply).await?;
    prune::delete_all(&ctx.client, &changes.delete).await?;
    let wanted = status::ready(tenant, namespaces);
    status::write(ctx, tenant, &wanted).await?;
    ctx.metrics.set_tenant(name, tenant.spec.tier, true);
    Ok(Action::requeue(ctx.resync))
}
