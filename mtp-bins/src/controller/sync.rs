//! Store → cluster sync: each live tenant of the store is applied as a `Tenant` resource (the
//! spec fields the store owns, the `app.kubernetes.io/managed-by: mtp` label and the store id,
//! field manager `mtp-controller-sync`; re-applied when any of them differs), and Tenants that
//! came from the store (annotation `mtp.dev/store-id`) whose record was deleted are deleted.
//!
//! The store is the one source of truth: a Tenant created in the cluster (with kubectl, by
//! GitOps) is **adopted**: its spec and members become a store record (audit action
//! `tenant.adopt`, actor `system:mtp-controller`), and the same round applies the store id to it,
//! so the API and mtpctl list every tenant. From then on the tenant is changed through the API;
//! the `tenant-ownership.mtp.dev` webhook refuses kubectl edits of it with that reason, and one
//! that slips through (the webhook down) is put back by the next round. A store-owned Tenant
//! deleted in the cluster is deleted in the store too, by the controller's finalizer
//! ([`reflect_deletion`], audited `tenant.delete`), so it is not re-created. Runs on start
//! and on a period; the cluster side is read from the controller's Tenant cache, so a round with
//! nothing to change makes no API call, and a round that failed (apiserver unreachable) is simply
//! done again by the next: applies are idempotent by name, so nothing is lost or duplicated.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::Store as Cache;
use kube::{Api, Client, ResourceExt};
use mtp_core::plan::MANAGED_BY;
use mtp_core::store::MAX_PAGE_SIZE;
use mtp_core::{
    ListParams, NewAuditRecord, NewMember, NewTenant, Role, Store, StoreError, Tenant,
    TenantFields, TenantRecord, TenantSpec,
};
use serde_json::json;
use tracing::{Instrument as _, info, warn};

use super::{ControllerMetrics, kube_message};

/// The annotation naming the store id of a Tenant the sync applied.
pub const STORE_ID_ANNOTATION: &str = "mtp.dev/store-id";
/// The field manager of the sync's writes.
pub const SYNC_FIELD_MANAGER: &str = "mtp-controller-sync";

/// An error that stops a sync round before it wrote anything.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store cannot be read.
    #[error("cannot read the store: {0}")]
    Store(#[source] StoreError),
}

/// What a sync round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Tenants applied (new or changed), by name.
    pub applied: Vec<String>,
    /// Tenants deleted, by name.
    pub deleted: Vec<String>,
    /// Tenants created in the cluster and adopted into the store, by name.
    pub adopted: Vec<String>,
    /// Tenants already right.
    pub unchanged: usize,
    /// Writes that failed: tenant name and the apiserver's message. The next round retries them.
    pub failed: Vec<(String, String)>,
}

/// A live tenant of the store with its spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The store record.
    pub record: TenantRecord,
    /// The spec it makes, members included.
    pub spec: TenantSpec,
}

/// Reads every live tenant of the store and its members.
pub async fn desired(store: &dyn Store) -> Result<Vec<Desired>, SyncError> {
    let mut out = Vec::new();
    let mut params = ListParams {
        limit: MAX_PAGE_SIZE,
        ..ListParams::default()
    };
    loop {
        let page = store
            .list_tenants(&params)
            .await
            .map_err(SyncError::Store)?;
        for record in page.items {
            let members = match store.list_members(record.id).await {
                Ok(members) => members,
                // Deleted between the list and now: the next round deletes its Tenant.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(SyncError::Store(e)),
            };
            let spec = record.fields.to_spec(&members);
            out.push(Desired { record, spec });
        }
        match page.next_cursor {
            Some(cursor) => params.cursor = Some(cursor),
            None => return Ok(out),
        }
    }
}

/// The body the sync applies for `desired`: name, label, store-id annotation and spec.
pub fn tenant_body(desired: &Desired) -> serde_json::Value {
    json!({
        "apiVersion": "mtp.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {
            "name": desired.record.name,
            "labels": {MANAGED_BY.0: MANAGED_BY.1},
            "annotations": {STORE_ID_ANNOTATION: desired.record.id.to_string()},
        },
        "spec": desired.spec,
    })
}

