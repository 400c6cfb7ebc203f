//! The guardrail settings as a platform team writes them (in a tier of the catalogue and in a
//! Tenant's `spec.guardrails`), how a tenant's settings overlay its tier's, and their compiled
//! form, [`Guardrails`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::host::HostPattern;
use super::image::RegistryPattern;
use super::keys::KeyPattern;

/// The most entries a list setting holds.
pub const MAX_LIST_ENTRIES: usize = 64;

/// A Service `spec.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ServiceType {
    /// A virtual IP inside the cluster (always allowed; headless Services too).
    ClusterIP,
    /// A port on every node.
    NodePort,
    /// A cloud load balancer.
    LoadBalancer,
    /// A DNS alias to any name (a known way to reach what NetworkPolicies do not see).
    ExternalName,
}

impl ServiceType {
    /// The name as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::ExternalName => "ExternalName",
        }
    }

    fn parse(s: &str) -> Option<ServiceType> {
        match s {
            "ClusterIP" => Some(ServiceType::ClusterIP),
            "NodePort" => Some(ServiceType::NodePort),
            "LoadBalancer" => Some(ServiceType::LoadBalancer),
            "ExternalName" => Some(ServiceType::ExternalName),
            _ => None,
        }
    }
}

impl std::fmt::Display for ServiceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant's guardrails as written: every field optional. In a tier they are the defaults; in a
/// Tenant each field that is present replaces the tier's ([`GuardrailSettings::overlay`]). An
/// absent list allows anything; an empty list allows nothing.
///
/// ```
/// use mtp_policy::guardrails::{GuardrailSettings, Guardrails};
/// let tier: GuardrailSettings = serde_json::from_str(r#"{"allowedRegistries": ["ghcr.io/acme"]}"#).unwrap();
/// let tenant: GuardrailSettings = serde_json::from_str(r#"{"allowedStorageClasses": ["fast"]}"#).unwrap();
/// let effective = tier.overlay(&tenant);
/// assert_eq!(effective.allowed_registries.as_deref(), Some(&["ghcr.io/acme".to_string()][..]));
/// assert!(Guardrails::compile(&effective).is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardrailSettings {
    /// Registries and repository prefixes every container image (init and ephemeral ones
    /// included) must come from: `ghcr.io/acme` (that path and below), `docker.io` (a whole
    /// registry), `nginx` (meaning docker.io/library/nginx), `*.gcr.io` (any host under gcr.io).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 64), inner(length(min = 1, max = 255)))
    )]
    pub allowed_registries: Option<Vec<String>>,
    /// Every container must set `imagePullPolicy: Always` (so a node's cached image is never
    /// used without the registry's say: private images stay private).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_image_pull_always: Option<bool>,
    /// Service types allowed besides ClusterIP (NodePort, LoadBalancer, ExternalName).
    /// `spec.externalIPs` is always refused (CVE-2020-8554).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 4)))]
    pub allowed_service_types: Option<Vec<ServiceType>>,
    /// IngressClasses an Ingress may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 64), inner(length(min = 1, max = 253)))
    )]
    pub allowed_ingress_classes: Option<Vec<String>>,
    /// Hostnames an Ingress may serve: exact (`shop.example.com`) or a wildcard
    /// (`*.acme.example.com`: any host under acme.example.com).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 64), inner(length(min = 1, max = 253)))
    )]
    pub allowed_ingress_hostnames: Option<Vec<String>>,
    /// StorageClasses a PersistentVolumeClaim may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 64), inner(length(min = 1, max = 253)))
    )]
    pub allowed_storage_classes: Option<Vec<String>>,
    /// PriorityClasses a pod may name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 64), inner(length(min = 1, max = 253)))
    )]
    pub allowed_priority_classes: Option<Vec<String>>,
    /// RuntimeClasses a pod may name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 64), inner(length(min = 1, max = 253)))
    )]
    pub allowed_runtime_classes: Option<Vec<String>>,
    /// A nodeSelector added to every pod (for a dedicated node pool); a pod that sets one of
    /// these keys to another value is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Label keys the tenant may not set: `example.com/key` (exact), `example.com/*` (any key
    /// with that prefix), `*.example.com/*` (any prefix under example.com).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 64), inner(length(min = 1, max = 317)))
    )]
    pub forbidden_labels: Option<Vec<String>>,
    /// Annotation keys the tenant may not set, in the same forms as `forbiddenLabels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 64), inner(length(min = 1, max = 317)))
    )]
    pub forbidden_annotations: Option<Vec<String>>,
}

