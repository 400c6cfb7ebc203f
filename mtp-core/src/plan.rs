//! The tenant plan: a pure function from a [`Tenant`], the [`TierCatalogue`] and the
//! [`PlatformSettings`] to the exact Kubernetes objects that must exist for it.
//!
//! ```
//! use mtp_core::{plan, PlatformSettings, Tenant, TierCatalogue, Tier};
//! let tenant = Tenant::test("acme").with_tier(Tier::Pro).with_admin("alice").with_namespace("ci");
//! let plan = plan(&tenant, &TierCatalogue::default(), &PlatformSettings::default()).unwrap();
//! assert_eq!(plan.namespace_names(), vec!["tenant-acme", "tenant-acme-ci"]);
//! println!("{}", plan.to_yaml().unwrap());
//! ```

use std::collections::BTreeMap;

use crate::builders::{self, BuildError, ContainerDefaults, IsolationParams, ObjectBase};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Serialize};

use crate::naming::{extra_namespace, primary_namespace};
use crate::{Error, Result, Tenant, TierCatalogue};

/// The label naming a tenant on every object of its plan.
pub const TENANT_LABEL: &str = "mtp.dev/tenant";
/// The managed-by label and its value.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "mtp");
/// The Pod Security Admission enforce label.
pub const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// The Pod Security Admission enforce-version label.
pub const PSA_ENFORCE_VERSION: &str = "pod-security.kubernetes.io/enforce-version";

/// The RoleBindings of a tenant: name, ClusterRole.
pub const ROLE_BINDINGS: [(&str, &str); 3] = [
    ("tenant-admins", "admin"),
    ("tenant-operators", "edit"),
    ("tenant-viewers", "view"),
];

/// The name of the ClusterRole (and its ClusterRoleBinding) that lets the members of tenant
/// `tenant` read their own Tenant resource: `mtp-tenant-<tenant>`.
pub fn tenant_reader_name(tenant: &str) -> String {
    format!("mtp-tenant-{tenant}")
}

/// Cluster-wide settings of the platform that the plan depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformSettings {
    /// The namespace mtp runs in (`mtp-system`).
    pub platform_namespace: String,
    /// Labels of platform pods allowed to reach tenant pods (ingress gateways, monitoring).
    pub platform_pod_labels: BTreeMap<String, String>,
    /// The cluster DNS namespace (`kube-system`).
    pub dns_namespace: String,
    /// Labels of the cluster DNS pods (`k8s-app=kube-dns`).
    pub dns_pod_labels: BTreeMap<String, String>,
    /// The Pod Security Standards version to enforce (`latest` or `v1.33`).
    pub pod_security_version: String,
    /// CIDRs cut out of internet egress besides link-local (node, pod and service networks).
    pub internet_except: Vec<String>,
}

impl Default for PlatformSettings {
    fn default() -> Self {
        PlatformSettings {
            platform_namespace: "mtp-system".to_string(),
            platform_pod_labels: BTreeMap::from([(
                "mtp.dev/tenant-access".to_string(),
                "true".to_string(),
            )]),
            dns_namespace: "kube-system".to_string(),
            dns_pod_labels: BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]),
            pod_security_version: "latest".to_string(),
            internet_except: Vec::new(),
        }
    }
}

/// The objects that must exist for one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantPlan {
    /// The namespaces, primary first.
    pub namespaces: Vec<Namespace>,
    /// Per namespace: admins, operators, viewers.
    pub role_bindings: Vec<RoleBinding>,
    /// One `tenant-isolation` policy per namespace.
    pub network_policies: Vec<NetworkPolicy>,
    /// One `tenant-defaults` LimitRange per namespace.
    pub limit_ranges: Vec<LimitRange>,
    /// One `tenant-quota` ResourceQuota per namespace.
    pub resource_quotas: Vec<ResourceQuota>,
    /// `mtp-tenant-<name>`: `get` and `watch` of this one Tenant (a cluster-scoped resource, so
    /// no RoleBinding in a tenant namespace can grant it).
    pub cluster_roles: Vec<ClusterRole>,
    /// `mtp-tenant-<name>`: that ClusterRole for every member (admins, operators, viewers).
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

fn serialize_err(e: impl std::fmt::Display) -> Error {
    Error::invalid("plan", format!("cannot serialize: {e}"))
}

impl TenantPlan {
    /// The namespace names, primary first.
    pub fn namespace_names(&self) -> Vec<&str> {
        self.namespaces
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect()
    }

