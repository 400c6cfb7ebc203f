//! `mtp-webhook check`: the admission policies, offline, on files.
//!
//! Reads YAML (several documents allowed), JSON, or `-` for stdin; expands `List` kinds; unwraps
//! AdmissionReviews; evaluates each object and prints one result per object (text or JSON).
//! Kinds that carry no pod (a ConfigMap, a Service, any custom resource) are not applicable,
//! whatever same-named fields they hold (`spec.template: false`); a kind a built-in group does
//! not have (a typo) is an input error.
//! Exit codes: 0 all allowed, 1 any denied, 2 any input (or `--tenant`/`--tiers` file) that cannot
//! be read or parsed.
//!
//! Without a tier, the objects are checked against one profile (`--profile`, `mtp` by default).
//! With `--tier` (or `--tenant`, whose `spec.tier` gives it), they are checked as a namespace of
//! that tier admits them, in the cluster's order:
//!
//! 1. mutating admission: bare Pods being created get the requests and limits the apiserver fills
//!    in (requests from limits, then the tier's LimitRange `default` and `defaultRequest`, see
//!    [`super::limit_ranger`]); workloads and the objects of AdmissionReviews are checked as written
//!    (the apiserver has already run the mutating phase before it sends a review);
//! 2. validating admission: the Pod Security Standards level the tier's namespaces enforce (the
//!    `pod-security.kubernetes.io/enforce` label and its version, as the tenant plan writes them),
//!    the `mtp` profile of the `pod-security.mtp.dev` webhook, and the guardrails of
//!    `guardrails.mtp.dev` (the tier's, with the `--tenant`'s own `spec.guardrails`) on pods,
//!    workloads, Services, Ingresses, PersistentVolumeClaims and Namespaces, tagged `guardrails`.
//!    The one guardrail that needs the cluster (a hostname another tenant serves) is not checked.
//!
//! Between the two, the apiserver validates the defaulted Pod: a request above its limit (a
//! defaulted limit can be lower than a given request) is refused, tagged `apiserver`.
//!
//! An object is allowed only when all of these allow it; every violation is tagged with the policy
//! it comes from (`apiserver`, `mtp`, `baseline`, `restricted` or `guardrails`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use mtp_core::plan::{PSA_ENFORCE, PSA_ENFORCE_VERSION};
use mtp_core::{PlatformSettings, Tenant, TenantSpec, Tier, TierCatalogue};
use mtp_policy::admission::{AdmissionReview, Text};
use mtp_policy::guardrails::{self, GuardrailSettings, Guardrails, Subject};
use mtp_policy::pod_security::model::Object;
use mtp_policy::pod_security::{PodCarrier, Policy, Profile, Version, Violation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::PLACEHOLDER_UID;

use super::limit_ranger::{ContainerDefaults, Defaulted, DefaultedFrom, requests_above_limits};

/// The policy tag of the apiserver's own validation of a defaulted Pod (a request above its limit).
pub const APISERVER_POLICY: &str = "apiserver";

/// The policy tag of the tenant guardrails (`guardrails.mtp.dev`).
pub const GUARDRAILS_POLICY: &str = "guardrails";

/// Exit code: every object allowed.
pub const EXIT_ALLOWED: u8 = 0;
/// Exit code: at least one object denied.
pub const EXIT_DENIED: u8 = 1;
/// Exit code: at least one input could not be read or parsed.
pub const EXIT_INPUT_ERROR: u8 = 2;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// One line per object, violations indented under it.
    #[default]
    Text,
    /// One JSON document with every result.
    Json,
}

/// Flags of `mtp-webhook check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The rules without a tier: the platform's `mtp` profile (the default) or a Pod Security
    /// Standards level. With --tier or --tenant only `mtp` is accepted: the tier adds its own level.
    #[arg(long, env = "MTP_CHECK_PROFILE", value_parser = parse_profile)]
    pub profile: Option<Profile>,
    /// Pod Security Standards version: `latest` or `v1.N` (as the enforce-version namespace label).
    #[arg(long, env = "MTP_CHECK_VERSION", default_value = "latest", value_parser = parse_version)]
    pub version: Version,
    /// Check as a namespace of this tier (free, pro, enterprise) admits: the `mtp` profile plus the
    /// tier's Pod Security level, with the tier's LimitRange defaults applied to bare Pods first.
    #[arg(long, env = "MTP_CHECK_TIER", value_name = "TIER", value_parser = parse_tier)]
    pub tier: Option<Tier>,
    /// A Tenant manifest whose `spec.tier` gives the tier (must agree with --tier when both are given).
    #[arg(long, env = "MTP_CHECK_TENANT", value_name = "FILE")]
    pub tenant: Option<PathBuf>,
    /// A tier catalogue file instead of the built-in tiers (as `mtp-controller --tiers`).
    #[arg(long, env = "MTP_CHECK_TIERS", value_name = "FILE")]
    pub tiers: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', env = "MTP_CHECK_OUTPUT", value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The largest input read, in MiB: a larger file (or stdin) is an input error, refused
    /// before it is parsed, so memory stays bounded. The apiserver refuses requests over 3 MiB.
    #[arg(long, env = "MTP_CHECK_MAX_INPUT_MIB", value_name = "MIB", default_value_t = DEFAULT_MAX_INPUT_MIB)]
    pub max_input_mib: u64,
    /// YAML or JSON files (several YAML documents allowed), or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// The default of `--max-input-mib`.
