//! The API's own request and response types (camelCase JSON), not the CRD, and the parsing of
//! tenant bodies that reports every invalid field at once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mtp_core::{
    AuditRecord, Egress, Member, NewMember, Role, TenantCondition, TenantFields, TenantRecord, Tier,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::problem::FieldError;

/// A tenant as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    /// The name (a DNS-1123 label of at most 56 characters).
    pub name: String,
    /// The store id (the Tenant resource's uid).
    pub uid: String,
    /// A human-readable name.
    pub display_name: String,
    /// `free`, `pro` or `enterprise`.
    #[schema(value_type = TierName)]
    pub tier: Tier,
    /// The owner's e-mail address.
    pub owner_email: String,
    /// Users with role admin.
    pub admins: Vec<String>,
    /// Users with role operator.
    pub operators: Vec<String>,
    /// Users with role viewer.
    pub viewers: Vec<String>,
    /// `none` or `internet`; the tier's default when null.
    #[schema(value_type = Option<EgressName>)]
    pub egress: Option<Egress>,
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
    /// The view of `record` with `members` (of this tenant) and `status`.
    pub fn new(record: &TenantRecord, members: &[&Member], status: StatusView) -> Self {
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
            egress: record.fields.egress,
            namespaces: record.fields.namespaces.clone(),
            quota: record.fields.quota.clone(),
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
            status,
        }
    }

    /// The body a client would PUT to write this tenant back unchanged.
    pub fn to_body(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "displayName": self.display_name,
            "tier": self.tier,
            "ownerEmail": self.owner_email,
            "admins": self.admins,
            "operators": self.operators,
            "viewers": self.viewers,
            "egress": self.egress,
            "namespaces": self.namespaces,
            "quota": self.quota,
        })
    }
}

/// A tenant's state in the cluster, read from its Tenant resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// `ready`, `notReady`, `pending` (no status written yet) or `unknown` (no cluster, or it
    /// cannot be read).
    pub state: String,
    /// Why, when there is something to say.
    pub message: Option<String>,
    /// The conditions the controller wrote (`type`, `status`, `reason`, `message`, ...).
    #[schema(value_type = Vec<Object>)]
    pub conditions: Vec<TenantCondition>,
    /// The namespaces that exist for the tenant.
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

/// A page of a list: `{"items": [...], "continue": "..."|null}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListView<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass it back as `?continue=` for the next page; null on the last page.
    #[serde(rename = "continue")]
    pub continue_: Option<String>,
}

/// A member of a tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    /// The user, as the IdP names them.
    pub user_id: String,
    /// `admin`, `operator` or `viewer`.
    #[schema(value_type = RoleName)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// Increasing id.
    pub id: i64,
    /// Who acted.
    pub actor: String,
    /// What they did (`tenant.create`, `member.add`, ...).
    pub action: String,
    /// On what (`tenant/acme`).
    pub target: String,
    /// `success`, `denied` or `error`.
    pub outcome: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The request id.
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
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthConfigView {
    /// The OIDC issuer URL (null when OIDC is not configured).
    pub issuer: Option<String>,
    /// The public client id for the CLI's login (null when not configured).
    pub client_id: Option<String>,
    /// The audience the API accepts (null when OIDC is not configured).
    pub audience: Option<String>,
}

/// A tier (schema of [`Tier`]).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TierName {
    /// Free.
    Free,
    /// Pro.
    Pro,
    /// Enterprise.
    Enterprise,
}

/// An egress policy (schema of [`Egress`]).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EgressName {
    /// Only the tenant's namespaces, DNS and the platform.
    None,
    /// Also the internet.
    Internet,
}

/// A member role (schema of [`Role`]).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// ClusterRole admin.
    Admin,
    /// ClusterRole edit.
    Operator,
    /// ClusterRole view.
    Viewer,
}

