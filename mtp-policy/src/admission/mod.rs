//! An admission-webhook framework: each webhook is one self-contained unit that knows its name,
//! path, rules, selectors and failure policy and documents itself; a [`Registry`] refuses
//! duplicates and gives the axum router, the `ValidatingWebhookConfiguration` and
//! `MutatingWebhookConfiguration` objects, and machine-readable docs.
//!
//! ```
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
//! ```

mod config;
pub mod hooks;
pub mod matching;
mod request;
mod router;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

pub use config::{Target, WebhookDoc};
pub use request::{AdmissionReview, Gvk, Gvr, Operation, Request, UserInfo};
pub use router::{AdmissionUid, Observer, Outcome, problem};

/// Validating or mutating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum WebhookKind {
    /// Answers allowed or denied.
    Validating,
    /// May also answer with a JSON Patch.
    Mutating,
}

/// What the apiserver does when the webhook cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FailurePolicy {
    /// Refuse the request (fail closed).
    Fail,
    /// Let the request through (fail open).
    Ignore,
}

/// Whether the webhook has side effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SideEffects {
    /// None: safe for dry runs.
    None,
    /// Side effects, suppressed on dry runs.
    NoneOnDryRun,
}

/// How rules match requests made through other API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MatchPolicy {
    /// Only the listed versions.
    Exact,
    /// Equivalent resources of other versions too.
    Equivalent,
}

/// Which objects a rule matches by scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    /// Cluster-scoped objects only.
    Cluster,
    /// Namespaced objects only.
    Namespaced,
    /// Both (`*`).
    #[serde(rename = "*")]
    Any,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Cluster => "Cluster",
            Scope::Namespaced => "Namespaced",
            Scope::Any => "*",
        }
    }
}

/// One rule: operations on resources of API groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Operations.
    pub operations: Vec<Operation>,
    /// API groups (`""` core, `*` all).
    pub api_groups: Vec<String>,
    /// API versions (`*` all).
    pub api_versions: Vec<String>,
    /// Resources, with subresources as `pods/ephemeralcontainers`; `*` all.
    pub resources: Vec<String>,
    /// Scope.
    pub scope: Scope,
}

impl Rule {
    /// A rule for `operations` on `resources` of `groups`, any version, any scope.
    pub fn new(operations: &[Operation], groups: &[&str], resources: &[&str]) -> Rule {
        Rule {
            operations: operations.to_vec(),
            api_groups: groups.iter().map(|s| (*s).to_owned()).collect(),
            api_versions: vec!["*".to_owned()],
            resources: resources.iter().map(|s| (*s).to_owned()).collect(),
            scope: Scope::Any,
        }
    }

    /// The same rule restricted to `scope`.
    pub fn scoped(self, scope: Scope) -> Rule {
        Rule { scope, ..self }
    }
}

/// One JSON Patch (RFC 6902) operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    /// `add`, `replace`, `remove`...
    pub op: &'static str,
    /// A JSON pointer.
    pub path: String,
    /// The value, for `add` and `replace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOp {
    /// `add` (which also replaces an existing member of an object).
    pub fn add(path: impl Into<String>, value: Value) -> PatchOp {
        PatchOp {
            op: "add",
            path: path.into(),
            value: Some(value),
        }
    }
}

/// Escapes one JSON-pointer reference token (`~` → `~0`, `/` → `~1`).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A webhook's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// Allowed or not.
    pub allowed: bool,
    /// The HTTP-like status code of a denial (403 by default).
    pub code: u16,
    /// The denial message.
    pub message: Option<String>,
    /// The JSON Patch of a mutating webhook.
    pub patch: Vec<PatchOp>,
    /// Warnings shown to the user (kubectl prints them).
    pub warnings: Vec<String>,
    /// The check ids behind a denial, for metrics.
    pub checks: Vec<String>,
}

impl Response {
    /// Allowed, nothing to say.
    pub fn allow() -> Response {
        Response {
            allowed: true,
            code: 200,
            ..Response::default()
        }
    }

