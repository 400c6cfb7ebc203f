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

use tokio::time::Instant;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::{Client, Resource, ResourceExt};
use mtp_core::diff::{Kind, ObjectKey};
use mtp_core::plan::TENANT_LABEL;
use mtp_core::{PlatformSettings, Tenant, TenantStatus, TierCatalogue};
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
    #[error("cannot {action}: {}", kube_message_for(.action, .source))]
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
    /// The store failed; `action` says what the controller was doing.
    #[error("cannot {action}: {source}")]
    Store {
        /// What the controller was doing.
        action: String,
        /// The store's error.
        #[source]
        source: mtp_core::StoreError,
    },
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
            Error::Store { .. } => "StoreUnavailable",
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
        kube::Error::Api(s) if !s.message.is_empty() && !no_reason(&s.message) => {
            format!("{} ({} {})", s.message, s.code, s.reason)
        }
        kube::Error::Api(s) => format!(
            "{} {} with no reason given{}",
            s.code,
            s.reason,
            if s.message.is_empty() {
                String::new()
            } else {
                format!(" ({:?})", s.message.trim_end())
            }
        ),
        other => other.to_string(),
    }
}

/// An apiserver message whose reason is empty: `x is forbidden: ` (an authorizer or webhook
/// that refused without saying why).
fn no_reason(message: &str) -> bool {
    message.trim_end().ends_with(':')
}

/// [`kube_message`] for the call `action` (`apply NetworkPolicy ns/name`, `delete Kind name`,
/// ...): a 403 that does not say why gets what was attempted and the permission most likely
/// missing, the way `kubectl auth can-i` would ask for it.
pub fn kube_message_for(action: &str, err: &kube::Error) -> String {
    let message = kube_message(err);
    match err {
        kube::Error::Api(s)
            if s.is_forbidden() && (s.message.is_empty() || no_reason(&s.message)) =>
        {
            match forbidden_hint(action) {
                Some(hint) => format!("{message}; {hint}"),
                None => message,
            }
        }
        _ => message,
    }
}

/// `verbs resource [-n namespace]` for an action of the controller, as RBAC names them.
fn forbidden_hint(action: &str) -> Option<String> {
    let mut words = action.split_whitespace();
    let verb = words.next()?;
    let rest: Vec<&str> = words.collect();
    // `apply Kind [ns/]name`, `delete Kind [ns/]name`, `keep Namespace name`,
    // `write the status of Tenant name`, `update the finalizers of Tenant name`.
    let (kind, target) = match rest.as_slice() {
        [.., kind, target] => (*kind, *target),
        _ => return None,
    };
    let resource = match kind {
        "Namespace" => "namespaces",
        "NetworkPolicy" => "networkpolicies.networking.k8s.io",
        "LimitRange" => "limitranges",
        "ResourceQuota" => "resourcequotas",
        "RoleBinding" => "rolebindings.rbac.authorization.k8s.io",
        "ClusterRole" => "clusterroles.rbac.authorization.k8s.io",
        "ClusterRoleBinding" => "clusterrolebindings.rbac.authorization.k8s.io",
        "Tenant" if action.contains("status") => "tenants.mtp.dev/status",
        "Tenant" => "tenants.mtp.dev",
        _ => return None,
    };
    let verbs = match verb {
        // Server-side apply is a patch, and a create when the object does not exist yet.
        "apply" => "patch and create",
        "delete" => "delete",
        _ => "patch",
    };
    let (namespace, name) = match target.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, target),
    };
    let scope = match namespace {
        Some(ns) => format!(" in namespace {ns}"),
        None => String::new(),
    };
    let can_i_verb = if verb == "apply" {
        "create"
    } else if verb == "delete" {
        "delete"
    } else {
        "patch"
    };
    let can_i_ns = namespace.map(|ns| format!(" -n {ns}")).unwrap_or_default();
    Some(format!(
        "attempted: {verbs} {resource} {name:?}{scope}; the controller's ServiceAccount most \
         likely lacks that permission (check with `kubectl auth can-i {can_i_verb} {resource}/{name}{can_i_ns} \
         --as system:serviceaccount:<platform namespace>:mtp-controller` and compare its roles \
         with `mtpctl install`'s)"
    ))
}

