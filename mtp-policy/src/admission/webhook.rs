//! The framework: what a webhook is, and the registry of the webhooks a server serves.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;
use thiserror::Error;

use super::{AdmissionReview, Operation, Request, Response, ReviewError};

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
    pub(super) fn as_str(self) -> &'static str {
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
    /// The checks it makes, for the docs. Default: none listed.
    fn checks(&self) -> Vec<super::CheckDoc> {
        Vec::new()
    }
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
        AdmissionReview::from_slice(body).map_err(|e| ReviewError::Malformed(e.to_string()))?;
    let request = review.request()?;
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
    pub(super) hooks: Vec<Arc<dyn Webhook>>,
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