pub const DEFAULT_MAX_INPUT_MIB: u64 = 32;

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
        .map_err(|e: mtp_policy::pod_security::Error| e.to_string())
}

fn parse_version(s: &str) -> Result<Version, String> {
    s.parse()
        .map_err(|e: mtp_policy::pod_security::Error| e.to_string())
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    s.parse().map_err(|_: mtp_core::Error| {
        let known: Vec<&str> = Tier::ALL.iter().map(|t| t.as_str()).collect();
        format!(
            "unknown tier {s:?}: the known tiers are {}",
            known.join(", ")
        )
    })
}

/// The tier-dependent steps `check` skips without `--tier` or `--tenant`, as `notApplied` names them.
pub const NOT_APPLIED_WITHOUT_TIER: [&str; 3] =
    ["podSecurityLevel", "limitRangeDefaults", "guardrails"];

/// The text line saying what was not applied without a tier.
pub const NO_TIER_NOTE: &str = "note: no --tier or --tenant given: the tier's Pod Security level, LimitRange defaults and guardrails were not applied";

/// Why the flags cannot be turned into rules (exit code 2, before any input is read).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The `--tenant` file cannot be read.
    #[error("--tenant {path}: cannot read: {source}")]
    TenantIo {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The `--tenant` file is not exactly one valid Tenant.
    #[error("--tenant {path}: {message}")]
    NotATenant {
        /// The file.
        path: String,
        /// What is wrong, with the document and field.
        message: String,
    },
    /// `--tier` and the tier of the `--tenant` disagree.
    #[error(
        "--tier {tier} and --tenant {path} disagree: tenant {tenant:?} has spec.tier {tenant_tier}; give one of them, or make them agree"
    )]
    TierMismatch {
        /// The `--tier` flag.
        tier: Tier,
        /// The `--tenant` file.
        path: String,
        /// The tenant's name.
        tenant: String,
        /// The tenant's tier.
        tenant_tier: Tier,
    },
    /// `--tiers` without a tier to look up in it.
    #[error(
        "--tiers {path} needs --tier or --tenant: the catalogue only matters for the tier being checked"
    )]
    TiersWithoutTier {
        /// The `--tiers` file.
        path: String,
    },
    /// The `--tiers` file cannot be read or is invalid.
    #[error("--tiers {path}: {source}")]
    Catalogue {
        /// The file.
        path: String,
        /// The cause, naming the field.
        #[source]
        source: mtp_core::Error,
    },
    /// `--profile` other than `mtp` together with a tier.
    #[error(
        "--profile {profile} cannot be combined with {tier_flag}: with a tier, check applies the mtp profile plus the tier's Pod Security level ({level}); drop --profile, or drop the tier to check one profile alone"
    )]
    ProfileWithTier {
        /// The `--profile` flag.
        profile: Profile,
        /// `--tier pro` or `--tenant FILE`, as given.
        tier_flag: String,
        /// The tier's Pod Security level.
        level: String,
    },
    /// The `--tenant`'s `spec.guardrails` (or the tier's) hold an invalid value.
    #[error("{tier_flag}: invalid guardrails: {}", join_errors(.errors))]
    Guardrails {
        /// `--tier pro` or `--tenant FILE`, as given.
        tier_flag: String,
        /// Every invalid value, with its pointer below `spec.guardrails`.
        errors: Vec<guardrails::SettingError>,
    },
    /// The tier's namespace settings cannot be computed (the tenant's plan fails).
    #[error("{tier_flag}: cannot compute the tier's namespace settings: {source}")]
    Plan {
        /// `--tier pro` or `--tenant FILE`, as given.
        tier_flag: String,
        /// The cause, naming the field.
        #[source]
        source: mtp_core::Error,
    },
    /// The plan's namespace label is not a level or version this crate knows.
    #[error("{tier_flag}: the namespace label {label}={value:?} is not understood: {source}")]
    Label {
        /// `--tier pro` or `--tenant FILE`, as given.
        tier_flag: String,
        /// The label.
        label: &'static str,
        /// Its value.
        value: String,
        /// The cause.
        #[source]
        source: mtp_policy::pod_security::Error,
    },
}

/// What a tier adds to the checks, as the tenant plan gives it (the `tier` field of the JSON report).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TierRules {
    /// The tier.
    pub name: Tier,
    /// The tenant, with `--tenant`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The `--tiers` file, or `null` for the built-in catalogue.
    pub catalogue: Option<String>,
    /// The Pod Security Standards level the tier's namespaces enforce (`privileged`, `baseline`
    /// or `restricted`), from their `pod-security.kubernetes.io/enforce` label.
    pub pod_security: String,
    /// Its version, from the `pod-security.kubernetes.io/enforce-version` label.
    pub pod_security_version: String,
    /// The container defaults of the tier's LimitRange, applied to bare Pods.
    pub limit_range: ContainerDefaults,
    /// The guardrails applied: the tier's, with the tenant's own replacing them field by field.
    pub guardrails: GuardrailSettings,
}

/// The rules `check` applies, from its flags.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Each policy with the tag of its violations (`None` for a single profile without a tier).
    policies: Vec<(Policy, Option<&'static str>)>,
    /// The profile named in the text summary without a tier.
    profile: Profile,
    /// The tier, with `--tier` or `--tenant`.
    tier: Option<TierRules>,
    /// The defaults for bare Pods, with a tier.
    defaults: Option<ContainerDefaults>,
    /// The guardrails, with a tier, and the name their messages give the tenant.
    guardrails: Option<(String, Guardrails)>,
}

