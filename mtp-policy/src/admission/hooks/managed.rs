//! `managed-objects.mtp.dev` and `tenant-ownership.mtp.dev`: what the platform manages belongs to
//! the platform. RBAC cannot say it (a tenant admin bound to the built-in `admin` ClusterRole may
//! delete every NetworkPolicy and RoleBinding of the namespace, and RBAC has no deny), so these
//! hooks refuse changes to the objects the controller manages, by label.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;
use serde_json::Value;

use super::{TENANT_LABEL, system_namespaces, tenant_namespaces};
use crate::admission::{
    FailurePolicy, Operation, Request, Response, Rule, Scope, UserInfo, Webhook, WebhookKind,
};

/// The label the platform puts on every object it manages (`app.kubernetes.io/managed-by`).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The value of [`MANAGED_BY_LABEL`] on the platform's objects.
pub const MANAGED_BY_VALUE: &str = "mtp";

/// The annotation naming the store record a Tenant was applied from.
pub const STORE_ID_ANNOTATION: &str = "mtp.dev/store-id";

/// The user name of the platform controller's service account in `platform_namespace`
/// (`system:serviceaccount:<namespace>:mtp-controller`).
pub fn controller_user(platform_namespace: &str) -> String {
    service_account_user(platform_namespace, "mtp-controller")
}

/// The user name of the service account `name` in `namespace`.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Selects objects labelled `app.kubernetes.io/managed-by=mtp`.
fn managed_by_mtp() -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(
            MANAGED_BY_LABEL.to_owned(),
            MANAGED_BY_VALUE.to_owned(),
        )])),
        match_expressions: None,
    }
}

/// The metadata the hooks read, and a Tenant's spec.
#[derive(Debug, Default, Deserialize)]
struct Object {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

impl Object {
    fn read(json: &str, which: &str) -> Result<Object, Response> {
        serde_json::from_str(json)
            .map_err(|e| Response::invalid(format!("cannot read request.{which}: {e}")))
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(key).map(String::as_str)
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    fn managed(&self) -> bool {
        self.label(MANAGED_BY_LABEL) == Some(MANAGED_BY_VALUE)
    }
}

fn display_user(user: &UserInfo<'_>) -> String {
    match user.username() {
        "" => "an anonymous user".to_owned(),
        name => name.to_owned(),
    }
}

/// The resources whose platform-managed objects [`ManagedObjectsHook`] guards: API group,
/// resource, kind.
const MANAGED_RESOURCES: [(&str, &str, &str); 4] = [
    ("networking.k8s.io", "networkpolicies", "NetworkPolicy"),
    ("", "limitranges", "LimitRange"),
    ("", "resourcequotas", "ResourceQuota"),
    ("rbac.authorization.k8s.io", "rolebindings", "RoleBinding"),
];

/// The kube-controller-manager identities that must still delete a tenant's objects: the
/// namespace controller (a namespace being deleted), the garbage collector (the objects of a
/// deleted Tenant) and the controller manager's own user.
pub const DEFAULT_EXEMPT_USERS: [&str; 3] = [
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
    "system:kube-controller-manager",
];

/// The groups exempt by default: cluster administrators (`system:masters`).
pub const DEFAULT_EXEMPT_GROUPS: [&str; 1] = ["system:masters"];

/// What an object the platform manages is for, as a denial tells it.
fn purpose(kind: &str, name: &str) -> &'static str {
    match (kind, name) {
        ("NetworkPolicy", "tenant-isolation") => "isolation",
        ("NetworkPolicy", _) => "network policy",
        ("LimitRange", _) => "default container resources",
        ("ResourceQuota", _) => "resource quota",
        ("RoleBinding", "tenant-admins") => "admin access",
        ("RoleBinding", "tenant-operators") => "operator access",
        ("RoleBinding", "tenant-viewers") => "viewer access",
        ("RoleBinding", _) => "access",
        _ => "configuration",
    }
}

/// Refuses UPDATE (and PATCH) and DELETE (one by one, or through a deletecollection, which the
/// apiserver admits per item) of the NetworkPolicies, LimitRanges, ResourceQuotas and
/// RoleBindings the platform manages in tenant namespaces — those whose stored object is labelled
/// `app.kubernetes.io/managed-by=mtp` and `mtp.dev/tenant` — by anyone but the controller's
/// service account, the exempt users (the kube-controller-manager identities that clean up a
/// deleted namespace or garbage-collect a deleted Tenant's objects, by default) and the exempt
/// groups (`system:masters`, by default).
///
/// A tenant's own objects are not labelled so: the configuration's objectSelector keeps their
/// requests from ever reaching the webhook. A user who labels their own object that way (the
/// old object lacks the labels) is let through with a warning: from then on the object is the
/// platform's.
#[derive(Debug, Clone)]
pub struct ManagedObjectsHook {
    excluded: Vec<String>,
    controller: String,
    exempt_users: Vec<String>,
    exempt_groups: Vec<String>,
}

impl ManagedObjectsHook {
    /// The hook for a platform in `platform_namespace`: its controller is
    /// `system:serviceaccount:<platform_namespace>:mtp-controller`, with the default exempt users
    /// and groups.
    pub fn new(platform_namespace: &str) -> ManagedObjectsHook {
        ManagedObjectsHook {
            excluded: system_namespaces(platform_namespace),
            controller: controller_user(platform_namespace),
            exempt_users: DEFAULT_EXEMPT_USERS.map(str::to_owned).to_vec(),
            exempt_groups: DEFAULT_EXEMPT_GROUPS.map(str::to_owned).to_vec(),
        }
    }