    /// Every object as JSON (with `apiVersion` and `kind`): the cluster-scoped ones first
    /// (namespaces, the tenant's ClusterRole and ClusterRoleBinding), then per namespace its
    /// RoleBindings, NetworkPolicy, LimitRange and ResourceQuota.
    pub fn to_values(&self) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::with_capacity(self.namespaces.len() * (4 + ROLE_BINDINGS.len()) + 2);
        for ns in &self.namespaces {
            out.push(serde_json::to_value(ns).map_err(serialize_err)?);
        }
        for role in &self.cluster_roles {
            out.push(serde_json::to_value(role).map_err(serialize_err)?);
        }
        for binding in &self.cluster_role_bindings {
            out.push(serde_json::to_value(binding).map_err(serialize_err)?);
        }
        let per_ns = ROLE_BINDINGS.len();
        for (i, _) in self.namespaces.iter().enumerate() {
            for rb in self.role_bindings.iter().skip(i * per_ns).take(per_ns) {
                out.push(serde_json::to_value(rb).map_err(serialize_err)?);
            }
            if let Some(np) = self.network_policies.get(i) {
                out.push(serde_json::to_value(np).map_err(serialize_err)?);
            }
            if let Some(lr) = self.limit_ranges.get(i) {
                out.push(serde_json::to_value(lr).map_err(serialize_err)?);
            }
            if let Some(rq) = self.resource_quotas.get(i) {
                out.push(serde_json::to_value(rq).map_err(serialize_err)?);
            }
        }
        Ok(out)
    }

    /// The plan as a multi-document YAML stream, in the order of [`TenantPlan::to_values`].
    pub fn to_yaml(&self) -> Result<String> {
        let mut out = String::new();
        for value in self.to_values()? {
            out.push_str("---\n");
            out.push_str(&serde_yaml::to_string(&value).map_err(serialize_err)?);
        }
        Ok(out)
    }
}

/// Wraps a builder error with the object it was building; the context is only formatted on error.
fn build_err(kind: &'static str, namespace: &str, name: &str) -> impl FnOnce(BuildError) -> Error {
    move |source| Error::Build {
        context: format!("{kind} {namespace}/{name}"),
        source,
    }
}

/// The ClusterRole and ClusterRoleBinding that let the tenant's members `get` (and `watch`) their
/// own Tenant: `kubectl get tenant acme` as a member works, other tenants stay invisible.
fn tenant_reader(
    name: &str,
    spec: &crate::TenantSpec,
    base: &ObjectBase,
) -> Result<(ClusterRole, ClusterRoleBinding)> {
    let reader = tenant_reader_name(name);
    let meta = ObjectMeta {
        name: Some(reader.clone()),
        labels: Some(base.labels.clone()),
        owner_references: Some(base.owner_references.clone()),
        ..ObjectMeta::default()
    };
    let role = ClusterRole {
        metadata: meta.clone(),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![<Tenant as Resource>::group(&()).into_owned()]),
            resources: Some(vec![<Tenant as Resource>::plural(&()).into_owned()]),
            resource_names: Some(vec![name.to_string()]),
            verbs: vec!["get".to_string(), "watch".to_string()],
            non_resource_urls: None,
        }]),
        aggregation_rule: None,
    };
    let mut subjects: Vec<Subject> = Vec::new();
    for (kind, field, members) in [
        ("User", "spec.admins", &spec.admins),
        ("User", "spec.operators", &spec.operators),
        ("User", "spec.viewers", &spec.viewers),
        ("Group", "spec.adminGroups", &spec.admin_groups),
        ("Group", "spec.operatorGroups", &spec.operator_groups),
        ("Group", "spec.viewerGroups", &spec.viewer_groups),
    ] {
        for member in members.iter() {
            if subjects.iter().any(|s| s.kind == kind && &s.name == member) {
                continue;
            }
            if member.is_empty() {
                return Err(Error::invalid(field, "an empty name"));
            }
            subjects.push(Subject {
                api_group: Some("rbac.authorization.k8s.io".to_string()),
                kind: kind.to_string(),
                name: member.clone(),
                namespace: None,
            });
        }
    }
    let binding = ClusterRoleBinding {
        metadata: meta,
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "ClusterRole".to_string(),
            name: reader,
        },
        subjects: Some(subjects),
    };
    Ok((role, binding))
}