    /// Denied with 403 Forbidden and `message`.
    pub fn deny(message: impl Into<String>) -> Response {
        Response {
            allowed: false,
            code: 403,
            message: Some(message.into()),
            ..Response::default()
        }
    }

    /// Denied because the object could not be read (400).
    pub fn invalid(message: impl Into<String>) -> Response {
        Response {
            allowed: false,
            code: 400,
            message: Some(message.into()),
            ..Response::default()
        }
    }

    /// With a JSON Patch.
    pub fn with_patch(mut self, patch: Vec<PatchOp>) -> Response {
        self.patch = patch;
        self
    }

    /// With a warning.
    pub fn with_warning(mut self, warning: impl Into<String>) -> Response {
        self.warnings.push(warning.into());
        self
    }

    /// With the check ids behind a denial.
    pub fn with_checks(mut self, checks: Vec<String>) -> Response {
        self.checks = checks;
        self
    }

    /// The `admission.k8s.io/v1` AdmissionReview response for the request `uid`.
    pub fn to_review(&self, uid: &str) -> Value {
        let mut response = serde_json::json!({"uid": uid, "allowed": self.allowed});
        if !self.allowed {
            let reason = match self.code {
                400 => "BadRequest",
                403 => "Forbidden",
                _ => "InternalError",
            };
            response["status"] = serde_json::json!({
                "code": self.code,
                "reason": reason,
                "message": self.message.clone().unwrap_or_default(),
            });
        }
        if !self.patch.is_empty() {
            let patch = serde_json::to_vec(&self.patch).unwrap_or_default();
            response["patchType"] = Value::from("JSONPatch");
            response["patch"] =
                Value::from(base64::engine::general_purpose::STANDARD.encode(patch));
        }
        if !self.warnings.is_empty() {
            response["warnings"] = Value::from(self.warnings.clone());
        }
        serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
    }
}

impl Response {
    /// The same document as [`Response::to_review`], written straight to bytes (what the router
    /// sends): the envelope as constant bytes, the strings escaped as serde_json escapes them,
    /// keys in the order of the AdmissionReview type (`uid`, `allowed`, `status`, `patchType`,
    /// `patch`, `warnings`).
    pub fn to_review_bytes(&self, uid: &str) -> Vec<u8> {
        use crate::json::push_str;
        let patch = (!self.patch.is_empty()).then(|| {
            let json = serde_json::to_vec(&self.patch).unwrap_or_default();
            base64::engine::general_purpose::STANDARD.encode(json)
        });
        // Sized once: the envelope is under 200 bytes; the message and patch are escaped JSON.
        let size = 200
            + uid.len()
            + self.message.as_ref().map_or(0, |m| m.len() + m.len() / 8)
            + patch.as_ref().map_or(0, String::len)
            + self.warnings.iter().map(|w| w.len() + 4).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        let reason = match self.code {
            400 => "BadRequest",
            403 => "Forbidden",
            _ => "InternalError",
        };
        let message = self.message.as_deref().unwrap_or_default();
        crate::json::open_review(
            &mut out,
            uid,
            (!self.allowed).then_some((self.code, reason, message)),
        );
        if let Some(patch) = &patch {
            out.extend_from_slice(br#","patchType":"JSONPatch","patch":"#);
            push_str(&mut out, patch);
        }
        if !self.warnings.is_empty() {
            out.extend_from_slice(br#","warnings":["#);
            for (i, warning) in self.warnings.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(&mut out, warning);
            }
            out.push(b']');
        }
        out.extend_from_slice(b"}}");
        out
    }
}

#[cfg(test)]
mod review_bytes_tests {
    #![allow(clippy::unwrap_used)]
    use serde::Serialize;

    use super::Response;

    // What `to_review_bytes` wrote with serde_json before it wrote the bytes itself.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ReviewOut<'r> {
        api_version: &'static str,
        kind: &'static str,
        response: ResponseOut<'r>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ResponseOut<'r> {
        uid: &'r str,
        allowed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<StatusOut<'r>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        patch_type: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        patch: Option<String>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        warnings: &'r [String],
    }

    #[derive(Serialize)]
    struct StatusOut<'r> {
        code: u16,
        reason: &'static str,
        message: &'r str,
    }

