//! Builders for the Kubernetes objects that isolate a tenant: `NetworkPolicy`, `LimitRange`,
//! `ResourceQuota` and `RoleBinding`s.
//!
//! They take plain parameters (names, label maps, quantities as strings), so any controller can
//! reuse them without depending on mtp's `Tenant` type. Every builder checks its input and answers
//! a [`BuildError`] that names the bad field instead of producing an object the apiserver would
//! refuse.
//!
//! ```
//! use mtp_core::builders::{isolation_network_policy, IsolationParams, ObjectBase};
//!
//! let namespaces = vec!["tenant-acme".to_string(), "tenant-acme-ci".to_string()];
//! let params = IsolationParams::new("tenant-acme", &namespaces, "mtp-system");
//! let policy = isolation_network_policy(&params, &ObjectBase::default()).unwrap();
//! assert_eq!(policy.metadata.name.as_deref(), Some("tenant-isolation"));
//! ```

use std::collections::BTreeMap;
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The name of the tenant isolation `NetworkPolicy`.
pub const NETWORK_POLICY_NAME: &str = "tenant-isolation";
/// The name of the tenant `LimitRange`.
pub const LIMIT_RANGE_NAME: &str = "tenant-defaults";
/// The name of the tenant `ResourceQuota`.
pub const RESOURCE_QUOTA_NAME: &str = "tenant-quota";
/// The label every namespace carries automatically (set by the apiserver, cannot be forged).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The IPv4 link-local range (holds the cloud metadata endpoint 169.254.169.254), never allowed.
pub const LINK_LOCAL_V4: &str = "169.254.0.0/16";
/// The IPv6 link-local range, never allowed.
pub const LINK_LOCAL_V6: &str = "fe80::/10";

/// An error in the parameters given to a builder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A name is not a valid DNS-1123 label.
    #[error("{field}: {value:?} is not a valid DNS-1123 label: {reason}")]
    InvalidName {
        /// Which parameter holds the name.
        field: String,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A resource quantity does not parse as a Kubernetes quantity.
    #[error("{field}: {value:?} is not a Kubernetes quantity (examples: 500m, 2, 1Gi, 10)")]
    InvalidQuantity {
        /// Which parameter holds the quantity.
        field: String,
        /// The rejected value.
        value: String,
    },
    /// A CIDR is malformed.
    #[error("{field}: {value:?} is not a CIDR (address/prefix)")]
    InvalidCidr {
        /// Which parameter holds the CIDR.
        field: String,
        /// The rejected value.
        value: String,
    },
    /// A user name (RBAC subject) is empty or has control characters.
    #[error(
        "{field}: user name {value:?} must be non-empty, without control characters, at most 256 bytes"
    )]
    InvalidUser {
        /// Which parameter holds the user.
        field: String,
        /// The rejected value.
        value: String,
    },
    /// A label key or value is malformed.
    #[error("{field}: label {key:?}={value:?} is not a valid Kubernetes label")]
    InvalidLabel {
        /// Which parameter holds the label.
        field: String,
        /// The label key.
        key: String,
        /// The label value.
        value: String,
    },
}

/// The result type of the builders.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;

/// Metadata every built object gets: labels and owner references.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectBase {
    /// Labels put on the object.
    pub labels: BTreeMap<String, String>,
    /// Owner references put on the object.
    pub owner_references: Vec<OwnerReference>,
}

impl ObjectBase {
    fn meta(&self, namespace: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
            owner_references: (!self.owner_references.is_empty())
                .then(|| self.owner_references.clone()),
            ..ObjectMeta::default()
        }
    }

    fn validate(&self) -> Result<()> {
        for (key, value) in &self.labels {
            validate_label("labels", key, value)?;
        }
        Ok(())
    }
}

/// Checks that `value` is a DNS-1123 label: at most 63 characters, lower-case alphanumerics or
/// `-`, starting and ending with an alphanumeric. `field` names the parameter in the error.
///
/// ```
/// use mtp_core::builders::validate_dns1123_label;
/// assert!(validate_dns1123_label("namespace", "tenant-acme").is_ok());
/// assert!(validate_dns1123_label("namespace", "Tenant_Acme").is_err());
/// ```
pub fn validate_dns1123_label(field: &str, value: &str) -> Result<()> {
    match dns1123_problem(value) {
        None => Ok(()),
        Some(reason) => Err(BuildError::InvalidName {
            field: field.to_string(),
            value: value.to_string(),
            reason,
        }),
    }
}

