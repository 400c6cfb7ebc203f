//! Pod-security checks: the Kubernetes Pod Security Standards (`baseline`, `restricted`, any version
//! from v1.0) and the platform's own `mtp` profile, on any object that carries a pod spec.
//!
//! Input is a Pod, a PodTemplate, a workload (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
//! CronJob, ReplicationController) or an `admission.k8s.io/v1` AdmissionReview wrapping one. Output is
//! every violation, each with its check id, the field path inside the object, the container and a
//! message a user can act on.
//!
//! ```
//! use mtp_policy::pod_security::{Policy, Profile};
//!
//! let pod = br#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
//!   "spec": {"containers": [{"name": "nginx", "image": "nginx",
//!     "securityContext": {"privileged": true}}]}}"#;
//! let evaluation = Policy::new(Profile::Baseline).evaluate_json(pod).unwrap();
//! assert!(!evaluation.allowed());
//! assert_eq!(evaluation.violations[0].check, "privileged");
//! assert_eq!(evaluation.violations[0].path, "spec.containers[0].securityContext.privileged");
//! ```
//!
//! The types in [`model`] borrow from the input, so evaluating the bytes of a request costs little
//! more than reading them once (see `benches/README.md`).

pub mod model;
pub mod mtp;
mod pss;
pub mod quantity;
mod review;
mod view;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use model::{Object, ObjectMeta, Spec};
pub use review::{ObjectRequest, ObjectReview};
use view::PodView;

/// The newest Kubernetes minor version whose Pod Security Standards this crate knows (`v1.37`).
pub const LATEST_MINOR: u32 = 37;

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Prevents known privilege escalations.
    Baseline,
    /// Pod hardening best practices; includes every baseline check.
    Restricted,
}

/// The set of rules to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// The platform's own guardrail (limits, securityContext, non-root, read-only root filesystem...).
    #[default]
    Mtp,
    /// Pod Security Standards, baseline.
    Baseline,
    /// Pod Security Standards, restricted.
    Restricted,
}

impl Profile {
    /// The profile's name as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Mtp => "mtp",
            Profile::Baseline => "baseline",
            Profile::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mtp" => Ok(Profile::Mtp),
            "baseline" => Ok(Profile::Baseline),
            "restricted" => Ok(Profile::Restricted),
            other => Err(Error::InvalidProfile(other.to_owned())),
        }
    }
}

/// The Pod Security Standards version to evaluate, with the semantics of the namespace label
/// `pod-security.kubernetes.io/enforce-version`: `latest`, or a pinned `v1.N`. A version newer
/// than this crate knows is evaluated as the latest it knows.
///
/// ```
/// use mtp_policy::pod_security::Version;
/// assert_eq!("latest".parse::<Version>().unwrap(), Version::Latest);
/// assert_eq!("v1.25".parse::<Version>().unwrap(), Version::V1(25));
/// assert!("1.25".parse::<Version>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// The newest version known.
    #[default]
    Latest,
    /// `v1.N`.
    V1(u32),
}

impl Version {
    /// The minor version the checks run at.
    pub fn minor(self) -> u32 {
        match self {
            Version::Latest => LATEST_MINOR,
            Version::V1(n) => n.min(LATEST_MINOR),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::V1(n) => write!(f, "v1.{n}"),
        }
    }
}

impl FromStr for Version {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        s.strip_prefix("v1.")
            .filter(|n| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && (n.len() == 1 || !n.starts_with('0'))
            })
            .and_then(|n| n.parse().ok())
            .map(Version::V1)
            .ok_or_else(|| Error::InvalidVersion(s.to_owned()))
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The check id (`privileged`, `limits`, `runAsNonRoot`...).
    pub check: &'static str,
    /// The field path inside the object, e.g. `spec.template.spec.initContainers[1].securityContext.privileged`.
    pub path: String,
    /// The container the violation is about, or `None` for a pod-level field.
    pub container: Option<String>,
    /// What to change, in words a user can act on.
    pub message: String,
}

/// The outcome of evaluating one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Evaluation {
    /// Whether the object carries a pod spec at all (a ConfigMap does not).
    pub applicable: bool,
    /// Every violation, in a stable order.
    pub violations: Vec<Violation>,
}

impl Evaluation {
    /// No violations.
    pub fn allowed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The result for an object without a pod spec.
    pub fn not_applicable() -> Self {
        Evaluation {
            applicable: false,
            violations: Vec::new(),
        }
    }