impl Rules {
    /// One profile at one version, without a tier (what `check` did before tiers).
    pub fn profile(policy: Policy) -> Self {
        Rules {
            policies: vec![(policy, None)],
            profile: policy.profile,
            tier: None,
            defaults: None,
            guardrails: None,
        }
    }

    /// The rules for the flags: reads `--tenant` and `--tiers` and computes the tier's namespace
    /// settings with the tenant plan.
    pub fn from_args(args: &CheckArgs) -> Result<Self, SetupError> {
        let tenant = match &args.tenant {
            Some(path) => Some((path, read_tenant(path)?)),
            None => None,
        };
        let (tier, tier_flag) = match (args.tier, &tenant) {
            (Some(tier), Some((path, tenant))) if tier != tenant.spec.tier => {
                return Err(SetupError::TierMismatch {
                    tier,
                    path: path.display().to_string(),
                    tenant: tenant.metadata.name.clone().unwrap_or_default(),
                    tenant_tier: tenant.spec.tier,
                });
            }
            (Some(tier), _) => (tier, format!("--tier {tier}")),
            (None, Some((path, tenant))) => {
                (tenant.spec.tier, format!("--tenant {}", path.display()))
            }
            (None, None) => {
                if let Some(path) = &args.tiers {
                    return Err(SetupError::TiersWithoutTier {
                        path: path.display().to_string(),
                    });
                }
                let profile = args.profile.unwrap_or_default();
                return Ok(Rules::profile(
                    Policy::new(profile).with_version(args.version),
                ));
            }
        };
        let catalogue = match &args.tiers {
            Some(path) => {
                TierCatalogue::from_file(path).map_err(|source| SetupError::Catalogue {
                    path: path.display().to_string(),
                    source,
                })?
            }
            None => TierCatalogue::default(),
        };
        let settings = PlatformSettings {
            pod_security_version: args.version.to_string(),
            ..PlatformSettings::default()
        };
        let tenant_name = tenant.as_ref().and_then(|(_, t)| t.metadata.name.clone());
        let own_guardrails = tenant.as_ref().and_then(|(_, t)| t.spec.guardrails.clone());
        let guardrail_settings = catalogue
            .get(tier)
            .guardrail_settings(own_guardrails.as_ref());
        let compiled =
            Guardrails::compile(&guardrail_settings).map_err(|errors| SetupError::Guardrails {
                tier_flag: tier_flag.clone(),
                errors,
            })?;
        let guardrails_tenant = tenant_name
            .clone()
            .unwrap_or_else(|| format!("(any of tier {tier})"));
        let planned = match tenant {
            Some((_, mut tenant)) => {
                if tenant.metadata.uid.is_none() {
                    // Owner references need a uid; the cluster assigns the real one.
                    tenant.metadata.uid = Some(PLACEHOLDER_UID.to_owned());
                }
                tenant
            }
            None => tier_probe(tier),
        };
        let plan_err = |source| SetupError::Plan {
            tier_flag: tier_flag.clone(),
            source,
        };
        let plan = mtp_core::plan(&planned, &catalogue, &settings).map_err(plan_err)?;
        let labels = plan
            .namespaces
            .first()
            .and_then(|ns| ns.metadata.labels.clone())
            .unwrap_or_default();
        let label = |name: &'static str| labels.get(name).cloned().unwrap_or_default();
        let (level, version) = (label(PSA_ENFORCE), label(PSA_ENFORCE_VERSION));
        let label_err = |label: &'static str, value: &str| {
            let tier_flag = tier_flag.clone();
            let value = value.to_owned();
            move |source| SetupError::Label {
                tier_flag,
                label,
                value,
                source,
            }
        };
        let pss = match level.as_str() {
            "privileged" => None,
            other => Some(
                other
                    .parse::<Profile>()
                    .map_err(label_err(PSA_ENFORCE, other))?,
            ),
        };
        let pss_version: Version = version
            .parse()
            .map_err(label_err(PSA_ENFORCE_VERSION, &version))?;
        if let Some(profile) = args.profile.filter(|p| *p != Profile::Mtp) {
            return Err(SetupError::ProfileWithTier {
                profile,
                tier_flag,
                level,
            });
        }
        let defaults = plan
            .limit_ranges
            .first()
            .map(ContainerDefaults::from_limit_range)
            .unwrap_or_default();
        let mut policies = vec![(Policy::new(Profile::Mtp), Some(Profile::Mtp.as_str()))];
        if let Some(pss) = pss {
            policies.push((
                Policy::new(pss).with_version(pss_version),
                Some(pss.as_str()),
            ));
        }
        Ok(Rules {
            policies,
            profile: Profile::Mtp,
            tier: Some(TierRules {
                name: tier,
                tenant: tenant_name,
                catalogue: args.tiers.as_ref().map(|p| p.display().to_string()),
                pod_security: level,
                pod_security_version: version,
                limit_range: defaults.clone(),
                guardrails: guardrail_settings,
            }),
            defaults: Some(defaults),
            guardrails: Some((guardrails_tenant, compiled)),
        })
    }

    /// The tier, when one was given.
    pub fn tier(&self) -> Option<&TierRules> {
        self.tier.as_ref()
    }
}

