//! The `Tenant` custom resource (`tenants.mtp.dev/v1alpha1`, cluster-scoped).

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use mtp_policy::guardrails::GuardrailSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::rules::{DNS1123_LABEL_PATTERN, MAX_USER_LEN};
use crate::rules::{
    EMAIL_PATTERN, MAX_DISPLAY_NAME_LEN, MAX_EMAIL_LEN, MAX_EXTRA_NAMESPACES,
    MAX_NAMESPACE_SUFFIX_LEN, MAX_USERS_PER_ROLE, MIN_EMAIL_LEN,
};

/// The service tier of a tenant: it decides quotas, defaults, namespace count and egress.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The free tier.
    Free,
    /// The pro tier.
    Pro,
    /// The enterprise tier.
    Enterprise,
}

impl Tier {
    /// All tiers, in order.
    pub const ALL: [Tier; 3] = [Tier::Free, Tier::Pro, Tier::Enterprise];

    /// The tier's name as written in YAML and the database (`free`, `pro`, `enterprise`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Pro => "pro",
            Tier::Enterprise => "enterprise",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Tier {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "free" => Ok(Tier::Free),
            "pro" => Ok(Tier::Pro),
            "enterprise" => Ok(Tier::Enterprise),
            other => Err(crate::Error::invalid(
                "tier",
                format!("{other:?} is not a tier (free, pro, enterprise)"),
            )),
        }
    }
}

/// Where a tenant's pods may connect outside the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Egress {
    /// Only the tenant's namespaces, cluster DNS and the platform.
    None,
    /// Also the internet (never the link-local metadata endpoint).
    Internet,
}

impl Egress {
    /// The name as written in YAML and the database (`none`, `internet`).
    pub fn as_str(self) -> &'static str {
        match self {
            Egress::None => "none",
            Egress::Internet => "internet",
        }
    }
}

impl std::str::FromStr for Egress {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "none" => Ok(Egress::None),
            "internet" => Ok(Egress::Internet),
            other => Err(crate::Error::invalid(
                "egress",
                format!("{other:?} is not an egress policy (none, internet)"),
            )),
        }
    }
}

/// The desired state of a tenant.
// Two `printcolumn(...)` entries are two columns, not a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    validation = Rule::new("size(self.metadata.name) <= 56").message("a tenant name has at most 56 characters, so that namespace tenant-<name> fits in 63"),
    validation = Rule::new("self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("a tenant name is a DNS-1123 label: lower-case letters, digits and '-'"),
    group = "mtp.dev",
    version = "v1alpha1",
    kind = "Tenant",
    shortname = "tnt",
    status = "TenantStatus",
    derive = "PartialEq",
    doc = "A tenant of the platform: a team or customer with its own namespaces, RBAC, network isolation and quotas.",
    printcolumn(name = "Tier", type_ = "string", json_path = ".spec.tier"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Namespaces", type_ = "string", json_path = ".status.namespaces[*]"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// A human-readable name.
    #[schemars(length(min = 1, max = MAX_DISPLAY_NAME_LEN))]
    pub display_name: String,
    /// The service tier.
    pub tier: Tier,
    /// The e-mail address of the tenant's owner.
    #[schemars(length(min = MIN_EMAIL_LEN, max = MAX_EMAIL_LEN), regex(pattern = EMAIL_PATTERN))]
    pub owner_email: String,
    /// Users (as the IdP names them) bound to the ClusterRole `admin` in every namespace.
    #[serde(default)]
    #[schemars(length(max = MAX_USERS_PER_ROLE), inner(length(min = 1, max = MAX_USER_LEN)))]
    pub admins: Vec<String>,
    /// Users bound to the ClusterRole `edit`.
    #[serde(default)]
    #[schemars(length(max = MAX_USERS_PER_ROLE), inner(length(min = 1, max = MAX_USER_LEN)))]
    pub operators: Vec<String>,
    /// Users bound to the ClusterRole `view`.
    #[serde(default)]
    #[schemars(length(max = MAX_USERS_PER_ROLE), inner(length(min = 1, max = MAX_USER_LEN)))]
    pub viewers: Vec<String>,
    /// Groups (as the IdP names them, the `groups` claim) bound to the ClusterRole `admin` in
    /// every namespace, beside `admins`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_USERS_PER_ROLE), inner(length(min = 1, max = MAX_USER_LEN)))]
    pub admin_groups: Vec<String>,
    /// Groups bound to the ClusterRole `edit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_USERS_PER_ROLE), inner(length(min = 1, max = MAX_USER_LEN)))]
    pub operator_groups: Vec<String>,
    /// Groups bound to the ClusterRole `view`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_USERS_PER_ROLE), inner(length(min = 1, max = MAX_USER_LEN)))]
    pub viewer_groups: Vec<String>,
    /// Egress policy; the tier's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
    /// Suffixes of extra namespaces (`tenant-<name>-<suffix>`); their count is bounded by the tier.
    #[serde(default)]
    #[schemars(
        length(max = MAX_EXTRA_NAMESPACES),
        inner(
            length(min = 1, max = MAX_NAMESPACE_SUFFIX_LEN),
            regex(pattern = DNS1123_LABEL_PATTERN)
        )
    )]
    pub namespaces: Vec<String>,
    /// ResourceQuota hard limits that replace the tier's (resource name → quantity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<BTreeMap<String, String>>,
    /// Guardrails that replace the tier's, field by field: allowed registries, Service types,
    /// Ingress classes and hostnames, storage, priority and runtime classes, a nodeSelector,
    /// reserved labels and annotations (docs/policies.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<GuardrailSettings>,
}