    /// With the controller's user name (`system:serviceaccount:<namespace>:<name>`).
    pub fn with_controller(mut self, username: impl Into<String>) -> ManagedObjectsHook {
        self.controller = username.into();
        self
    }

    /// With other exempt users (replacing the defaults: list them again to keep them).
    pub fn with_exempt_users(mut self, users: Vec<String>) -> ManagedObjectsHook {
        self.exempt_users = users;
        self
    }

    /// With other exempt groups (replacing the defaults).
    pub fn with_exempt_groups(mut self, groups: Vec<String>) -> ManagedObjectsHook {
        self.exempt_groups = groups;
        self
    }

    fn is_exempt(&self, user: &UserInfo<'_>) -> bool {
        let name = user.username();
        name == self.controller
            || self.exempt_users.iter().any(|u| u == name)
            || user
                .groups()
                .any(|g| self.exempt_groups.iter().any(|e| e == g))
    }
}

impl Webhook for ManagedObjectsHook {
    fn name(&self) -> &str {
        "managed-objects.mtp.dev"
    }

    fn path(&self) -> &str {
        "/validate/managed-objects"
    }

    fn kind(&self) -> WebhookKind {
        WebhookKind::Validating
    }

    fn rules(&self) -> Vec<Rule> {
        use Operation::{Delete, Update};
        vec![
            Rule::new(
                &[Update, Delete],
                &["networking.k8s.io"],
                &["networkpolicies"],
            )
            .scoped(Scope::Namespaced),
            Rule::new(&[Update, Delete], &[""], &["limitranges", "resourcequotas"])
                .scoped(Scope::Namespaced),
            Rule::new(
                &[Update, Delete],
                &["rbac.authorization.k8s.io"],
                &["rolebindings"],
            )
            .scoped(Scope::Namespaced),
        ]
    }

    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }

    fn namespace_selector(&self) -> Option<LabelSelector> {
        Some(tenant_namespaces(&self.excluded))
    }

    fn object_selector(&self) -> Option<LabelSelector> {
        Some(managed_by_mtp())
    }

    fn doc(&self) -> &str {
        "Refuses changing or deleting the NetworkPolicies (tenant-isolation), LimitRanges, \
         ResourceQuotas and RoleBindings (tenant-admins, tenant-operators, tenant-viewers) the \
         platform manages in tenant namespaces (labelled app.kubernetes.io/managed-by=mtp and \
         mtp.dev/tenant) by anyone but the platform's controller, system:masters and the \
         kube-controller-manager identities that delete a namespace's objects or garbage-collect a \
         deleted Tenant's (configurable). RBAC cannot say it: a tenant admin may delete any \
         NetworkPolicy of the namespace, so without this hook a tenant could remove its own \
         isolation. A tenant's own objects are not selected and stay the tenant's. Deletes through \
         a deletecollection are admitted object by object and refused the same way; server-side \
         dry runs get the same answer. Fails closed: while the webhook is down, the platform's \
         objects in tenant namespaces cannot be changed or deleted by anyone (deleting a tenant \
         namespace waits until it is back)."
    }

