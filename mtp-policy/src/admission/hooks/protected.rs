//! `protected-namespaces.mtp.dev` and `namespace-labels.mtp.dev`: the system and platform
//! namespaces are off limits, and only the platform sets a namespace's tenant.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;

use super::{
    NAMESPACE_NAME_LABEL, NEVER_INTERCEPTED, TENANT_LABEL, controller_user, requirement,
    system_namespaces,
};
use crate::admission::{
    FailurePolicy, Operation, Request, Response, Rule, Scope, Webhook, WebhookKind,
};

/// Who may write where, shared by both hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Guard {
    protected: Vec<String>,
    /// The platform namespace: like the control plane's, never intercepted.
    platform_namespace: String,
    allowed_groups: Vec<String>,
    allowed_users: Vec<String>,
    platform_user: String,
}

impl Guard {
    fn new(platform_namespace: &str) -> Guard {
        let protected = system_namespaces(platform_namespace);
        let mut allowed_groups = vec!["system:masters".to_owned(), "system:nodes".to_owned()];
        allowed_groups.extend(
            protected
                .iter()
                .map(|ns| format!("system:serviceaccounts:{ns}")),
        );
        Guard {
            protected,
            platform_namespace: platform_namespace.to_owned(),
            allowed_groups,
            // The control plane's own identities write leases and endpoints in kube-system and default.
            allowed_users: [
                "system:kube-scheduler",
                "system:kube-controller-manager",
                "system:apiserver",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
            platform_user: controller_user(platform_namespace),
        }
    }

    fn is_allowed(&self, request: &Request<'_>) -> bool {
        let user = request.user();
        self.allowed_users.iter().any(|u| u == user.username())
            || user.username() == self.platform_user
            || user
                .groups()
                .any(|g| self.allowed_groups.iter().any(|a| a == g))
    }

    /// Refuses a change of a namespace's tenant label by anyone but the platform.
    fn check_tenant_label(&self, request: &Request<'_>) -> Option<Response> {
        if request.resource() != "namespaces" || !request.sub_resource().is_empty() {
            return None;
        }
        if !matches!(
            request.operation(),
            Some(Operation::Create | Operation::Update)
        ) {
            return None;
        }
        let label = |json: Option<&str>| -> Result<Option<String>, String> {
            let Some(json) = json else { return Ok(None) };
            let ns: NamespaceLabels = serde_json::from_str(json).map_err(|e| e.to_string())?;
            Ok(ns
                .metadata
                .and_then(|m| m.labels)
                .and_then(|mut l| l.remove(TENANT_LABEL)))
        };
        let (new, old) = match (
            label(request.object_json()),
            label(request.old_object_json()),
        ) {
            (Ok(new), Ok(old)) => (new, old),
            (Err(e), _) | (_, Err(e)) => {
                return Some(Response::invalid(format!("cannot read the namespace: {e}")));
            }
        };
        if new == old || request.user().username() == self.platform_user {
            return None;
        }
        let what = match (&old, &new) {
            (None, Some(v)) => format!("set {TENANT_LABEL}={v}"),
            (Some(o), Some(v)) => format!("change {TENANT_LABEL} from {o} to {v}"),
            _ => format!("remove {TENANT_LABEL}"),
        };
        Some(
            Response::deny(format!(
                "only the platform ({}) may {what} on namespace {:?}: the label decides network isolation; ask a platform admin",
                self.platform_user,
                request.name()
            ))
            .with_checks(vec!["tenantLabel".to_owned()]),
        )
    }
}

#[derive(Deserialize)]
struct NamespaceLabels {
    metadata: Option<MetaLabels>,
}

#[derive(Deserialize)]
struct MetaLabels {
    labels: Option<std::collections::BTreeMap<String, String>>,
}

/// Refuses CREATE, UPDATE and DELETE of the protected namespaces (kube-system, kube-public,
/// kube-node-lease, default and the platform namespace, by default) and of objects in them,
/// unless the user is in an allowed group (system:masters, system:nodes and the service accounts
/// of those namespaces, by default) or is one of the control plane's own users.
#[derive(Debug, Clone)]
pub struct ProtectedNamespacesHook {
    guard: Guard,
}

impl ProtectedNamespacesHook {
    /// The hook with the default protected namespaces and allowed groups.
    pub fn new(platform_namespace: &str) -> ProtectedNamespacesHook {
        ProtectedNamespacesHook {
            guard: Guard::new(platform_namespace),
        }
    }

    /// With other protected namespaces.
    pub fn with_protected(mut self, namespaces: Vec<String>) -> ProtectedNamespacesHook {
        self.guard.protected = namespaces;
        self
    }

    /// With other allowed groups (replacing the defaults).
    pub fn with_allowed_groups(mut self, groups: Vec<String>) -> ProtectedNamespacesHook {
        self.guard.allowed_groups = groups;
        self
    }

    /// With the platform controller's user name (`system:serviceaccount:<namespace>:<name>`), the
    /// only one who may set a namespace's tenant label.
    pub fn with_controller(mut self, username: impl Into<String>) -> ProtectedNamespacesHook {
        self.guard.platform_user = username.into();
        self
    }

    /// The protected namespaces.
    pub fn protected(&self) -> &[String] {
        &self.guard.protected
    }
}

impl Webhook for ProtectedNamespacesHook {
    fn name(&self) -> &str {
        "protected-namespaces.mtp.dev"
    }

    fn path(&self) -> &str {
        "/validate/protected-namespaces"
    }

    fn kind(&self) -> WebhookKind {
        WebhookKind::Validating
    }

