//! The tier catalogue: per tier, LimitRange defaults, ResourceQuota hard limits, namespace count,
//! Pod Security Standards level and egress. Built-in defaults, overridable by a YAML file.
//!
//! ```
//! use mtp_core::{Tier, TierCatalogue};
//! let catalogue = TierCatalogue::from_yaml_str("pro:\n  maxNamespaces: 8\n  quota:\n    pods: \"200\"\n", "<inline>").unwrap();
//! assert_eq!(catalogue.get(Tier::Pro).max_namespaces, 8);
//! assert_eq!(catalogue.get(Tier::Pro).quota["pods"], "200");
//! assert_eq!(catalogue.get(Tier::Free), TierCatalogue::default().get(Tier::Free));
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::builders::validate_quantity;
use mtp_policy::guardrails::{GuardrailSettings, Guardrails, ServiceType};
use serde::{Deserialize, Serialize};

use crate::{Egress, Error, Result, Tier};

/// The ResourceQuota resources a tier (or a tenant override) may limit.
pub const QUOTA_RESOURCES: [&str; 10] = [
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
    "pods",
    "services",
    "services.loadbalancers",
    "services.nodeports",
    "persistentvolumeclaims",
    "requests.storage",
];

/// The most namespaces a tier may grant a tenant.
pub const MAX_NAMESPACES_LIMIT: u32 = 64;

/// A Pod Security Standards level, enforced on the tenant's namespaces by the apiserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    /// No restrictions.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardened pods.
    Restricted,
}

impl PodSecurityLevel {
    /// The label value (`privileged`, `baseline`, `restricted`).
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurityLevel::Privileged => "privileged",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Restricted => "restricted",
        }
    }
}

/// The LimitRange defaults of a tier: quantities as Kubernetes writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitDefaults {
    /// Default container CPU limit.
    pub default_cpu: String,
    /// Default container memory limit.
    pub default_memory: String,
    /// Default container CPU request.
    pub default_request_cpu: String,
    /// Default container memory request.
    pub default_request_memory: String,
}

/// What a tier grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierSpec {
    /// LimitRange defaults for containers.
    pub limit_range: LimitDefaults,
    /// ResourceQuota hard limits (resource → quantity), keys from [`QUOTA_RESOURCES`].
    pub quota: BTreeMap<String, String>,
    /// How many namespaces a tenant may have, the primary one included.
    pub max_namespaces: u32,
    /// The Pod Security Standards level enforced on the namespaces.
    pub pod_security: PodSecurityLevel,
    /// Whether tenants of this tier may have internet egress.
    pub internet_egress: bool,
    /// The egress a tenant gets when its spec says nothing.
    pub default_egress: Egress,
    /// The guardrails of the tier's tenants; a Tenant's `spec.guardrails` replaces them field
    /// by field.
    #[serde(default)]
    pub guardrails: GuardrailSettings,
}

/// The tiers' settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierCatalogue {
    /// The free tier.
    pub free: TierSpec,
    /// The pro tier.
    pub pro: TierSpec,
    /// The enterprise tier.
    pub enterprise: TierSpec,
}

#[allow(clippy::too_many_arguments)]
fn tier(
    limits: [&str; 4],
    quota: [&str; 10],
    max_namespaces: u32,
    pod_security: PodSecurityLevel,
    internet_egress: bool,
    service_types: &[ServiceType],
) -> TierSpec {
    TierSpec {
        limit_range: LimitDefaults {
            default_cpu: limits[0].to_string(),
            default_memory: limits[1].to_string(),
            default_request_cpu: limits[2].to_string(),
            default_request_memory: limits[3].to_string(),
        },
        quota: QUOTA_RESOURCES
            .iter()
            .zip(quota)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        max_namespaces,
        pod_security,
        internet_egress,
        default_egress: if internet_egress {
            Egress::Internet
        } else {
            Egress::None
        },
        guardrails: GuardrailSettings {
            allowed_service_types: Some(service_types.to_vec()),
            forbidden_labels: Some(vec!["mtp.dev/*".to_owned()]),
            forbidden_annotations: Some(vec!["mtp.dev/*".to_owned()]),
            ..GuardrailSettings::default()
        },
    }
}