    fn admit(&self, request: &Request<'_>) -> Response {
        let operation = request.operation();
        if !matches!(operation, Some(Operation::Update | Operation::Delete))
            || !request.sub_resource().is_empty()
        {
            return Response::allow();
        }
        let group = request
            .resource
            .as_ref()
            .and_then(|r| r.group.as_deref())
            .unwrap_or("");
        let Some((_, _, default_kind)) = MANAGED_RESOURCES
            .iter()
            .find(|(g, r, _)| *g == group && *r == request.resource())
        else {
            return Response::allow();
        };
        let user = request.user();
        if self.is_exempt(&user) {
            return Response::allow();
        }
        let Some(old_json) = request.old_object_json() else {
            return Response::invalid(format!(
                "the request carries no oldObject: cannot tell whether {default_kind} {}/{} belongs to the platform",
                request.namespace(),
                request.name()
            ));
        };
        let old = match Object::read(old_json, "oldObject") {
            Ok(old) => old,
            Err(invalid) => return invalid,
        };
        let kind = match request.kind() {
            "" => default_kind,
            kind => kind,
        };
        let (namespace, name) = (request.namespace(), request.name());
        let Some(tenant) = old.label(TENANT_LABEL).filter(|_| old.managed()) else {
            // The user's own object, which the objectSelector matched on its new labels.
            let new = match request.object_json().map(|j| Object::read(j, "object")) {
                Some(Ok(new)) => new,
                Some(Err(invalid)) => return invalid,
                None => return Response::allow(),
            };
            return if new.managed() && new.label(TENANT_LABEL).is_some() {
                Response::allow().with_warning(format!(
                    "{kind} {namespace}/{name} now carries {MANAGED_BY_LABEL}={MANAGED_BY_VALUE} and {TENANT_LABEL}: from now on only the platform may change or delete it"
                ))
            } else {
                Response::allow()
            };
        };
        Response::deny(format!(
            "{kind} {namespace}/{name} is managed by the mtp platform (tenant {tenant:?}'s {}); it cannot be changed or deleted by {}: ask a platform admin, or change the tenant through mtp (mtpctl/the API)",
            purpose(kind, name),
            display_user(&user),
        ))
        .with_checks(vec!["managedObject".to_owned()])
    }
}

/// Refuses, for anyone but the controller's service account, deleting a Tenant the mtp store
/// owns (labelled `app.kubernetes.io/managed-by=mtp`, applied by the controller's store sync with
/// the annotation `mtp.dev/store-id`), changing its `spec`, and setting, changing or removing its
/// `app.kubernetes.io/managed-by` label or `mtp.dev/store-id` annotation. Other metadata (the
/// controller's finalizer, a user's own labels and annotations) may change; status is a
/// subresource the configuration does not select.
#[derive(Debug, Clone)]
pub struct TenantOwnershipHook {
    controller: String,
}

impl TenantOwnershipHook {
    /// The hook for a platform in `platform_namespace` (its controller's service account is
    /// `mtp-controller` there).
    pub fn new(platform_namespace: &str) -> TenantOwnershipHook {
        TenantOwnershipHook {
            controller: controller_user(platform_namespace),
        }
    }

    /// With the controller's user name (`system:serviceaccount:<namespace>:<name>`).
    pub fn with_controller(mut self, username: impl Into<String>) -> TenantOwnershipHook {
        self.controller = username.into();
        self
    }
}

impl Webhook for TenantOwnershipHook {
    fn name(&self) -> &str {
        "tenant-ownership.mtp.dev"
    }

    fn path(&self) -> &str {
        "/validate/tenant-ownership"
    }

    fn kind(&self) -> WebhookKind {
        WebhookKind::Validating
    }