/// Whether the cluster's spec is the store's. The store does not carry guardrails nor member
/// groups (they are set on the Tenant resource), so the Tenant's own are left out of the
/// comparison; the sync's server-side apply does not send them, so it leaves them to their
/// field manager.
fn same_spec(cluster: &mtp_core::TenantSpec, store: &mtp_core::TenantSpec) -> bool {
    let only_store_fields = cluster.guardrails.is_none()
        && cluster.admin_groups.is_empty()
        && cluster.operator_groups.is_empty()
        && cluster.viewer_groups.is_empty();
    only_store_fields && cluster == store || {
        let mut cluster = cluster.clone();
        cluster.guardrails = None;
        cluster.admin_groups.clear();
        cluster.operator_groups.clear();
        cluster.viewer_groups.clear();
        cluster == *store
    }
}

/// The actor of the sync's audit records.
pub const SYNC_ACTOR: &str = "system:mtp-controller";

/// Adopts a Tenant created in the cluster into the store: a record with its spec and members,
/// audited as `tenant.adopt`.
pub async fn adopt(store: &dyn Store, tenant: &Tenant) -> Result<Desired, StoreError> {
    let name = tenant.name_any();
    let spec = &tenant.spec;
    let fields = TenantFields {
        display_name: spec.display_name.clone(),
        tier: spec.tier,
        owner_email: spec.owner_email.clone(),
        egress: spec.egress,
        namespaces: spec.namespaces.clone(),
        quota: spec.quota.clone(),
    };
    let mut members: Vec<NewMember> = Vec::new();
    for (role, users) in [
        (Role::Admin, &spec.admins),
        (Role::Operator, &spec.operators),
        (Role::Viewer, &spec.viewers),
    ] {
        for user in users {
            // A user listed under two roles keeps the first (the strongest).
            if !members.iter().any(|m| &m.user == user) {
                members.push(NewMember::new(user.clone(), role));
            }
        }
    }
    let audit = NewAuditRecord {
        actor: SYNC_ACTOR.to_owned(),
        action: "tenant.adopt".to_owned(),
        target: format!("tenant/{name}"),
        outcome: "success".to_owned(),
        request_id: None,
    };
    let (record, members) = store
        .create_tenant_audited(NewTenant { name, fields }, members, audit)
        .await?;
    let spec = record.fields.to_spec(&members);
    Ok(Desired { record, spec })
}

/// Deletes the store record of `tenant`, a store-owned Tenant being deleted in the cluster, so
/// that the sync does not apply it again: audited `tenant.delete` by [`SYNC_ACTOR`]. `Ok(false)`
/// when there was nothing to delete (not the store's, or already deleted, e.g. through the API).
pub async fn reflect_deletion(store: &dyn Store, tenant: &Tenant) -> Result<bool, StoreError> {
    let Some(id) = store_id(tenant).and_then(|id| uuid::Uuid::parse_str(id).ok()) else {
        return Ok(false);
    };
    let audit = NewAuditRecord {
        actor: SYNC_ACTOR.to_owned(),
        action: "tenant.delete".to_owned(),
        target: format!("tenant/{}", tenant.name_any()),
        outcome: "success".to_owned(),
        request_id: None,
    };
    match store.delete_tenant_audited(id, None, audit).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

fn store_id(tenant: &Tenant) -> Option<&str> {
    tenant
        .annotations()
        .get(STORE_ID_ANNOTATION)
        .map(String::as_str)
}

/// One round: applies what differs, deletes what the store no longer has. Reads the cluster from
/// `cluster` (the controller's Tenant cache).
pub async fn sync_once(
    store: &dyn Store,
    client: &Client,
    cluster: &Cache<Tenant>,
) -> Result<SyncReport, SyncError> {
    let mut wanted = desired(store).await?;
    let api: Api<Tenant> = Api::all(client.clone());
    let existing: BTreeMap<String, Arc<Tenant>> = cluster
        .state()
        .into_iter()
        .map(|t| (t.name_any(), t))
        .collect();
    let mut report = SyncReport::default();
    // Tenants created in the cluster: adopted into the store, then applied below with its id.
    let known: HashSet<String> = wanted.iter().map(|d| d.record.name.clone()).collect();
    for (name, tenant) in &existing {
        if store_id(tenant).is_some()
            || known.contains(name)
            || tenant.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        match adopt(store, tenant).await {
            Ok(d) => {
                report.adopted.push(name.clone());
                wanted.push(d);
            }
            Err(e) => report
                .failed
                .push((name.clone(), format!("cannot adopt it into the store: {e}"))),
        }
    }
    let params = PatchParams::apply(SYNC_FIELD_MANAGER).force();
    for d in &wanted {
        let name = &d.record.name;
        let id = d.record.id.to_string();
        if existing
            .get(name)
            .is_some_and(|t| t.metadata.deletion_timestamp.is_some())
        {
            // Being deleted: its finalizer deletes the store's record too (kubectl delete of a
            // store-owned Tenant), or the store's record is what went (the API's delete).
            continue;
        }
        // The label too: `tenant-ownership.mtp.dev` protects only Tenants that carry it, and it
        // fails open, so a label removed while the webhook was down is put back here.
        let current = existing.get(name).is_some_and(|t| {
            same_spec(&t.spec, &d.spec)
                && store_id(t) == Some(id.as_str())
                && t.labels().get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1)
        });
        if current {
            report.unchanged += 1;
            continue;
        }
        match api
            .patch(name, &params, &Patch::Apply(tenant_body(d)))
            .await
        {
            Ok(_) => report.applied.push(name.clone()),
            Err(e) => report.failed.push((name.clone(), kube_message(&e))),
        }
    }
    let live: HashSet<&str> = wanted.iter().map(|d| d.record.name.as_str()).collect();
    for (name, tenant) in &existing {
        if store_id(tenant).is_none()
            || live.contains(name.as_str())
            || tenant.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => report.deleted.push(name.clone()),
            Err(kube::Error::Api(s)) if s.is_not_found() => report.deleted.push(name.clone()),
            Err(e) => report.failed.push((name.clone(), kube_message(&e))),
        }
    }
    Ok(report)
}