/// A condition of a tenant (`Ready`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantCondition {
    /// The condition type, `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A message for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// The generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The observed state of a tenant, written by the controller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// Conditions, among them `Ready`.
    #[serde(default)]
    pub conditions: Vec<TenantCondition>,
    /// The `metadata.generation` the controller last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The namespaces that exist for the tenant.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl Tenant {
    /// A test fixture builder: a tenant of tier free with owner `owner@example.com` and uid
    /// `00000000-0000-0000-0000-000000000001`.
    ///
    /// ```
    /// use mtp_core::{Tenant, Tier};
    /// let t = Tenant::test("acme").with_tier(Tier::Pro).with_admin("alice");
    /// assert_eq!(t.spec.admins, vec!["alice".to_string()]);
    /// ```
    pub fn test(name: &str) -> Tenant {
        let mut tenant = Tenant::new(
            name,
            TenantSpec {
                display_name: name.to_string(),
                tier: Tier::Free,
                owner_email: "owner@example.com".to_string(),
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
        tenant.metadata.uid = Some("00000000-0000-0000-0000-000000000001".to_string());
        tenant
    }

    /// Sets the tier.
    pub fn with_tier(mut self, tier: Tier) -> Self {
        self.spec.tier = tier;
        self
    }

    /// Adds an admin.
    pub fn with_admin(mut self, user: &str) -> Self {
        self.spec.admins.push(user.to_string());
        self
    }

    /// Adds an operator.
    pub fn with_operator(mut self, user: &str) -> Self {
        self.spec.operators.push(user.to_string());
        self
    }

    /// Adds a viewer.
    pub fn with_viewer(mut self, user: &str) -> Self {
        self.spec.viewers.push(user.to_string());
        self
    }

    /// Adds a group of admins.
    pub fn with_admin_group(mut self, group: &str) -> Self {
        self.spec.admin_groups.push(group.to_string());
        self
    }

    /// Adds a group of viewers.
    pub fn with_viewer_group(mut self, group: &str) -> Self {
        self.spec.viewer_groups.push(group.to_string());
        self
    }

    /// Sets the egress policy.
    pub fn with_egress(mut self, egress: Egress) -> Self {
        self.spec.egress = Some(egress);
        self
    }

    /// Adds an extra namespace suffix.
    pub fn with_namespace(mut self, suffix: &str) -> Self {
        self.spec.namespaces.push(suffix.to_string());
        self
    }

    /// Overrides one ResourceQuota hard limit.
    pub fn with_quota(mut self, resource: &str, quantity: &str) -> Self {
        self.spec
            .quota
            .get_or_insert_with(BTreeMap::new)
            .insert(resource.to_string(), quantity.to_string());
        self
    }

    /// Sets the guardrails that replace the tier's.
    pub fn with_guardrails(mut self, guardrails: GuardrailSettings) -> Self {
        self.spec.guardrails = Some(guardrails);
        self
    }

    /// Sets the uid (as the apiserver would).
    pub fn with_uid(mut self, uid: &str) -> Self {
        self.metadata.uid = Some(uid.to_string());
        self
    }
}

/// Checks a user name as the IdP gives it: non-empty, no surrounding blanks or control
/// characters, at most [`MAX_USER_LEN`] characters. `field` names it in the error.
pub fn validate_user(field: &str, user: &str) -> crate::Result<()> {
    match crate::rules::user_problem(user) {
        Some(p) => Err(crate::Error::invalid(field, format!("user {user:?} {p}"))),
        None => Ok(()),
    }
}

/// Checks an owner e-mail address (one `@`, something on both sides, no blanks, at most 254
/// characters).
pub fn validate_email(field: &str, email: &str) -> crate::Result<()> {
    if crate::rules::is_email(email) {
        Ok(())
    } else {
        Err(crate::Error::invalid(
            field,
            format!("{email:?} is not an e-mail address"),
        ))
    }
}

/// Checks a display name: 1 to 128 characters, no control characters.
pub fn validate_display_name(field: &str, name: &str) -> crate::Result<()> {
    if crate::rules::is_display_name(name) {
        Ok(())
    } else {
        Err(crate::Error::invalid(
            field,
            crate::rules::DISPLAY_NAME_MESSAGE,
        ))
    }
}

impl TenantSpec {
    /// Checks everything the CRD schema checks, and more (duplicates, quota keys), so that a
    /// Tenant that did not come through the apiserver gets the same clear errors: the first
    /// broken rule of [`crate::rules::check_fields`].
    pub fn validate(&self) -> crate::Result<()> {
        match crate::rules::check_fields(self.rule_fields(), crate::rules::OneRole::PerList)
            .into_iter()
            .next()
        {
            Some(v) => Err(v.into_error("spec")),
            None => Ok(()),
        }
    }

    /// The fields the tenant rules look at.
    pub fn rule_fields(&self) -> crate::rules::Fields<'_> {
        crate::rules::Fields {
            display_name: Some(&self.display_name),
            owner_email: &self.owner_email,
            users: [
                ("admins", &self.admins),
                ("operators", &self.operators),
                ("viewers", &self.viewers),
            ],
            groups: [
                ("adminGroups", &self.admin_groups),
                ("operatorGroups", &self.operator_groups),
                ("viewerGroups", &self.viewer_groups),
            ],
            namespaces: &self.namespaces,
            quota: self.quota.as_ref(),
            guardrails: self.guardrails.as_ref(),
        }
    }
}
