//! The `Store` trait: tenants, members and the audit log, with optimistic concurrency, soft
//! delete and cursor pagination. `mtp-store` implements it on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::naming::validate_tenant_name;
use crate::tenant::{validate_display_name, validate_email, validate_user};
use crate::{Egress, StoreError, Tenant, TenantSpec, Tier};

type StoreResult<T> = std::result::Result<T, StoreError>;

/// The default page size of list operations.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest page size of list operations.
pub const MAX_PAGE_SIZE: u32 = 1000;

fn to_store(err: crate::Error) -> StoreError {
    match err {
        crate::Error::Invalid { field, message } => StoreError::Invalid { field, message },
        other => StoreError::invalid("tenant", other.to_string()),
    }
}

/// The stored fields of a tenant (its spec without the members, which the store keeps apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantFields {
    /// A human-readable name.
    pub display_name: String,
    /// The service tier.
    pub tier: Tier,
    /// The owner's e-mail address.
    pub owner_email: String,
    /// The egress policy (the tier's default when `None`).
    pub egress: Option<Egress>,
    /// Extra namespace suffixes.
    pub namespaces: Vec<String>,
    /// ResourceQuota overrides.
    pub quota: Option<BTreeMap<String, String>>,
}

impl TenantFields {
    /// Fields with the given display name, tier and owner, nothing else.
    pub fn new(display_name: &str, tier: Tier, owner_email: &str) -> Self {
        TenantFields {
            display_name: display_name.to_string(),
            tier,
            owner_email: owner_email.to_string(),
            egress: None,
            namespaces: Vec::new(),
            quota: None,
        }
    }

    /// Checks the fields as [`TenantSpec::validate`] does.
    pub fn validate(&self) -> StoreResult<()> {
        validate_display_name("displayName", &self.display_name).map_err(to_store)?;
        validate_email("ownerEmail", &self.owner_email).map_err(to_store)?;
        self.to_spec(&[]).validate().map_err(to_store)
    }

    /// The Tenant spec these fields and `members` make.
    pub fn to_spec(&self, members: &[Member]) -> TenantSpec {
        let users = |role: Role| -> Vec<String> {
            members
                .iter()
                .filter(|m| m.role == role)
                .map(|m| m.user.clone())
                .collect()
        };
        TenantSpec {
            display_name: self.display_name.clone(),
            tier: self.tier,
            owner_email: self.owner_email.clone(),
            admins: users(Role::Admin),
            operators: users(Role::Operator),
            viewers: users(Role::Viewer),
            admin_groups: Vec::new(),
            operator_groups: Vec::new(),
            viewer_groups: Vec::new(),
            egress: self.egress,
            namespaces: self.namespaces.clone(),
            quota: self.quota.clone(),
            guardrails: None,
        }
    }
}

/// A tenant to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    /// The tenant name (a DNS-1123 label of at most 56 characters), unique among live tenants.
    pub name: String,
    /// Its fields.
    pub fields: TenantFields,
}

impl NewTenant {
    /// Checks the name and the fields.
    pub fn validate(&self) -> StoreResult<()> {
        validate_tenant_name(&self.name).map_err(to_store)?;
        self.fields.validate()
    }
}

/// A stored tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    /// The id, assigned by the store.
    pub id: Uuid,
    /// The name.
    pub name: String,
    /// The fields.
    pub fields: TenantFields,
    /// The version, 1 at creation, +1 at each update: pass it to updates and deletes.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was soft-deleted, if it was.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl TenantRecord {
    /// The `Tenant` resource for this record and its members (uid = the store id).
    pub fn to_tenant(&self, members: &[Member]) -> Tenant {
        let mut tenant = Tenant::new(&self.name, self.fields.to_spec(members));
        tenant.metadata.uid = Some(self.id.to_string());
        tenant
    }
}

/// A member's role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// ClusterRole `admin` in the tenant's namespaces.
    Admin,
    /// ClusterRole `edit`.
    Operator,
    /// ClusterRole `view`.
    Viewer,
}

impl Role {
    /// `admin`, `operator` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = StoreError;

    fn from_str(s: &str) -> StoreResult<Self> {
        match s {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "viewer" => Ok(Role::Viewer),
            other => Err(StoreError::invalid(
                "role",
                format!("{other:?} is not a role (admin, operator, viewer)"),
            )),
        }
    }
}