/// A tenant of `tier` with nothing else, to compute the namespace settings every tenant of the
/// tier gets from the plan.
fn tier_probe(tier: Tier) -> Tenant {
    let mut tenant = Tenant::new(
        "check",
        TenantSpec {
            display_name: "check".to_owned(),
            tier,
            owner_email: "check@mtp.invalid".to_owned(),
            admins: Vec::new(),
            operators: Vec::new(),
            viewers: Vec::new(),
            admin_groups: Vec::new(),
            operator_groups: Vec::new(),
            viewer_groups: Vec::new(),
            egress: None,
            namespaces: Vec::new(),
            quota: None,
            guardrails: None,
        },
    );
    tenant.metadata.uid = Some(PLACEHOLDER_UID.to_owned());
    tenant
}

fn join_errors(errors: &[guardrails::SettingError]) -> String {
    let all: Vec<String> = errors
        .iter()
        .map(|e| {
            format!(
                "spec.guardrails{}: {}",
                e.pointer.replace('/', "."),
                e.message
            )
        })
        .collect();
    all.join("; ")
}

/// Reads the one Tenant of a `--tenant` file (YAML or JSON; empty documents are skipped).
fn read_tenant(path: &Path) -> Result<Tenant, SetupError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SetupError::TenantIo {
        path: shown.clone(),
        source,
    })?;
    let not_a_tenant = |message: String| SetupError::NotATenant {
        path: shown.clone(),
        message,
    };
    let mut tenants = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|e| not_a_tenant(format!("document {i}: invalid YAML: {e}")))?;
        if value.is_null() {
            continue;
        }
        let field = |name: &str| value.get(name).and_then(serde_yaml::Value::as_str);
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        if api_version != Some("mtp.dev/v1alpha1") || kind != Some("Tenant") {
            return Err(not_a_tenant(format!(
                "document {i}: not a Tenant: expected apiVersion mtp.dev/v1alpha1 and kind Tenant, found {} {}",
                api_version.unwrap_or("<no apiVersion>"),
                kind.unwrap_or("<no kind>")
            )));
        }
        let tenant: Tenant = serde_path_to_error::deserialize(value)
            .map_err(|e| not_a_tenant(format!("document {i}: {}: {}", e.path(), e.inner())))?;
        tenants.push(tenant);
    }
    match tenants.len() {
        1 => Ok(tenants.remove(0)),
        0 => Err(not_a_tenant("not a Tenant: the file is empty".to_owned())),
        n => Err(not_a_tenant(format!(
            "holds {n} Tenants: give a file with one"
        ))),
    }
}

/// A violation, tagged with the policy it comes from when several policies were applied.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// `mtp`, `baseline`, `restricted`, or `apiserver` for a defaulted Pod the apiserver's
    /// validation refuses; present with `--tier` or `--tenant` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'static str>,
    /// The violation (its fields are inlined in JSON).
    #[serde(flatten)]
    pub violation: Violation,
}

/// The result for one object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ObjectResult {
    /// The path as given on the command line.
    pub source: String,
    /// The object's position among the documents of its source.
    pub index: usize,
    /// For the items of a `List`: the position in `items`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// The object's kind.
    pub kind: Option<String>,
    /// The object's namespace.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: Option<String>,
    /// Whether the object carries a pod spec.
    pub applicable: bool,
    /// No violations.
    pub allowed: bool,
    /// Every violation.
    pub violations: Vec<Finding>,
    /// The fields the apiserver would fill in before the checks (bare Pods with a tier only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub defaulted: Vec<Defaulted>,
}

/// An input that could not be read or parsed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InputError {
    /// The path as given on the command line.
    pub source: String,
    /// The line, where known (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The document, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(index) = self.index {
            write!(f, ": document {index}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything `check` found.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// True when every object is allowed and every input was read.
    pub allowed: bool,
    /// The tier checked at, `null` without `--tier` or `--tenant`.
    pub tier: Option<TierRules>,
    /// The tier-dependent steps not applied ([`NOT_APPLIED_WITHOUT_TIER`] without a tier, else empty).
    pub not_applied: Vec<&'static str>,
    /// One result per object.
    pub results: Vec<ObjectResult>,
    /// Inputs that could not be read or parsed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<InputError>,
}

impl Report {
    /// The exit code for this report.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            EXIT_INPUT_ERROR
        } else if self.results.iter().any(|r| !r.allowed) {
            EXIT_DENIED
        } else {
            EXIT_ALLOWED
        }
    }
}

/// Runs `check`: reads every path (`-` from `stdin`), writes the report to `stdout` and input
/// errors to `stderr`, and returns the exit code.
pub fn run(
    args: &CheckArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<u8> {
    let rules = match Rules::from_args(args) {
        Ok(rules) => rules,
        Err(e) => {
            writeln!(stderr, "error: {e}")?;
            return Ok(EXIT_INPUT_ERROR);
        }
    };
    let mut report = Report {
        tier: rules.tier.clone(),
        not_applied: if rules.tier.is_some() {
            Vec::new()
        } else {
            NOT_APPLIED_WITHOUT_TIER.to_vec()
        },
        ..Report::default()
    };
    let mut stdin_text: Option<Result<String, String>> = None;
    for path in &args.paths {
        let text = if path == "-" {
            stdin_text
                .get_or_insert_with(|| read_text(stdin, args.max_input_mib))
                .clone()
        } else {
            std::fs::File::open(path)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|mut f| read_text(&mut f, args.max_input_mib))
        };
        match text {
            Ok(text) => check_text(&rules, path, &text, &mut report),
            Err(message) => report.errors.push(InputError {
                source: path.clone(),
                line: None,
                index: None,
                message,
            }),
        }
    }
    report.allowed = report.errors.is_empty() && report.results.iter().all(|r| r.allowed);
    for error in &report.errors {
        writeln!(stderr, "error: {error}")?;
    }
    match args.output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *stdout, &report).map_err(io::Error::other)?;
            writeln!(stdout)?;
        }
        Output::Text => stdout.write_all(render_text(&report, &rules).as_bytes())?,
    }
    Ok(report.exit_code())
}