/// What makes `value` not a DNS-1123 label, if anything.
fn dns1123_problem(value: &str) -> Option<&'static str> {
    dns1123_bytes_problem(value.as_bytes())
}

fn dns1123_bytes_problem(bytes: &[u8]) -> Option<&'static str> {
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Some("must not be empty");
    };
    if bytes.len() > 63 {
        return Some("must be at most 63 characters");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return Some("must consist of lower-case letters, digits and '-'");
    }
    if *first == b'-' || *last == b'-' {
        return Some("must start and end with a letter or digit");
    }
    None
}

/// Checks that `value` is a Kubernetes resource quantity such as `500m`, `2`, `1Gi` or `1e3`.
///
/// ```
/// use mtp_core::builders::validate_quantity;
/// assert!(validate_quantity("cpu", "500m").is_ok());
/// assert!(validate_quantity("memory", "1 GB").is_err());
/// ```
pub fn validate_quantity(field: &str, value: &str) -> Result<()> {
    if is_quantity(value) {
        Ok(())
    } else {
        Err(BuildError::InvalidQuantity {
            field: field.to_string(),
            value: value.to_string(),
        })
    }
}

fn is_quantity(value: &str) -> bool {
    let s = value.strip_prefix(['+', '-']).unwrap_or(value);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    if number.is_empty() || number == "." || number.bytes().filter(|&b| b == b'.').count() > 1 {
        return false;
    }
    match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti"
        | "Pi" | "Ei" => true,
        exp => {
            let Some(rest) = exp.strip_prefix(['e', 'E']) else {
                return false;
            };
            let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

fn validate_cidr(field: &str, value: &str) -> Result<()> {
    let bad = || BuildError::InvalidCidr {
        field: field.to_string(),
        value: value.to_string(),
    };
    let (addr, prefix) = value.split_once('/').ok_or_else(bad)?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    match addr.parse::<std::net::IpAddr>().map_err(|_| bad())? {
        std::net::IpAddr::V4(_) if prefix <= 32 => Ok(()),
        std::net::IpAddr::V6(_) if prefix <= 128 => Ok(()),
        _ => Err(bad()),
    }
}

fn validate_label(field: &str, key: &str, value: &str) -> Result<()> {
    // Byte loops: every built object checks its labels, so this is on the plan's hot path.
    fn name_ok(s: &[u8], max: usize) -> bool {
        match (s.first(), s.last()) {
            (Some(first), Some(last)) => {
                s.len() <= max
                    && first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && s.iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            }
            _ => false,
        }
    }
    let bytes = key.as_bytes();
    let (prefix, name) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => (Some(&bytes[..i]), &bytes[i + 1..]),
        None => (None, bytes),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        p.len() <= 253
            && p.split(|&b| b == b'.')
                .all(|part| dns1123_bytes_problem(part).is_none())
    });
    let value_ok = value.is_empty() || name_ok(value.as_bytes(), 63);
    if prefix_ok && name_ok(name, 63) && value_ok {
        Ok(())
    } else {
        Err(BuildError::InvalidLabel {
            field: field.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

fn user_ok(value: &str) -> bool {
    !(value.trim().is_empty() || value.len() > 256 || value.chars().any(char::is_control))
}

/// Builds a `RoleBinding` named `name` in `namespace` that grants the ClusterRole `cluster_role`
/// (for example `admin`, `edit` or `view`) to each of `users` (kind `User`, names as the IdP
/// gives them). An empty `users` list gives a binding without subjects, so applying it revokes
/// the access granted earlier.
///
/// ```
/// use mtp_core::builders::{role_binding, ObjectBase};
/// let rb = role_binding("tenant-acme", "tenant-admins", "admin", &["alice@acme.io".into()], &ObjectBase::default()).unwrap();
/// assert_eq!(rb.role_ref.name, "admin");
/// ```
pub fn role_binding(
    namespace: &str,
    name: &str,
    cluster_role: &str,
    users: &[String],
    base: &ObjectBase,
) -> Result<RoleBinding> {
    role_binding_with_groups(namespace, name, cluster_role, users, &[], base)
}

/// [`role_binding`] for `users` and `groups` (kind `Group`, names as the IdP's `groups` claim
/// gives them): the users first, then the groups.
///
/// ```
/// use mtp_core::builders::{role_binding_with_groups, ObjectBase};
/// let rb = role_binding_with_groups("tenant-acme", "tenant-admins", "admin",
///     &["alice@acme.io".into()], &["acme-admins".into()], &ObjectBase::default()).unwrap();
/// let subjects = rb.subjects.unwrap();
/// assert_eq!((subjects[1].kind.as_str(), subjects[1].name.as_str()), ("Group", "acme-admins"));
/// ```
pub fn role_binding_with_groups(
    namespace: &str,
    name: &str,
    cluster_role: &str,
    users: &[String],
    groups: &[String],
    base: &ObjectBase,
) -> Result<RoleBinding> {
    validate_dns1123_label("namespace", namespace)?;
    validate_dns1123_label("name", name)?;
    validate_dns1123_label("cluster_role", cluster_role)?;
    base.validate()?;
    let mut subjects = Vec::with_capacity(users.len() + groups.len());
    for (kind, field, names) in [("User", "users", users), ("Group", "groups", groups)] {
        for (i, member) in names.iter().enumerate() {
            if !user_ok(member) {
                return Err(BuildError::InvalidUser {
                    field: format!("{field}[{i}]"),
                    value: member.clone(),
                });
            }
            subjects.push(Subject {
                api_group: Some("rbac.authorization.k8s.io".to_string()),
                kind: kind.to_string(),
                name: member.clone(),
                namespace: None,
            });
        }
    }
    Ok(RoleBinding {
        metadata: base.meta(namespace, name),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "ClusterRole".to_string(),
            name: cluster_role.to_string(),
        },
        subjects: (!subjects.is_empty()).then_some(subjects),
    })
}

/// The parameters of [`isolation_network_policy`].
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationParams<'a> {
    /// The namespace the policy goes in.
    pub namespace: &'a str,
    /// All namespaces of the same tenant (may include `namespace`): traffic among them is allowed.
    pub tenant_namespaces: &'a [String],
    /// The platform's namespace: egress to it is allowed, and ingress from its pods that carry
    /// `platform_pod_labels`.
    pub platform_namespace: &'a str,
    /// Labels that mark platform pods allowed to reach tenant pods (for example an ingress gateway).
    pub platform_pod_labels: &'a BTreeMap<String, String>,
    /// The namespace of the cluster DNS (`kube-system`).
    pub dns_namespace: &'a str,
    /// Labels of the cluster DNS pods (`k8s-app=kube-dns`).
    pub dns_pod_labels: &'a BTreeMap<String, String>,
    /// Whether egress to the internet (0.0.0.0/0 and ::/0, minus link-local) is allowed.
    pub internet_egress: bool,
    /// Extra CIDRs cut out of the internet egress (for example the node or pod networks). The
    /// link-local ranges are always cut out.
    pub internet_except: &'a [String],
}

/// The default labels of platform pods allowed into tenant namespaces: `mtp.dev/tenant-access=true`.
pub static DEFAULT_PLATFORM_POD_LABELS: LazyLock<BTreeMap<String, String>> =
    LazyLock::new(|| BTreeMap::from([("mtp.dev/tenant-access".to_string(), "true".to_string())]));

/// The default labels of the cluster DNS pods: `k8s-app=kube-dns`.
pub static DEFAULT_DNS_POD_LABELS: LazyLock<BTreeMap<String, String>> =
    LazyLock::new(|| BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]));