    fn rules(&self) -> Vec<Rule> {
        use Operation::{Create, Delete, Update};
        vec![
            Rule::new(&[Create, Update, Delete], &[""], &["namespaces"]).scoped(Scope::Cluster),
            Rule::new(&[Create, Update, Delete], &["*"], &["*"]).scoped(Scope::Namespaced),
        ]
    }

    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Ignore
    }

    fn namespace_selector(&self) -> Option<LabelSelector> {
        // The protected namespaces less the control plane's and the platform's, which no mtp
        // webhook intercepts (`NEVER_INTERCEPTED`).
        let selected: Vec<String> = self
            .guard
            .protected
            .iter()
            .filter(|ns| {
                !NEVER_INTERCEPTED.contains(&ns.as_str()) && **ns != self.guard.platform_namespace
            })
            .cloned()
            .collect();
        let requirement = if selected.is_empty() {
            // Every namespace carries the name label: this selects none.
            requirement(NAMESPACE_NAME_LABEL, "DoesNotExist", None)
        } else {
            requirement(NAMESPACE_NAME_LABEL, "In", Some(selected))
        };
        Some(LabelSelector {
            match_expressions: Some(vec![requirement]),
            match_labels: None,
        })
    }

    fn doc(&self) -> &str {
        "Refuses creating, changing or deleting the `default` namespace and anything in it, except \
         for system:masters, system:nodes, the service accounts of the protected namespaces and the \
         control plane's own users; only the platform's service account may set, change or remove \
         its mtp.dev/tenant label. kube-system, kube-public, kube-node-lease and the platform \
         namespace are not selected by this or any mtp webhook: a webhook that hangs would slow \
         every node heartbeat and leader election, so RBAC alone guards them. Fails open: failing \
         closed would lock users out of `default` during an outage; RBAC remains the first line of \
         defence."
    }

    fn admit(&self, request: &Request<'_>) -> Response {
        if let Some(denied) = self.guard.check_tenant_label(request) {
            return denied;
        }
        let target = if request.resource() == "namespaces" {
            request.name()
        } else {
            request.namespace()
        };
        if !self.guard.protected.iter().any(|p| p == target) || self.guard.is_allowed(request) {
            return Response::allow();
        }
        let operation = request.operation().map_or("change", |o| match o {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Connect => "connect to",
        });
        let what = if request.resource() == "namespaces" {
            format!("{operation} the protected namespace {target:?}")
        } else {
            format!(
                "{operation} {} {:?} in the protected namespace {target:?}",
                request.resource(),
                request.name()
            )
        };
        Response::deny(format!(
            "user {:?} may not {what}: it belongs to the platform (allowed groups: {})",
            request.user().username(),
            self.guard.allowed_groups.join(", ")
        ))
        .with_checks(vec!["protectedNamespace".to_owned()])
    }
}

/// Refuses setting, changing or removing a namespace's `mtp.dev/tenant` label by anyone but the
/// platform's service account, on every namespace but the system ones (which
/// [`ProtectedNamespacesHook`] guards whole).
#[derive(Debug, Clone)]
pub struct NamespaceLabelsHook {
    guard: Guard,
}

impl NamespaceLabelsHook {
    /// The hook for a platform running in `platform_namespace` (its controller's service account
    /// `mtp-controller` sets the labels).
    pub fn new(platform_namespace: &str) -> NamespaceLabelsHook {
        NamespaceLabelsHook {
            guard: Guard::new(platform_namespace),
        }
    }

    /// With the platform controller's user name (`system:serviceaccount:<namespace>:<name>`).
    pub fn with_controller(mut self, username: impl Into<String>) -> NamespaceLabelsHook {
        self.guard.platform_user = username.into();
        self
    }
}

impl Webhook for NamespaceLabelsHook {
    fn name(&self) -> &str {
        "namespace-labels.mtp.dev"
    }

    fn path(&self) -> &str {
        "/validate/namespace-labels"
    }

    fn kind(&self) -> WebhookKind {
        WebhookKind::Validating
    }

    fn rules(&self) -> Vec<Rule> {
        vec![
            Rule::new(
                &[Operation::Create, Operation::Update],
                &[""],
                &["namespaces"],
            )
            .scoped(Scope::Cluster),
        ]
    }

    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }

    fn namespace_selector(&self) -> Option<LabelSelector> {
        Some(LabelSelector {
            match_expressions: Some(vec![requirement(
                NAMESPACE_NAME_LABEL,
                "NotIn",
                Some(self.guard.protected.clone()),
            )]),
            match_labels: None,
        })
    }

    /// Only namespaces whose old or new object carries the tenant label: on UPDATE the apiserver
    /// matches either, so setting, changing and removing the label are all seen, and a namespace
    /// that never carries it is never intercepted (nor refused while the webhook is down).
    fn object_selector(&self) -> Option<LabelSelector> {
        Some(LabelSelector {
            match_expressions: Some(vec![requirement(TENANT_LABEL, "Exists", None)]),
            match_labels: None,
        })
    }

    fn doc(&self) -> &str {
        "Refuses setting, changing or removing a namespace's mtp.dev/tenant label by anyone but the \
         platform's service account: the label decides which namespaces a tenant's NetworkPolicy \
         admits, so a spoofed label would bypass isolation. Only CREATE and UPDATE of namespaces \
         whose old or new object carries the label are selected. Fails closed: while the webhook \
         is down, a namespace cannot be created with the label nor a tenant namespace be changed; \
         namespaces without the label are created, changed and deleted as RBAC allows, and \
         deleting a tenant namespace is never intercepted. The system and platform namespaces are \
         excluded (protected-namespaces guards them)."
    }

    fn admit(&self, request: &Request<'_>) -> Response {
        self.guard
            .check_tenant_label(request)
            .unwrap_or_else(Response::allow)
    }
}