fn read_text(reader: &mut dyn Read, max_mib: u64) -> Result<String, String> {
    let max = max_mib.saturating_mul(1024 * 1024);
    let mut bytes = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "larger than {max_mib} MiB (--max-input-mib): split it, or raise the limit"
        ));
    }
    if let Some(offset) = bytes.iter().position(|b| *b == 0) {
        return Err(format!(
            "not a text file (a NUL byte at offset {offset}): expected YAML or JSON"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (an invalid byte at offset {}): expected YAML or JSON",
            e.utf8_error().valid_up_to()
        )
    })
}

/// One document of a source, with its position and the line it starts on.
struct Document {
    value: Value,
    index: usize,
    line: usize,
}

/// A parse error: line (1-based) and document where known, and the message.
type ParseError = (Option<usize>, Option<usize>, String);

/// Parses and checks one source's text, appending results and errors to `report`.
pub fn check_text(rules: &Rules, source: &str, text: &str, report: &mut Report) {
    let (documents, errors) = parse_documents(text);
    let had_errors = !errors.is_empty();
    for (line, index, message) in errors {
        report.errors.push(InputError {
            source: source.to_owned(),
            line,
            index,
            message,
        });
    }
    if documents.is_empty() && !had_errors {
        report.errors.push(InputError {
            source: source.to_owned(),
            line: None,
            index: None,
            message: "no objects found (the input is empty)".to_owned(),
        });
        return;
    }
    for doc in documents {
        let index = doc.index;
        let error = |message: String| InputError {
            source: source.to_owned(),
            line: Some(doc.line),
            index: Some(index),
            message,
        };
        let Value::Object(map) = &doc.value else {
            report.errors.push(error(format!(
                "expected a Kubernetes object (a mapping), found {}",
                type_name(&doc.value)
            )));
            continue;
        };
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        match map.get("items") {
            Some(Value::Array(items)) if kind.ends_with("List") => {
                for (i, item) in items.iter().enumerate() {
                    match evaluate_value(rules, item, rules.defaults.as_ref()) {
                        Ok(result) => {
                            report
                                .results
                                .push(result.into_result(source, index, Some(i)))
                        }
                        Err(message) => report.errors.push(error(format!("items[{i}]: {message}"))),
                    }
                }
            }
            _ => match evaluate_value(rules, &doc.value, rules.defaults.as_ref()) {
                Ok(result) => report.results.push(result.into_result(source, index, None)),
                Err(message) => report.errors.push(error(message)),
            },
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Splits the text into documents: JSON (one or more values, or an array of objects) when it
/// starts with `{` or `[`, else YAML. A broken YAML document does not hide the others: every
/// document that parses is returned beside the errors. Errors carry the line where known.
fn parse_documents(text: &str) -> (Vec<Document>, Vec<ParseError>) {
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            match value {
                Ok(Value::Array(items)) => {
                    for value in items {
                        documents.push(Document {
                            value,
                            index: documents.len(),
                            line: 1,
                        });
                    }
                }
                Ok(value) => documents.push(Document {
                    value,
                    index: documents.len(),
                    line: 1,
                }),
                Err(e) => {
                    // A JSON stream cannot be resynchronised after an error.
                    errors.push((
                        Some(e.line()),
                        Some(documents.len()),
                        format!("invalid JSON: {e}"),
                    ));
                    break;
                }
            }
        }
        return (documents, errors);
    }
    let mut index = 0;
    for (first_line, chunk) in yaml_chunks(text) {
        match serde_yaml::from_str::<Value>(&chunk) {
            Ok(Value::Null) => continue,
            Ok(value) => {
                let line = chunk
                    .lines()
                    .position(has_content)
                    .map_or(first_line, |p| first_line + p);
                documents.push(Document { value, index, line });
            }
            Err(e) => {
                // The location is relative to the document; restate it relative to the file.
                let line = e.location().map(|l| first_line + l.line() - 1);
                let message = e.to_string();
                let message = message
                    .find(" at line ")
                    .map_or(message.as_str(), |i| &message[..i]);
                // serde_yaml's guard against alias bombs ("billion laughs").
                let hint = if message.contains("repetition limit exceeded") {
                    " (its aliases expand too far: a \"billion laughs\" document?)"
                } else {
                    ""
                };
                errors.push((line, Some(index), format!("invalid YAML: {message}{hint}")));
            }
        }
        index += 1;
    }
    (documents, errors)
}

/// Splits YAML text at document markers (`---` at the start of a line), keeping each marker in
/// its chunk, with the 1-based line number each chunk starts on.
fn yaml_chunks(text: &str) -> Vec<(usize, String)> {
    let mut chunks: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let is_marker = line.starts_with("---")
            && matches!(
                line.as_bytes().get(3),
                None | Some(b' ' | b'\t' | b'\r' | b'\n')
            );
        if is_marker {
            if has_content(&current) {
                chunks.push((start, std::mem::take(&mut current)));
            }
            current.clear();
            start = i + 1;
        }
        current.push_str(line);
    }
    if has_content(&current) {
        chunks.push((start, current));
    }
    chunks
}

