//! The `mtp` profile: the platform's own guardrail for tenant workloads.
//!
//! | check | rule |
//! |---|---|
//! | `limits` | containers and init containers set non-zero `resources.limits.cpu` and `.memory` (ephemeral containers are exempt: Kubernetes forbids resources on them) |
//! | `securityContext` | every container, init and ephemeral container has a `securityContext`; when it is missing, the container-only rules below are not repeated for it |
//! | `privileged` | `securityContext.privileged` is not true |
//! | `runAsNonRoot` | the effective `runAsNonRoot` (container, else pod) is not false |
//! | `runAsUser` | the effective `runAsUser` (container, else pod) is not 0 |
//! | `readOnlyRootFilesystem` | explicitly true |
//! | `allowPrivilegeEscalation` | explicitly false |

use std::cmp::Ordering;

use super::Violation;
use super::model::QuantityText;
use super::quantity;
use super::view::{ContainerList, Located, Out, PodView, container_message};

/// The check ids of the `mtp` profile, in the order they are evaluated for each container.
pub const CHECK_IDS: &[&str] = &[
    "limits",
    "securityContext",
    "privileged",
    "runAsNonRoot",
    "runAsUser",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
];

pub(crate) fn evaluate(view: &PodView<'_, '_>, violations: &mut Vec<Violation>) {
    let pod_sc = view.spec.security_context.as_ref();
    let pod_non_root = pod_sc.and_then(|s| s.run_as_non_root);
    let pod_user = pod_sc.and_then(|s| s.run_as_user);
    for c in view.containers() {
        let name = c.container.name();
        if c.list != ContainerList::EphemeralContainers {
            limits(view, &c, violations);
        }
        let sc = c.container.security_context.as_ref();
        if sc.is_none() {
            Out {
                check: "securityContext",
                violations: &mut *violations,
            }
            .container(
                &c,
                view.container_field(&c, "securityContext"),
                container_message(name, &[" must set a securityContext"]),
            );
        }
        if sc.and_then(|s| s.privileged) == Some(true) {
            Out {
                check: "privileged",
                violations: &mut *violations,
            }
            .container(
                &c,
                view.container_field(&c, "securityContext.privileged"),
                container_message(name, &[" must not set securityContext.privileged=true"]),
            );
        }
        // runAsNonRoot and runAsUser are inherited from the pod, so they apply with or without a
        // container securityContext; the path names where the effective value was set.
        match (sc.and_then(|s| s.run_as_non_root), pod_non_root) {
            (Some(false), _) => Out { check: "runAsNonRoot", violations: &mut *violations }.container(
                &c,
                view.container_field(&c, "securityContext.runAsNonRoot"),
                container_message(name, &[" must not set securityContext.runAsNonRoot=false"]),
            ),
            (None, Some(false)) => Out { check: "runAsNonRoot", violations: &mut *violations }.container(
                &c,
                view.spec_field("securityContext.runAsNonRoot"),
                container_message(name, &[" inherits securityContext.runAsNonRoot=false from the pod: set it to true on the pod or the container"]),
            ),
            _ => {}
        }
        match (sc.and_then(|s| s.run_as_user), pod_user) {
            (Some(0), _) => Out { check: "runAsUser", violations: &mut *violations }.container(
                &c,
                view.container_field(&c, "securityContext.runAsUser"),
                container_message(name, &[" must not set securityContext.runAsUser=0 (root)"]),
            ),
            (None, Some(0)) => Out { check: "runAsUser", violations: &mut *violations }.container(
                &c,
                view.spec_field("securityContext.runAsUser"),
                container_message(name, &[" inherits securityContext.runAsUser=0 (root) from the pod: set a non-zero user on the pod or the container"]),
            ),
            _ => {}
        }
        if let Some(sc) = sc {
            if sc.read_only_root_filesystem != Some(true) {
                Out {
                    check: "readOnlyRootFilesystem",
                    violations: &mut *violations,
                }
                .container(
                    &c,
                    view.container_field(&c, "securityContext.readOnlyRootFilesystem"),
                    container_message(
                        name,
                        &[" must set securityContext.readOnlyRootFilesystem=true"],
                    ),
                );
            }
            if sc.allow_privilege_escalation != Some(false) {
                Out {
                    check: "allowPrivilegeEscalation",
                    violations: &mut *violations,
                }
                .container(
                    &c,
                    view.container_field(&c, "securityContext.allowPrivilegeEscalation"),
                    container_message(
                        name,
                        &[" must set securityContext.allowPrivilegeEscalation=false"],
                    ),
                );
            }
        }
    }
}

fn limits(view: &PodView<'_, '_>, c: &Located<'_, '_>, violations: &mut Vec<Violation>) {
    let limits = c
        .container
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref());
    let name = c.container.name();
    let mut out = Out {
        check: "limits",
        violations,
    };
    for (resource, value) in [
        ("cpu", limits.and_then(|l| l.cpu.as_ref())),
        ("memory", limits.and_then(|l| l.memory.as_ref())),
    ] {
        let message = match value {
            None => container_message(name, &[" must set resources.limits.", resource]),
            Some(q) => match quantity_sign(q) {
                Ok(Ordering::Greater) => continue,
                Ok(Ordering::Equal) => {
                    format!(
                        "container {name:?} must set a non-zero resources.limits.{resource} (it is \"{q}\")"
                    )
                }
                Ok(Ordering::Less) => {
                    format!(
                        "container {name:?} must set a positive resources.limits.{resource} (it is \"{q}\")"
                    )
                }
                Err(e) => {
                    format!("container {name:?} must set a valid resources.limits.{resource}: {e}")
                }
            },
        };
        // The path only for a violation: most containers pass.
        let path = view.container_field(c, &["resources.limits.", resource].concat());
        out.container(c, path, message);
    }
}

fn quantity_sign(q: &QuantityText<'_>) -> Result<Ordering, quantity::QuantityError> {
    match q {
        QuantityText::Text(t) => quantity::sign(t),
        QuantityText::Number(n) => Ok(n.partial_cmp(&0.0).unwrap_or(Ordering::Equal)),
    }
}