impl<'a> IsolationParams<'a> {
    /// Parameters with the usual defaults: DNS in `kube-system` labelled `k8s-app=kube-dns`,
    /// platform pods labelled `mtp.dev/tenant-access=true`, no internet egress.
    pub fn new(
        namespace: &'a str,
        tenant_namespaces: &'a [String],
        platform_namespace: &'a str,
    ) -> Self {
        IsolationParams {
            namespace,
            tenant_namespaces,
            platform_namespace,
            platform_pod_labels: &DEFAULT_PLATFORM_POD_LABELS,
            dns_namespace: "kube-system",
            dns_pod_labels: &DEFAULT_DNS_POD_LABELS,
            internet_egress: false,
            internet_except: &[],
        }
    }
}

fn namespace_is(name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(
            NAMESPACE_NAME_LABEL.to_string(),
            name.to_string(),
        )])),
        match_expressions: None,
    }
}

fn namespace_in(names: Vec<String>) -> LabelSelector {
    LabelSelector {
        match_labels: None,
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: NAMESPACE_NAME_LABEL.to_string(),
            operator: "In".to_string(),
            values: Some(names),
        }]),
    }
}

fn pods_labelled(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: (!labels.is_empty()).then(|| labels.clone()),
        match_expressions: None,
    }
}