    fn with_serde(response: &Response, uid: &str) -> Vec<u8> {
        use base64::Engine as _;
        let patch = (!response.patch.is_empty()).then(|| {
            base64::engine::general_purpose::STANDARD
                .encode(serde_json::to_vec(&response.patch).unwrap())
        });
        serde_json::to_vec(&ReviewOut {
            api_version: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            response: ResponseOut {
                uid,
                allowed: response.allowed,
                status: (!response.allowed).then(|| StatusOut {
                    code: response.code,
                    reason: match response.code {
                        400 => "BadRequest",
                        403 => "Forbidden",
                        _ => "InternalError",
                    },
                    message: response.message.as_deref().unwrap_or_default(),
                }),
                patch_type: patch.is_some().then_some("JSONPatch"),
                patch,
                warnings: &response.warnings,
            },
        })
        .unwrap()
    }

    #[test]
    fn the_bytes_are_what_serde_json_wrote() {
        let patch = vec![super::PatchOp::add(
            "/metadata/labels",
            serde_json::json!({"a": "b \"c\""}),
        )];
        let message = "violates the \"mtp\" profile:\ncontainer \"x\" \\ é 😀 \u{1}\t\u{7f}";
        let cases = [
            Response::allow(),
            Response::allow().with_warning("no tenant for namespace \"x\""),
            Response::allow().with_warning("a").with_warning("b\n"),
            Response::deny(message),
            Response::deny("").with_checks(vec!["limits".into()]),
            Response::invalid("cannot read request.object: EOF at line 1"),
            Response::allow().with_patch(patch.clone()),
            Response::allow().with_patch(patch).with_warning("w"),
        ];
        for response in &cases {
            for uid in ["", "0c9a8d74-9cb7-44dd-b98e-09fd62def2f4", "a\"b"] {
                assert_eq!(
                    String::from_utf8(response.to_review_bytes(uid)).unwrap(),
                    String::from_utf8(with_serde(response, uid)).unwrap(),
                );
                let parsed: serde_json::Value =
                    serde_json::from_slice(&response.to_review_bytes(uid)).unwrap();
                assert_eq!(parsed, response.to_review(uid));
            }
        }
        let mut internal = Response::deny("boom");
        internal.code = 500;
        assert_eq!(internal.to_review_bytes("u"), with_serde(&internal, "u"));
    }
}

/// One admission webhook: what it matches, how it fails, what it does.
pub trait Webhook: Send + Sync + 'static {
    /// The fully qualified, DNS-style name (at least three segments), e.g. `pod-security.mtp.dev`.
    fn name(&self) -> &str;
    /// The URL path it is served on, e.g. `/validate/pod-security`.
    fn path(&self) -> &str;
    /// Validating or mutating.
    fn kind(&self) -> WebhookKind;
    /// The requests it is called for.
    fn rules(&self) -> Vec<Rule>;
    /// What happens when it cannot be reached. Default: `Fail`.
    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }
    /// Default: `None`.
    fn side_effects(&self) -> SideEffects {
        SideEffects::None
    }
    /// Default: 5 seconds (the apiserver's default is 10; admission should be fast).
    fn timeout_seconds(&self) -> i32 {
        5
    }
    /// Default: `Equivalent`.
    fn match_policy(&self) -> MatchPolicy {
        MatchPolicy::Equivalent
    }
    /// Which namespaces. Default: all.
    fn namespace_selector(&self) -> Option<LabelSelector> {
        None
    }
    /// Which objects. Default: all.
    fn object_selector(&self) -> Option<LabelSelector> {
        None
    }
    /// What it does and why, for the docs.
    fn doc(&self) -> &str;
    /// The answer to one request.
    fn admit(&self, request: &Request<'_>) -> Response;
    /// The answer to one whole AdmissionReview body, as the router calls it. The default parses
    /// the review (keeping `object` and `oldObject` as raw JSON), checks its envelope and calls
    /// [`Webhook::admit`]. A hook on a hot path may override it to read the objects in the same
    /// pass; it must answer exactly as `admit` would.
    fn review(&self, body: &[u8]) -> Result<Reviewed, ReviewError> {
        review_raw(self, body)
    }
}