/// A member of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The user, as the IdP names them.
    pub user: String,
    /// The role.
    pub role: Role,
    /// When the member was added.
    pub created_at: DateTime<Utc>,
}

/// Checks a member's user name for the store.
pub fn validate_member_user(user: &str) -> StoreResult<()> {
    validate_user("user", user).map_err(to_store)
}

/// A member to add together with a tenant change (see [`Store::create_tenant_audited`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    /// The user, as the IdP names them.
    pub user: String,
    /// The role.
    pub role: Role,
}

impl NewMember {
    /// A member `user` with `role`.
    pub fn new(user: impl Into<String>, role: Role) -> Self {
        NewMember {
            user: user.into(),
            role,
        }
    }
}

/// Checks a member list: valid user names, each user at most once, at most 100 per role.
pub fn validate_members(members: &[NewMember]) -> StoreResult<()> {
    for (i, m) in members.iter().enumerate() {
        validate_user(&format!("members[{i}]"), &m.user).map_err(to_store)?;
        if members[..i].iter().any(|o| o.user == m.user) {
            return Err(StoreError::invalid(
                format!("members[{i}]"),
                format!("user {:?} is listed twice", m.user),
            ));
        }
    }
    for role in [Role::Admin, Role::Operator, Role::Viewer] {
        let n = members.iter().filter(|m| m.role == role).count();
        if n > 100 {
            return Err(StoreError::invalid(
                "members",
                format!("{n} users with role {}; at most 100", role.as_str()),
            ));
        }
    }
    Ok(())
}

/// An audit record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditRecord {
    /// Who acted (user or API key id).
    pub actor: String,
    /// What they did (`tenant.create`).
    pub action: String,
    /// On what (`tenant/acme`).
    pub target: String,
    /// The outcome (`success`, `denied`, `error`).
    pub outcome: String,
    /// The request id, when there was one.
    pub request_id: Option<String>,
}

impl NewAuditRecord {
    /// Checks that actor, action, target and outcome are non-empty and at most 512 bytes.
    pub fn validate(&self) -> StoreResult<()> {
        for (field, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("outcome", &self.outcome),
        ] {
            if value.is_empty() || value.len() > 512 {
                return Err(StoreError::invalid(field, "must be 1 to 512 bytes"));
            }
        }
        if let Some(id) = &self.request_id
            && (id.is_empty() || id.len() > 128)
        {
            return Err(StoreError::invalid("requestId", "must be 1 to 128 bytes"));
        }
        Ok(())
    }
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing id.
    pub id: i64,
    /// Who acted.
    pub actor: String,
    /// What they did.
    pub action: String,
    /// On what.
    pub target: String,
    /// The outcome.
    pub outcome: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The request id.
    pub request_id: Option<String>,
}

/// Parameters of a list operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// Page size, 1 to [`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only tenants of this tier.
    pub tier: Option<Tier>,
    /// Only audit records about this target.
    pub target: Option<String>,
}

impl Default for ListParams {
    fn default() -> Self {
        ListParams {
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
            tier: None,
            target: None,
        }
    }
}

impl ListParams {
    /// Checks the page size.
    pub fn validate(&self) -> StoreResult<()> {
        if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
            return Err(StoreError::invalid(
                "limit",
                format!("{} is out of range: 1 to {MAX_PAGE_SIZE}", self.limit),
            ));
        }
        Ok(())
    }

    /// Decodes the cursor of a tenant list: the name and id of the last tenant of the previous
    /// page (tenants are listed by name, then id).
    pub fn tenant_cursor(&self) -> StoreResult<Option<(String, Uuid)>> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        let bad = || {
            StoreError::invalid(
                "cursor",
                "malformed cursor: pass next_cursor back unchanged",
            )
        };
        let (name, id) = cursor.rsplit_once('.').ok_or_else(bad)?;
        validate_tenant_name(name).map_err(|_| bad())?;
        let id = Uuid::parse_str(id).map_err(|_| bad())?;
        Ok(Some((name.to_string(), id)))
    }

    /// Decodes the cursor of an audit list: the id of the last record of the previous page.
    pub fn audit_cursor(&self) -> StoreResult<Option<i64>> {
        match &self.cursor {
            None => Ok(None),
            Some(c) => c.parse::<i64>().map(Some).map_err(|_| {
                StoreError::invalid(
                    "cursor",
                    "malformed cursor: pass next_cursor back unchanged",
                )
            }),
        }
    }
}