fn port(protocol: &str, number: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        end_port: None,
        port: Some(IntOrString::Int(number)),
        protocol: Some(protocol.to_string()),
    }
}

/// Builds the `tenant-isolation` NetworkPolicy: it selects every pod of the namespace, denies all
/// ingress and egress, then allows
/// - ingress from the tenant's own namespaces and from labelled platform pods;
/// - egress to the tenant's own namespaces, to the cluster DNS (UDP and TCP 53) and to the
///   platform namespace;
/// - when `internet_egress`, egress to 0.0.0.0/0 and ::/0 except the link-local ranges
///   (169.254.0.0/16 and fe80::/10, home of the cloud metadata endpoint) and `internet_except`.
///
/// Namespaces are selected by the `kubernetes.io/metadata.name` label the apiserver sets itself,
/// so a tenant cannot forge membership by labelling its own namespace.
pub fn isolation_network_policy(
    params: &IsolationParams<'_>,
    base: &ObjectBase,
) -> Result<NetworkPolicy> {
    validate_dns1123_label("namespace", params.namespace)?;
    validate_dns1123_label("platform_namespace", params.platform_namespace)?;
    validate_dns1123_label("dns_namespace", params.dns_namespace)?;
    base.validate()?;
    for (key, value) in params.platform_pod_labels {
        validate_label("platform_pod_labels", key, value)?;
    }
    for (key, value) in params.dns_pod_labels {
        validate_label("dns_pod_labels", key, value)?;
    }
    let mut tenant_namespaces: Vec<String> = Vec::with_capacity(params.tenant_namespaces.len() + 1);
    tenant_namespaces.push(params.namespace.to_string());
    for (i, ns) in params.tenant_namespaces.iter().enumerate() {
        if dns1123_problem(ns).is_some() {
            validate_dns1123_label(&format!("tenant_namespaces[{i}]"), ns)?;
        }
        if !tenant_namespaces.contains(ns) {
            tenant_namespaces.push(ns.clone());
        }
    }
    tenant_namespaces.sort();
    let mut excepts_v4 = vec![LINK_LOCAL_V4.to_string()];
    let mut excepts_v6 = vec![LINK_LOCAL_V6.to_string()];
    for (i, cidr) in params.internet_except.iter().enumerate() {
        validate_cidr(&format!("internet_except[{i}]"), cidr)?;
        let list = if cidr.contains(':') {
            &mut excepts_v6
        } else {
            &mut excepts_v4
        };
        if !list.contains(cidr) {
            list.push(cidr.clone());
        }
    }

    let same_tenant = NetworkPolicyPeer {
        namespace_selector: Some(namespace_in(tenant_namespaces)),
        ..NetworkPolicyPeer::default()
    };
    let ingress = vec![
        NetworkPolicyIngressRule {
            from: Some(vec![same_tenant.clone()]),
            ports: None,
        },
        NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(namespace_is(params.platform_namespace)),
                pod_selector: Some(pods_labelled(params.platform_pod_labels)),
                ip_block: None,
            }]),
            ports: None,
        },
    ];
    let mut egress = vec![
        NetworkPolicyEgressRule {
            to: Some(vec![same_tenant]),
            ports: None,
        },
        NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(namespace_is(params.dns_namespace)),
                pod_selector: Some(pods_labelled(params.dns_pod_labels)),
                ip_block: None,
            }]),
            ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
        },
        NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(namespace_is(params.platform_namespace)),
                ..NetworkPolicyPeer::default()
            }]),
            ports: None,
        },
    ];
    if params.internet_egress {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![
                NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: "0.0.0.0/0".to_string(),
                        except: Some(excepts_v4),
                    }),
                    ..NetworkPolicyPeer::default()
                },
                NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: "::/0".to_string(),
                        except: Some(excepts_v6),
                    }),
                    ..NetworkPolicyPeer::default()
                },
            ]),
            ports: None,
        });
    }
    Ok(NetworkPolicy {
        metadata: base.meta(params.namespace, NETWORK_POLICY_NAME),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    })
}