macro_rules! overlay_fields {
    ($base:expr, $over:expr, $($field:ident),*) => {
        GuardrailSettings {
            $($field: $over.$field.clone().or_else(|| $base.$field.clone()),)*
        }
    };
}

impl GuardrailSettings {
    /// These settings (a tier's) with every field that `tenant` sets replaced by the tenant's.
    pub fn overlay(&self, tenant: &GuardrailSettings) -> GuardrailSettings {
        overlay_fields!(
            self,
            tenant,
            allowed_registries,
            require_image_pull_always,
            allowed_service_types,
            allowed_ingress_classes,
            allowed_ingress_hostnames,
            allowed_storage_classes,
            allowed_priority_classes,
            allowed_runtime_classes,
            node_selector,
            forbidden_labels,
            forbidden_annotations
        )
    }

    /// Nothing set.
    pub fn is_empty(&self) -> bool {
        *self == GuardrailSettings::default()
    }

    /// Every invalid value, each with its JSON pointer below the settings (`/allowedRegistries/1`).
    pub fn problems(&self) -> Vec<SettingError> {
        match Guardrails::compile(self) {
            Ok(_) => Vec::new(),
            Err(errors) => errors,
        }
    }
}

/// One invalid setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct SettingError {
    /// A JSON pointer below the settings, such as `/allowedRegistries/1`.
    pub pointer: String,
    /// What is wrong and what is expected.
    pub message: String,
}

fn error(pointer: String, message: impl Into<String>) -> SettingError {
    SettingError {
        pointer,
        message: message.into(),
    }
}

/// The compiled guardrails of one tenant, ready to check objects (see [`super::evaluate`]).
/// `Guardrails::default()` allows everything but what is always refused (`externalIPs`) and
/// the Service types other than ClusterIP.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Guardrails {
    pub(crate) registries: Option<Vec<RegistryPattern>>,
    pub(crate) require_pull_always: bool,
    pub(crate) service_types: Vec<ServiceType>,
    pub(crate) ingress_classes: Option<Vec<String>>,
    pub(crate) ingress_hostnames: Option<Vec<HostPattern>>,
    pub(crate) storage_classes: Option<Vec<String>>,
    pub(crate) priority_classes: Option<Vec<String>>,
    pub(crate) runtime_classes: Option<Vec<String>>,
    pub(crate) node_selector: Vec<(String, String)>,
    pub(crate) forbidden_labels: Vec<KeyPattern>,
    pub(crate) forbidden_annotations: Vec<KeyPattern>,
}

/// A DNS-1123 subdomain, the form of the names of StorageClasses, PriorityClasses,
/// RuntimeClasses and IngressClasses.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of 1–63 characters
/// (alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric).
pub(crate) fn label_key_problem(key: &str) -> Option<&'static str> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns_subdomain(p)
    {
        return Some("its prefix is not a DNS subdomain (lower-case letters, digits, '-' and '.')");
    }
    label_value_problem(name).or(if name.is_empty() {
        Some("its name is empty")
    } else {
        None
    })
}

/// A label value: empty, or 1–63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub(crate) fn label_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return None;
    }
    let bytes = value.as_bytes();
    let ok_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if value.len() > 63 {
        Some("has more than 63 characters")
    } else if !bytes.iter().all(ok_char) {
        Some("may hold only letters, digits, '-', '_' and '.'")
    } else if !bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        || !bytes.last().is_some_and(u8::is_ascii_alphanumeric)
    {
        Some("must start and end with a letter or digit")
    } else {
        None
    }
}

fn names(
    field: &str,
    values: &Option<Vec<String>>,
    what: &str,
    errors: &mut Vec<SettingError>,
) -> Option<Vec<String>> {
    let values = values.as_ref()?;
    if values.len() > MAX_LIST_ENTRIES {
        errors.push(error(
            format!("/{field}"),
            format!("has {} entries; at most {MAX_LIST_ENTRIES}", values.len()),
        ));
    }
    for (i, v) in values.iter().enumerate() {
        if !is_dns_subdomain(v) {
            errors.push(error(
                format!("/{field}/{i}"),
                format!("{v:?} is not {what} name (a DNS subdomain: lower-case letters, digits, '-' and '.')"),
            ));
        } else if values[..i].contains(v) {
            errors.push(error(
                format!("/{field}/{i}"),
                format!("{v:?} is listed twice"),
            ));
        }
    }
    Some(values.clone())
}

