//! `guardrails.mtp.dev` (validating) and `node-selector.mtp.dev` (mutating): each tenant's
//! [`Guardrails`] on the objects of its namespaces.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::json;

use super::pod_security::{BATCH, WORKLOADS};
use super::{TenantLookup, system_namespaces, tenant_namespaces};
use crate::admission::{
    AdmissionReview, CheckDoc, FailurePolicy, Operation, PatchOp, Request, Response, ReviewError,
    Reviewed, Rule, Webhook, WebhookKind, pointer_token, review_raw,
};
use crate::guardrails::{self, Context, Guardrails, HostIndex, Object, Rule as Guardrail};
use crate::pod_security::Evaluation;

/// Answers which guardrails a tenant has.
pub trait GuardrailLookup: Send + Sync + 'static {
    /// The compiled guardrails of `tenant`, or `None` when the tenant is unknown.
    fn guardrails_of(&self, tenant: &str) -> Option<Arc<Guardrails>>;
}

/// An in-memory map from tenant to its compiled guardrails, fed by a watch of Tenants (in the
/// binary) or directly (tests).
///
/// ```
/// use std::sync::Arc;
/// use mtp_policy::admission::hooks::{GuardrailCache, GuardrailLookup};
/// use mtp_policy::guardrails::Guardrails;
/// let cache = GuardrailCache::default();
/// cache.set("acme", Arc::new(Guardrails::default()));
/// assert!(cache.guardrails_of("acme").is_some());
/// cache.remove("acme");
/// assert!(cache.guardrails_of("acme").is_none());
/// ```
#[derive(Debug, Default)]
pub struct GuardrailCache {
    tenants: RwLock<HashMap<String, Arc<Guardrails>>>,
}

impl GuardrailCache {
    /// Records a tenant's guardrails.
    pub fn set(&self, tenant: &str, guardrails: Arc<Guardrails>) {
        let mut map = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        map.insert(tenant.to_owned(), guardrails);
    }

    /// Forgets a tenant.
    pub fn remove(&self, tenant: &str) {
        let mut map = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        map.remove(tenant);
    }

    /// Replaces everything (after a relist).
    pub fn replace_all(&self, entries: impl IntoIterator<Item = (String, Arc<Guardrails>)>) {
        let fresh: HashMap<String, Arc<Guardrails>> = entries.into_iter().collect();
        *self.tenants.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    /// How many tenants are known.
    pub fn len(&self) -> usize {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// No tenant is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl GuardrailLookup for GuardrailCache {
    fn guardrails_of(&self, tenant: &str) -> Option<Arc<Guardrails>> {
        self.tenants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .cloned()
    }
}

/// Where a hook finds a request's tenant and its guardrails.
#[derive(Clone)]
struct Tenants {
    namespaces: Arc<dyn TenantLookup>,
    guardrails: Arc<dyn GuardrailLookup>,
    /// Used when a namespace's tenant or a tenant's guardrails are not known (yet): the most
    /// restrictive tier's.
    fallback: Arc<Guardrails>,
    excluded: Vec<String>,
}

impl Tenants {
    fn new(
        namespaces: Arc<dyn TenantLookup>,
        guardrails: Arc<dyn GuardrailLookup>,
        fallback: Arc<Guardrails>,
        platform_namespace: &str,
    ) -> Tenants {
        Tenants {
            namespaces,
            guardrails,
            fallback,
            excluded: system_namespaces(platform_namespace),
        }
    }

    /// The tenant of `namespace` and its guardrails, with a warning when a fallback was used.
    fn resolve(&self, namespace: &str) -> (String, Arc<Guardrails>, Option<String>) {
        let Some(tenant) = self.namespaces.tenant_of(namespace) else {
            return (
                "unknown".to_owned(),
                self.fallback.clone(),
                Some(format!(
                    "namespace {namespace:?} is not known as a tenant namespace yet: the default guardrails were applied"
                )),
            );
        };
        match self.guardrails.guardrails_of(&tenant) {
            Some(g) => (tenant, g, None),
            None => {
                let warning = format!(
                    "the guardrails of tenant {tenant} are not known yet: the default guardrails were applied"
                );
                (tenant, self.fallback.clone(), Some(warning))
            }
        }
    }
}

/// Whether `user` is one of the control plane's own identities (kubelets, the controller
/// manager and its per-controller ServiceAccounts, the scheduler): they set labels and
/// annotations of their own (`statefulset.kubernetes.io/pod-name`,
/// `deployment.kubernetes.io/revision`), which reserved-key rules must not refuse.
pub fn is_control_plane(user: &str) -> bool {
    user.starts_with("system:serviceaccount:kube-system:")
        || user.starts_with("system:node:")
        || user == "system:kube-controller-manager"
        || user == "system:kube-scheduler"
}

/// Every guardrail but the reserved-metadata ones, for the control plane's own requests.
const NOT_METADATA: [Guardrail; 11] = [
    Guardrail::Registries,
    Guardrail::PullAlways,
    Guardrail::PriorityClasses,
    Guardrail::RuntimeClasses,
    Guardrail::NodeSelector,
    Guardrail::ServiceTypes,
    Guardrail::ExternalIps,
    Guardrail::IngressClasses,
    Guardrail::IngressHostnames,
    Guardrail::UniqueIngressHostnames,
    Guardrail::StorageClasses,
];

/// Validates pods, workloads, Services, Ingresses and PersistentVolumeClaims in tenant
/// namespaces against their tenant's guardrails.
#[derive(Clone)]
pub struct GuardrailsHook {
    tenants: Tenants,
    hosts: Option<Arc<HostIndex>>,
}

impl std::fmt::Debug for GuardrailsHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardrailsHook")
            .field("excluded", &self.tenants.excluded)
            .field("fallback", &self.tenants.fallback)
            .finish_non_exhaustive()
    }
}

