//! `pod-security.mtp.dev`: the `mtp` profile on tenant pods and workload templates.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{system_namespaces, tenant_namespaces};
use crate::admission::{
    AdmissionReview, FailurePolicy, Operation, Request, Response, ReviewError, Reviewed, Rule,
    Webhook, WebhookKind, review_raw,
};
use crate::pod_security::model::{Container, Object};
use crate::pod_security::{Policy, Profile};

/// Validates pods (CREATE; UPDATE only when containers or images change, as Pod Security
/// Admission does; `pods/ephemeralcontainers` UPDATE) and workload templates against a policy
/// (the `mtp` profile by default), in tenant namespaces only.
#[derive(Debug, Clone)]
pub struct PodSecurityHook {
    policy: Policy,
    excluded: Vec<String>,
}

impl PodSecurityHook {
    /// The hook for a platform whose own namespace is `platform_namespace` (excluded with the
    /// system namespaces).
    pub fn new(platform_namespace: &str) -> PodSecurityHook {
        PodSecurityHook {
            policy: Policy::new(Profile::Mtp),
            excluded: system_namespaces(platform_namespace),
        }
    }

    /// With another policy.
    pub fn with_policy(mut self, policy: Policy) -> PodSecurityHook {
        self.policy = policy;
        self
    }
}

/// The `apps` resources that carry a pod template.
pub(super) const WORKLOADS: &[&str] = &["deployments", "replicasets", "statefulsets", "daemonsets"];
/// The `batch` resources that carry a pod template.
pub(super) const BATCH: &[&str] = &["jobs", "cronjobs"];

impl Webhook for PodSecurityHook {
    fn name(&self) -> &str {
        "pod-security.mtp.dev"
    }

    fn path(&self) -> &str {
        "/validate/pod-security"
    }

    fn kind(&self) -> WebhookKind {
        WebhookKind::Validating
    }

    fn rules(&self) -> Vec<Rule> {
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
                ],
            ),
            Rule::new(&[Create, Update], &["apps"], WORKLOADS),
            Rule::new(&[Create, Update], &["batch"], BATCH),
        ]
    }

    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }

    fn namespace_selector(&self) -> Option<LabelSelector> {
        Some(tenant_namespaces(&self.excluded))
    }

    fn doc(&self) -> &str {
        "Refuses unsafe pods in tenant namespaces: every container and init container sets non-zero \
         cpu and memory limits, and every container (ephemeral ones included) has a securityContext \
         that is not privileged, does not run as root (runAsNonRoot not false, runAsUser not 0, \
         container value else pod value), sets readOnlyRootFilesystem=true and \
         allowPrivilegeEscalation=false. Checks pods on CREATE, on UPDATE only when containers or \
         images change (as Pod Security Admission), kubectl debug's ephemeral containers, and the pod \
         templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, \
         ReplicationControllers and PodTemplates, so a bad template is refused before it makes pods. \
         Fails closed: only tenant namespaces are selected, so an outage never blocks the platform."
    }

    fn admit(&self, request: &Request<'_>) -> Response {
        let Some(object) = request.object.filter(|o| o.get() != "null") else {
            return Response::allow();
        };
        let object: Object<'_> = match object.read() {
            Ok(object) => object,
            Err(e) => return Response::invalid(format!("cannot read request.object: {e}")),
        };
        let is_pod_update = is_pod_update(request);
        let old: Option<Object<'_>> = if is_pod_update {
            request
                .old_object
                .filter(|o| o.get() != "null")
                .and_then(|o| o.read().ok())
        } else {
            None
        };
        self.decide(&object, old.as_ref(), is_pod_update)
    }

    /// One pass over the body: the objects are read as the review is parsed, not kept raw and
    /// parsed again. Bodies that do not read that way (a malformed review or object) take the
    /// default path, so the answer is exactly that of [`Webhook::admit`].
    fn review(&self, body: &[u8]) -> Result<Reviewed, ReviewError> {
        // A body that does not read with the objects typed (malformed, or an object of another
        // shape) goes to the default path, which reads it raw and says what is wrong.
        let Ok(review) = AdmissionReview::<'_, Object<'_>>::from_slice(body) else {
            return review_raw(self, body);
        };
        let request = review.request()?;
        let response = match &request.object {
            None => Response::allow(),
            Some(object) => {
                let is_pod_update = is_pod_update(request);
                let old = request.old_object.as_ref().filter(|_| is_pod_update);
                self.decide(object, old, is_pod_update)
            }
        };
        Ok(Reviewed {
            uid: request.uid().to_owned(),
            response,
        })
    }
}

impl PodSecurityHook {
    fn decide(
        &self,
        object: &Object<'_>,
        old: Option<&Object<'_>>,
        is_pod_update: bool,
    ) -> Response {
        if is_pod_update && old.is_some_and(|old| !significant_update(old, object)) {
            return Response::allow();
        }
        match self.policy.evaluate(object) {
            Ok(evaluation) if evaluation.allowed() => Response::allow(),
            Ok(evaluation) => {
                let mut checks: Vec<String> = evaluation
                    .violations
                    .iter()
                    .map(|v| v.check.to_owned())
                    .collect();
                checks.dedup();
                Response::deny(evaluation.message(self.policy.profile)).with_checks(checks)
            }
            Err(e) => Response::invalid(format!("cannot check request.object: {e}")),
        }
    }
}

/// Whether the request is an UPDATE of a pod itself (not of a subresource), the one update Pod
/// Security Admission re-evaluates only when containers, images or annotations change.
fn is_pod_update<O>(request: &Request<'_, O>) -> bool {
    request.operation() == Some(Operation::Update)
        && request.resource() == "pods"
        && request.sub_resource().is_empty()
}

fn images<'c>(containers: &'c Option<Vec<Container<'_>>>) -> Vec<(&'c str, Option<&'c str>)> {
    containers
        .iter()
        .flatten()
        .map(|c| (c.name(), c.image.as_deref()))
        .collect()
}

/// An update that changes containers, images or the security annotations (the fields Pod Security
/// Admission re-evaluates; the rest of a pod spec is immutable).
fn significant_update(old: &Object<'_>, new: &Object<'_>) -> bool {
    let (Some(old_spec), Some(new_spec)) = (&old.spec, &new.spec) else {
        return true;
    };
    let annotations = |o: &Object<'_>| {
        o.metadata
            .as_ref()
            .map(|m| m.annotations.0.len())
            .unwrap_or(0)
    };
    let same_annotations = match (&old.metadata, &new.metadata) {
        (Some(a), Some(b)) => a.annotations == b.annotations,
        _ => annotations(old) == annotations(new),
    };
    images(&old_spec.containers) != images(&new_spec.containers)
        || images(&old_spec.init_containers) != images(&new_spec.init_containers)
        || images(&old_spec.ephemeral_containers) != images(&new_spec.ephemeral_containers)
        || !same_annotations
}