    /// One message listing every violation, for a denial.
    pub fn message(&self, profile: Profile) -> String {
        let mut msg = format!("violates the {profile} pod-security profile: ");
        for (i, v) in self.violations.iter().enumerate() {
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
}

/// Why an object could not be evaluated.
#[derive(Debug, Error)]
pub enum Error {
    /// The object is not valid JSON of the expected shape.
    #[error("cannot read the object: {0}")]
    Parse(#[source] serde_json::Error),
    /// The object has no `kind`.
    #[error("the object has no kind")]
    MissingKind,
    /// The object has no `apiVersion`.
    #[error("the object has no apiVersion")]
    MissingApiVersion,
    /// A built-in API group with a kind it does not have (a typo such as `Deploymnet`).
    #[error("unknown kind {kind:?} in {api_version}")]
    UnknownKind {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// A pod-carrying kind without its pod spec.
    #[error("{kind} has no {path}")]
    MissingPodSpec {
        /// The object's kind.
        kind: String,
        /// Where the pod spec should be.
        path: &'static str,
    },
    /// Not one of `mtp`, `baseline`, `restricted`.
    #[error("unknown profile {0:?}: expected mtp, baseline or restricted")]
    InvalidProfile(String),
    /// Not `latest` or `v1.N`.
    #[error("invalid version {0:?}: expected latest or v1.N (for example v1.30)")]
    InvalidVersion(String),
    /// An AdmissionReview that is not `admission.k8s.io/v1` or has no request.
    #[error("invalid AdmissionReview: {0}")]
    InvalidReview(String),
}

/// `Result` with this module's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the pod spec of a kind lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodCarrier {
    /// `spec`.
    Pod,
    /// `template.spec`.
    PodTemplate,
    /// `spec.template.spec` (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController).
    Workload,
    /// `spec.jobTemplate.spec.template.spec`.
    CronJob,
}

impl PodCarrier {
    /// The carrier for an apiVersion and kind, or `None` when the kind has no pod spec.
    ///
    /// ```
    /// use mtp_policy::pod_security::PodCarrier;
    /// assert_eq!(PodCarrier::of("apps/v1", "Deployment"), Some(PodCarrier::Workload));
    /// assert_eq!(PodCarrier::of("v1", "ConfigMap"), None);
    /// ```
    pub fn of(api_version: &str, kind: &str) -> Option<PodCarrier> {
        Self::of_group(group_of(api_version), kind)
    }

    /// The carrier of a kind; `Ok(None)` for a kind that carries no pod (a ConfigMap, a
    /// Service, any custom resource), and [`Error::UnknownKind`] for a kind its built-in group
    /// does not have (a typo). [`Policy::evaluate`] decides this before it reads a pod spec; a
    /// reader of objects can decide it before reading anything else, so that same-named fields
    /// of other kinds (`spec.template: false` on a custom resource) are no input error.
    ///
    /// ```
    /// use mtp_policy::pod_security::PodCarrier;
    /// assert_eq!(PodCarrier::classify("batch/v1", "Job").unwrap(), Some(PodCarrier::Workload));
    /// assert_eq!(PodCarrier::classify("v1", "Service").unwrap(), None);
    /// assert!(PodCarrier::classify("apps/v1", "Deploymnet").is_err());
    /// ```
    pub fn classify(api_version: &str, kind: &str) -> Result<Option<PodCarrier>> {
        match PodCarrier::of(api_version, kind) {
            Some(carrier) => Ok(Some(carrier)),
            None if known_kind(api_version, kind) => Ok(None),
            None => Err(Error::UnknownKind {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            }),
        }
    }

    fn of_group(group: &str, kind: &str) -> Option<PodCarrier> {
        match (group, kind) {
            ("", "Pod") => Some(PodCarrier::Pod),
            ("", "PodTemplate") => Some(PodCarrier::PodTemplate),
            ("", "ReplicationController") => Some(PodCarrier::Workload),
            ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
                Some(PodCarrier::Workload)
            }
            ("extensions", "Deployment" | "ReplicaSet" | "DaemonSet") => Some(PodCarrier::Workload),
            ("batch", "Job") => Some(PodCarrier::Workload),
            ("batch", "CronJob") => Some(PodCarrier::CronJob),
            _ => None,
        }
    }

    pub(crate) fn paths(self) -> (&'static str, &'static str) {
        match self {
            PodCarrier::Pod => ("metadata", "spec"),
            PodCarrier::PodTemplate => ("template.metadata", "template.spec"),
            PodCarrier::Workload => ("spec.template.metadata", "spec.template.spec"),
            PodCarrier::CronJob => (
                "spec.jobTemplate.spec.template.metadata",
                "spec.jobTemplate.spec.template.spec",
            ),
        }
    }
}

pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Whether `kind` is a real kind of the built-in group of `api_version`. Kinds of other groups
/// (custom resources) are always taken as they are.
fn known_kind(api_version: &str, kind: &str) -> bool {
    const CORE: &[&str] = &[
        "Binding",
        "ComponentStatus",
        "ConfigMap",
        "Endpoints",
        "Event",
        "LimitRange",
        "List",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Pod",
        "PodTemplate",
        "ReplicationController",
        "ResourceQuota",
        "Secret",
        "Service",
        "ServiceAccount",
        "Status",
    ];
    const APPS: &[&str] = &[
        "ControllerRevision",
        "DaemonSet",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
    ];
    const BATCH: &[&str] = &["CronJob", "Job"];
    const EXTENSIONS: &[&str] = &[
        "DaemonSet",
        "Deployment",
        "Ingress",
        "NetworkPolicy",
        "PodSecurityPolicy",
        "ReplicaSet",
    ];
    if kind.ends_with("List") {
        return true;
    }
    match group_of(api_version) {
        "" => CORE.contains(&kind),
        "apps" => APPS.contains(&kind),
        "batch" => BATCH.contains(&kind),
        "extensions" => EXTENSIONS.contains(&kind),
        _ => true,
    }
}

/// A profile and a version: what to evaluate objects against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// The profile.
    pub profile: Profile,
    /// The Pod Security Standards version (ignored by the `mtp` profile).
    pub version: Version,
}

impl Policy {
    /// A policy for `profile` at the latest version.
    pub fn new(profile: Profile) -> Self {
        Policy {
            profile,
            version: Version::Latest,
        }
    }