impl GuardrailsHook {
    /// The hook: tenants resolved through `namespaces`, their guardrails through `guardrails`,
    /// `fallback` (the strictest tier's, say) when either is not known yet.
    pub fn new(
        namespaces: Arc<dyn TenantLookup>,
        guardrails: Arc<dyn GuardrailLookup>,
        fallback: Arc<Guardrails>,
        platform_namespace: &str,
    ) -> GuardrailsHook {
        GuardrailsHook {
            tenants: Tenants::new(namespaces, guardrails, fallback, platform_namespace),
            hosts: None,
        }
    }

    /// Also refuses hostnames another tenant's Ingress serves, as `hosts` knows them.
    pub fn with_hosts(mut self, hosts: Arc<HostIndex>) -> GuardrailsHook {
        self.hosts = Some(hosts);
        self
    }

    fn decide<O>(
        &self,
        request: &Request<'_, O>,
        object: Option<&Object<'_>>,
        old: Option<&Object<'_>>,
    ) -> Response {
        let operation = request.operation();
        if !matches!(operation, Some(Operation::Create | Operation::Update)) {
            return Response::allow();
        }
        let Some(object) = object else {
            return Response::allow();
        };
        let (tenant, guardrails, warning) = self.tenants.resolve(request.namespace());
        let ctx = Context {
            tenant: &tenant,
            hosts: self.hosts.as_deref(),
        };
        let rules: &[Guardrail] = if is_control_plane(request.user().username()) {
            &NOT_METADATA
        } else {
            &Guardrail::ALL
        };
        let evaluation = match guardrails.evaluate_rules(object, &ctx, rules) {
            Ok(e) => e,
            Err(e) => return Response::invalid(format!("cannot check request.object: {e}")),
        };
        let evaluation = match (operation, old) {
            (Some(Operation::Update), Some(old)) if !evaluation.allowed() => {
                let before = guardrails
                    .evaluate_rules(old, &ctx, rules)
                    .unwrap_or_else(|_| Evaluation::not_applicable());
                guardrails::new_violations(evaluation, &before)
            }
            _ => evaluation,
        };
        let response = if evaluation.allowed() {
            Response::allow()
        } else {
            let mut checks: Vec<String> = evaluation
                .violations
                .iter()
                .map(|v| v.check.to_owned())
                .collect();
            checks.dedup();
            Response::deny(guardrails::message(&tenant, &evaluation.violations)).with_checks(checks)
        };
        match warning {
            Some(w) => response.with_warning(w),
            None => response,
        }
    }
}

