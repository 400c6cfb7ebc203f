//! The wire types of the REST API (`/api/v1`): request and response bodies of tenants, members,
//! audit entries and problems, shared by `mtp-apiserver` and `mtpctl`.
//!
//! Request bodies refuse unknown fields (`deny_unknown_fields`); their value rules are checked
//! by the `validate` methods, which use [`crate::rules`], the rules the CRD schema and
//! [`TenantSpec::validate`](crate::TenantSpec::validate) use too. With the `openapi` feature the
//! types derive their OpenAPI schema (utoipa), constraints included.
//!
//! ```
//! use mtp_core::api::TenantCreate;
//! let body: TenantCreate = serde_json::from_str(
//!     r#"{"name": "acme", "tier": "pro", "ownerEmail": "ops@acme.io", "admins": ["alice"]}"#,
//! ).unwrap();
//! let valid = body.validate().unwrap();
//! assert_eq!(valid.fields.display_name, "acme");
//! assert_eq!(valid.members.len(), 1);
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rules::{self, Fields, OneRole};
pub use crate::rules::{escape_pointer_token, pointer};
use crate::{
    AuditRecord, Egress, Member, NewMember, Role, TenantCondition, TenantFields, TenantRecord, Tier,
};

/// One invalid field of a request: where (a JSON pointer) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The JSON pointer of the field in the request body (`/name`, `/admins/2`), or of the
    /// query parameter (`/limit`).
    pub pointer: String,
    /// What is wrong with it.
    pub detail: String,
}

impl FieldError {
    /// A field error at `pointer`.
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

impl From<rules::Violation> for FieldError {
    fn from(v: rules::Violation) -> Self {
        FieldError {
            pointer: v.pointer(),
            detail: v.message,
        }
    }
}

/// An RFC 9457 problem (`application/problem+json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// `https://mtp.dev/problems/<kind>`, stable per kind.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// A short summary of the status.
    #[serde(default)]
    pub title: String,
    /// The HTTP status.
    #[serde(default)]
    pub status: u16,
    /// What went wrong, for humans.
    #[serde(default)]
    pub detail: String,
    /// For 422 and bad query parameters: one entry per invalid field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// `{"status": "ok"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusOk {
    /// `ok`.
    pub status: String,
}

/// A page of a list: `{"items": [...], "continue": "..."|null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListView<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass it back as `?continue=` for the next page; null on the last page.
    #[serde(rename = "continue", default)]
    pub continue_: Option<String>,
}

/// A tenant as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    /// The name (a DNS-1123 label of at most 56 characters).
    pub name: String,
    /// The store id (the Tenant resource's uid).
    pub uid: String,
    /// A human-readable name.
    pub display_name: String,
    /// The tier.
    pub tier: Tier,
    /// The owner's e-mail address.
    pub owner_email: String,
    /// Users with role admin.
    pub admins: Vec<String>,
    /// Users with role operator.
    pub operators: Vec<String>,
    /// Users with role viewer.
    pub viewers: Vec<String>,
    /// The egress policy in effect: the tenant's own, or its tier's default.
    pub egress: Egress,
    /// Whether `egress` is the tier's default (the tenant sets none).
    #[serde(default)]
    pub egress_defaulted: bool,
    /// Suffixes of extra namespaces.
    pub namespaces: Vec<String>,
    /// ResourceQuota overrides.
    pub quota: Option<BTreeMap<String, String>>,
    /// The version; the ETag is this number in quotes.
    pub version: i64,
    /// When the tenant was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Its state in the cluster.
    pub status: StatusView,
}

impl TenantView {
    /// The view of `record` with `members` (of this tenant) and `status`; `default_egress` is
    /// the egress of the tenant's tier when the tenant sets none.
    pub fn new(
        record: &TenantRecord,
        members: &[&Member],
        status: StatusView,
        default_egress: Egress,
    ) -> Self {
        let users = |role: Role| -> Vec<String> {
            members
                .iter()
                .filter(|m| m.role == role)
                .map(|m| m.user.clone())
                .collect()
        };
        TenantView {
            name: record.name.clone(),
            uid: record.id.to_string(),
            display_name: record.fields.display_name.clone(),
            tier: record.fields.tier,
            owner_email: record.fields.owner_email.clone(),
            admins: users(Role::Admin),
            operators: users(Role::Operator),
            viewers: users(Role::Viewer),
            egress: record.fields.egress.unwrap_or(default_egress),
            egress_defaulted: record.fields.egress.is_none(),
            namespaces: record.fields.namespaces.clone(),
            quota: record.fields.quota.clone(),
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
            status,
        }
    }