/// Encodes the cursor after `record` in a tenant list.
pub fn tenant_cursor(record: &TenantRecord) -> String {
    format!("{}.{}", record.name, record.id)
}

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass it as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Storage of tenants, members and the audit log.
///
/// Implementations: `mtp_store::SeaStore` (SQLite, PostgreSQL). Every method validates its input
/// first and answers [`StoreError::Invalid`] without touching the database. Every write the
/// binaries make writes its audit record in the same transaction; writes without an audit
/// record (for tests and tools) are `SeaStore`'s own methods, not part of this trait.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// The live tenant with this id.
    async fn get_tenant(&self, id: Uuid) -> StoreResult<TenantRecord>;
    /// The live tenant with this name.
    async fn get_tenant_by_name(&self, name: &str) -> StoreResult<TenantRecord>;
    /// A page of live tenants, by name, optionally of one tier.
    async fn list_tenants(&self, params: &ListParams) -> StoreResult<Page<TenantRecord>>;
    /// The members of a live tenant, by user.
    async fn list_members(&self, tenant_id: Uuid) -> StoreResult<Vec<Member>>;
    /// Appends an audit record.
    async fn append_audit(&self, record: NewAuditRecord) -> StoreResult<AuditRecord>;
    /// A page of audit records, oldest first, optionally about one target.
    async fn list_audit(&self, params: &ListParams) -> StoreResult<Page<AuditRecord>>;

    // The methods below are what the REST API uses: each mutation writes its audit record in
    // the same transaction as the change (all or nothing), and member changes bump the
    // tenant's version, since the members are part of the tenant's spec.

    /// Creates a tenant with its first members and appends `audit`, in one transaction.
    async fn create_tenant_audited(
        &self,
        new: NewTenant,
        members: Vec<NewMember>,
        audit: NewAuditRecord,
    ) -> StoreResult<(TenantRecord, Vec<Member>)>;
    /// Replaces the fields (and, when `members` is given, the whole member list) if the stored
    /// version is `expected_version`, bumps the version and appends `audit`, in one transaction.
    async fn replace_tenant_audited(
        &self,
        id: Uuid,
        expected_version: i64,
        fields: TenantFields,
        members: Option<Vec<NewMember>>,
        audit: NewAuditRecord,
    ) -> StoreResult<(TenantRecord, Vec<Member>)>;
    /// Soft-deletes the tenant if the stored version is `expected_version` (any version when
    /// `None`) and appends `audit`, in one transaction.
    async fn delete_tenant_audited(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        audit: NewAuditRecord,
    ) -> StoreResult<()>;
    /// Adds a member, bumps the tenant's version and appends `audit`, in one transaction.
    /// [`StoreError::Conflict`] if the user is already a member.
    async fn add_member_audited(
        &self,
        tenant_id: Uuid,
        member: NewMember,
        audit: NewAuditRecord,
    ) -> StoreResult<(Member, TenantRecord)>;
    /// Removes a member, bumps the tenant's version and appends `audit`, in one transaction.
    /// [`StoreError::NotFound`] if the user is not a member.
    async fn remove_member_audited(
        &self,
        tenant_id: Uuid,
        user: &str,
        audit: NewAuditRecord,
    ) -> StoreResult<TenantRecord>;
    /// A page of the live tenants `user` is a member of, by name, optionally of one tier.
    async fn list_tenants_of_user(
        &self,
        user: &str,
        params: &ListParams,
    ) -> StoreResult<Page<TenantRecord>>;
    /// A page of the audit records about tenant `name` (target `tenant/<name>`) and its
    /// members (targets under `tenant/<name>/`), oldest first.
    async fn list_tenant_audit(
        &self,
        name: &str,
        params: &ListParams,
    ) -> StoreResult<Page<AuditRecord>>;
    /// The members of the given tenants (by tenant, then user), in one query.
    async fn list_members_of(&self, tenant_ids: &[Uuid]) -> StoreResult<Vec<Member>>;
    /// The role of `user` in the tenant, if they are a member.
    async fn member_role(&self, tenant_id: Uuid, user: &str) -> StoreResult<Option<Role>>;
    /// Checks that the database answers ([`StoreError::Unavailable`] when it does not).
    async fn ping(&self) -> StoreResult<()>;
}