/// The body of `POST /api/v1/tenants` (documentation of what [`parse_tenant_body`] accepts).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantInput {
    /// DNS-1123 label, at most 56 characters.
    #[schema(
        pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        min_length = 1,
        max_length = 56
    )]
    pub name: String,
    /// The tier.
    pub tier: TierName,
    /// The owner's e-mail address.
    #[schema(max_length = 254)]
    pub owner_email: String,
    /// A human-readable name (default: the name).
    #[schema(min_length = 1, max_length = 128)]
    pub display_name: Option<String>,
    /// Users with role admin.
    #[schema(max_items = 100)]
    pub admins: Option<Vec<String>>,
    /// Users with role operator.
    #[schema(max_items = 100)]
    pub operators: Option<Vec<String>>,
    /// Users with role viewer.
    #[schema(max_items = 100)]
    pub viewers: Option<Vec<String>>,
    /// The egress policy (default: the tier's).
    pub egress: Option<EgressName>,
    /// Suffixes of extra namespaces.
    #[schema(max_items = 32)]
    pub namespaces: Option<Vec<String>>,
    /// ResourceQuota overrides (resource → quantity).
    pub quota: Option<BTreeMap<String, String>>,
}

/// The body of `PUT /api/v1/tenants/{name}`: a full replace (absent lists are empty); `name`
/// may be left out and must match the URL; read-only fields of a GET are ignored.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantReplace {
    /// The name in the URL, if given.
    pub name: Option<String>,
    /// The tier (only platform admins may change it).
    pub tier: TierName,
    /// The owner's e-mail address.
    pub owner_email: String,
    /// A human-readable name (default: the name).
    pub display_name: Option<String>,
    /// Users with role admin.
    pub admins: Option<Vec<String>>,
    /// Users with role operator.
    pub operators: Option<Vec<String>>,
    /// Users with role viewer.
    pub viewers: Option<Vec<String>>,
    /// The egress policy.
    pub egress: Option<EgressName>,
    /// Suffixes of extra namespaces.
    pub namespaces: Option<Vec<String>>,
    /// ResourceQuota overrides.
    pub quota: Option<BTreeMap<String, String>>,
}

/// An RFC 7396 merge patch of the [`TenantReplace`] document (`null` removes a field).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantPatch {
    /// The tier.
    pub tier: Option<TierName>,
    /// The owner's e-mail address.
    pub owner_email: Option<String>,
    /// A human-readable name.
    pub display_name: Option<String>,
    /// Users with role admin (replaces the list).
    pub admins: Option<Vec<String>>,
    /// Users with role operator.
    pub operators: Option<Vec<String>>,
    /// Users with role viewer.
    pub viewers: Option<Vec<String>>,
    /// The egress policy.
    pub egress: Option<EgressName>,
    /// Suffixes of extra namespaces.
    pub namespaces: Option<Vec<String>>,
    /// ResourceQuota overrides.
    pub quota: Option<BTreeMap<String, String>>,
}

/// The body of `POST /api/v1/tenants/{name}/members`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberInput {
    /// The user, as the IdP names them.
    #[schema(min_length = 1, max_length = 256)]
    pub user_id: String,
    /// The role.
    pub role: RoleName,
}

/// An RFC 9457 problem (`application/problem+json`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `https://mtp.dev/problems/<kind>`, stable per kind.
    #[serde(rename = "type")]
    pub type_: String,
    /// A short summary of the status.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for humans.
    pub detail: String,
    /// For 422 and bad query parameters: one entry per invalid field.
    pub errors: Option<Vec<super::problem::FieldError>>,
}

/// `{"status": "ok"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusOk {
    /// `ok`.
    pub status: String,
}

/// A parsed tenant body: name, fields and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantBody {
    /// The name.
    pub name: String,
    /// The stored fields.
    pub fields: TenantFields,
    /// The members from `admins`, `operators` and `viewers`.
    pub members: Vec<NewMember>,
}

/// Fields a client may send back from a GET; they are ignored.
const READ_ONLY: [&str; 5] = ["uid", "version", "createdAt", "updatedAt", "status"];
const WRITABLE: [&str; 10] = [
    "name",
    "displayName",
    "tier",
    "ownerEmail",
    "admins",
    "operators",
    "viewers",
    "egress",
    "namespaces",
    "quota",
];