    /// The body a client would PUT to write this tenant back unchanged (a defaulted egress
    /// stays absent).
    pub fn to_replace(&self) -> TenantReplace {
        TenantReplace {
            name: Some(self.name.clone()),
            tier: self.tier,
            owner_email: self.owner_email.clone(),
            display_name: Some(self.display_name.clone()),
            admins: Some(self.admins.clone()),
            operators: Some(self.operators.clone()),
            viewers: Some(self.viewers.clone()),
            egress: (!self.egress_defaulted).then_some(self.egress),
            namespaces: Some(self.namespaces.clone()),
            quota: self.quota.clone(),
            ..TenantReplace::default()
        }
    }
}

/// A tenant's state in the cluster, read from its Tenant resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// `ready`, `notReady`, `pending` (no status written yet) or `unknown` (no cluster, or it
    /// cannot be read).
    pub state: String,
    /// Why, when there is something to say.
    #[serde(default)]
    pub message: Option<String>,
    /// The conditions the controller wrote (`type`, `status`, `reason`, `message`, ...).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    #[serde(default)]
    pub conditions: Vec<TenantCondition>,
    /// The namespaces that exist for the tenant.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl StatusView {
    /// The status when it cannot be known.
    pub fn unknown(message: impl Into<String>) -> Self {
        StatusView {
            state: "unknown".into(),
            message: Some(message.into()),
            conditions: Vec::new(),
            namespaces: Vec::new(),
        }
    }
}

/// A member of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    /// The user, as the IdP names them.
    pub user_id: String,
    /// The role.
    pub role: Role,
    /// When they were added.
    pub created_at: DateTime<Utc>,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        MemberView {
            user_id: m.user.clone(),
            role: m.role,
            created_at: m.created_at,
        }
    }
}

/// An audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// Increasing id.
    pub id: i64,
    /// Who acted.
    pub actor: String,
    /// What they did (`tenant.create`, `member.add`, ...).
    pub action: String,
    /// On what (`tenant/acme`, `tenant/acme/member/alice`).
    pub target: String,
    /// `success`, `denied` or `error`.
    pub outcome: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The request id.
    #[serde(default)]
    pub request_id: Option<String>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        AuditView {
            id: r.id,
            actor: r.actor,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            at: r.at,
            request_id: r.request_id,
        }
    }
}

/// Who the caller is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// The user name (what tenant membership is checked against).
    pub user: String,
    /// The groups.
    pub groups: Vec<String>,
    /// `static-key`, `oidc` or `none`.
    pub method: String,
    /// Whether the caller is a platform admin.
    pub platform_admin: bool,
    /// The stable subject (`apikey:<id>` or the token's `sub`).
    pub subject: String,
}

/// What a client needs to log in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuthConfigView {
    /// The OIDC issuer URL (null when OIDC is not configured).
    pub issuer: Option<String>,
    /// The public client id for the CLI's login (null when not configured).
    pub client_id: Option<String>,
    /// The audience the API accepts (null when OIDC is not configured).
    pub audience: Option<String>,
}

