//! Kubernetes admission: the `admission.k8s.io/v1` wire model and an admission-webhook framework.
//!
//! Always built (serde and serde_json only): the one AdmissionReview view ([`AdmissionReview`],
//! [`Request`], read borrowed from the body) with its envelope check, and the one response writer
//! ([`Response::to_review_bytes`]). Policies read requests through them; this module imports no
//! policy.
//!
//! With the feature `admission`: the framework. Each webhook is one self-contained unit that
//! knows its name, path, rules, selectors and failure policy and documents itself; a `Registry`
//! refuses duplicates and gives the `ValidatingWebhookConfiguration` and
//! `MutatingWebhookConfiguration` objects and machine-readable docs, and with the feature
//! `router` (default; axum) the router that serves them. The hooks mtp ships are in `hooks`.
//!
//! ```
//! # #[cfg(feature = "router")] {
//! use std::sync::Arc;
//! use mtp_policy::admission::{Registry, Request, Response, Rule, Operation, Webhook, WebhookKind};
//!
//! struct DenyAll;
//! impl Webhook for DenyAll {
//!     fn name(&self) -> &str { "deny-all.example.com" }
//!     fn path(&self) -> &str { "/validate/deny-all" }
//!     fn kind(&self) -> WebhookKind { WebhookKind::Validating }
//!     fn rules(&self) -> Vec<Rule> { vec![Rule::new(&[Operation::Create], &[""], &["configmaps"])] }
//!     fn doc(&self) -> &str { "Refuses every new ConfigMap." }
//!     fn admit(&self, _request: &Request<'_>) -> Response { Response::deny("no ConfigMaps here") }
//! }
//!
//! let registry = Registry::new([Arc::new(DenyAll) as Arc<dyn Webhook>]).unwrap();
//! let router: axum::Router = registry.router();
//! assert_eq!(registry.docs()[0].name, "deny-all.example.com");
//! # }
//! ```

#[cfg(feature = "admission")]
mod config;
#[cfg(feature = "admission")]
pub mod hooks;
#[cfg(feature = "admission")]
pub mod matching;
mod response;
mod review;
#[cfg(feature = "router")]
mod router;
#[cfg(feature = "admission")]
mod webhook;

pub use response::{PatchOp, Response, pointer_token};
pub use review::{
    API_VERSION, AdmissionReview, Gvk, Gvr, Operation, RawJson, Request, ReviewError, Text,
    UserInfo,
};

#[cfg(feature = "admission")]
pub use config::{CheckDoc, Target, WebhookDoc};
#[cfg(feature = "router")]
pub use router::{AdmissionUid, Observer, Outcome, problem};
#[cfg(feature = "admission")]
pub use webhook::{
    FailurePolicy, MatchPolicy, Registry, RegistryError, Reviewed, Rule, Scope, SideEffects,
    Webhook, WebhookKind, review_raw,
};