/// Whether a chunk holds more than markers, comments and blank lines.
fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|line| {
        let rest = line.strip_prefix("---").unwrap_or(line).trim();
        !(rest.is_empty() || rest.starts_with('#'))
    })
}

struct Evaluated {
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    applicable: bool,
    violations: Vec<Finding>,
    defaulted: Vec<Defaulted>,
}

impl Evaluated {
    fn into_result(self, source: &str, index: usize, item: Option<usize>) -> ObjectResult {
        ObjectResult {
            source: source.to_owned(),
            index,
            item,
            kind: self.kind,
            namespace: self.namespace,
            name: self.name,
            applicable: self.applicable,
            allowed: self.violations.is_empty(),
            violations: self.violations,
            defaulted: self.defaulted,
        }
    }
}

fn str_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Evaluates one object; `defaults` are applied first when it is a bare Pod (`None` inside an
/// AdmissionReview: the apiserver ran the mutating phase before sending it).
fn evaluate_value(
    rules: &Rules,
    value: &Value,
    defaults: Option<&ContainerDefaults>,
) -> Result<Evaluated, String> {
    if value.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if api_version != "admission.k8s.io/v1" {
            return Err(format!(
                "AdmissionReview apiVersion is {api_version:?}, expected \"admission.k8s.io/v1\""
            ));
        }
        // The one AdmissionReview view of mtp-policy, with the objects read as JSON values.
        let review: AdmissionReview<'_, Value> =
            serde_path_to_error::deserialize(value).map_err(|e| format!("AdmissionReview: {e}"))?;
        let request = review.request.ok_or("AdmissionReview has no request")?;
        let owned = |t: Option<Text<'_>>| t.map(|t| t.0.into_owned());
        let namespace = owned(request.namespace);
        let name = owned(request.name);
        let Some(object) = request.object.filter(|o| !o.is_null()) else {
            // DELETE and CONNECT carry no object: nothing to check.
            return Ok(Evaluated {
                kind: owned(request.kind.and_then(|k| k.kind)),
                namespace,
                name,
                applicable: false,
                violations: Vec::new(),
                defaulted: Vec::new(),
            });
        };
        let mut evaluated =
            evaluate_value(rules, &object, None).map_err(|e| format!("request.object: {e}"))?;
        evaluated.namespace = evaluated.namespace.or(namespace);
        evaluated.name = evaluated.name.or(name);
        return Ok(evaluated);
    }
    let kind = str_at(value, "/kind");
    let namespace = str_at(value, "/metadata/namespace");
    let name = str_at(value, "/metadata/name").or_else(|| str_at(value, "/metadata/generateName"));
    let describe = |message: String| match (&kind, &namespace, &name) {
        (Some(kind), Some(ns), Some(n)) => format!("{kind} {ns}/{n}: {message}"),
        (Some(kind), None, Some(n)) => format!("{kind} {n}: {message}"),
        _ => message,
    };
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let carrier = PodCarrier::of(api_version, kind.as_deref().unwrap_or_default());
    let is_bare_pod = carrier == Some(PodCarrier::Pod);
    // A kind that carries no pod (a ConfigMap, a Service, a CRD, a Helm values-like object) is
    // not applicable, whatever its same-named fields hold (`spec.template: false`,
    // `spec.containers: 3`, annotations as a list): those are not pod fields, so they are no
    // input error either. A kind the built-in group does not have (a typo) is an error, named
    // before any field is read.
    if carrier.is_none()
        && let Some(k) = kind.as_deref().filter(|k| !k.is_empty())
    {
        PodCarrier::classify(api_version, k).map_err(|e| describe(e.to_string()))?;
        // Services, Ingresses, claims and Namespaces have guardrails (with a tier) and no pod.
        let subject = Subject::classify(api_version, k).ok().flatten();
        let violations = match (&rules.guardrails, subject) {
            (Some(g), Some(_)) => guardrail_findings(g, value).map_err(describe)?,
            _ => None,
        };
        return Ok(Evaluated {
            kind,
            namespace,
            name,
            applicable: violations.is_some(),
            violations: violations.unwrap_or_default(),
            defaulted: Vec::new(),
        });
    }
    // A bare Pod being created goes through what the apiserver does before the validating
    // admission plugins: defaulting, then the validation of its resources.
    let defaulted_pod;
    let (value, defaulted, invalid) = match defaults {
        Some(defaults) if is_bare_pod => {
            let mut pod = value.clone();
            let defaulted = defaults.apply_to_pod(&mut pod);
            let invalid = requests_above_limits(&pod, &defaulted);
            defaulted_pod = pod;
            (&defaulted_pod, defaulted, invalid)
        }
        _ => (value, Vec::new(), Vec::new()),
    };
    let object: Object<'_> =
        serde_path_to_error::deserialize(value).map_err(|e| describe(e.to_string()))?;
    let mut applicable = false;
    let mut violations: Vec<Finding> = invalid
        .into_iter()
        .map(|violation| Finding {
            policy: Some(APISERVER_POLICY),
            violation,
        })
        .collect();
    for (policy, tag) in &rules.policies {
        let evaluation = policy
            .evaluate(&object)
            .map_err(|e| describe(e.to_string()))?;
        applicable |= evaluation.applicable;
        violations.extend(evaluation.violations.into_iter().map(|violation| Finding {
            policy: *tag,
            violation,
        }));
    }
    if let Some(g) = &rules.guardrails {
        violations.extend(
            guardrail_findings(g, value)
                .map_err(describe)?
                .unwrap_or_default(),
        );
    }
    Ok(Evaluated {
        kind,
        namespace,
        name,
        applicable,
        violations,
        defaulted,
    })
}

