//! `mtp-controller`: reconciles `Tenant` resources into namespaces, RoleBindings, NetworkPolicy,
//! LimitRange and ResourceQuota; syncs the store into Tenant resources; elects a leader with a
//! `coordination.k8s.io/v1` Lease.
//!
//! - [`reconcile`]: the reconciler and its error policy (exponential backoff).
//! - [`apply`] and [`prune`]: server-side apply of the plan's missing or drifted objects, deletion of
//!   the tenant's objects the plan no longer holds (computed by [`mtp_core::diff`]).
//! - [`finalizer`]: the `mtp.dev/cleanup` finalizer (delete or retain the namespaces).
//! - [`status`]: the `Ready` condition, `observedGeneration`, the namespaces, Events on failures.
//! - [`leader`]: leader election on a Lease.
//! - [`sync`]: store → cluster sync.
//! - [`metrics`] and [`run`]: metrics, probes and the `run` command.

pub mod apply;
pub mod finalizer;
pub mod leader;
pub mod metrics;
pub mod prune;
pub mod reconcile;
pub mod run;
pub mod status;
pub mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::{Client, Resource, ResourceExt};
use mtp_core::diff::Kind;
use mtp_core::plan::TENANT_LABEL;
use mtp_core::{PlatformSettings, Tenant, TierCatalogue};
use serde::Serialize;

pub use metrics::ControllerMetrics;

/// The field manager of every object the controller applies.
pub const FIELD_MANAGER: &str = "mtp-controller";
/// The finalizer the controller puts on each Tenant.
pub const FINALIZER: &str = "mtp.dev/cleanup";
/// The annotation that keeps a deleted Tenant's namespaces (value `"true"`).
pub const RETAIN_ANNOTATION: &str = "mtp.dev/retain-namespaces";
/// The annotation set on namespaces kept after their Tenant was deleted: the tenant's name.
pub const RETAINED_FROM_ANNOTATION: &str = "mtp.dev/retained-from-tenant";

/// An error of a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The plan cannot be computed from the Tenant (an invalid spec, or one the tier forbids).
    #[error("invalid tenant: {0}")]
    Plan(#[source] mtp_core::Error),
    /// A call to the apiserver failed; `action` says which (`apply NetworkPolicy ns/name`).
    #[error("cannot {action}: {}", kube_message(.source))]
    Kube {
        /// What the controller was doing.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The Tenant has no name (never the case for one read from the apiserver).
    #[error("the Tenant has no metadata.name")]
    Unnamed,
}

impl Error {
    /// A [`Error::Kube`] for `action`.
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Kube { action, source }
    }

    /// A short CamelCase reason for the `Ready` condition, Events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Plan(_) | Error::Unnamed => "InvalidSpec",
            Error::Kube { source, .. } => match source {
                kube::Error::Api(s) if s.is_forbidden() => "Forbidden",
                kube::Error::Api(s) if s.is_conflict() => "Conflict",
                kube::Error::Api(s) if s.is_invalid() => "Rejected",
                kube::Error::Api(_) => "ApiError",
                _ => "ApiUnreachable",
            },
        }
    }
}

/// The apiserver's message of a client error, or the transport error.
pub fn kube_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(s) if !s.message.is_empty() => {
            format!("{} ({} {})", s.message, s.code, s.reason)
        }
        other => other.to_string(),
    }
}

/// The result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The controller's caches of the objects it owns (all selected by the `mtp.dev/tenant` label),
/// fed by watches; a reconcile compares the plan with them, so a no-op reconcile makes no call.
#[derive(Clone)]
pub struct Caches {
    /// Namespaces.
    pub namespaces: Store<Namespace>,
    /// RoleBindings.
    pub role_bindings: Store<RoleBinding>,
    /// NetworkPolicies.
    pub network_policies: Store<NetworkPolicy>,
    /// LimitRanges.
    pub limit_ranges: Store<LimitRange>,
    /// ResourceQuotas.
    pub resource_quotas: Store<ResourceQuota>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("namespaces", &self.namespaces.len())
            .finish_non_exhaustive()
    }
}

/// The writers of [`Caches`]: the watches write, the reconciler reads.
pub struct CacheWriters {
    /// Namespaces.
    pub namespaces: reflector::store::Writer<Namespace>,
    /// RoleBindings.
    pub role_bindings: reflector::store::Writer<RoleBinding>,
    /// NetworkPolicies.
    pub network_policies: reflector::store::Writer<NetworkPolicy>,
    /// LimitRanges.
    pub limit_ranges: reflector::store::Writer<LimitRange>,
    /// ResourceQuotas.
    pub resource_quotas: reflector::store::Writer<ResourceQuota>,
}

impl std::fmt::Debug for CacheWriters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheWriters").finish_non_exhaustive()
    }
}