/// Defines a tenant body: the fields given, then the fields every tenant body has (tier, owner,
/// display name, members, egress, namespaces, quota) and the read-only fields of a GET, which
/// are accepted and ignored so that a GET can be sent back.
macro_rules! tenant_body {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// The tier (only platform admins may change it).
            pub tier: Tier,
            /// The owner's e-mail address.
            #[cfg_attr(feature = "openapi", schema(schema_with = schemas::email))]
            pub owner_email: String,
            /// A human-readable name (default: the name).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(schema_with = schemas::display_name))]
            pub display_name: Option<String>,
            /// Users with role admin (a user has one role; absent or null: none).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(schema_with = schemas::users))]
            pub admins: Option<Vec<String>>,
            /// Users with role operator.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(schema_with = schemas::users))]
            pub operators: Option<Vec<String>>,
            /// Users with role viewer.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(schema_with = schemas::users))]
            pub viewers: Option<Vec<String>>,
            /// The egress policy (absent or null: the tier's default).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub egress: Option<Egress>,
            /// Suffixes of extra namespaces (`tenant-<name>-<suffix>`); the tier may allow fewer.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(schema_with = schemas::namespaces))]
            pub namespaces: Option<Vec<String>>,
            /// ResourceQuota overrides (resource → quantity).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(schema_with = schemas::quota))]
            pub quota: Option<BTreeMap<String, String>>,
            /// Read-only, ignored.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(read_only))]
            pub uid: Option<serde_json::Value>,
            /// Read-only, ignored (send the version as If-Match).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(read_only))]
            pub version: Option<serde_json::Value>,
            /// Read-only, ignored.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(read_only))]
            pub created_at: Option<serde_json::Value>,
            /// Read-only, ignored.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(read_only))]
            pub updated_at: Option<serde_json::Value>,
            /// Read-only, ignored.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(read_only))]
            pub status: Option<serde_json::Value>,
            /// Read-only, ignored.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "openapi", schema(read_only))]
            pub egress_defaulted: Option<serde_json::Value>,
        }

        impl Default for $name {
            /// Placeholders: a free tenant with empty strings (which the validator refuses).
            fn default() -> Self {
                $name {
                    $($field: Default::default(),)*
                    tier: Tier::Free,
                    owner_email: String::new(),
                    display_name: None,
                    admins: None,
                    operators: None,
                    viewers: None,
                    egress: None,
                    namespaces: None,
                    quota: None,
                    uid: None,
                    version: None,
                    created_at: None,
                    updated_at: None,
                    status: None,
                    egress_defaulted: None,
                }
            }
        }

        impl $name {
            fn rule_fields(&self) -> Fields<'_> {
                Fields {
                    display_name: self.display_name.as_deref(),
                    owner_email: &self.owner_email,
                    users: [
                        ("admins", self.admins.as_deref().unwrap_or_default()),
                        ("operators", self.operators.as_deref().unwrap_or_default()),
                        ("viewers", self.viewers.as_deref().unwrap_or_default()),
                    ],
                    // Groups are set on the Tenant resource; the API does not carry them yet.
                    groups: [("adminGroups", &[]), ("operatorGroups", &[]), ("viewerGroups", &[])],
                    namespaces: self.namespaces.as_deref().unwrap_or_default(),
                    quota: self.quota.as_ref(),
                    // Guardrails are set on the Tenant resource; the API does not carry them yet.
                    guardrails: None,
                }
            }

            /// The checked tenant named `name`, or every broken rule (after `errors`).
            fn checked(self, name: String, mut errors: Vec<FieldError>) -> Result<ValidTenant, Vec<FieldError>> {
                errors.extend(
                    rules::check_fields(self.rule_fields(), OneRole::Required)
                        .into_iter()
                        .map(FieldError::from),
                );
                if !errors.is_empty() {
                    return Err(errors);
                }
                let mut members = Vec::new();
                for (users, role) in [
                    (self.admins, Role::Admin),
                    (self.operators, Role::Operator),
                    (self.viewers, Role::Viewer),
                ] {
                    members.extend(users.unwrap_or_default().into_iter().map(|u| NewMember::new(u, role)));
                }
                Ok(ValidTenant {
                    fields: TenantFields {
                        display_name: self.display_name.unwrap_or_else(|| name.clone()),
                        tier: self.tier,
                        owner_email: self.owner_email,
                        egress: self.egress,
                        namespaces: self.namespaces.unwrap_or_default(),
                        quota: self.quota,
                    },
                    name,
                    members,
                })
            }
        }
    };
}

tenant_body! {
    /// The body of `POST /api/v1/tenants`.
    pub struct TenantCreate {
        /// A DNS-1123 label of at most 56 characters, unique among live tenants.
        #[cfg_attr(feature = "openapi", schema(schema_with = schemas::tenant_name))]
        pub name: String,
    }
}

tenant_body! {
    /// The body of `PUT /api/v1/tenants/{name}`: a full replace (absent lists are empty). A GET
    /// body can be sent back as it is: its read-only fields are ignored.
    pub struct TenantReplace {
        /// The name in the URL, if given (a tenant cannot be renamed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(schema_with = schemas::tenant_name_in_url))]
        pub name: Option<String>,
    }
}

/// A tenant body that passed every rule: what the store writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidTenant {
    /// The name.
    pub name: String,
    /// The stored fields.
    pub fields: TenantFields,
    /// The members from `admins`, `operators` and `viewers`, in that order.
    pub members: Vec<NewMember>,
}

