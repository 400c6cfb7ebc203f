//! The reconciler: finalizer, plan, diff against the cached objects, apply, prune, status.

use std::sync::Arc;
use tokio::time::Instant;

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
    let name = tenant.name_any();
    let deleting = tenant.metadata.deletion_timestamp.is_some();
    // A failing tenant is attempted when its backoff says so, whatever triggered this run (a
    // watch event of one of its objects, its own status write): triggers meanwhile are held,
    // not attempts. A new spec (generation) or a deletion goes ahead at once.
    if !deleting && let Some(wait) = ctx.retries.wait(&tenant, Instant::now()) {
        debug!(wait = ?wait, "backing off; the trigger is held until the next attempt");
        return Ok(Action::requeue(wait));
    }
    let started = std::time::Instant::now();
    let result = if deleting {
        finalizer::cleanup(&ctx, &tenant).await
    } else {
        apply_tenant(&ctx, &tenant).await
    };
    ctx.metrics
        .observe_reconcile(started.elapsed(), result.as_ref().err().map(Error::reason));
    match &result {
        Ok(_) => {
            ctx.retries.succeed(&name);
            if deleting {
                ctx.metrics.forget_tenant(&name);
                ctx.forget(&name);
            }
        }
        Err(Error::Plan(_)) => {}
        Err(e) if e.reason() == "Conflict" => {
            // Someone changed the Tenant or an object meanwhile: routine, retried on fresh data
            // without a Warning Event.
            debug!(error = %e, "conflict; retrying");
        }
        Err(e) => {
            let retry = ctx
                .backoff
                .delay(ctx.retries.failures(&name).saturating_add(1));
            warn!(error = %e, retry_in = ?retry, "reconcile failed");
            status::report_failure(&ctx, &tenant, e).await;
            ctx.metrics.set_tenant(&name, tenant.spec.tier, false);
        }
    }
    result
}

/// What the controller does after a failed reconcile: the next attempt after a delay that
/// doubles per failed attempt since the last success (1 s, 2 s, 4 s, ... at most 60 s); an
/// invalid spec waits for the Tenant to change.
pub fn error_policy(tenant: Arc<Tenant>, err: &Error, ctx: Arc<Context>) -> Action {
    match err {
        Error::Plan(_) | Error::Unnamed => Action::await_change(),
        Error::Kube { .. } | Error::Store { .. } => {
            Action::requeue(ctx.retries.fail(&tenant, &ctx.backoff, Instant::now()))
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
            status::report_failure(ctx, tenant, &err).await;
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
    // Objects this controller applied moments ago whose watch events have not arrived yet are
    // not applied again.
    let apply: Vec<usize> = changes
        .apply
        .iter()
        .copied()
        .filter(|&i| {
            objects.get(i).is_some_and(|o| {
                !ctx.caches
                    .in_flight
                    .pending(&o.key, super::value_hash(&o.value))
            })
        })
        .collect();
    apply::apply_all(&ctx.client, &objects, &apply, &ctx.caches.in_flight).await?;
    prune::delete_all(&ctx.client, &changes.delete).await?;
    let wanted = status::ready(tenant, namespaces);
    status::write(ctx, tenant, &wanted).await?;
    ctx.metrics.set_tenant(name, tenant.spec.tier, true);
    Ok(Action::requeue(ctx.resync))
}