/// The result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The writes of the controller that its caches have not shown yet: object, the hash of the
/// value applied, the resourceVersion the apiserver answered, and when.
///
/// A reconcile triggered by the watch event of one object can run before the events of the
/// other objects the previous reconcile applied have arrived; without this it would apply them
/// again (a write each, at every cold start). An entry is dropped when the watch delivers that
/// resourceVersion (so a later deletion or edit is repaired at once), or after a minute.
#[derive(Debug, Default)]
pub struct InFlight {
    writes: Mutex<HashMap<ObjectKey, (u64, String, Instant)>>,
}

/// How long an unobserved write is trusted at most.
const IN_FLIGHT_TRUST: Duration = Duration::from_secs(60);

/// A hash of a JSON value (of what is applied).
pub fn value_hash(value: &serde_json::Value) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut h);
    h.finish()
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, (u64, String, Instant)>> {
        self.writes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `value` (hash) was applied to `key` and the apiserver answered
    /// `resource_version`.
    pub fn wrote(&self, key: &ObjectKey, hash: u64, resource_version: String) {
        self.lock()
            .insert(key.clone(), (hash, resource_version, Instant::now()));
    }

    /// Whether `hash` was applied to `key` and the caches have not shown that write yet.
    pub fn pending(&self, key: &ObjectKey, hash: u64) -> bool {
        let mut writes = self.lock();
        match writes.get(key) {
            Some((h, _, at)) if at.elapsed() < IN_FLIGHT_TRUST => *h == hash,
            Some(_) => {
                writes.remove(key);
                false
            }
            None => false,
        }
    }

    /// The watch delivered `key` at `resource_version` (or its deletion: `None`).
    pub fn observed(&self, key: &ObjectKey, resource_version: Option<&str>) {
        let mut writes = self.lock();
        if let Some((_, rv, _)) = writes.get(key)
            && resource_version.is_none_or(|seen| seen == rv)
        {
            writes.remove(key);
        }
    }
}

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
    /// ClusterRoles (each tenant's reader role).
    pub cluster_roles: Store<ClusterRole>,
    /// ClusterRoleBindings (each tenant's reader binding).
    pub cluster_role_bindings: Store<ClusterRoleBinding>,
    /// The controller's writes the caches have not shown yet.
    pub in_flight: Arc<InFlight>,
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
    /// ClusterRoles.
    pub cluster_roles: reflector::store::Writer<ClusterRole>,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: reflector::store::Writer<ClusterRoleBinding>,
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
    let (cluster_roles, cr_w) = reflector::store();
    let (cluster_role_bindings, crb_w) = reflector::store();
    (
        Caches {
            namespaces,
            role_bindings,
            network_policies,
            limit_ranges,
            resource_quotas,
            cluster_roles,
            cluster_role_bindings,
            in_flight: Arc::default(),
        },
        CacheWriters {
            namespaces: ns_w,
            role_bindings: rb_w,
            network_policies: np_w,
            limit_ranges: lr_w,
            resource_quotas: rq_w,
            cluster_roles: cr_w,
            cluster_role_bindings: crb_w,
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
        self.resource_quotas.wait_until_ready().await?;
        self.cluster_roles.wait_until_ready().await?;
        self.cluster_role_bindings.wait_until_ready().await
    }

    /// The cached objects of tenant `name` (uid `uid`), as JSON with `apiVersion` and `kind`.
    pub fn observed(&self, name: &str, uid: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        owned_values(&self.namespaces, name, uid, &mut out);
        owned_values(&self.role_bindings, name, uid, &mut out);
        owned_values(&self.network_policies, name, uid, &mut out);
        owned_values(&self.limit_ranges, name, uid, &mut out);
        owned_values(&self.resource_quotas, name, uid, &mut out);
        owned_values(&self.cluster_roles, name, uid, &mut out);
        owned_values(&self.cluster_role_bindings, name, uid, &mut out);
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
        Kind::ClusterRole => kube::discovery::ApiResource::erase::<ClusterRole>(&()),
        Kind::ClusterRoleBinding => kube::discovery::ApiResource::erase::<ClusterRoleBinding>(&()),
    }
}

/// Backoff after failed reconciles: 1 s, doubling per failed attempt since the last success, at
/// most 60 s ([`Backoff::default`], no jitter: the retry is due when the `Ready` condition says).
/// The same type as the token broker's, from `mtp-auth`.
pub use mtp_auth::backoff::Backoff;