/// Container defaults of a [`limit_range`]: quantities as Kubernetes writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerDefaults<'a> {
    /// Default CPU limit (`default.cpu`).
    pub default_cpu: &'a str,
    /// Default memory limit (`default.memory`).
    pub default_memory: &'a str,
    /// Default CPU request (`defaultRequest.cpu`).
    pub default_request_cpu: &'a str,
    /// Default memory request (`defaultRequest.memory`).
    pub default_request_memory: &'a str,
}

/// Builds the `tenant-defaults` LimitRange that gives containers without resources the default
/// limits and requests.
///
/// ```
/// use mtp_core::builders::{limit_range, ContainerDefaults, ObjectBase};
/// let defaults = ContainerDefaults { default_cpu: "500m", default_memory: "512Mi", default_request_cpu: "100m", default_request_memory: "128Mi" };
/// let lr = limit_range("tenant-acme", &defaults, &ObjectBase::default()).unwrap();
/// assert_eq!(lr.metadata.name.as_deref(), Some("tenant-defaults"));
/// ```
pub fn limit_range(
    namespace: &str,
    defaults: &ContainerDefaults<'_>,
    base: &ObjectBase,
) -> Result<LimitRange> {
    validate_dns1123_label("namespace", namespace)?;
    base.validate()?;
    let pair = |field_cpu: &str, cpu: &str, field_mem: &str, mem: &str| -> Result<_> {
        validate_quantity(field_cpu, cpu)?;
        validate_quantity(field_mem, mem)?;
        Ok(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(mem.to_string())),
        ]))
    };
    let default = pair(
        "default.cpu",
        defaults.default_cpu,
        "default.memory",
        defaults.default_memory,
    )?;
    let default_request = pair(
        "defaultRequest.cpu",
        defaults.default_request_cpu,
        "defaultRequest.memory",
        defaults.default_request_memory,
    )?;
    Ok(LimitRange {
        metadata: base.meta(namespace, LIMIT_RANGE_NAME),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_string(),
                default: Some(default),
                default_request: Some(default_request),
                ..LimitRangeItem::default()
            }],
        }),
    })
}