fn message(err: mtp_core::Error) -> String {
    match err {
        mtp_core::Error::Invalid { message, .. } => message,
        other => other.to_string(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Parses a tenant body, collecting every invalid field. `path_name` is the name from the URL
/// for a replace (the body's `name` may be absent, or must be the same).
pub fn parse_tenant_body(
    body: &Value,
    path_name: Option<&str>,
) -> Result<TenantBody, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            format!("the body must be a JSON object, not {}", type_name(body)),
        )]);
    };
    for key in obj.keys() {
        if !WRITABLE.contains(&key.as_str()) && !READ_ONLY.contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("/{}", escape(key)),
                format!("unknown field; known fields: {}", WRITABLE.join(", ")),
            ));
        }
    }
    let string = |key: &str, errors: &mut Vec<FieldError>, required: bool| -> Option<String> {
        match obj.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => {
                if required {
                    errors.push(FieldError::new(format!("/{key}"), "required"));
                }
                None
            }
            Some(other) => {
                errors.push(FieldError::new(
                    format!("/{key}"),
                    format!("must be a string, not {}", type_name(other)),
                ));
                None
            }
        }
    };

    let name = match (string("name", &mut errors, path_name.is_none()), path_name) {
        (Some(n), Some(p)) if n != p => {
            errors.push(FieldError::new(
                "/name",
                format!(
                    "{n:?} differs from the name in the URL ({p:?}); a tenant cannot be renamed"
                ),
            ));
            None
        }
        (Some(n), _) => {
            if let Err(e) = mtp_core::naming::validate_tenant_name(&n) {
                errors.push(FieldError::new("/name", message(e)));
            }
            Some(n)
        }
        (None, Some(p)) => Some(p.to_string()),
        (None, None) => None,
    };

    let tier = string("tier", &mut errors, true).and_then(|t| match t.parse::<Tier>() {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(FieldError::new("/tier", message(e)));
            None
        }
    });
    let owner_email = string("ownerEmail", &mut errors, true);
    if let Some(email) = &owner_email
        && let Err(e) = mtp_core::tenant::validate_email("ownerEmail", email)
    {
        errors.push(FieldError::new("/ownerEmail", message(e)));
    }
    let display_name = string("displayName", &mut errors, false)
        .or_else(|| name.clone())
        .unwrap_or_default();
    if obj.get("displayName").is_some_and(Value::is_string)
        && let Err(e) = mtp_core::tenant::validate_display_name("displayName", &display_name)
    {
        errors.push(FieldError::new("/displayName", message(e)));
    }
    let egress = string("egress", &mut errors, false).and_then(|e| match e.parse::<Egress>() {
        Ok(e) => Some(e),
        Err(err) => {
            errors.push(FieldError::new("/egress", message(err)));
            None
        }
    });

    let mut members: Vec<NewMember> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (key, role) in [
        ("admins", Role::Admin),
        ("operators", Role::Operator),
        ("viewers", Role::Viewer),
    ] {
        let Some(items) = string_list(obj.get(key), key, &mut errors) else {
            continue;
        };
        if items.len() > 100 {
            errors.push(FieldError::new(
                format!("/{key}"),
                format!("{} users; at most 100", items.len()),
            ));
        }
        for (i, user) in items.into_iter().enumerate() {
            let pointer = format!("/{key}/{i}");
            if let Err(e) = mtp_core::tenant::validate_user(key, &user) {
                errors.push(FieldError::new(pointer, message(e)));
                continue;
            }
            if let Some(first) = seen.get(&user) {
                errors.push(FieldError::new(
                    pointer,
                    format!("user {user:?} is already listed at {first}; a user has one role"),
                ));
                continue;
            }
            seen.insert(user.clone(), pointer);
            members.push(NewMember::new(user, role));
        }
    }

    let namespaces =
        string_list(obj.get("namespaces"), "namespaces", &mut errors).unwrap_or_default();
    for (i, suffix) in namespaces.iter().enumerate() {
        let pointer = format!("/namespaces/{i}");
        let ok = !suffix.is_empty()
            && suffix.len() <= 40
            && suffix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !suffix.starts_with('-')
            && !suffix.ends_with('-');
        if !ok {
            errors.push(FieldError::new(
                pointer,
                format!("{suffix:?} is not a namespace suffix: 1 to 40 of a-z, 0-9 and '-', starting and ending with a letter or digit"),
            ));
        } else if namespaces[..i].contains(suffix) {
            errors.push(FieldError::new(
                pointer,
                format!("suffix {suffix:?} is listed twice"),
            ));
        }
    }
    if namespaces.len() > 32 {
        errors.push(FieldError::new(
            "/namespaces",
            format!("{} suffixes; at most 32", namespaces.len()),
        ));
    }

    let quota = match obj.get("quota") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => {
            let mut quota = BTreeMap::new();
            for (k, v) in map {
                match v {
                    Value::String(s) => {
                        quota.insert(k.clone(), s.clone());
                    }
                    other => errors.push(FieldError::new(
                        format!("/quota/{}", escape(k)),
                        format!("must be a quantity string, not {}", type_name(other)),
                    )),
                }
            }
            for (k, v) in &quota {
                let one = BTreeMap::from([(k.clone(), v.clone())]);
                if let Err(e) = mtp_core::tier::validate_quota("quota", &one) {
                    errors.push(FieldError::new(format!("/quota/{}", escape(k)), message(e)));
                }
            }
            Some(quota)
        }
        Some(other) => {
            errors.push(FieldError::new(
                "/quota",
                format!(
                    "must be an object of resource to quantity, not {}",
                    type_name(other)
                ),
            ));
            None
        }
    };

    match (name, tier, owner_email) {
        (Some(name), Some(tier), Some(owner_email)) if errors.is_empty() => {
            let fields = TenantFields {
                display_name,
                tier,
                owner_email,
                egress,
                namespaces,
                quota,
            };
            // The store's own checks, as a safety net for anything missed above.
            if let Err(mtp_core::StoreError::Invalid { field, message }) = fields.validate() {
                return Err(vec![FieldError::new(
                    super::problem::pointer_of(&field),
                    message,
                )]);
            }
            Ok(TenantBody {
                name,
                fields,
                members,
            })
        }
        _ => Err(errors),
    }
}