    fn rules(&self) -> Vec<Rule> {
        vec![Rule::new(&[Operation::Update], &["mtp.dev"], &["tenants"]).scoped(Scope::Cluster)]
    }

    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Ignore
    }

    fn object_selector(&self) -> Option<LabelSelector> {
        Some(managed_by_mtp())
    }

    fn doc(&self) -> &str {
        "Refuses changing the spec of a Tenant the mtp store owns (labelled \
         app.kubernetes.io/managed-by=mtp, applied by the controller's store sync with the \
         annotation mtp.dev/store-id), and setting, changing or removing that label or annotation, \
         by anyone but the platform's controller: such a Tenant is changed through the mtp API \
         (mtpctl tenants update). Its finalizer, other labels and annotations, and its status may \
         change. Deleting it is not refused: the controller reflects the deletion into the store \
         (the tenant is deleted there too, audited), so both sides agree. Fails open: the store \
         sync re-applies a changed spec, label or store id within its period (5 s by default)."
    }

    fn admit(&self, request: &Request<'_>) -> Response {
        let operation = request.operation();
        if operation != Some(Operation::Update)
            || request.resource() != "tenants"
            || !request.sub_resource().is_empty()
        {
            return Response::allow();
        }
        let user = request.user();
        if user.username() == self.controller {
            return Response::allow();
        }
        let Some(old_json) = request.old_object_json() else {
            return Response::invalid(format!(
                "the request carries no oldObject: cannot tell whether Tenant {} is managed through the mtp API",
                request.name()
            ));
        };
        let old = match Object::read(old_json, "oldObject") {
            Ok(old) => old,
            Err(invalid) => return invalid,
        };
        let new = match request.object_json().map(|j| Object::read(j, "object")) {
            Some(Ok(new)) => new,
            Some(Err(invalid)) => return invalid,
            None => {
                return Response::invalid(format!(
                    "the UPDATE of Tenant {} carries no object",
                    request.name()
                ));
            }
        };
        let mut refused = Vec::new();
        if old.managed() && old.spec != new.spec {
            refused.push("change its spec".to_owned());
        }
        if old.label(MANAGED_BY_LABEL) != new.label(MANAGED_BY_LABEL) {
            refused.push(format!("change its {MANAGED_BY_LABEL} label"));
        }
        if old.annotation(STORE_ID_ANNOTATION) != new.annotation(STORE_ID_ANNOTATION) {
            refused.push(format!("change its {STORE_ID_ANNOTATION} annotation"));
        }
        if refused.is_empty() {
            return Response::allow();
        }
        let name = request.name();
        let store_id = old
            .annotation(STORE_ID_ANNOTATION)
            .map_or_else(|| "unknown".to_owned(), str::to_owned);
        let owner = if old.managed() {
            format!("Tenant {name} is managed through the mtp API (store id {store_id})")
        } else {
            format!(
                "Tenant {name} is not managed through the mtp API; only the platform ({}) marks a Tenant as the store's",
                self.controller
            )
        };
        Response::deny(format!(
            "{owner}: {} may not {} here; change it with 'mtpctl tenants update {name}' / PATCH /api/v1/tenants/{name}, delete it with 'mtpctl tenants delete {name}'",
            display_user(&user),
            refused.join(" or "),
        ))
        .with_checks(vec!["tenantOwnership".to_owned()])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::{AdmissionReview, Webhook};

    fn answer(hook: &dyn Webhook, review: &Value) -> Response {
        let body = serde_json::to_vec(review).unwrap();
        let parsed: AdmissionReview<'_> = serde_json::from_slice(&body).unwrap();
        hook.admit(parsed.request().unwrap())
    }

    fn isolation_policy() -> Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "tenant-isolation",
                "namespace": "tenant-acme",
                "labels": {"mtp.dev/tenant": "acme", "app.kubernetes.io/managed-by": "mtp"},
            },
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        })
    }

    fn review(operation: &str, user: Value, old: Value, new: Value) -> Value {
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "5e9d3b52-4f0e-4c61-9d1e-1f7f3c4a9b10",
                "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "NetworkPolicy"},
                "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "networkpolicies"},
                "namespace": "tenant-acme",
                "name": "tenant-isolation",
                "operation": operation,
                "userInfo": user,
                "object": new,
                "oldObject": old,
                "dryRun": false,
            }
        })
    }

    fn alice() -> Value {
        json!({"username": "alice@acme.com", "groups": ["system:authenticated", "acme-admins"]})
    }

    #[test]
    fn a_tenant_admin_cannot_delete_or_edit_the_isolation() {
        let hook = ManagedObjectsHook::new("mtp-system");
        let delete = review("DELETE", alice(), isolation_policy(), Value::Null);
        let r = answer(&hook, &delete);
        assert!(!r.allowed);
        assert_eq!(r.code, 403);
        assert_eq!(
            r.message.as_deref(),
            Some(
                "NetworkPolicy tenant-acme/tenant-isolation is managed by the mtp platform (tenant \"acme\"'s isolation); it cannot be changed or deleted by alice@acme.com: ask a platform admin, or change the tenant through mtp (mtpctl/the API)"
            )
        );
        assert_eq!(r.checks, vec!["managedObject"]);
        let mut edited = isolation_policy();
        edited["spec"]["policyTypes"] = json!([]);
        let r = answer(
            &hook,
            &review("UPDATE", alice(), isolation_policy(), edited.clone()),
        );
        assert!(!r.allowed);
        // Removing the labels on the way is refused too: the old object decides.
        edited["metadata"]["labels"] = json!({});
        assert!(
            !answer(
                &hook,
                &review("UPDATE", alice(), isolation_policy(), edited)
            )
            .allowed
        );
        // A dry run gets the same answer.
        let mut dry = delete.clone();
        dry["request"]["dryRun"] = json!(true);
        assert_eq!(answer(&hook, &dry), answer(&hook, &delete));
    }

    #[test]
    fn the_platform_and_the_control_plane_may() {
        let hook = ManagedObjectsHook::new("mtp-system");
        for user in [
            json!({"username": "system:serviceaccount:mtp-system:mtp-controller", "groups": ["system:serviceaccounts"]}),
            json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}),
            json!({"username": "system:serviceaccount:kube-system:namespace-controller"}),
            json!({"username": "system:serviceaccount:kube-system:generic-garbage-collector"}),
            json!({"username": "system:kube-controller-manager"}),
        ] {
            let r = answer(
                &hook,
                &review("DELETE", user.clone(), isolation_policy(), Value::Null),
            );
            assert!(r.allowed, "{user}: {r:?}");
        }
        // Configured otherwise.
        let hook = ManagedObjectsHook::new("platform")
            .with_controller("system:serviceaccount:platform:reconciler")
            .with_exempt_users(vec!["ops-bot".into()])
            .with_exempt_groups(vec!["platform-admins".into()]);
        for (user, allowed) in [
            (
                json!({"username": "system:serviceaccount:platform:reconciler"}),
                true,
            ),
            (json!({"username": "ops-bot"}), true),
            (
                json!({"username": "carol", "groups": ["platform-admins"]}),
                true,
            ),
            (
                json!({"username": "system:serviceaccount:mtp-system:mtp-controller"}),
                false,
            ),
            (
                json!({"username": "root", "groups": ["system:masters"]}),
                false,
            ),
        ] {
            let r = answer(
                &hook,
                &review("DELETE", user.clone(), isolation_policy(), Value::Null),
            );
            assert_eq!(r.allowed, allowed, "{user}: {r:?}");
        }
    }

    #[test]
    fn a_users_own_object_stays_theirs() {
        let hook = ManagedObjectsHook::new("mtp-system");
        let mut own = isolation_policy();
        own["metadata"]["name"] = json!("allow-frontend");
        own["metadata"]["labels"] = json!({"app": "frontend"});
        let mut labelled = own.clone();
        labelled["metadata"]["labels"] =
            json!({"mtp.dev/tenant": "acme", "app.kubernetes.io/managed-by": "mtp"});
        let r = answer(&hook, &review("UPDATE", alice(), own.clone(), labelled));
        assert!(r.allowed, "{r:?}");
        assert!(
            r.warnings[0].contains("from now on only the platform"),
            "{r:?}"
        );
        // Only managed-by, no tenant label: not the platform's.
        let mut half = own.clone();
        half["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "mtp"});
        let r = answer(&hook, &review("DELETE", alice(), half, Value::Null));
        assert!(r.allowed && r.warnings.is_empty(), "{r:?}");
    }

    #[test]
    fn every_managed_kind_is_guarded_with_its_purpose() {
        let hook = ManagedObjectsHook::new("mtp-system");
        for (group, resource, kind, name, purpose) in [
            (
                "",
                "limitranges",
                "LimitRange",
                "tenant-defaults",
                "default container resources",
            ),
            (
                "",
                "resourcequotas",
                "ResourceQuota",
                "tenant-quota",
                "resource quota",
            ),
            (
                "rbac.authorization.k8s.io",
                "rolebindings",
                "RoleBinding",
                "tenant-admins",
                "admin access",
            ),
            (
                "rbac.authorization.k8s.io",
                "rolebindings",
                "RoleBinding",
                "tenant-viewers",
                "viewer access",
            ),
        ] {
            let mut old = isolation_policy();
            old["kind"] = json!(kind);
            old["metadata"]["name"] = json!(name);
            let mut r = review("DELETE", alice(), old, Value::Null);
            r["request"]["kind"] = json!({"group": group, "version": "v1", "kind": kind});
            r["request"]["resource"] =
                json!({"group": group, "version": "v1", "resource": resource});
            r["request"]["name"] = json!(name);
            let answer = answer(&hook, &r);
            let message = answer.message.unwrap_or_default();
            assert!(
                message.starts_with(&format!("{kind} tenant-acme/{name} is managed by the mtp platform (tenant \"acme\"'s {purpose})")),
                "{message}"
            );
        }
    }

    #[test]
    fn bad_requests_are_refused_not_panicked_on() {
        let hook = ManagedObjectsHook::new("mtp-system");
        let r = answer(&hook, &review("DELETE", alice(), Value::Null, Value::Null));
        assert_eq!(r.code, 400);
        assert!(r.message.unwrap().contains("no oldObject"));
        let r = answer(
            &hook,
            &review(
                "DELETE",
                alice(),
                json!({"metadata": {"labels": "x"}}),
                Value::Null,
            ),
        );
        assert_eq!(r.code, 400);
        assert!(r.message.unwrap().contains("cannot read request.oldObject"));
        // Not ours to judge: a subresource, another resource, a CREATE.
        let mut status = review("UPDATE", alice(), isolation_policy(), isolation_policy());
        status["request"]["subResource"] = json!("status");
        assert!(answer(&hook, &status).allowed);
        let mut other = review("DELETE", alice(), isolation_policy(), Value::Null);
        other["request"]["resource"]["resource"] = json!("configmaps");
        assert!(answer(&hook, &other).allowed);
        let create = review("CREATE", alice(), Value::Null, isolation_policy());
        assert!(answer(&hook, &create).allowed);
    }

    fn tenant(spec: Value, labels: Value, annotations: Value, finalizers: Value) -> Value {
        json!({
            "apiVersion": "mtp.dev/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": "acme", "labels": labels, "annotations": annotations, "finalizers": finalizers},
            "spec": spec,
        })
    }

    fn managed_tenant() -> Value {
        tenant(
            json!({"displayName": "Acme", "tier": "pro", "owner": "alice@acme.com"}),
            json!({"app.kubernetes.io/managed-by": "mtp"}),
            json!({"mtp.dev/store-id": "42"}),
            json!([]),
        )
    }

    fn tenant_review(operation: &str, user: Value, old: Value, new: Value) -> Value {
        let mut r = review(operation, user, old, new);
        r["request"]["kind"] = json!({"group": "mtp.dev", "version": "v1alpha1", "kind": "Tenant"});
        r["request"]["resource"] =
            json!({"group": "mtp.dev", "version": "v1alpha1", "resource": "tenants"});
        r["request"]["name"] = json!("acme");
        r["request"].as_object_mut().unwrap().remove("namespace");
        r
    }

    #[test]
    fn a_stored_tenant_is_changed_through_the_api() {
        let hook = TenantOwnershipHook::new("mtp-system");
        let admin = json!({"username": "kubernetes-admin", "groups": ["system:masters"]});
        let mut changed = managed_tenant();
        changed["spec"]["tier"] = json!("enterprise");
        let r = answer(
            &hook,
            &tenant_review("UPDATE", admin.clone(), managed_tenant(), changed.clone()),
        );
        assert!(!r.allowed);
        assert_eq!(
            r.message.as_deref(),
            Some(
                "Tenant acme is managed through the mtp API (store id 42): kubernetes-admin may not change its spec here; change it with 'mtpctl tenants update acme' / PATCH /api/v1/tenants/acme, delete it with 'mtpctl tenants delete acme'"
            )
        );
        // A delete is not refused: the controller reflects it into the store.
        let r = answer(
            &hook,
            &tenant_review("DELETE", admin.clone(), managed_tenant(), Value::Null),
        );
        assert!(r.allowed, "{r:?}");
        let mut unlabelled = managed_tenant();
        unlabelled["metadata"]["labels"] = json!({});
        unlabelled["metadata"]["annotations"] = json!({});
        let r = answer(
            &hook,
            &tenant_review("UPDATE", admin.clone(), managed_tenant(), unlabelled),
        );
        assert!(r.message.unwrap().contains(
            "change its app.kubernetes.io/managed-by label or change its mtp.dev/store-id annotation"
        ));
        // The controller may do all of it.
        let controller = json!({"username": "system:serviceaccount:mtp-system:mtp-controller"});
        assert!(
            answer(
                &hook,
                &tenant_review("UPDATE", controller.clone(), managed_tenant(), changed)
            )
            .allowed
        );
        assert!(
            answer(
                &hook,
                &tenant_review("DELETE", controller, managed_tenant(), Value::Null)
            )
            .allowed
        );
    }

    #[test]
    fn other_metadata_of_a_stored_tenant_may_change() {
        let hook = TenantOwnershipHook::new("mtp-system");
        let admin = json!({"username": "kubernetes-admin", "groups": ["system:masters"]});
        let mut finalized = managed_tenant();
        finalized["metadata"]["finalizers"] = json!(["mtp.dev/cleanup"]);
        finalized["metadata"]["labels"]["team"] = json!("payments");
        finalized["metadata"]["annotations"]["mtp.dev/retain-namespaces"] = json!("true");
        let r = answer(
            &hook,
            &tenant_review("UPDATE", admin.clone(), managed_tenant(), finalized),
        );
        assert!(r.allowed, "{r:?}");
        // A hand-made Tenant is not the store's: its spec is the admin's; marking it is not.
        let mut own = managed_tenant();
        own["metadata"]["labels"] = json!({});
        own["metadata"]["annotations"] = json!({});
        let mut edited = own.clone();
        edited["spec"]["tier"] = json!("free");
        assert!(
            answer(
                &hook,
                &tenant_review("UPDATE", admin.clone(), own.clone(), edited)
            )
            .allowed
        );
        assert!(
            answer(
                &hook,
                &tenant_review("DELETE", admin.clone(), own.clone(), Value::Null)
            )
            .allowed
        );
        let r = answer(
            &hook,
            &tenant_review("UPDATE", admin, own, managed_tenant()),
        );
        assert!(!r.allowed);
        assert!(
            r.message
                .unwrap()
                .contains("is not managed through the mtp API")
        );
    }

    #[test]
    fn bad_tenant_requests_are_refused() {
        let hook = TenantOwnershipHook::new("mtp-system");
        let r = answer(
            &hook,
            &tenant_review("UPDATE", alice(), Value::Null, managed_tenant()),
        );
        assert_eq!(r.code, 400);
        let r = answer(
            &hook,
            &tenant_review("UPDATE", alice(), managed_tenant(), Value::Null),
        );
        assert_eq!(r.code, 400);
        let r = answer(
            &hook,
            &tenant_review("UPDATE", alice(), managed_tenant(), json!("x")),
        );
        assert_eq!(r.code, 400);
        assert!(r.message.unwrap().contains("cannot read request.object"));
        let mut status = tenant_review("UPDATE", alice(), managed_tenant(), json!({}));
        status["request"]["subResource"] = json!("status");
        assert!(answer(&hook, &status).allowed);
    }
}