/// What the guardrails hook is called for.
fn guardrail_rules() -> Vec<Rule> {
    use Operation::{Create, Update};
    vec![
        Rule::new(
            &[Create, Update],
            &[""],
            &[
                "pods",
                "pods/ephemeralcontainers",
                "replicationcontrollers",
                "podtemplates",
                "services",
                "persistentvolumeclaims",
            ],
        ),
        Rule::new(&[Create, Update], &["apps"], WORKLOADS),
        Rule::new(&[Create, Update], &["batch"], BATCH),
        Rule::new(&[Create, Update], &["networking.k8s.io"], &["ingresses"]),
    ]
}

impl Webhook for GuardrailsHook {
    fn name(&self) -> &str {
        "guardrails.mtp.dev"
    }

    fn path(&self) -> &str {
        "/validate/guardrails"
    }

    fn kind(&self) -> WebhookKind {
        WebhookKind::Validating
    }

    fn rules(&self) -> Vec<Rule> {
        guardrail_rules()
    }

    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }

    fn namespace_selector(&self) -> Option<LabelSelector> {
        Some(tenant_namespaces(&self.tenants.excluded))
    }

    fn doc(&self) -> &str {
        "Enforces each tenant's guardrails (its tier's defaults, overridden per tenant in spec.guardrails) \
         on pods, pod templates, workloads, Services, Ingresses and PersistentVolumeClaims in tenant \
         namespaces: allowed container registries and imagePullPolicy Always, Service types and never \
         externalIPs, IngressClasses, hostnames and hostnames another tenant serves, StorageClasses, \
         PriorityClasses, RuntimeClasses, a nodeSelector that must not be contradicted, and reserved \
         labels and annotations (not applied to the control plane's own identities). An UPDATE is \
         refused only for violations the old object did not already have. A tenant whose guardrails \
         are not loaded yet gets the strictest tier's, with a warning. Fails closed: only tenant \
         namespaces are selected."
    }

    fn checks(&self) -> Vec<CheckDoc> {
        Guardrail::ALL
            .iter()
            .map(|r| CheckDoc {
                id: r.id().to_owned(),
                doc: r.doc().to_owned(),
            })
            .collect()
    }

    fn admit(&self, request: &Request<'_>) -> Response {
        let object: Option<Object<'_>> =
            match request.object_json().map(serde_json::from_str).transpose() {
                Ok(o) => o,
                Err(e) => return Response::invalid(format!("cannot read request.object: {e}")),
            };
        let old: Option<Object<'_>> = request
            .old_object_json()
            .and_then(|json| serde_json::from_str(json).ok());
        self.decide(request, object.as_ref(), old.as_ref())
    }

    /// One pass: the objects are read as the review is parsed. Bodies that do not read that way
    /// take the default path, which says what is wrong.
    fn review(&self, body: &[u8]) -> Result<Reviewed, ReviewError> {
        let Ok(review) = AdmissionReview::<'_, Object<'_>>::from_slice(body) else {
            return review_raw(self, body);
        };
        let request = review.request()?;
        Ok(Reviewed {
            uid: request.uid().to_owned(),
            response: self.decide(
                request,
                request.object.as_ref(),
                request.old_object.as_ref(),
            ),
        })
    }
}

/// Adds the tenant's nodeSelector entries to every pod created in its namespaces (a pod that
/// sets one of its keys to another value is left for `guardrails.mtp.dev` to refuse).
#[derive(Clone)]
pub struct NodeSelectorHook {
    tenants: Tenants,
}

impl std::fmt::Debug for NodeSelectorHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSelectorHook")
            .field("excluded", &self.tenants.excluded)
            .finish_non_exhaustive()
    }
}