fn patterns<T>(
    field: &str,
    values: &Option<Vec<String>>,
    parse: impl Fn(&str) -> Result<T, String>,
    errors: &mut Vec<SettingError>,
) -> Option<Vec<T>> {
    let values = values.as_ref()?;
    if values.len() > MAX_LIST_ENTRIES {
        errors.push(error(
            format!("/{field}"),
            format!("has {} entries; at most {MAX_LIST_ENTRIES}", values.len()),
        ));
    }
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        match parse(v) {
            Ok(p) => out.push(p),
            Err(message) => errors.push(error(format!("/{field}/{i}"), message)),
        }
    }
    Some(out)
}

impl Guardrails {
    /// Compiles settings (usually a tier's overlaid with a tenant's), or says every invalid
    /// value with its pointer.
    pub fn compile(settings: &GuardrailSettings) -> Result<Guardrails, Vec<SettingError>> {
        let mut errors = Vec::new();
        let registries = patterns(
            "allowedRegistries",
            &settings.allowed_registries,
            |s| RegistryPattern::parse(s).map_err(|e| e.to_string()),
            &mut errors,
        );
        let ingress_hostnames = patterns(
            "allowedIngressHostnames",
            &settings.allowed_ingress_hostnames,
            |s| HostPattern::parse(s).map_err(|e| e.to_string()),
            &mut errors,
        );
        let forbidden_labels = patterns(
            "forbiddenLabels",
            &settings.forbidden_labels,
            |s| KeyPattern::parse(s).map_err(|e| e.to_string()),
            &mut errors,
        );
        let forbidden_annotations = patterns(
            "forbiddenAnnotations",
            &settings.forbidden_annotations,
            |s| KeyPattern::parse(s).map_err(|e| e.to_string()),
            &mut errors,
        );
        let ingress_classes = names(
            "allowedIngressClasses",
            &settings.allowed_ingress_classes,
            "an IngressClass",
            &mut errors,
        );
        let storage_classes = names(
            "allowedStorageClasses",
            &settings.allowed_storage_classes,
            "a StorageClass",
            &mut errors,
        );
        let priority_classes = names(
            "allowedPriorityClasses",
            &settings.allowed_priority_classes,
            "a PriorityClass",
            &mut errors,
        );
        let runtime_classes = names(
            "allowedRuntimeClasses",
            &settings.allowed_runtime_classes,
            "a RuntimeClass",
            &mut errors,
        );
        let mut node_selector = Vec::new();
        for (key, value) in settings.node_selector.iter().flatten() {
            let pointer = format!(
                "/nodeSelector/{}",
                key.replace('~', "~0").replace('/', "~1")
            );
            if let Some(p) = label_key_problem(key) {
                errors.push(error(
                    pointer,
                    format!("key {key:?} is not a label key: {p}"),
                ));
            } else if let Some(p) = label_value_problem(value) {
                errors.push(error(
                    pointer,
                    format!("value {value:?} is not a label value: it {p}"),
                ));
            } else {
                node_selector.push((key.clone(), value.clone()));
            }
        }
        let mut service_types = settings.allowed_service_types.clone().unwrap_or_default();
        service_types.sort();
        service_types.dedup();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Guardrails {
            registries,
            require_pull_always: settings.require_image_pull_always.unwrap_or(false),
            service_types,
            ingress_classes,
            ingress_hostnames,
            storage_classes,
            priority_classes,
            runtime_classes,
            node_selector,
            forbidden_labels: forbidden_labels.unwrap_or_default(),
            forbidden_annotations: forbidden_annotations.unwrap_or_default(),
        })
    }

    /// The nodeSelector every pod of the tenant gets (key, value), in key order.
    pub fn node_selector(&self) -> &[(String, String)] {
        &self.node_selector
    }

    /// Whether a Service of this `spec.type` is allowed (ClusterIP always is).
    pub fn allows_service_type(&self, service_type: &str) -> bool {
        match ServiceType::parse(service_type) {
            Some(ServiceType::ClusterIP) => true,
            Some(t) => self.service_types.contains(&t),
            // An unknown type is the apiserver's to refuse; it is not one we were asked to allow.
            None => false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(json: &str) -> GuardrailSettings {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_tenant_field_replaces_the_tier_field_and_absent_ones_keep_it() {
        let tier = settings(
            r#"{"allowedRegistries": ["ghcr.io/platform"], "allowedServiceTypes": ["LoadBalancer"], "forbiddenLabels": ["mtp.dev/*"]}"#,
        );
        let tenant =
            settings(r#"{"allowedRegistries": ["ghcr.io/acme"], "allowedServiceTypes": []}"#);
        let effective = tier.overlay(&tenant);
        assert_eq!(
            effective.allowed_registries,
            Some(vec!["ghcr.io/acme".into()])
        );
        assert_eq!(
            effective.allowed_service_types,
            Some(vec![]),
            "an empty list replaces too"
        );
        assert_eq!(effective.forbidden_labels, Some(vec!["mtp.dev/*".into()]));
        assert_eq!(tier.overlay(&GuardrailSettings::default()), tier);
    }

    #[test]
    fn unknown_fields_and_service_types_are_refused_by_name() {
        let e =
            serde_json::from_str::<GuardrailSettings>(r#"{"allowedRegistry": []}"#).unwrap_err();
        assert!(e.to_string().contains("allowedRegistry"), "{e}");
        let e =
            serde_json::from_str::<GuardrailSettings>(r#"{"allowedServiceTypes": ["Nodeport"]}"#)
                .unwrap_err();
        assert!(e.to_string().contains("Nodeport"), "{e}");
    }

    #[test]
    fn every_invalid_value_is_named_with_its_pointer() {
        let s = settings(
            r#"{
              "allowedRegistries": ["ghcr.io/acme", "ghcr.io/UPPER", "nginx:1.25"],
              "allowedIngressHostnames": ["shop.example.com", "*"],
              "allowedStorageClasses": ["fast", "Fast", "fast"],
              "nodeSelector": {"pool/": "a", "pool": "not valid"},
              "forbiddenLabels": ["*"]
            }"#,
        );
        let errors = Guardrails::compile(&s).unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/allowedRegistries/1",
                "/allowedRegistries/2",
                "/allowedIngressHostnames/1",
                "/forbiddenLabels/0",
                "/allowedStorageClasses/1",
                "/allowedStorageClasses/2",
                "/nodeSelector/pool",
                "/nodeSelector/pool~1",
            ],
            "{errors:?}"
        );
        assert!(errors[4].message.contains("\"Fast\""), "{}", errors[4]);
        assert!(errors[5].message.contains("twice"), "{}", errors[5]);
        assert!(errors[6].message.contains("\"not valid\""), "{}", errors[6]);
        assert_eq!(s.problems(), errors);
    }

    #[test]
    fn too_many_entries_are_refused() {
        let many: Vec<String> = (0..65).map(|i| format!("c{i}")).collect();
        let s = GuardrailSettings {
            allowed_storage_classes: Some(many),
            ..GuardrailSettings::default()
        };
        let errors = Guardrails::compile(&s).unwrap_err();
        assert_eq!(errors[0].pointer, "/allowedStorageClasses");
        assert!(errors[0].message.contains("65 entries"), "{}", errors[0]);
    }

    #[test]
    fn service_types_clusterip_always_the_rest_when_listed() {
        let g =
            Guardrails::compile(&settings(r#"{"allowedServiceTypes": ["LoadBalancer"]}"#)).unwrap();
        assert!(g.allows_service_type("ClusterIP"));
        assert!(g.allows_service_type("LoadBalancer"));
        assert!(!g.allows_service_type("NodePort"));
        assert!(!g.allows_service_type("ExternalName"));
        assert!(!g.allows_service_type("Bogus"));
        let open = Guardrails::default();
        assert!(open.allows_service_type("ClusterIP") && !open.allows_service_type("NodePort"));
    }

    #[test]
    fn label_syntax() {
        assert_eq!(label_key_problem("pool"), None);
        assert_eq!(label_key_problem("example.com/pool"), None);
        assert!(label_key_problem("Example.com/pool").is_some());
        assert!(label_key_problem("example.com/").is_some());
        assert!(label_key_problem("").is_some());
        assert!(label_key_problem("-a").is_some());
        assert_eq!(label_value_problem(""), None);
        assert_eq!(label_value_problem("a.b_c-D9"), None);
        assert!(label_value_problem(&"a".repeat(64)).is_some());
        assert!(label_value_problem("a b").is_some());
        assert!(label_value_problem("a-").is_some());
    }
}