impl TenantCreate {
    /// Checks every rule, reporting every broken one.
    pub fn validate(self) -> Result<ValidTenant, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(e) = crate::naming::validate_tenant_name(&self.name) {
            errors.push(FieldError::new("/name", message(e)));
        }
        let name = self.name.clone();
        self.checked(name, errors)
    }
}

impl TenantReplace {
    /// Checks every rule for the tenant named `url_name` (the body's `name`, if given, must be
    /// the same), reporting every broken one.
    pub fn validate(self, url_name: &str) -> Result<ValidTenant, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(n) = &self.name
            && n != url_name
        {
            errors.push(FieldError::new(
                "/name",
                format!(
                    "{n:?} differs from the name in the URL ({url_name:?}); a tenant cannot be renamed"
                ),
            ));
        }
        self.checked(url_name.to_string(), errors)
    }
}

/// An RFC 7396 merge patch of a [`TenantReplace`] (`application/merge-patch+json`): the fields
/// given replace the tenant's, `null` removes one (back to its default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantPatch {
    /// The tier (only platform admins may change it; cannot be removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub tier: Option<Tier>,
    /// The owner's e-mail address (cannot be removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schemas::email))]
    pub owner_email: Option<String>,
    /// A human-readable name (null: the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schemas::display_name))]
    pub display_name: Option<String>,
    /// Users with role admin (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schemas::users))]
    pub admins: Option<Vec<String>>,
    /// Users with role operator (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schemas::users))]
    pub operators: Option<Vec<String>>,
    /// Users with role viewer (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schemas::users))]
    pub viewers: Option<Vec<String>>,
    /// The egress policy (null: the tier's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
    /// Suffixes of extra namespaces (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schemas::namespaces))]
    pub namespaces: Option<Vec<String>>,
    /// ResourceQuota overrides, merged key by key (a null quantity removes one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schemas::quota_patch))]
    pub quota: Option<BTreeMap<String, String>>,
}

/// The body of `POST /api/v1/tenants/{name}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberInput {
    /// The user, as the IdP names them.
    #[cfg_attr(feature = "openapi", schema(schema_with = schemas::user))]
    pub user_id: String,
    /// The role.
    pub role: Role,
    /// Read-only (from a GET), ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub created_at: Option<serde_json::Value>,
}

impl Default for MemberInput {
    /// Placeholders: an empty user (which the validator refuses), role viewer.
    fn default() -> Self {
        MemberInput {
            user_id: String::new(),
            role: Role::Viewer,
            created_at: None,
        }
    }
}

impl MemberInput {
    /// A member `user` with `role`.
    pub fn new(user: impl Into<String>, role: Role) -> Self {
        MemberInput {
            user_id: user.into(),
            role,
            created_at: None,
        }
    }

    /// Checks the user name.
    pub fn validate(self) -> Result<NewMember, Vec<FieldError>> {
        match rules::user_problem(&self.user_id) {
            Some(p) => Err(vec![FieldError::new(
                "/userId",
                format!("user {:?} {p}", self.user_id),
            )]),
            None => Ok(NewMember::new(self.user_id, self.role)),
        }
    }
}

fn message(err: crate::Error) -> String {
    match err {
        crate::Error::Invalid { message, .. } => message,
        other => other.to_string(),
    }
}

