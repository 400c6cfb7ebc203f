//! `tenant-labels.mtp.dev`: labels pods and workloads with their tenant.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{Value, json};

use super::{TENANT_LABEL, TenantLookup, system_namespaces, tenant_namespaces};
use crate::admission::{
    FailurePolicy, Operation, PatchOp, Request, Response, Rule, Webhook, WebhookKind, pointer_token,
};

/// Adds `mtp.dev/tenant: <tenant>` to pods and workloads (and their pod templates) in tenant
/// namespaces, resolving the tenant from the namespace's own label through a [`TenantLookup`].
/// A value set by hand to another tenant is overwritten.
#[derive(Clone)]
pub struct TenantLabelsHook {
    namespaces: Arc<dyn TenantLookup>,
    excluded: Vec<String>,
}

impl std::fmt::Debug for TenantLabelsHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantLabelsHook")
            .field("excluded", &self.excluded)
            .finish_non_exhaustive()
    }
}

impl TenantLabelsHook {
    /// The hook, resolving tenants through `namespaces`.
    pub fn new(namespaces: Arc<dyn TenantLookup>, platform_namespace: &str) -> TenantLabelsHook {
        TenantLabelsHook {
            namespaces,
            excluded: system_namespaces(platform_namespace),
        }
    }
}

/// The JSON pointers of the label maps to set, by kind.
fn label_maps(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &["/metadata"],
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => &["/metadata", "/spec/template/metadata"],
        "CronJob" => &[
            "/metadata",
            "/spec/jobTemplate/metadata",
            "/spec/jobTemplate/spec/template/metadata",
        ],
        _ => &["/metadata"],
    }
}

/// The patch that makes `object` carry `label=value` at each metadata pointer.
fn label_patch(object: &Value, metadata_pointers: &[&str], value: &str) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    for pointer in metadata_pointers {
        // The parent of the metadata must exist (a workload without a template is the
        // apiserver's to refuse, not ours to invent).
        let parent = pointer.rsplit_once('/').map_or("", |(p, _)| p);
        if !parent.is_empty() && object.pointer(parent).is_none_or(|p| !p.is_object()) {
            continue;
        }
        match object.pointer(pointer) {
            Some(Value::Object(metadata)) => match metadata.get("labels") {
                Some(Value::Object(labels)) => {
                    if labels.get(TENANT_LABEL).and_then(Value::as_str) != Some(value) {
                        ops.push(PatchOp::add(
                            format!("{pointer}/labels/{}", pointer_token(TENANT_LABEL)),
                            json!(value),
                        ));
                    }
                }
                _ => ops.push(PatchOp::add(
                    format!("{pointer}/labels"),
                    json!({ TENANT_LABEL: value }),
                )),
            },
            _ => ops.push(PatchOp::add(
                *pointer,
                json!({"labels": { TENANT_LABEL: value }}),
            )),
        }
    }
    ops
}

impl Webhook for TenantLabelsHook {
    fn name(&self) -> &str {
        "tenant-labels.mtp.dev"
    }

    fn path(&self) -> &str {
        "/mutate/tenant-labels"
    }

    fn kind(&self) -> WebhookKind {
        WebhookKind::Mutating
    }

    fn rules(&self) -> Vec<Rule> {
        use Operation::{Create, Update};
        vec![
            Rule::new(
                &[Create, Update],
                &[""],
                &["pods", "replicationcontrollers"],
            ),
            Rule::new(
                &[Create, Update],
                &["apps"],
                &["deployments", "replicasets", "statefulsets", "daemonsets"],
            ),
            Rule::new(&[Create, Update], &["batch"], &["jobs", "cronjobs"]),
        ]
    }

    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Ignore
    }

    fn namespace_selector(&self) -> Option<LabelSelector> {
        Some(tenant_namespaces(&self.excluded))
    }

    fn doc(&self) -> &str {
        "Labels pods and workloads in tenant namespaces (and the pod templates of workloads) with \
         mtp.dev/tenant=<tenant>, the tenant taken from the namespace's own mtp.dev/tenant label, so \
         cost, metrics and policies can select a tenant's pods. A value set by hand is corrected. An \
         unknown namespace is let through unlabelled, with a warning. Fails open: the label is \
         bookkeeping, and an outage must not stop tenants from deploying."
    }

    fn admit(&self, request: &Request<'_>) -> Response {
        let Some(object_json) = request.object_json() else {
            return Response::allow();
        };
        let namespace = request.namespace();
        let Some(tenant) = self.namespaces.tenant_of(namespace) else {
            return Response::allow().with_warning(format!(
                "namespace {namespace:?} is not known as a tenant namespace yet: label {TENANT_LABEL} not set"
            ));
        };
        let object: Value = match serde_json::from_str(object_json) {
            Ok(object) => object,
            Err(e) => return Response::invalid(format!("cannot read request.object: {e}")),
        };
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_else(|| request.kind());
        Response::allow().with_patch(label_patch(&object, label_maps(kind), &tenant))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patches_only_what_is_missing_or_wrong() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "p"}});
        assert_eq!(
            label_patch(&pod, label_maps("Pod"), "shop"),
            vec![PatchOp::add(
                "/metadata/labels",
                json!({"mtp.dev/tenant": "shop"})
            )]
        );
        let pod =
            json!({"kind": "Pod", "metadata": {"labels": {"app": "x", "mtp.dev/tenant": "other"}}});
        assert_eq!(
            label_patch(&pod, label_maps("Pod"), "shop"),
            vec![PatchOp::add(
                "/metadata/labels/mtp.dev~1tenant",
                json!("shop")
            )]
        );
        let pod = json!({"kind": "Pod", "metadata": {"labels": {"mtp.dev/tenant": "shop"}}});
        assert!(label_patch(&pod, label_maps("Pod"), "shop").is_empty());
        let pod = json!({"kind": "Pod"});
        assert_eq!(
            label_patch(&pod, label_maps("Pod"), "shop"),
            vec![PatchOp::add(
                "/metadata",
                json!({"labels": {"mtp.dev/tenant": "shop"}})
            )]
        );
    }
}
