//! The webhooks mtp ships, and what each does while the webhook server is down (the full matrix,
//! request by request: `docs/operations.md`, "While the webhook is down"; tested against the
//! generated configurations by `mtp-bins/tests/webhook_outage.rs`).
//!
//! | hook | kind | failure policy | selects | why that policy |
//! |---|---|---|---|---|
//! | `pod-security.mtp.dev` | validating | Fail | pod and workload writes in tenant namespaces | a tenant pod must never skip the guardrail; only tenant namespaces are selected, so an outage blocks tenant pod writes, never the platform or other namespaces |
//! | `tenant-labels.mtp.dev` | mutating | Ignore | pod and workload writes in tenant namespaces | the label is bookkeeping; an outage must not stop tenants from deploying |
//! | `protected-namespaces.mtp.dev` | validating | Ignore | writes in and of kube-system, kube-public, kube-node-lease, default and the platform namespace | it guards the platform itself: failing closed would lock the platform out during an outage; RBAC stays the first line |
//! | `namespace-labels.mtp.dev` | validating | Fail | CREATE and UPDATE of namespaces whose old or new object carries `mtp.dev/tenant` (objectSelector), the protected namespaces excluded | a spoofed `mtp.dev/tenant` label would bypass NetworkPolicy isolation; namespaces without the label are never selected, so anyone RBAC allows creates, changes and deletes them during an outage |
//! | `managed-objects.mtp.dev` | validating | Fail | UPDATE and DELETE of the NetworkPolicies, LimitRanges, ResourceQuotas and RoleBindings labelled `app.kubernetes.io/managed-by=mtp` in tenant namespaces | letting a tenant delete `tenant-isolation` or the platform's RoleBindings would break isolation; a tenant's own objects are not selected |
//! | `guardrails.mtp.dev` | validating | Fail | pod, workload, Service, Ingress and PersistentVolumeClaim writes in tenant namespaces | a tenant must not get around its registries, Service types, hostnames, classes or node pool during an outage; only tenant namespaces are selected |
//! | `node-selector.mtp.dev` | mutating | Fail | pod CREATE in tenant namespaces | a pod that missed its tenant's nodeSelector would run on shared nodes; only tenant namespaces are selected |
//! | `tenant-ownership.mtp.dev` | validating | Ignore | UPDATE and DELETE of Tenants labelled `app.kubernetes.io/managed-by=mtp` | only cluster administrators write Tenants, and the store sync re-applies a changed spec within seconds |

mod guardrails;
mod managed;
mod namespaces;
mod pod_security;
mod protected;
mod tenant_labels;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

pub use guardrails::{
    GuardrailCache, GuardrailLookup, GuardrailsHook, NodeSelectorHook, is_control_plane,
};
pub use managed::{
    DEFAULT_EXEMPT_GROUPS, DEFAULT_EXEMPT_USERS, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
    ManagedObjectsHook, STORE_ID_ANNOTATION, TenantOwnershipHook, controller_user,
    service_account_user,
};
pub use namespaces::{NamespaceCache, TenantLookup};
pub use pod_security::PodSecurityHook;
pub use protected::{NamespaceLabelsHook, ProtectedNamespacesHook};
pub use tenant_labels::TenantLabelsHook;

pub use crate::TENANT_LABEL;

/// The label the apiserver sets on every namespace to its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The control plane's namespaces, which no mtp webhook ever intercepts (nor the platform
/// namespace): a webhook that hangs would otherwise slow every node heartbeat (kube-node-lease)
/// and leader election (kube-system). RBAC alone guards them.
pub const NEVER_INTERCEPTED: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// The namespaces that are never tenant namespaces: the system ones and the platform's own.
pub fn system_namespaces(platform_namespace: &str) -> Vec<String> {
    let mut namespaces: Vec<String> = ["kube-system", "kube-public", "kube-node-lease", "default"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if !namespaces.iter().any(|n| n == platform_namespace) {
        namespaces.push(platform_namespace.to_owned());
    }
    namespaces
}

fn requirement(key: &str, operator: &str, values: Option<Vec<String>>) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: key.to_owned(),
        operator: operator.to_owned(),
        values,
    }
}

/// Tenant namespaces: labelled `mtp.dev/tenant`, and not one of `excluded`.
fn tenant_namespaces(excluded: &[String]) -> LabelSelector {
    LabelSelector {
        match_expressions: Some(vec![
            requirement(TENANT_LABEL, "Exists", None),
            requirement(NAMESPACE_NAME_LABEL, "NotIn", Some(excluded.to_vec())),
        ]),
        match_labels: None,
    }
}