    /// The same policy pinned to `version`.
    pub fn with_version(self, version: Version) -> Self {
        Policy { version, ..self }
    }

    /// Evaluates a parsed object.
    ///
    /// Fails when the object has no kind or apiVersion, when a built-in group has no such kind,
    /// or when a pod-carrying kind lacks its pod spec.
    pub fn evaluate(&self, object: &Object<'_>) -> Result<Evaluation> {
        let kind = object
            .kind
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or(Error::MissingKind)?;
        let api_version = object
            .api_version
            .as_deref()
            .filter(|v| !v.is_empty())
            .ok_or(Error::MissingApiVersion)?;
        let Some(carrier) = PodCarrier::classify(api_version, kind)? else {
            return Ok(Evaluation::not_applicable());
        };
        let (meta, spec) = locate(object, carrier);
        let (meta_path, spec_path) = carrier.paths();
        let spec = spec.ok_or_else(|| Error::MissingPodSpec {
            kind: kind.to_owned(),
            path: spec_path,
        })?;
        Ok(self.evaluate_pod(&PodView {
            meta,
            spec,
            spec_path,
            meta_path,
        }))
    }

    /// Parses JSON bytes (an object, or an AdmissionReview wrapping one) and evaluates it.
    pub fn evaluate_json(&self, bytes: &[u8]) -> Result<Evaluation> {
        let object: Object<'_> = serde_json::from_slice(bytes).map_err(Error::Parse)?;
        self.evaluate(&object)
    }

    fn evaluate_pod(&self, view: &PodView<'_, '_>) -> Evaluation {
        let mut violations = Vec::new();
        match self.profile {
            Profile::Mtp => mtp::evaluate(view, &mut violations),
            Profile::Baseline => {
                pss::evaluate(view, Level::Baseline, self.version.minor(), &mut violations)
            }
            Profile::Restricted => pss::evaluate(
                view,
                Level::Restricted,
                self.version.minor(),
                &mut violations,
            ),
        }
        Evaluation {
            applicable: true,
            violations,
        }
    }
}

fn locate<'o, 'a>(
    object: &'o Object<'a>,
    carrier: PodCarrier,
) -> (Option<&'o ObjectMeta<'a>>, Option<&'o Spec<'a>>) {
    match carrier {
        PodCarrier::Pod => (object.metadata.as_ref(), object.spec.as_ref()),
        PodCarrier::PodTemplate => {
            let template = object.template.as_ref();
            (
                template.and_then(|t| t.metadata.as_ref()),
                template.and_then(|t| t.spec.as_deref()),
            )
        }
        PodCarrier::Workload => {
            let template = object.spec.as_ref().and_then(|s| s.template.as_deref());
            (
                template.and_then(|t| t.metadata.as_ref()),
                template.and_then(|t| t.spec.as_deref()),
            )
        }
        PodCarrier::CronJob => {
            let template = object
                .spec
                .as_ref()
                .and_then(|s| s.job_template.as_deref())
                .and_then(|j| j.spec.as_deref())
                .and_then(|s| s.template.as_deref());
            (
                template.and_then(|t| t.metadata.as_ref()),
                template.and_then(|t| t.spec.as_deref()),
            )
        }
    }
}

/// Every check id of the Pod Security Standards, in upstream order, with its level and the
/// minor version it applies from.
pub fn pss_checks() -> impl Iterator<Item = (&'static str, Level, u32)> {
    pss::CHECKS.iter().map(|c| (c.id, c.level, c.min_minor))
}