/// Empty caches and their writers.
pub fn caches() -> (Caches, CacheWriters) {
    let (namespaces, ns_w) = reflector::store();
    let (role_bindings, rb_w) = reflector::store();
    let (network_policies, np_w) = reflector::store();
    let (limit_ranges, lr_w) = reflector::store();
    let (resource_quotas, rq_w) = reflector::store();
    (
        Caches {
            namespaces,
            role_bindings,
            network_policies,
            limit_ranges,
            resource_quotas,
        },
        CacheWriters {
            namespaces: ns_w,
            role_bindings: rb_w,
            network_policies: np_w,
            limit_ranges: lr_w,
            resource_quotas: rq_w,
        },
    )
}

/// Whether `obj` is labelled for tenant `name` and controlled by the Tenant with `uid`: only such
/// objects are compared, pruned or deleted (a user's own object with a copied label is not).
pub fn owned_by<K: Resource>(obj: &K, name: &str, uid: &str) -> bool {
    obj.labels().get(TENANT_LABEL).map(String::as_str) == Some(name)
        && obj.owner_references().iter().any(|o| {
            o.controller == Some(true) && o.uid == uid && o.kind == "Tenant" && o.name == name
        })
}

fn owned_values<K>(store: &Store<K>, name: &str, uid: &str, out: &mut Vec<serde_json::Value>)
where
    K: Resource<DynamicType = ()> + Clone + Serialize + 'static,
{
    for obj in store.state_filter(|o| owned_by(o, name, uid)) {
        if let Ok(value) = serde_json::to_value(obj.as_ref()) {
            out.push(value);
        }
    }
}

impl Caches {
    /// Waits until every watch has listed its objects once.
    pub async fn wait_until_ready(
        &self,
    ) -> std::result::Result<(), reflector::store::WriterDropped> {
        self.namespaces.wait_until_ready().await?;
        self.role_bindings.wait_until_ready().await?;
        self.network_policies.wait_until_ready().await?;
        self.limit_ranges.wait_until_ready().await?;
        self.resource_quotas.wait_until_ready().await
    }

    /// The cached objects of tenant `name` (uid `uid`), as JSON with `apiVersion` and `kind`.
    pub fn observed(&self, name: &str, uid: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        owned_values(&self.namespaces, name, uid, &mut out);
        owned_values(&self.role_bindings, name, uid, &mut out);
        owned_values(&self.network_policies, name, uid, &mut out);
        owned_values(&self.limit_ranges, name, uid, &mut out);
        owned_values(&self.resource_quotas, name, uid, &mut out);
        out
    }

    /// The cached namespaces of tenant `name` (uid `uid`).
    pub fn namespaces_of(&self, name: &str, uid: &str) -> Vec<Arc<Namespace>> {
        self.namespaces.state_filter(|n| owned_by(n, name, uid))
    }
}

/// The kind's API resource, for [`kube::api::DynamicObject`] calls.
pub fn api_resource(kind: Kind) -> kube::discovery::ApiResource {
    match kind {
        Kind::Namespace => kube::discovery::ApiResource::erase::<Namespace>(&()),
        Kind::RoleBinding => kube::discovery::ApiResource::erase::<RoleBinding>(&()),
        Kind::NetworkPolicy => kube::discovery::ApiResource::erase::<NetworkPolicy>(&()),
        Kind::LimitRange => kube::discovery::ApiResource::erase::<LimitRange>(&()),
        Kind::ResourceQuota => kube::discovery::ApiResource::erase::<ResourceQuota>(&()),
    }
}

/// Backoff after failed reconciles: 1 s, doubling per consecutive failure, at most 5 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 = the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }
}

/// What the reconciler needs: the client, the tier catalogue, the platform settings, the caches,
/// metrics and the Event recorder.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// The tier catalogue.
    pub catalogue: TierCatalogue,
    /// The platform settings.
    pub settings: PlatformSettings,
    /// The caches of owned objects.
    pub caches: Caches,
    /// The metrics.
    pub metrics: Arc<ControllerMetrics>,
    /// Publishes Events about Tenants.
    pub recorder: Recorder,
    /// The backoff on errors.
    pub backoff: Backoff,
    /// How often a healthy tenant is reconciled anyway.
    pub resync: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .field("backoff", &self.backoff)
            .field("resync", &self.resync)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context with the default backoff and a 5-minute resync.
    pub fn new(
        client: Client,
        catalogue: TierCatalogue,
        settings: PlatformSettings,
        caches: Caches,
        metrics: Arc<ControllerMetrics>,
        instance: Option<String>,
    ) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.to_owned(),
                instance,
            },
        );
        Context {
            client,
            catalogue,
            settings,
            caches,
            metrics,
            recorder,
            backoff: Backoff::default(),
            resync: Duration::from_secs(300),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a failure of `tenant` and returns how many in a row.
    pub fn record_failure(&self, tenant: &str) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(tenant.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// Consecutive failures of `tenant` so far.
    pub fn failures(&self, tenant: &str) -> u32 {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.get(tenant).copied().unwrap_or(0)
    }

    /// Forgets the failures of `tenant` after a success.
    pub fn reset_failures(&self, tenant: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(tenant);
    }
}

/// The name of `tenant`, or [`Error::Unnamed`].
pub fn tenant_name(tenant: &Tenant) -> Result<&str> {
    tenant.metadata.name.as_deref().ok_or(Error::Unnamed)
}