impl NodeSelectorHook {
    /// The hook, resolving tenants and guardrails as [`GuardrailsHook::new`] does.
    pub fn new(
        namespaces: Arc<dyn TenantLookup>,
        guardrails: Arc<dyn GuardrailLookup>,
        fallback: Arc<Guardrails>,
        platform_namespace: &str,
    ) -> NodeSelectorHook {
        NodeSelectorHook {
            tenants: Tenants::new(namespaces, guardrails, fallback, platform_namespace),
        }
    }

    fn decide<O>(&self, request: &Request<'_, O>, object: Option<&Object<'_>>) -> Response {
        if request.operation() != Some(Operation::Create) || !request.sub_resource().is_empty() {
            return Response::allow();
        }
        let Some(object) = object else {
            return Response::allow();
        };
        let kind_is_pod = object.kind.as_deref().is_none_or(|k| k == "Pod");
        if !kind_is_pod {
            return Response::allow();
        }
        let (_, guardrails, warning) = self.tenants.resolve(request.namespace());
        let wanted = guardrails.node_selector();
        let current = object.spec.as_ref().and_then(|s| s.node_selector.as_ref());
        let mut patch = Vec::new();
        match current {
            None if !wanted.is_empty() => {
                let map: serde_json::Map<String, serde_json::Value> =
                    wanted.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                if object.spec.is_some() {
                    patch.push(PatchOp::add("/spec/nodeSelector", map.into()));
                }
            }
            None => {}
            Some(current) => {
                for (k, v) in wanted {
                    if current.get(k).is_none() {
                        patch.push(PatchOp::add(
                            format!("/spec/nodeSelector/{}", pointer_token(k)),
                            json!(v),
                        ));
                    }
                }
            }
        }
        let response = Response::allow().with_patch(patch);
        match warning {
            Some(w) => response.with_warning(w),
            None => response,
        }
    }
}

impl Webhook for NodeSelectorHook {
    fn name(&self) -> &str {
        "node-selector.mtp.dev"
    }

    fn path(&self) -> &str {
        "/mutate/node-selector"
    }

    fn kind(&self) -> WebhookKind {
        WebhookKind::Mutating
    }

    fn rules(&self) -> Vec<Rule> {
        vec![Rule::new(&[Operation::Create], &[""], &["pods"])]
    }

    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }

    fn namespace_selector(&self) -> Option<LabelSelector> {
        Some(tenant_namespaces(&self.tenants.excluded))
    }

    fn doc(&self) -> &str {
        "Adds the tenant's nodeSelector (guardrails.nodeSelector) to every pod created in its \
         namespaces, so its pods run on its dedicated nodes; keys the pod already sets are left \
         alone (a contradicting value is refused by guardrails.mtp.dev). Fails closed, like the \
         guardrail it serves: only tenant namespaces are selected."
    }

    fn admit(&self, request: &Request<'_>) -> Response {
        let object: Option<Object<'_>> =
            match request.object_json().map(serde_json::from_str).transpose() {
                Ok(o) => o,
                Err(e) => return Response::invalid(format!("cannot read request.object: {e}")),
            };
        self.decide(request, object.as_ref())
    }

    fn review(&self, body: &[u8]) -> Result<Reviewed, ReviewError> {
        let Ok(review) = AdmissionReview::<'_, Object<'_>>::from_slice(body) else {
            return review_raw(self, body);
        };
        let request = review.request()?;
        Ok(Reviewed {
            uid: request.uid().to_owned(),
            response: self.decide(request, request.object.as_ref()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_plane_is_held_to_every_rule_but_reserved_metadata() {
        let expected: Vec<Guardrail> = Guardrail::ALL
            .into_iter()
            .filter(|r| !matches!(r, Guardrail::Labels | Guardrail::Annotations))
            .collect();
        assert_eq!(NOT_METADATA.to_vec(), expected);
        assert!(is_control_plane(
            "system:serviceaccount:kube-system:statefulset-controller"
        ));
        assert!(is_control_plane("system:node:worker-1"));
        assert!(!is_control_plane(
            "system:serviceaccount:tenant-acme:default"
        ));
        assert!(!is_control_plane("alice@acme.io"));
    }
}