impl Default for TierCatalogue {
    /// The built-in catalogue.
    fn default() -> Self {
        TierCatalogue {
            free: tier(
                ["500m", "512Mi", "100m", "128Mi"],
                ["1", "2Gi", "2", "4Gi", "10", "5", "0", "0", "2", "5Gi"],
                1,
                PodSecurityLevel::Restricted,
                false,
                &[],
            ),
            pro: tier(
                ["1", "1Gi", "250m", "256Mi"],
                [
                    "8", "16Gi", "16", "32Gi", "100", "20", "1", "0", "20", "100Gi",
                ],
                5,
                PodSecurityLevel::Restricted,
                true,
                &[ServiceType::LoadBalancer],
            ),
            enterprise: tier(
                ["2", "2Gi", "500m", "512Mi"],
                [
                    "64", "128Gi", "128", "256Gi", "1000", "100", "10", "5", "200", "2Ti",
                ],
                20,
                PodSecurityLevel::Baseline,
                true,
                &[ServiceType::LoadBalancer, ServiceType::NodePort],
            ),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LimitOverride {
    default_cpu: Option<String>,
    default_memory: Option<String>,
    default_request_cpu: Option<String>,
    default_request_memory: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TierOverride {
    limit_range: Option<LimitOverride>,
    quota: Option<BTreeMap<String, String>>,
    max_namespaces: Option<u32>,
    pod_security: Option<PodSecurityLevel>,
    internet_egress: Option<bool>,
    default_egress: Option<Egress>,
    guardrails: Option<GuardrailSettings>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    free: Option<TierOverride>,
    pro: Option<TierOverride>,
    enterprise: Option<TierOverride>,
}

impl TierSpec {
    fn apply(&mut self, o: TierOverride) {
        if let Some(l) = o.limit_range {
            let lr = &mut self.limit_range;
            for (slot, value) in [
                (&mut lr.default_cpu, l.default_cpu),
                (&mut lr.default_memory, l.default_memory),
                (&mut lr.default_request_cpu, l.default_request_cpu),
                (&mut lr.default_request_memory, l.default_request_memory),
            ] {
                if let Some(value) = value {
                    *slot = value;
                }
            }
        }
        if let Some(quota) = o.quota {
            self.quota.extend(quota);
        }
        if let Some(v) = o.max_namespaces {
            self.max_namespaces = v;
        }
        if let Some(v) = o.pod_security {
            self.pod_security = v;
        }
        if let Some(v) = o.internet_egress {
            self.internet_egress = v;
            if !v {
                self.default_egress = Egress::None;
            }
        }
        if let Some(v) = o.default_egress {
            self.default_egress = v;
        }
        if let Some(g) = o.guardrails {
            self.guardrails = self.guardrails.overlay(&g);
        }
    }

    /// Checks the tier's settings; `tier` prefixes the field paths in errors.
    pub fn validate(&self, tier: Tier) -> Result<()> {
        let lr = &self.limit_range;
        for (field, value) in [
            ("defaultCpu", &lr.default_cpu),
            ("defaultMemory", &lr.default_memory),
            ("defaultRequestCpu", &lr.default_request_cpu),
            ("defaultRequestMemory", &lr.default_request_memory),
        ] {
            check_quantity(&format!("{tier}.limitRange.{field}"), value)?;
        }
        validate_quota(&format!("{tier}.quota"), &self.quota)?;
        if self.max_namespaces == 0 || self.max_namespaces > MAX_NAMESPACES_LIMIT {
            return Err(Error::invalid(
                format!("{tier}.maxNamespaces"),
                format!(
                    "{} is out of range: between 1 and {MAX_NAMESPACES_LIMIT}",
                    self.max_namespaces
                ),
            ));
        }
        if self.default_egress == Egress::Internet && !self.internet_egress {
            return Err(Error::invalid(
                format!("{tier}.defaultEgress"),
                "is internet but internetEgress is false",
            ));
        }
        if let Some(problem) = self.guardrails.problems().into_iter().next() {
            let field = problem.pointer.trim_start_matches('/').replace('/', ".");
            return Err(Error::invalid(
                format!("{tier}.guardrails.{field}"),
                problem.message,
            ));
        }
        Ok(())
    }

    /// The guardrail settings of a tenant of this tier: the tier's with the tenant's own
    /// (`spec.guardrails`) replacing them field by field.
    pub fn guardrail_settings(&self, tenant: Option<&GuardrailSettings>) -> GuardrailSettings {
        match tenant {
            Some(t) => self.guardrails.overlay(t),
            None => self.guardrails.clone(),
        }
    }

    /// The compiled guardrails of a tenant of this tier; when the tenant's own settings do not
    /// compile, the tier's alone, with the errors.
    pub fn guardrails_for(
        &self,
        tenant: Option<&GuardrailSettings>,
    ) -> (Guardrails, Vec<mtp_policy::guardrails::SettingError>) {
        match Guardrails::compile(&self.guardrail_settings(tenant)) {
            Ok(g) => (g, Vec::new()),
            Err(errors) => (
                Guardrails::compile(&self.guardrails).unwrap_or_default(),
                errors,
            ),
        }
    }

    /// The egress a tenant gets: its own choice if the tier allows it, else the tier's default.
    pub fn effective_egress(&self, requested: Option<Egress>) -> Result<Egress> {
        match requested {
            None => Ok(self.default_egress),
            Some(Egress::Internet) if !self.internet_egress => Err(Error::invalid(
                "spec.egress",
                "internet egress is not allowed in this tier",
            )),
            Some(e) => Ok(e),
        }
    }
}

fn check_quantity(field: &str, value: &str) -> Result<()> {
    validate_quantity(field, value).map_err(|_| {
        Error::invalid(
            field,
            format!("{value:?} is not a Kubernetes quantity (examples: 500m, 2, 1Gi)"),
        )
    })
}

/// Checks a quota map: known resource names and valid quantities; `prefix` names the map.
pub fn validate_quota(prefix: &str, quota: &BTreeMap<String, String>) -> Result<()> {
    for (resource, quantity) in quota {
        if !QUOTA_RESOURCES.contains(&resource.as_str()) {
            return Err(Error::invalid(
                format!("{prefix}.{resource}"),
                format!(
                    "unknown quota resource; known: {}",
                    QUOTA_RESOURCES.join(", ")
                ),
            ));
        }
        check_quantity(&format!("{prefix}.{resource}"), quantity)?;
    }
    Ok(())
}

impl TierCatalogue {
    /// The settings of `tier`.
    pub fn get(&self, tier: Tier) -> &TierSpec {
        match tier {
            Tier::Free => &self.free,
            Tier::Pro => &self.pro,
            Tier::Enterprise => &self.enterprise,
        }
    }

    /// The built-in catalogue with the overrides of a YAML document applied: any field of any tier
    /// may be given; quota entries are merged key by key. `origin` names the source in errors.
    pub fn from_yaml_str(yaml: &str, origin: &str) -> Result<Self> {
        let file: CatalogueFile = if yaml.trim().is_empty() {
            CatalogueFile::default()
        } else {
            serde_yaml::from_str(yaml).map_err(|source| Error::Catalogue {
                origin: origin.to_string(),
                source: Box::new(source),
            })?
        };
        let mut catalogue = TierCatalogue::default();
        for (tier, o) in [
            (Tier::Free, file.free),
            (Tier::Pro, file.pro),
            (Tier::Enterprise, file.enterprise),
        ] {
            if let Some(o) = o {
                catalogue.get_mut(tier).apply(o);
            }
        }
        catalogue
            .validate()
            .map_err(|source| Error::CatalogueInvalid {
                origin: origin.to_string(),
                source: Box::new(source),
            })?;
        Ok(catalogue)
    }

    /// [`TierCatalogue::from_yaml_str`] on the contents of a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let yaml = std::fs::read_to_string(path).map_err(|source| Error::CatalogueIo {
            origin: origin.clone(),
            source,
        })?;
        Self::from_yaml_str(&yaml, &origin)
    }

    /// Checks every tier.
    pub fn validate(&self) -> Result<()> {
        for tier in Tier::ALL {
            self.get(tier).validate(tier)?;
        }
        Ok(())
    }

    fn get_mut(&mut self, tier: Tier) -> &mut TierSpec {
        match tier {
            Tier::Free => &mut self.free,
            Tier::Pro => &mut self.pro,
            Tier::Enterprise => &mut self.enterprise,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_is_valid_and_complete() {
        let c = TierCatalogue::default();
        c.validate().unwrap();
        for tier in Tier::ALL {
            assert_eq!(c.get(tier).quota.len(), QUOTA_RESOURCES.len());
        }
        assert!(!c.free.internet_egress);
        assert_eq!(c.free.default_egress, Egress::None);
    }

    #[test]
    fn overrides_merge_onto_defaults() {
        let yaml = "enterprise:\n  podSecurity: restricted\n  limitRange:\n    defaultCpu: \"4\"\nfree:\n  internetEgress: true\n  defaultEgress: internet\n";
        let c = TierCatalogue::from_yaml_str(yaml, "<t>").unwrap();
        assert_eq!(c.enterprise.pod_security, PodSecurityLevel::Restricted);
        assert_eq!(c.enterprise.limit_range.default_cpu, "4");
        assert_eq!(
            c.enterprise.limit_range.default_memory,
            TierCatalogue::default()
                .enterprise
                .limit_range
                .default_memory
        );
        assert_eq!(c.free.default_egress, Egress::Internet);
        assert_eq!(
            TierCatalogue::from_yaml_str("", "<t>").unwrap(),
            TierCatalogue::default()
        );
    }

    /// Found by fuzz/fuzz_targets/tier_catalogue.rs: a value out of range was reported without
    /// the file it came from.
    #[test]
    fn an_out_of_range_value_names_the_catalogue_file() {
        let err = TierCatalogue::from_yaml_str("free:\n  maxNamespaces: 0\n", "tiers.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "tier catalogue tiers.yaml: free.maxNamespaces: 0 is out of range: between 1 and 64"
        );
    }

    #[test]
    fn bad_catalogues_are_refused_with_the_place() {
        let err = TierCatalogue::from_yaml_str("pro:\n  maxNamespace: 3\n", "tiers.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tier catalogue tiers.yaml: "), "{err}");
        assert!(err.contains("unknown field `maxNamespace`"), "{err}");
        assert!(err.contains("line 2"), "{err}");

        let err = TierCatalogue::from_yaml_str("gold: {}\n", "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `gold`"), "{err}");

        let err = TierCatalogue::from_yaml_str("pro:\n  quota:\n    pods: many\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "tier catalogue t: pro.quota.pods: \"many\" is not a Kubernetes quantity"
            ),
            "{err}"
        );

        let err = TierCatalogue::from_yaml_str("pro:\n  quota:\n    secrets: \"3\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tier catalogue t: pro.quota.secrets: unknown quota resource"),
            "{err}"
        );

        let err = TierCatalogue::from_yaml_str("free:\n  maxNamespaces: 0\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tier catalogue t: free.maxNamespaces: 0 is out of range"),
            "{err}"
        );

        let err = TierCatalogue::from_yaml_str("free:\n  defaultEgress: internet\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tier catalogue t: free.defaultEgress: "),
            "{err}"
        );

        let err = TierCatalogue::from_yaml_str("free:\n  podSecurity: lax\n", "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `lax`"), "{err}");

        let err =
            TierCatalogue::from_yaml_str("free:\n  limitRange:\n    defaultMemory: 1 GB\n", "t")
                .unwrap_err()
                .to_string();
        assert!(
            err.starts_with("tier catalogue t: free.limitRange.defaultMemory: "),
            "{err}"
        );

        let err = TierCatalogue::from_file(Path::new("/nonexistent/tiers.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/nonexistent/tiers.yaml: cannot read"),
            "{err}"
        );
    }
}