/// The default [`Webhook::review`]: parse with the objects raw, check the envelope, [`Webhook::admit`].
pub fn review_raw<W: Webhook + ?Sized>(hook: &W, body: &[u8]) -> Result<Reviewed, ReviewError> {
    let review: AdmissionReview<'_> =
        serde_json::from_slice(body).map_err(|e| ReviewError::Malformed(e.to_string()))?;
    let request = review.request().map_err(ReviewError::Invalid)?;
    Ok(Reviewed {
        uid: request.uid().to_owned(),
        response: hook.admit(request),
    })
}

/// One AdmissionReview answered: the request's uid and the hook's response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reviewed {
    /// The request's uid, echoed in the response.
    pub uid: String,
    /// The hook's answer.
    pub response: Response,
}

/// Why an AdmissionReview body could not be answered (the router answers HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReviewError {
    /// The body is not JSON, or not shaped like an AdmissionReview.
    #[error("the body is not a valid AdmissionReview: {0}")]
    Malformed(String),
    /// The envelope is wrong: apiVersion, kind, a missing request or uid.
    #[error("{0}")]
    Invalid(String),
}

/// Why a registry could not be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RegistryError {
    /// Two hooks share a name.
    #[error("webhooks {first_path} and {second_path} are both named {name:?}")]
    DuplicateName {
        /// The shared name.
        name: String,
        /// The first hook's path.
        first_path: String,
        /// The second hook's path.
        second_path: String,
    },
    /// Two hooks share a path.
    #[error("webhooks {first:?} and {second:?} are both served on {path}")]
    DuplicatePath {
        /// The shared path.
        path: String,
        /// The first hook's name.
        first: String,
        /// The second hook's name.
        second: String,
    },
    /// A name that Kubernetes would refuse.
    #[error(
        "webhook name {0:?} must be a fully qualified DNS name of at least three lowercase segments (e.g. pod-security.mtp.dev)"
    )]
    InvalidName(String),
    /// A path that is not absolute or not URL-safe.
    #[error(
        "webhook {name:?}: path {path:?} must start with / and hold only letters, digits, - _ . /"
    )]
    InvalidPath {
        /// The hook.
        name: String,
        /// The path.
        path: String,
    },
}

fn valid_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 3
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn valid_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

/// The set of webhooks a server serves. Names and paths are unique.
#[derive(Clone)]
pub struct Registry {
    hooks: Vec<Arc<dyn Webhook>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.hooks.iter().map(|h| h.name()))
            .finish()
    }
}

impl Registry {
    /// Builds a registry; fails with an error naming both hooks on a duplicate name or path.
    pub fn new(
        hooks: impl IntoIterator<Item = Arc<dyn Webhook>>,
    ) -> Result<Registry, RegistryError> {
        let hooks: Vec<Arc<dyn Webhook>> = hooks.into_iter().collect();
        let mut names: HashMap<&str, &str> = HashMap::new();
        let mut paths: HashMap<&str, &str> = HashMap::new();
        for hook in &hooks {
            let (name, path) = (hook.name(), hook.path());
            if !valid_name(name) {
                return Err(RegistryError::InvalidName(name.to_owned()));
            }
            if !valid_path(path) {
                return Err(RegistryError::InvalidPath {
                    name: name.to_owned(),
                    path: path.to_owned(),
                });
            }
            if let Some(first_path) = names.insert(name, path) {
                return Err(RegistryError::DuplicateName {
                    name: name.to_owned(),
                    first_path: first_path.to_owned(),
                    second_path: path.to_owned(),
                });
            }
            if let Some(first) = paths.insert(path, name) {
                return Err(RegistryError::DuplicatePath {
                    path: path.to_owned(),
                    first: first.to_owned(),
                    second: name.to_owned(),
                });
            }
        }
        Ok(Registry { hooks })
    }

    /// The hooks, in registration order.
    pub fn hooks(&self) -> &[Arc<dyn Webhook>] {
        &self.hooks
    }
}