/// Builds the `tenant-quota` ResourceQuota with the given hard limits (resource name → quantity,
/// for example `requests.cpu` → `4`, `pods` → `20`).
///
/// ```
/// use std::collections::BTreeMap;
/// use mtp_core::builders::{resource_quota, ObjectBase};
/// let hard = BTreeMap::from([("pods".to_string(), "20".to_string())]);
/// let rq = resource_quota("tenant-acme", &hard, &ObjectBase::default()).unwrap();
/// assert_eq!(rq.metadata.name.as_deref(), Some("tenant-quota"));
/// ```
pub fn resource_quota(
    namespace: &str,
    hard: &BTreeMap<String, String>,
    base: &ObjectBase,
) -> Result<ResourceQuota> {
    validate_dns1123_label("namespace", namespace)?;
    base.validate()?;
    let mut limits = BTreeMap::new();
    for (resource, quantity) in hard {
        validate_label("hard", resource, "")?;
        if !is_quantity(quantity) {
            validate_quantity(&format!("hard.{resource}"), quantity)?;
        }
        limits.insert(resource.clone(), Quantity(quantity.clone()));
    }
    Ok(ResourceQuota {
        metadata: base.meta(namespace, RESOURCE_QUOTA_NAME),
        spec: Some(ResourceQuotaSpec {
            hard: Some(limits),
            ..ResourceQuotaSpec::default()
        }),
        status: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ns(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dns1123_labels() {
        assert!(validate_dns1123_label("n", "a").is_ok());
        assert!(validate_dns1123_label("n", "tenant-0-x").is_ok());
        assert!(validate_dns1123_label("n", &"a".repeat(63)).is_ok());
        let err = validate_dns1123_label("name", &"a".repeat(64)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "name: {:?} is not a valid DNS-1123 label: must be at most 63 characters",
                "a".repeat(64)
            )
        );
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "ä", "a b"] {
            assert!(validate_dns1123_label("n", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quantities() {
        for good in [
            "1", "0", "500m", "1.5", "1Gi", "512Mi", "10k", "1e3", "1E-2", "+2", ".5", "100n",
        ] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in [
            "", "m", "1 Gi", "1GB", "1.2.3", "abc", "1e", "1Gii", ".", "--1",
        ] {
            assert!(!is_quantity(bad), "{bad}");
        }
        let err = validate_quantity("hard.pods", "lots").unwrap_err();
        assert!(err.to_string().starts_with("hard.pods: \"lots\""));
    }

    #[test]
    fn role_binding_grants_cluster_role_to_users() {
        let rb = role_binding(
            "tenant-a",
            "tenant-admins",
            "admin",
            &ns(&["alice", "bob@x.io"]),
            &ObjectBase::default(),
        )
        .unwrap();
        assert_eq!(rb.role_ref.kind, "ClusterRole");
        assert_eq!(rb.role_ref.name, "admin");
        let subjects = rb.subjects.unwrap();
        assert_eq!(subjects.len(), 2);
        assert!(subjects.iter().all(|s| s.kind == "User"));
        assert_eq!(subjects[1].name, "bob@x.io");
    }

    #[test]
    fn role_binding_rejects_bad_users_and_names() {
        let err = role_binding(
            "tenant-a",
            "rb",
            "admin",
            &ns(&["ok", " "]),
            &ObjectBase::default(),
        )
        .unwrap_err();
        assert!(matches!(err, BuildError::InvalidUser { ref field, .. } if field == "users[1]"));
        let err = role_binding("Tenant", "rb", "admin", &[], &ObjectBase::default()).unwrap_err();
        assert!(matches!(err, BuildError::InvalidName { ref field, .. } if field == "namespace"));
        let err =
            role_binding("t", "rb", "admin", &ns(&["a\nb"]), &ObjectBase::default()).unwrap_err();
        assert!(matches!(err, BuildError::InvalidUser { .. }));
    }

    #[test]
    fn network_policy_denies_by_default_and_allows_own_namespaces() {
        let tenant = ns(&["tenant-a", "tenant-a-ci"]);
        let params = IsolationParams::new("tenant-a", &tenant, "mtp-system");
        let np = isolation_network_policy(&params, &ObjectBase::default()).unwrap();
        let spec = np.spec.unwrap();
        assert_eq!(spec.pod_selector, Some(LabelSelector::default()));
        assert_eq!(
            spec.policy_types.unwrap(),
            vec!["Ingress".to_string(), "Egress".to_string()]
        );
        let ingress = spec.ingress.unwrap();
        let from = ingress[0].from.as_ref().unwrap();
        let expr = &from[0]
            .namespace_selector
            .as_ref()
            .unwrap()
            .match_expressions
            .as_ref()
            .unwrap()[0];
        assert_eq!(expr.key, NAMESPACE_NAME_LABEL);
        assert_eq!(expr.values.as_ref().unwrap(), &tenant);
        let egress = spec.egress.unwrap();
        assert_eq!(egress.len(), 3, "no internet rule without internet egress");
        let dns_ports = egress[1].ports.as_ref().unwrap();
        assert_eq!(dns_ports.len(), 2);
    }

    #[test]
    fn internet_egress_excludes_link_local() {
        let tenant = ns(&["tenant-a"]);
        let extra = ns(&["10.0.0.0/8", "fd00::/8"]);
        let mut params = IsolationParams::new("tenant-a", &tenant, "mtp-system");
        params.internet_egress = true;
        params.internet_except = &extra;
        let np = isolation_network_policy(&params, &ObjectBase::default()).unwrap();
        let egress = np.spec.unwrap().egress.unwrap();
        let to = egress[3].to.as_ref().unwrap();
        let v4 = to[0].ip_block.as_ref().unwrap();
        assert_eq!(v4.cidr, "0.0.0.0/0");
        assert_eq!(
            v4.except.as_ref().unwrap(),
            &ns(&[LINK_LOCAL_V4, "10.0.0.0/8"])
        );
        let v6 = to[1].ip_block.as_ref().unwrap();
        assert_eq!(v6.cidr, "::/0");
        assert_eq!(
            v6.except.as_ref().unwrap(),
            &ns(&[LINK_LOCAL_V6, "fd00::/8"])
        );
    }

    #[test]
    fn network_policy_rejects_bad_parameters() {
        let tenant = ns(&["tenant-a", "Bad_NS"]);
        let params = IsolationParams::new("tenant-a", &tenant, "mtp-system");
        let err = isolation_network_policy(&params, &ObjectBase::default()).unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidName { ref field, .. } if field == "tenant_namespaces[1]")
        );
        let tenant = ns(&["tenant-a"]);
        let extra = ns(&["10.0.0.0/33"]);
        let mut params = IsolationParams::new("tenant-a", &tenant, "mtp-system");
        params.internet_except = &extra;
        let err = isolation_network_policy(&params, &ObjectBase::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "internet_except[0]: \"10.0.0.0/33\" is not a CIDR (address/prefix)"
        );
        let bad_labels = BTreeMap::from([("bad key!".to_string(), "x".to_string())]);
        let mut params = IsolationParams::new("tenant-a", &tenant, "mtp-system");
        params.platform_pod_labels = &bad_labels;
        assert!(matches!(
            isolation_network_policy(&params, &ObjectBase::default()).unwrap_err(),
            BuildError::InvalidLabel { .. }
        ));
    }

    #[test]
    fn limit_range_and_quota() {
        let defaults = ContainerDefaults {
            default_cpu: "1",
            default_memory: "1Gi",
            default_request_cpu: "100m",
            default_request_memory: "128Mi",
        };
        let lr = limit_range("tenant-a", &defaults, &ObjectBase::default()).unwrap();
        let item = &lr.spec.unwrap().limits[0];
        assert_eq!(item.type_, "Container");
        assert_eq!(item.default.as_ref().unwrap()["memory"].0, "1Gi");
        assert_eq!(item.default_request.as_ref().unwrap()["cpu"].0, "100m");
        let bad = ContainerDefaults {
            default_memory: "a lot",
            ..defaults
        };
        let err = limit_range("tenant-a", &bad, &ObjectBase::default()).unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidQuantity { ref field, .. } if field == "default.memory")
        );

        let hard = BTreeMap::from([
            ("pods".to_string(), "10".to_string()),
            ("requests.storage".to_string(), "10Gi".to_string()),
        ]);
        let rq = resource_quota("tenant-a", &hard, &ObjectBase::default()).unwrap();
        assert_eq!(rq.spec.unwrap().hard.unwrap()["requests.storage"].0, "10Gi");
        let hard = BTreeMap::from([("pods".to_string(), "ten".to_string())]);
        let err = resource_quota("tenant-a", &hard, &ObjectBase::default()).unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidQuantity { ref field, .. } if field == "hard.pods")
        );
    }

    #[test]
    fn base_metadata_is_applied() {
        let base = ObjectBase {
            labels: BTreeMap::from([("mtp.dev/tenant".to_string(), "a".to_string())]),
            owner_references: vec![OwnerReference {
                api_version: "mtp.dev/v1alpha1".into(),
                kind: "Tenant".into(),
                name: "a".into(),
                uid: "u".into(),
                ..OwnerReference::default()
            }],
        };
        let rq = resource_quota("tenant-a", &BTreeMap::new(), &base).unwrap();
        assert_eq!(rq.metadata.labels.unwrap()["mtp.dev/tenant"], "a");
        assert_eq!(rq.metadata.owner_references.unwrap()[0].kind, "Tenant");
        assert_eq!(rq.metadata.namespace.as_deref(), Some("tenant-a"));
    }
}