/// The guardrail violations of `value` (`None`: no guardrail reads its kind).
fn guardrail_findings(
    (tenant, guardrails): &(String, Guardrails),
    value: &Value,
) -> Result<Option<Vec<Finding>>, String> {
    let object: guardrails::Object<'_> =
        serde_path_to_error::deserialize(value).map_err(|e| e.to_string())?;
    let ctx = guardrails::Context {
        tenant,
        hosts: None,
    };
    let evaluation = guardrails
        .evaluate(&object, &ctx)
        .map_err(|e| e.to_string())?;
    if !evaluation.applicable {
        return Ok(None);
    }
    Ok(Some(
        evaluation
            .violations
            .into_iter()
            .map(|violation| Finding {
                policy: Some(GUARDRAILS_POLICY),
                violation,
            })
            .collect(),
    ))
}

/// The text report: one line per object, the fields the apiserver would default and the
/// violations indented under it, then a summary (and, without a tier, a note saying what was not
/// applied).
pub fn render_text(report: &Report, rules: &Rules) -> String {
    let mut out = String::new();
    for r in &report.results {
        let _ = write!(out, "{}", r.source);
        let _ = write!(out, " [{}", r.index);
        if let Some(item) = r.item {
            let _ = write!(out, ".items[{item}]");
        }
        let _ = write!(out, "] {}", r.kind.as_deref().unwrap_or("?"));
        match (&r.namespace, &r.name) {
            (Some(ns), Some(n)) => {
                let _ = write!(out, " {ns}/{n}");
            }
            (None, Some(n)) => {
                let _ = write!(out, " {n}");
            }
            _ => {}
        }
        if !r.applicable {
            out.push_str(if rules.guardrails.is_some() {
                ": not applicable (no pod spec, no guardrail)\n"
            } else {
                ": not applicable (no pod spec)\n"
            });
        } else if r.allowed {
            out.push_str(": allowed\n");
        } else {
            let n = r.violations.len();
            let _ = writeln!(
                out,
                ": denied, {n} violation{}",
                if n == 1 { "" } else { "s" }
            );
        }
        render_defaulted(&mut out, &r.defaulted);
        for f in &r.violations {
            let v = &f.violation;
            match f.policy {
                Some(policy) => {
                    let _ = writeln!(out, "    {} [{policy}:{}]", v.message, v.check);
                }
                None => {
                    let _ = writeln!(out, "    {} [{}]", v.message, v.check);
                }
            }
            let _ = writeln!(out, "        at {}", v.path);
        }
    }
    let denied = report.results.iter().filter(|r| !r.allowed).count();
    let skipped = report.results.iter().filter(|r| !r.applicable).count();
    let allowed = report.results.len() - denied - skipped;
    let against = match &rules.tier {
        None => format!("the {} profile", rules.profile),
        Some(tier) => {
            let mut s = format!("tier {}", tier.name);
            if let Some(tenant) = &tier.tenant {
                let _ = write!(s, " of tenant {tenant}");
            }
            let _ = write!(
                s,
                " (the mtp profile and Pod Security {}",
                tier.pod_security
            );
            if tier.pod_security == "privileged" {
                s.push_str(", which checks nothing");
            } else {
                let _ = write!(s, " {}", tier.pod_security_version);
            }
            s.push_str(", after the LimitRange defaults on bare pods, and the guardrails)");
            s
        }
    };
    let _ = write!(
        out,
        "{} object{} checked against {against}: {allowed} allowed, {denied} denied, {skipped} not applicable",
        report.results.len(),
        if report.results.len() == 1 { "" } else { "s" },
    );
    if !report.errors.is_empty() {
        let _ = write!(
            out,
            "; {} input error{}",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        );
    }
    out.push('\n');
    if rules.tier.is_none() {
        out.push_str(NO_TIER_NOTE);
        out.push('\n');
    }
    out
}

