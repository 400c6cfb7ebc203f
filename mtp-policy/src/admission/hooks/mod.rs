//! The webhooks mtp ships.
//!
//! | hook | kind | failure policy | why that policy |
//! |---|---|---|---|
//! | `pod-security.mtp.dev` | validating | Fail | a tenant pod must never skip the guardrail; only tenant namespaces are selected, so an outage blocks tenant pod writes, never the platform |
//! | `tenant-labels.mtp.dev` | mutating | Ignore | the label is bookkeeping; an outage must not stop tenants from deploying |
//! | `protected-namespaces.mtp.dev` | validating | Ignore | it guards kube-system and the platform namespace themselves: failing closed would lock the platform out during an outage; RBAC stays the first line |
//! | `namespace-labels.mtp.dev` | validating | Fail | a spoofed `mtp.dev/tenant` label would bypass NetworkPolicy isolation; namespaces are written rarely and the system namespaces are excluded |

mod namespaces;
mod pod_security;
mod protected;
mod tenant_labels;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

pub use namespaces::{NamespaceCache, TenantLookup};
pub use pod_security::PodSecurityHook;
pub use protected::{NamespaceLabelsHook, ProtectedNamespacesHook};
pub use tenant_labels::TenantLabelsHook;

/// The label that says which tenant a namespace (and what runs in it) belongs to.
pub const TENANT_LABEL: &str = "mtp.dev/tenant";

/// The label the apiserver sets on every namespace to its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

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