fn string_list(v: Option<&Value>, key: &str, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    other => {
                        ok = false;
                        errors.push(FieldError::new(
                            format!("/{key}/{i}"),
                            format!("must be a string, not {}", type_name(other)),
                        ));
                    }
                }
            }
            ok.then_some(out)
        }
        Some(other) => {
            errors.push(FieldError::new(
                format!("/{key}"),
                format!("must be an array of strings, not {}", type_name(other)),
            ));
            None
        }
    }
}

/// A member to add: `{"userId", "role"}`.
pub fn parse_member_body(body: &Value) -> Result<NewMember, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            format!("the body must be a JSON object, not {}", type_name(body)),
        )]);
    };
    for key in obj.keys() {
        if key != "userId" && key != "role" && key != "createdAt" {
            errors.push(FieldError::new(
                format!("/{}", escape(key)),
                "unknown field; known fields: userId, role",
            ));
        }
    }
    let user = match obj.get("userId") {
        Some(Value::String(u)) => match mtp_core::tenant::validate_user("userId", u) {
            Ok(()) => Some(u.clone()),
            Err(e) => {
                errors.push(FieldError::new("/userId", message(e)));
                None
            }
        },
        None | Some(Value::Null) => {
            errors.push(FieldError::new("/userId", "required"));
            None
        }
        Some(other) => {
            errors.push(FieldError::new(
                "/userId",
                format!("must be a string, not {}", type_name(other)),
            ));
            None
        }
    };
    let role = match obj.get("role") {
        Some(Value::String(r)) => match r.parse::<Role>() {
            Ok(r) => Some(r),
            Err(_) => {
                errors.push(FieldError::new(
                    "/role",
                    format!("{r:?} is not a role (admin, operator, viewer)"),
                ));
                None
            }
        },
        None | Some(Value::Null) => {
            errors.push(FieldError::new("/role", "required"));
            None
        }
        Some(other) => {
            errors.push(FieldError::new(
                "/role",
                format!("must be a string, not {}", type_name(other)),
            ));
            None
        }
    };
    match (user, role) {
        (Some(user), Some(role)) if errors.is_empty() => Ok(NewMember::new(user, role)),
        _ => Err(errors),
    }
}