/// The retry state of one failing tenant: how many attempts failed since the last success, and
/// when the next one is due. Only a failed *attempt* steps it: further triggers while the tenant
/// waits (watch events of its objects, its own status writes) are held until the attempt is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Failed attempts since the last success (or the last spec change).
    pub failures: u32,
    /// When the next attempt is due.
    pub next_attempt: Instant,
    /// The Tenant's uid and generation at the last failure: a new spec (or a re-created Tenant)
    /// resets the backoff.
    pub spec: (String, i64),
}

/// The retry states of failing tenants, by name. A success or a spec change forgets a tenant.
#[derive(Debug, Default)]
pub struct Retries {
    states: Mutex<HashMap<String, Retry>>,
}

fn spec_key(tenant: &Tenant) -> (String, i64) {
    (
        tenant.metadata.uid.clone().unwrap_or_default(),
        tenant.metadata.generation.unwrap_or_default(),
    )
}

impl Retries {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Retry>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `tenant` must still wait before its next attempt at `now` (`None`: go ahead).
    /// A tenant whose uid or generation changed since its last failure goes ahead at once and
    /// starts a fresh backoff.
    pub fn wait(&self, tenant: &Tenant, now: Instant) -> Option<Duration> {
        let name = tenant.metadata.name.as_deref()?;
        let mut states = self.lock();
        let retry = states.get(name)?;
        if retry.spec != spec_key(tenant) {
            states.remove(name);
            return None;
        }
        let left = retry.next_attempt.saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    /// Records a failed attempt of `tenant` at `now` and returns the delay until the next one.
    pub fn fail(&self, tenant: &Tenant, backoff: &Backoff, now: Instant) -> Duration {
        let name = tenant.metadata.name.clone().unwrap_or_default();
        let spec = spec_key(tenant);
        let mut states = self.lock();
        let failures = match states.get(&name) {
            Some(r) if r.spec == spec => r.failures.saturating_add(1),
            _ => 1,
        };
        let delay = backoff.delay(failures);
        states.insert(
            name,
            Retry {
                failures,
                next_attempt: now + delay,
                spec,
            },
        );
        delay
    }

    /// Failed attempts of `name` since its last success.
    pub fn failures(&self, name: &str) -> u32 {
        self.lock().get(name).map_or(0, |r| r.failures)
    }

    /// Forgets `name` after a success (or its deletion).
    pub fn succeed(&self, name: &str) {
        self.lock().remove(name);
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
    /// The retry states of failing tenants.
    pub retries: Retries,
    /// The store, when the controller syncs one: a store-owned Tenant deleted in the cluster is
    /// deleted there too.
    pub store: Option<Arc<dyn mtp_core::Store>>,
    /// The status last written per tenant (uid, status, when): a reconcile that runs on a
    /// Tenant read from a cache that has not seen that write yet does not write it again.
    written: Mutex<HashMap<String, (String, TenantStatus, Instant)>>,
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
            retries: Retries::default(),
            store: None,
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `status` is what this controller wrote into `tenant` less than `within` ago.
    pub fn recently_written(
        &self,
        tenant: &Tenant,
        status: &TenantStatus,
        within: Duration,
    ) -> bool {
        let (Some(name), Some(uid)) = (
            tenant.metadata.name.as_deref(),
            tenant.metadata.uid.as_deref(),
        ) else {
            return false;
        };
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.get(name).is_some_and(|(u, s, at)| {
            u == uid && status::same_but_transition_time(s, status) && at.elapsed() < within
        })
    }

    /// Remembers that `status` was written into `tenant`.
    pub fn wrote(&self, tenant: &Tenant, status: &TenantStatus) {
        let (Some(name), Some(uid)) = (tenant.metadata.name.clone(), tenant.metadata.uid.clone())
        else {
            return;
        };
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.insert(name, (uid, status.clone(), Instant::now()));
    }

    /// Forgets what was written into `name` (it was deleted).
    pub fn forget(&self, name: &str) {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.remove(name);
        drop(written);
        self.retries.succeed(name);
    }
}

/// The name of `tenant`, or [`Error::Unnamed`].
pub fn tenant_name(tenant: &Tenant) -> Result<&str> {
    tenant.metadata.name.as_deref().ok_or(Error::Unnamed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn forbidden(message: &str) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure(message, "Forbidden").with_code(403),
        ))
    }