/// Computes the plan of `tenant`. Errors name the field of the Tenant (or of the catalogue or
/// settings) that makes it impossible.
pub fn plan(
    tenant: &Tenant,
    catalogue: &TierCatalogue,
    settings: &PlatformSettings,
) -> Result<TenantPlan> {
    let name = tenant
        .metadata
        .name
        .as_deref()
        .ok_or_else(|| Error::invalid("metadata.name", "missing"))?;
    let spec = &tenant.spec;
    spec.validate()?;
    let tier = catalogue.get(spec.tier);
    let egress = tier.effective_egress(spec.egress)?;

    let max = tier.max_namespaces as usize;
    if 1 + spec.namespaces.len() > max {
        return Err(Error::invalid(
            "spec.namespaces",
            format!(
                "{} extra namespaces requested, but tier {} allows {max} namespaces in all (the primary one included)",
                spec.namespaces.len(),
                spec.tier
            ),
        ));
    }
    let mut namespaces = Vec::with_capacity(1 + spec.namespaces.len());
    namespaces.push(primary_namespace(name)?);
    for (i, suffix) in spec.namespaces.iter().enumerate() {
        namespaces.push(extra_namespace(
            name,
            suffix,
            &format!("spec.namespaces[{i}]"),
        )?);
    }

    let owner = tenant.controller_owner_ref(&()).ok_or_else(|| {
        Error::invalid(
            "metadata.uid",
            "missing: the plan needs the Tenant as the apiserver stored it (owner references name its uid)",
        )
    })?;
    let owner = k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        block_owner_deletion: Some(true),
        ..owner
    };
    let labels = BTreeMap::from([
        (TENANT_LABEL.to_string(), name.to_string()),
        (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
    ]);
    let base = ObjectBase {
        labels: labels.clone(),
        owner_references: vec![owner.clone()],
    };

    let mut quota = tier.quota.clone();
    if let Some(overrides) = &spec.quota {
        quota.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let defaults = ContainerDefaults {
        default_cpu: &tier.limit_range.default_cpu,
        default_memory: &tier.limit_range.default_memory,
        default_request_cpu: &tier.limit_range.default_request_cpu,
        default_request_memory: &tier.limit_range.default_request_memory,
    };

    let mut ns_labels = labels;
    ns_labels.insert(
        PSA_ENFORCE.to_string(),
        tier.pod_security.as_str().to_string(),
    );
    ns_labels.insert(
        PSA_ENFORCE_VERSION.to_string(),
        settings.pod_security_version.clone(),
    );

    let mut plan = TenantPlan {
        namespaces: Vec::with_capacity(namespaces.len()),
        role_bindings: Vec::with_capacity(namespaces.len() * ROLE_BINDINGS.len()),
        network_policies: Vec::with_capacity(namespaces.len()),
        limit_ranges: Vec::with_capacity(namespaces.len()),
        resource_quotas: Vec::with_capacity(namespaces.len()),
        cluster_roles: Vec::with_capacity(1),
        cluster_role_bindings: Vec::with_capacity(1),
    };
    let (role, binding) = tenant_reader(name, spec, &base)?;
    plan.cluster_roles.push(role);
    plan.cluster_role_bindings.push(binding);
    for ns in &namespaces {
        plan.namespaces.push(Namespace {
            metadata: ObjectMeta {
                name: Some(ns.clone()),
                labels: Some(ns_labels.clone()),
                owner_references: Some(vec![owner.clone()]),
                ..ObjectMeta::default()
            },
            spec: None,
            status: None,
        });
        for ((rb_name, role), (users, groups)) in ROLE_BINDINGS.iter().zip([
            (&spec.admins, &spec.admin_groups),
            (&spec.operators, &spec.operator_groups),
            (&spec.viewers, &spec.viewer_groups),
        ]) {
            plan.role_bindings.push(
                builders::role_binding_with_groups(ns, rb_name, role, users, groups, &base)
                    .map_err(build_err("RoleBinding", ns, rb_name))?,
            );
        }
        let params = IsolationParams {
            namespace: ns,
            tenant_namespaces: &namespaces,
            platform_namespace: &settings.platform_namespace,
            platform_pod_labels: &settings.platform_pod_labels,
            dns_namespace: &settings.dns_namespace,
            dns_pod_labels: &settings.dns_pod_labels,
            internet_egress: egress == crate::Egress::Internet,
            internet_except: &settings.internet_except,
        };
        plan.network_policies
            .push(
                builders::isolation_network_policy(&params, &base).map_err(build_err(
                    "NetworkPolicy",
                    ns,
                    builders::NETWORK_POLICY_NAME,
                ))?,
            );
        plan.limit_ranges.push(
            builders::limit_range(ns, &defaults, &base).map_err(build_err(
                "LimitRange",
                ns,
                builders::LIMIT_RANGE_NAME,
            ))?,
        );
        plan.resource_quotas
            .push(
                builders::resource_quota(ns, &quota, &base).map_err(build_err(
                    "ResourceQuota",
                    ns,
                    builders::RESOURCE_QUOTA_NAME,
                ))?,
            );
    }
    Ok(plan)
}