/// Runs [`sync_once`] now and then every `interval`, forever. Each round runs in a
/// `store_sync` span with a new `sync_id`: its log lines carry it, its store queries and
/// Kubernetes calls are its children in a trace.
pub async fn run_forever(
    store: Arc<dyn Store>,
    client: Client,
    cluster: Cache<Tenant>,
    interval: Duration,
    metrics: Arc<ControllerMetrics>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The failures warned about, by tenant: the same failure round after round (a Tenant the
    // store cannot adopt, an apiserver down) is warned about once, then logged at debug level,
    // until it changes or clears.
    let mut warned: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    loop {
        tick.tick().await;
        let span = tracing::error_span!("store_sync", sync_id = %uuid::Uuid::new_v4());
        let round = sync_once(store.as_ref(), &client, &cluster)
            .instrument(span.clone())
            .await;
        span.in_scope(|| match round {
            Ok(report) => {
                let ok = report.failed.is_empty();
                metrics.observe_sync(
                    ok,
                    report.applied.len() as u64,
                    report.deleted.len() as u64,
                    report.adopted.len() as u64,
                );
                if !report.applied.is_empty()
                    || !report.deleted.is_empty()
                    || !report.adopted.is_empty()
                {
                    info!(
                        applied = ?report.applied,
                        deleted = ?report.deleted,
                        adopted = ?report.adopted,
                        "store sync"
                    );
                }
                for (name, message) in &report.failed {
                    if warned.get(name) == Some(message) {
                        tracing::debug!(tenant = %name, error = %message, "store sync: still failing");
                    } else {
                        warn!(tenant = %name, error = %message, "store sync: cannot write the Tenant; retrying next round");
                        warned.insert(name.clone(), message.clone());
                    }
                }
                warned.retain(|name, _| report.failed.iter().any(|(n, _)| n == name));
            }
            Err(e) => {
                metrics.observe_sync(false, 0, 0, 0);
                warn!(error = %e, "store sync failed; retrying next round");
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::same_spec;
    use mtp_core::Tenant;

    #[test]
    fn groups_and_guardrails_set_on_the_resource_are_no_drift() {
        let store = Tenant::test("acme").with_admin("alice").spec;
        let mut cluster = store.clone();
        assert!(same_spec(&cluster, &store));
        cluster.admin_groups = vec!["acme-admins".into()];
        cluster.guardrails = Some(serde_json::from_str(r#"{"allowedServiceTypes": []}"#).unwrap());
        assert!(
            same_spec(&cluster, &store),
            "fields the store does not carry are left to their manager"
        );
        cluster.admins = vec!["mallory".into()];
        assert!(
            !same_spec(&cluster, &store),
            "a changed store field is drift"
        );
    }
}