/// The OpenAPI schemas of constrained fields, built from [`crate::rules`].
#[cfg(feature = "openapi")]
pub mod schemas {
    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayBuilder, Object, ObjectBuilder, Schema, SchemaType, Type,
    };

    use crate::rules::*;

    fn string(pattern: &str, min: usize, max: usize, nullable: bool) -> Object {
        let ty = if nullable {
            SchemaType::from_iter([Type::String, Type::Null])
        } else {
            SchemaType::new(Type::String)
        };
        ObjectBuilder::new()
            .schema_type(ty)
            .pattern(Some(pattern))
            .min_length(Some(min))
            .max_length(Some(max))
            .build()
    }

    /// A tenant name.
    pub fn tenant_name() -> Object {
        string(DNS1123_LABEL_PATTERN, 1, MAX_TENANT_NAME_LEN, false)
    }

    /// The name of a replaced tenant: read-only (it is the name in the URL; a GET sent back
    /// carries it).
    pub fn tenant_name_in_url() -> Object {
        let mut o = string(DNS1123_LABEL_PATTERN, 1, MAX_TENANT_NAME_LEN, true);
        o.read_only = Some(true);
        o
    }

    /// An owner e-mail address.
    pub fn email() -> Object {
        string(EMAIL_PATTERN, MIN_EMAIL_LEN, MAX_EMAIL_LEN, false)
    }

    /// A display name, or null.
    pub fn display_name() -> Object {
        string(DISPLAY_NAME_PATTERN, 1, MAX_DISPLAY_NAME_LEN, true)
    }

    /// A user name.
    pub fn user() -> Object {
        string(USER_PATTERN, 1, MAX_USER_LEN, false)
    }

    fn nullable_array(items: Object, max: usize) -> Schema {
        Schema::Array(
            ArrayBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
                .items(items)
                .max_items(Some(max))
                .unique_items(true)
                .build(),
        )
    }

    /// A list of users, or null.
    pub fn users() -> Schema {
        nullable_array(user(), MAX_USERS_PER_ROLE)
    }

    /// A list of namespace suffixes, or null.
    pub fn namespaces() -> Schema {
        nullable_array(
            string(DNS1123_LABEL_PATTERN, 1, MAX_NAMESPACE_SUFFIX_LEN, false),
            MAX_EXTRA_NAMESPACES,
        )
    }

    fn quota_map(value_nullable: bool) -> Object {
        let names = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(crate::tier::QUOTA_RESOURCES))
            .build();
        let value = ObjectBuilder::new()
            .schema_type(if value_nullable {
                SchemaType::from_iter([Type::String, Type::Null])
            } else {
                SchemaType::new(Type::String)
            })
            .pattern(Some(QUANTITY_PATTERN))
            .build();
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
            .property_names(Some(names))
            .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
            .build()
    }

    /// Quota overrides (resource → quantity), or null.
    pub fn quota() -> Object {
        quota_map(false)
    }

    /// Quota overrides of a merge patch: a null quantity removes the override.
    pub fn quota_patch() -> Object {
        quota_map(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_invalid_field_is_listed() {
        let body: TenantCreate = serde_json::from_value(serde_json::json!({
            "name": "Bad_Name", "tier": "pro", "ownerEmail": "nope",
            "admins": ["ok", ""], "viewers": ["ok"], "quota": {"pods": "x"}
        }))
        .unwrap();
        let errors = body.validate().unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/name",
                "/ownerEmail",
                "/admins/1",
                "/viewers/0",
                "/quota/pods"
            ]
        );
    }

    #[test]
    fn a_valid_body_gives_fields_and_members() {
        let body: TenantCreate = serde_json::from_value(serde_json::json!({
            "name": "acme", "tier": "pro", "ownerEmail": "o@acme.io",
            "admins": ["alice"], "viewers": ["bob"], "egress": "internet", "version": 3
        }))
        .unwrap();
        let valid = body.validate().unwrap();
        assert_eq!(valid.fields.display_name, "acme");
        assert_eq!(valid.fields.egress, Some(Egress::Internet));
        assert_eq!(
            valid.members,
            vec![
                NewMember::new("alice", Role::Admin),
                NewMember::new("bob", Role::Viewer)
            ]
        );
    }

    #[test]
    fn unknown_fields_and_renames_are_refused() {
        assert!(
            serde_json::from_value::<TenantCreate>(serde_json::json!({
                "name": "acme", "tier": "pro", "ownerEmail": "o@acme.io", "colour": "blue"
            }))
            .is_err()
        );
        let body: TenantReplace = serde_json::from_value(serde_json::json!({
            "name": "other", "tier": "pro", "ownerEmail": "o@acme.io"
        }))
        .unwrap();
        let errors = body.validate("acme").unwrap_err();
        assert_eq!(errors[0].pointer, "/name");
    }

    #[test]
    fn suffixes_longer_than_40_are_refused() {
        let body: TenantCreate = serde_json::from_value(serde_json::json!({
            "name": "acme", "tier": "pro", "ownerEmail": "o@acme.io",
            "namespaces": ["a".repeat(40), "b".repeat(41)]
        }))
        .unwrap();
        let errors = body.validate().unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pointer, "/namespaces/1");
        let spec = crate::Tenant::test("acme")
            .with_namespace(&"b".repeat(41))
            .spec;
        assert!(spec.validate().is_err());
    }
}
