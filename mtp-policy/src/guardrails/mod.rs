//! Per-tenant guardrails: pure validators of what a tenant's objects may use (container
//! registries, Service types, Ingress classes and hostnames, storage, priority and runtime
//! classes, node placement, reserved labels and annotations), with no I/O.
//!
//! Settings are written as [`GuardrailSettings`] (a tier's defaults overlaid with a tenant's),
//! compiled once into [`Guardrails`], then [`Guardrails::evaluate`] checks an object read into
//! the borrowed [`Object`] view. `mtp-webhook` enforces them on tenant namespaces
//! (`guardrails.mtp.dev`, `node-selector.mtp.dev`) and `mtp-webhook check --tenant` offline.
//!
//! ```
//! use mtp_policy::guardrails::{Context, GuardrailSettings, Guardrails, Object};
//! let settings: GuardrailSettings = serde_json::from_str(
//!     r#"{"allowedServiceTypes": ["LoadBalancer"], "allowedStorageClasses": ["fast"]}"#,
//! ).unwrap();
//! let guardrails = Guardrails::compile(&settings).unwrap();
//! let service: Object = serde_json::from_str(
//!     r#"{"apiVersion": "v1", "kind": "Service", "spec": {"type": "NodePort"}}"#,
//! ).unwrap();
//! let ctx = Context { tenant: "acme", hosts: None };
//! let evaluation = guardrails.evaluate(&service, &ctx).unwrap();
//! assert_eq!(evaluation.violations[0].message,
//!     "Service type NodePort is not allowed for tenant acme; allowed: ClusterIP, LoadBalancer");
//! ```

mod check;
pub mod host;
pub mod image;
pub mod keys;
mod model;
mod settings;

pub use check::{Context, Rule, Subject, ingress_hosts};
pub use host::{HostError, HostIndex, HostOwner, HostPattern, hosts_overlap};
pub use image::{ImageRef, ImageRefError, RegistryPattern};
pub use keys::{KeyPattern, KeyPatternError};
pub use model::{
    Container, IngressRule, IngressTls, Meta, Object, Pairs, Spec, SpecTemplate, Template,
};
pub use settings::{GuardrailSettings, Guardrails, MAX_LIST_ENTRIES, ServiceType, SettingError};

use crate::pod_security::{Evaluation, Violation};

/// The violations of an UPDATE's new object that its old object did not already have: an update
/// is refused only for what it changes, so objects that predate a rule can still be maintained
/// (and fixed, or deleted).
pub fn new_violations(new: Evaluation, old: &Evaluation) -> Evaluation {
    Evaluation {
        applicable: new.applicable,
        violations: new
            .violations
            .into_iter()
            .filter(|v| !old.violations.contains(v))
            .collect(),
    }
}

/// One message listing every violation, for a denial: `tenant acme's guardrails refuse this
/// object: <message> (<check> at <path>); ...`.
pub fn message(tenant: &str, violations: &[Violation]) -> String {
    let mut msg = format!("tenant {tenant}'s guardrails refuse this object: ");
    for (i, v) in violations.iter().enumerate() {
        if i > 0 {
            msg.push_str("; ");
        }
        msg.push_str(&v.message);
        msg.push_str(" (");
        msg.push_str(v.check);
        msg.push_str(" at ");
        msg.push_str(&v.path);
        msg.push(')');
    }
    msg
}

#[cfg(test)]
mod tests;
