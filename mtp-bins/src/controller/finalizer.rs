//! The `mtp.dev/cleanup` finalizer: put on every Tenant before its objects are applied; on
//! deletion the tenant's namespaces are deleted (or kept, without their owner reference, when the
//! Tenant is annotated `mtp.dev/retain-namespaces: "true"`), then the finalizer is released.

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use mtp_core::Tenant;
use mtp_core::diff::{Kind, ObjectKey};
use mtp_core::plan::{MANAGED_BY, PSA_ENFORCE, PSA_ENFORCE_VERSION, TENANT_LABEL};
use serde_json::json;
use tracing::info;

use super::prune::delete_object;
use super::{
    Context, Error, FIELD_MANAGER, FINALIZER, RETAIN_ANNOTATION, RETAINED_FROM_ANNOTATION, Result,
    tenant_name,
};

/// Whether the Tenant carries the finalizer.
pub fn has_finalizer(tenant: &Tenant) -> bool {
    tenant.finalizers().iter().any(|f| f == FINALIZER)
}

/// Whether the Tenant asks to keep its namespaces when deleted.
pub fn retains_namespaces(tenant: &Tenant) -> bool {
    tenant
        .annotations()
        .get(RETAIN_ANNOTATION)
        .is_some_and(|v| v == "true")
}

/// Writes `finalizers` with a merge patch guarded by the Tenant's resourceVersion (a concurrent
/// change makes it fail with a conflict, and the reconcile is retried on fresh data).
async fn write_finalizers(ctx: &Context, tenant: &Tenant, finalizers: Vec<String>) -> Result<()> {
    let name = tenant_name(tenant)?;
    let patch = json!({
        "metadata": {"finalizers": finalizers, "resourceVersion": tenant.resource_version()}
    });
    Api::<Tenant>::all(ctx.client.clone())
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube(format!(
            "update the finalizers of Tenant {name}"
        )))?;
    Ok(())
}

/// Adds the finalizer when it is missing. Returns whether a write was made.
pub async fn ensure(ctx: &Context, tenant: &Tenant) -> Result<bool> {
    if has_finalizer(tenant) {
        return Ok(false);
    }
    let mut finalizers = tenant.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    write_finalizers(ctx, tenant, finalizers).await?;
    Ok(true)
}

/// Cleans up after a deleted Tenant and releases the finalizer.
pub async fn cleanup(ctx: &Context, tenant: &Tenant) -> Result<Action> {
    if !has_finalizer(tenant) {
        return Ok(Action::await_change());
    }
    let name = tenant_name(tenant)?;
    let uid = tenant.uid().unwrap_or_default();
    let retain = retains_namespaces(tenant);
    let mut namespaces = ctx.caches.namespaces_of(name, &uid);
    namespaces.sort_by_key(|n| n.name_any());
    for ns in &namespaces {
        let ns_name = ns.name_any();
        if retain {
            release_namespace(ctx, name, ns.labels(), &ns_name).await?;
        } else {
            let key = ObjectKey {
                kind: Kind::Namespace,
                namespace: None,
                name: ns_name,
            };
            delete_object(&ctx.client, &key).await?;
        }
    }
    info!(
        tenant = name,
        namespaces = namespaces.len(),
        retain,
        "tenant deleted: {} its namespaces",
        if retain { "kept" } else { "deleted" }
    );
    // A store-owned Tenant deleted in the cluster: deleted in the store too, before the
    // finalizer goes (else the store sync would apply it again).
    if let Some(store) = &ctx.store
        && super::sync::reflect_deletion(store.as_ref(), tenant)
            .await
            .map_err(|source| Error::Store {
                action: format!("delete tenant {name} in the store"),
                source,
            })?
    {
        info!(
            tenant = name,
            "deleted in the cluster: deleted in the store too"
        );
        ctx.metrics.observe_store_delete(1);
    }
    let finalizers = tenant
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    write_finalizers(ctx, tenant, finalizers).await?;
    Ok(Action::await_change())
}

/// Keeps a namespace after its Tenant is deleted: applies it without the owner reference (so the
/// garbage collector leaves it), keeping the platform's labels and recording the tenant's name.
async fn release_namespace(
    ctx: &Context,
    tenant: &str,
    labels: &BTreeMap<String, String>,
    namespace: &str,
) -> Result<()> {
    let kept: BTreeMap<&String, &String> = labels
        .iter()
        .filter(|(k, _)| {
            [TENANT_LABEL, MANAGED_BY.0, PSA_ENFORCE, PSA_ENFORCE_VERSION].contains(&k.as_str())
        })
        .collect();
    let body = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace,
            "labels": kept,
            "annotations": {RETAINED_FROM_ANNOTATION: tenant},
        }
    });
    Api::<k8s_openapi::api::core::v1::Namespace>::all(ctx.client.clone())
        .patch(
            namespace,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
        .map_err(Error::kube(format!("keep Namespace {namespace}")))?;
    Ok(())
}