/// The problem+json responses of the API, one type per status, for the handlers'
/// `#[utoipa::path(responses(...))]` lists: each description is written once.
pub mod responses {
    use super::Problem;

    /// 400: bad request: malformed JSON, bad query parameter or If-Match.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 400,
        description = "bad request: malformed JSON, bad query parameter or If-Match",
        content_type = "application/problem+json"
    )]
    pub struct BadRequest(pub Problem);

    /// 401: missing or invalid credentials.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 401,
        description = "missing or invalid credentials",
        content_type = "application/problem+json"
    )]
    pub struct Unauthorized(pub Problem);

    /// 403: the caller may see the tenant but not do this.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 403,
        description = "the caller may see the tenant but not do this",
        content_type = "application/problem+json"
    )]
    pub struct Forbidden(pub Problem);

    /// 404: no such tenant or member (or one the caller may not see).
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 404,
        description = "no such tenant or member (or one the caller may not see)",
        content_type = "application/problem+json"
    )]
    pub struct NotFound(pub Problem);

    /// 409: duplicate name, stale If-Match, member already present, namespace taken.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 409,
        description = "duplicate name, stale If-Match, member already present, namespace taken",
        content_type = "application/problem+json"
    )]
    pub struct Conflict(pub Problem);

    /// 413: body larger than 1 MiB.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 413,
        description = "body larger than 1 MiB",
        content_type = "application/problem+json"
    )]
    pub struct TooLarge(pub Problem);

    /// 415: wrong Content-Type.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 415,
        description = "wrong Content-Type",
        content_type = "application/problem+json"
    )]
    pub struct UnsupportedMediaType(pub Problem);

    /// 422: invalid fields, all listed in errors[].
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 422,
        description = "invalid fields, all listed in errors[]",
        content_type = "application/problem+json"
    )]
    pub struct Unprocessable(pub Problem);

    /// 429: rate limited.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 429,
        description = "rate limited",
        content_type = "application/problem+json"
    )]
    pub struct RateLimited(pub Problem);

    /// 503: the database is unavailable, or the request timed out.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 503,
        description = "the database is unavailable, or the request timed out",
        content_type = "application/problem+json"
    )]
    pub struct Unavailable(pub Problem);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_invalid_field_is_listed() {
        let body = serde_json::json!({
            "name": "Bad_Name", "tier": "gold", "ownerEmail": "nope",
            "admins": ["ok", ""], "viewers": ["ok"], "extra": 1, "quota": {"pods": "x"}
        });
        let errors = parse_tenant_body(&body, None).unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        for p in [
            "/extra",
            "/name",
            "/tier",
            "/ownerEmail",
            "/admins/1",
            "/viewers/0",
            "/quota/pods",
        ] {
            assert!(pointers.contains(&p), "{p} missing in {errors:?}");
        }
    }

    #[test]
    fn a_valid_body_gives_fields_and_members() {
        let body = serde_json::json!({
            "name": "acme", "tier": "pro", "ownerEmail": "o@acme.io",
            "admins": ["alice"], "viewers": ["bob"], "egress": "internet"
        });
        let parsed = parse_tenant_body(&body, None).unwrap();
        assert_eq!(parsed.fields.display_name, "acme");
        assert_eq!(parsed.fields.egress, Some(Egress::Internet));
        assert_eq!(
            parsed.members,
            vec![
                NewMember::new("alice", Role::Admin),
                NewMember::new("bob", Role::Viewer)
            ]
        );
    }
}