/// One line per container the apiserver would default, e.g.
/// `    defaulted spec.containers[0].resources: limits.cpu=1, requests.cpu=250m`.
fn render_defaulted(out: &mut String, defaulted: &[Defaulted]) {
    let mut by_container: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut order = Vec::new();
    for d in defaulted {
        let (container, field) = d
            .path
            .split_once(".resources.")
            .unwrap_or((d.path.as_str(), ""));
        let entry = by_container.entry(container).or_insert_with(|| {
            order.push(container);
            Vec::new()
        });
        entry.push(match d.from {
            DefaultedFrom::LimitRange => format!("{field}={}", d.value),
            DefaultedFrom::Limits => format!("{field}={} (from its limit)", d.value),
        });
    }
    for container in order {
        if let Some(fields) = by_container.get(container) {
            let _ = writeln!(
                out,
                "    defaulted {container}.resources: {}",
                fields.join(", ")
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn check(text: &str) -> Report {
        let mut report = Report::default();
        check_text(
            &Rules::profile(Policy::new(Profile::Mtp)),
            "in.yaml",
            text,
            &mut report,
        );
        report
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: CheckArgs,
    }

    fn rules(flags: &[&str]) -> Result<Rules, SetupError> {
        use clap::Parser as _;
        let argv = ["check"].iter().chain(flags).chain(&["in.yaml"]);
        Rules::from_args(&Cli::try_parse_from(argv).unwrap().args)
    }

    #[test]
    fn a_tier_adds_its_level_and_its_limit_range() {
        let plain = rules(&["--profile", "baseline"]).unwrap();
        assert_eq!(plain.policies, [(Policy::new(Profile::Baseline), None)]);
        assert!(plain.tier().is_none() && plain.defaults.is_none());

        let pro = rules(&["--tier", "pro", "--version", "v1.30"]).unwrap();
        assert_eq!(
            pro.policies,
            [
                (Policy::new(Profile::Mtp), Some("mtp")),
                (
                    Policy::new(Profile::Restricted).with_version(Version::V1(30)),
                    Some("restricted")
                ),
            ]
        );
        let tier = pro.tier().unwrap();
        assert_eq!(
            (
                tier.name,
                tier.pod_security.as_str(),
                tier.pod_security_version.as_str()
            ),
            (Tier::Pro, "restricted", "v1.30")
        );
        let catalogue = TierCatalogue::default();
        assert_eq!(
            tier.limit_range.default["memory"],
            catalogue.pro.limit_range.default_memory
        );
        assert_eq!(
            tier.limit_range.default_request["cpu"],
            catalogue.pro.limit_range.default_request_cpu
        );
        assert_eq!(pro.defaults.as_ref(), Some(&tier.limit_range));

        let err = rules(&["--tier", "pro", "--profile", "restricted"]).unwrap_err();
        assert!(matches!(err, SetupError::ProfileWithTier { .. }), "{err}");
    }

    #[test]
    fn list_items_are_defaulted_like_bare_pods() {
        let pro = rules(&["--tier", "enterprise"]).unwrap();
        let list = "apiVersion: v1\nkind: PodList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n    - name: c\n      image: c\n      securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}\n";
        let mut report = Report::default();
        check_text(&pro, "in.yaml", list, &mut report);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let result = &report.results[0];
        assert_eq!(result.item, Some(0));
        assert!(result.allowed, "{:?}", result.violations);
        assert_eq!(result.defaulted.len(), 4, "{:?}", result.defaulted);
        assert_eq!(result.defaulted[1].value, "2Gi");
    }

    #[test]
    fn yaml_chunks_keep_file_lines() {
        let chunks = yaml_chunks("a: 1\n---\nb: 2\n--- # c\nc: 3\n---\n");
        let starts: Vec<usize> = chunks.iter().map(|c| c.0).collect();
        assert_eq!(starts, vec![1, 2, 4]);
        assert_eq!(yaml_chunks("---\n---\n").len(), 0);
        assert_eq!(yaml_chunks("key: '---'\n").len(), 1);
    }

    #[test]
    fn yaml_error_names_the_file_line() {
        let r = check("kind: ConfigMap\napiVersion: v1\n---\nkind: Pod\n  bad: [indent\n");
        assert_eq!(r.errors.len(), 1);
        let e = &r.errors[0];
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.starts_with("invalid YAML"), "{e}");
    }

    #[test]
    fn type_errors_name_the_field() {
        let r = check(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  hostNetwork: yes-please\n  containers: []\n",
        );
        let e = &r.errors[0];
        assert_eq!(e.line, Some(1));
        assert!(
            e.message
                .starts_with("Pod n/p: spec.hostNetwork: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn other_kinds_with_same_named_fields_are_not_applicable() {
        // Found by running check over the Kyverno policy library's test resources (issue 20).
        for doc in [
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  template: false\n",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  containers: 3\n",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  os: linux\n",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  template: \"{{ .Values.x }}\"\n",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, annotations: [a, b]}\nspec: {}\n",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  template: {metadata: {}, data: {x: 1}}\n",
            // Built-in kinds that carry no pod, with the same-named fields of other types.
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  template: false\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: 3}\nspec: {containers: 3}\n",
            "apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: r}\nspec: {os: linux}\ntemplate: x\n",
            "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i}\nspec: {template: \"{{ .Values.x }}\"}\n",
        ] {
            let r = check(doc);
            assert!(r.errors.is_empty(), "{doc}: {:?}", r.errors);
            assert_eq!(r.results.len(), 1, "{doc}");
            assert!(!r.results[0].applicable, "{doc}");
            assert!(r.results[0].violations.is_empty(), "{doc}");
        }
        // A kind the built-in group does not have is named, whatever its fields hold.
        let r = check(
            "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: d}\nspec:\n  template: false\n",
        );
        assert_eq!(r.errors.len(), 1);
        assert!(
            r.errors[0]
                .message
                .contains("unknown kind \"Deploymnet\" in apps/v1"),
            "{}",
            r.errors[0]
        );
        // A built-in pod carrier with a wrong type is still an input error.
        let r = check(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template: false\n",
        );
        assert_eq!(r.errors.len(), 1);
        assert!(
            r.errors[0].message.contains("spec.template"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn scalars_lists_and_reviews() {
        let r = check("just a string\n");
        assert!(
            r.errors[0].message.contains("found a string"),
            "{:?}",
            r.errors
        );
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec: {containers: []}\n";
        let r = check(list);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.results.len(), 2);
        assert_eq!(r.results[1].item, Some(1));
        assert_eq!(r.results[1].name.as_deref(), Some("b"));
    }
}