    #[test]
    fn a_403_without_a_reason_says_what_was_attempted_and_what_is_missing() {
        let err = Error::kube("apply NetworkPolicy tenant-acme/tenant-isolation")(forbidden(
            "networkpolicies.networking.k8s.io \"tenant-isolation\" is forbidden: ",
        ));
        let text = err.to_string();
        assert!(!text.contains("forbidden:  ("), "{text}");
        assert!(text.starts_with("cannot apply NetworkPolicy tenant-acme/tenant-isolation: 403 Forbidden with no reason given"), "{text}");
        assert!(
            text.contains("attempted: patch and create networkpolicies.networking.k8s.io \"tenant-isolation\" in namespace tenant-acme"),
            "{text}"
        );
        assert!(text.contains("kubectl auth can-i create networkpolicies.networking.k8s.io/tenant-isolation -n tenant-acme"), "{text}");

        let err = Error::kube("delete ClusterRole mtp-tenant-acme")(forbidden(""));
        let text = err.to_string();
        assert!(text.contains("403 Forbidden with no reason given; attempted: delete clusterroles.rbac.authorization.k8s.io \"mtp-tenant-acme\";"), "{text}");

        let err = Error::kube("write the status of Tenant acme")(forbidden(""));
        assert!(
            err.to_string()
                .contains("patch tenants.mtp.dev/status \"acme\""),
            "{err}"
        );
    }

    #[test]
    fn a_403_with_a_reason_is_shown_as_the_apiserver_said_it() {
        let msg = "namespaces \"x\" is forbidden: User \"u\" cannot patch resource \"namespaces\"";
        let err = Error::kube("apply Namespace x")(forbidden(msg));
        assert_eq!(
            err.to_string(),
            format!("cannot apply Namespace x: {msg} (403 Forbidden)")
        );
    }

    #[test]
    fn backoff_doubles_to_a_minute() {
        let b = Backoff::default();
        let delays: Vec<u64> = (1..=8).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn only_failed_attempts_step_the_backoff_and_a_new_spec_resets_it() {
        let retries = Retries::default();
        let b = Backoff::default();
        let mut t = Tenant::test("acme").with_uid("u1");
        t.metadata.generation = Some(1);
        let now = Instant::now();
        assert_eq!(retries.wait(&t, now), None, "no failure yet");
        assert_eq!(retries.fail(&t, &b, now), Duration::from_secs(1));
        // Asked again and again meanwhile: the same deadline, not a longer one.
        for ms in [0, 100, 500, 900] {
            let at = now + Duration::from_millis(ms);
            assert_eq!(retries.wait(&t, at), Some(Duration::from_millis(1000 - ms)));
        }
        assert_eq!(retries.wait(&t, now + Duration::from_secs(1)), None);
        assert_eq!(
            retries.fail(&t, &b, now + Duration::from_secs(1)),
            Duration::from_secs(2)
        );
        assert_eq!(retries.failures("acme"), 2);
        // A new generation goes ahead at once and starts over.
        t.metadata.generation = Some(2);
        assert_eq!(retries.wait(&t, now + Duration::from_secs(1)), None);
        assert_eq!(
            retries.fail(&t, &b, now + Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        retries.succeed("acme");
        assert_eq!(retries.failures("acme"), 0);
    }

    #[test]
    fn a_write_is_pending_until_the_watch_shows_it() {
        let in_flight = InFlight::default();
        let key = ObjectKey {
            kind: Kind::NetworkPolicy,
            namespace: Some("tenant-acme".into()),
            name: "tenant-isolation".into(),
        };
        let value = serde_json::json!({"spec": {"podSelector": {}}});
        let hash = value_hash(&value);
        assert!(!in_flight.pending(&key, hash));
        in_flight.wrote(&key, hash, "42".into());
        assert!(in_flight.pending(&key, hash));
        assert!(
            !in_flight.pending(&key, value_hash(&serde_json::json!({}))),
            "a different value is applied"
        );
        in_flight.observed(&key, Some("41"));
        assert!(in_flight.pending(&key, hash), "an older event");
        in_flight.observed(&key, Some("42"));
        assert!(
            !in_flight.pending(&key, hash),
            "seen: a later deletion is repaired"
        );
        in_flight.wrote(&key, hash, "43".into());
        in_flight.observed(&key, None);
        assert!(!in_flight.pending(&key, hash), "deleted");
    }
}
