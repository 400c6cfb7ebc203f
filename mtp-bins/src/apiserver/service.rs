//! The tenant service: for each API operation, authorize ([`mtp_core::authz`]), validate (the
//! [`mtp_core::api`] validators), write through the [`Store`] and audit. The HTTP handlers only
//! extract the input, call it and turn the answer into a response.

use std::sync::Arc;

use mtp_auth::Identity;
use mtp_core::api::{
    AuditView, ListView, MemberInput, MemberView, StatusView, TenantCreate, TenantReplace,
    TenantView, ValidTenant,
};
use mtp_core::authz::{self, Access, Action, Denied};
use mtp_core::{
    Egress, ListParams, Member, NewAuditRecord, Page, Store, StoreError, TenantRecord, Tier,
    TierCatalogue,
};
use serde_json::{Map, Value};

use super::extract::{Typed, deserialize_all};
use super::problem::ApiError;
use super::status::StatusSource;

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub identity: Identity,
    /// Whether they are in the platform-admin group.
    pub platform_admin: bool,
    /// The request id.
    pub request_id: Option<String>,
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Caller {
    /// The user name tenant membership is checked against.
    pub fn user(&self) -> &str {
        &self.identity.username
    }

    fn authz(&self) -> authz::Caller {
        authz::Caller {
            platform_admin: self.platform_admin,
        }
    }

    fn audit(&self, action: &str, target: &str, outcome: &str) -> NewAuditRecord {
        NewAuditRecord {
            actor: truncate(self.user(), 512).to_string(),
            action: action.to_string(),
            target: truncate(target, 512).to_string(),
            outcome: outcome.to_string(),
            request_id: self.request_id.clone(),
        }
    }
}

/// Writes the structured log line of a mutation.
fn log_audit(record: &NewAuditRecord) {
    tracing::info!(
        actor = %record.actor,
        action = %record.action,
        target = %record.target,
        outcome = %record.outcome,
        request_id = record.request_id.as_deref().unwrap_or(""),
        "audit"
    );
}

fn tenant_target(name: &str) -> String {
    format!("tenant/{name}")
}

fn member_target(name: &str, user: &str) -> String {
    format!("tenant/{name}/member/{user}")
}

fn denied(name: &str, d: Denied) -> ApiError {
    match d {
        Denied::NotVisible => ApiError::tenant_not_found(name),
        Denied::Forbidden(why) => ApiError::Forbidden(why.to_string()),
    }
}

fn map_list_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Invalid { field, .. } if field == "cursor" => ApiError::bad_parameter(
            "continue",
            "malformed; pass the continue value of the previous page back unchanged",
        ),
        other => other.into(),
    }
}

/// A live tenant the caller may act on, its members and the caller's access.
struct Visible {
    tenant: TenantRecord,
    members: Vec<Member>,
    access: Access,
}

/// A tenant after a write, with its ETag version.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    /// The answer.
    pub value: T,
    /// The tenant's version after the write.
    pub version: i64,
}

/// The operations of the API on tenants, members and the audit log.
#[derive(Clone)]
pub struct TenantService {
    store: Arc<dyn Store>,
    status: Arc<dyn StatusSource>,
    tiers: Arc<TierCatalogue>,
}

impl std::fmt::Debug for TenantService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantService").finish_non_exhaustive()
    }
}

impl TenantService {
    /// A service over `store`, with tenant status from `status` and tier defaults from `tiers`.
    pub fn new(
        store: Arc<dyn Store>,
        status: Arc<dyn StatusSource>,
        tiers: Arc<TierCatalogue>,
    ) -> Self {
        TenantService {
            store,
            status,
            tiers,
        }
    }

    fn default_egress(&self, tier: Tier) -> Egress {
        self.tiers.get(tier).default_egress
    }

    /// Records a refused or failed mutation (best effort: the database may be the reason it
    /// failed).
    async fn audit_failure(&self, caller: &Caller, action: &str, target: &str, err: &ApiError) {
        let outcome = match err {
            ApiError::Forbidden(_) | ApiError::NotFound(_) => "denied",
            ApiError::Unavailable | ApiError::Internal | ApiError::Timeout => {
                log_audit(&caller.audit(action, target, "error"));
                return;
            }
            _ => "error",
        };
        let record = caller.audit(action, target, outcome);
        log_audit(&record);
        if let Err(e) = self.store.append_audit(record).await {
            tracing::warn!(error = %e, "cannot write the audit record of a failed request");
        }
    }

    /// Audits the failure of a mutation.
    async fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        result: Result<T>,
    ) -> Result<T> {
        if let Err(e) = &result {
            self.audit_failure(caller, action, target, e).await;
        }
        result
    }

    /// The live tenant `name`, or 404 when it does not exist or the name cannot be one.
    async fn load(&self, name: &str) -> Result<TenantRecord> {
        if mtp_core::naming::validate_tenant_name(name).is_err() {
            return Err(ApiError::tenant_not_found(name));
        }
        match self.store.get_tenant_by_name(name).await {
            Ok(t) => Ok(t),
            Err(StoreError::NotFound { .. }) => Err(ApiError::tenant_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// The tenant, if the caller may do `action` on it (404 when they may not see it).
    async fn visible(&self, caller: &Caller, name: &str, action: Action) -> Result<Visible> {
        let tenant = self.load(name).await?;
        let members = self.store.list_members_of(&[tenant.id]).await?;
        let membership = members
            .iter()
            .find(|m| m.user == caller.user())
            .map(|m| m.role);
        let access =
            authz::authorize(caller.authz(), action, membership).map_err(|d| denied(name, d))?;
        Ok(Visible {
            tenant,
            members,
            access,
        })
    }

    async fn view(&self, tenant: &TenantRecord, members: &[Member]) -> TenantView {
        let refs: Vec<&Member> = members.iter().collect();
        let status = self.status.status(&tenant.name).await;
        TenantView::new(
            tenant,
            &refs,
            status,
            self.default_egress(tenant.fields.tier),
        )
    }

    /// A page of the tenants the caller may see: all for platform admins.
    pub async fn list(&self, caller: &Caller, params: &ListParams) -> Result<ListView<TenantView>> {
        authz::authorize(caller.authz(), Action::ListTenants, None).map_err(|d| denied("", d))?;
        let page = if caller.platform_admin {
            self.store.list_tenants(params).await
        } else if mtp_core::tenant::validate_user("user", caller.user()).is_err() {
            Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            })
        } else {
            self.store.list_tenants_of_user(caller.user(), params).await
        }
        .map_err(map_list_error)?;
        let ids: Vec<uuid::Uuid> = page.items.iter().map(|t| t.id).collect();
        let members = self.store.list_members_of(&ids).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for t in &page.items {
            let mine: Vec<&Member> = members.iter().filter(|m| m.tenant_id == t.id).collect();
            let status = self.status.status(&t.name).await;
            items.push(TenantView::new(
                t,
                &mine,
                status,
                self.default_egress(t.fields.tier),
            ));
        }
        Ok(ListView {
            items,
            continue_: page.next_cursor,
        })
    }

    /// Creates a tenant (platform admins).
    pub async fn create(
        &self,
        caller: &Caller,
        body: Result<Typed<TenantCreate>>,
    ) -> Result<TenantView> {
        let name = body
            .as_ref()
            .map(|b| b.value.name.clone())
            .unwrap_or_default();
        let target = tenant_target(&name);
        let result = async {
            authz::authorize(caller.authz(), Action::CreateTenant, None)
                .map_err(|d| denied(&name, d))?;
            let valid = body?.merge(TenantCreate::validate)?;
            let audit = caller.audit("tenant.create", &target, "success");
            let logged = audit.clone();
            let (record, members) = self
                .store
                .create_tenant_audited(
                    mtp_core::NewTenant {
                        name: valid.name,
                        fields: valid.fields,
                    },
                    valid.members,
                    audit,
                )
                .await?;
            log_audit(&logged);
            Ok(self.view(&record, &members).await)
        }
        .await;
        self.audited(caller, "tenant.create", &target, result).await
    }

    /// Reads a tenant.
    pub async fn get(&self, caller: &Caller, name: &str) -> Result<TenantView> {
        let v = self.visible(caller, name, Action::ReadTenant).await?;
        Ok(self.view(&v.tenant, &v.members).await)
    }

    /// Replaces a tenant (platform admins; tenant admins, not the tier). `if_match` is the
    /// version the caller read (`None`: any).
    pub async fn replace(
        &self,
        caller: &Caller,
        name: &str,
        if_match: Result<Option<i64>>,
        body: Result<Typed<TenantReplace>>,
    ) -> Result<TenantView> {
        let result = async {
            let v = self.visible(caller, name, Action::UpdateTenant).await?;
            let expected = if_match?.unwrap_or(v.tenant.version);
            let valid = body?.merge(|b| b.validate(name))?;
            self.write_update(caller, v, expected, valid, true).await
        }
        .await;
        self.audited(caller, "tenant.update", &tenant_target(name), result)
            .await
    }

    /// Merge-patches a tenant (RFC 7396), then as [`TenantService::replace`].
    pub async fn patch(
        &self,
        caller: &Caller,
        name: &str,
        if_match: Result<Option<i64>>,
        patch: Result<Map<String, Value>>,
    ) -> Result<TenantView> {
        let result = async {
            let v = self.visible(caller, name, Action::UpdateTenant).await?;
            let expected = if_match?.unwrap_or(v.tenant.version);
            let patch = patch?;
            let touches_members = ["admins", "operators", "viewers"]
                .iter()
                .any(|k| patch.contains_key(*k));
            let refs: Vec<&Member> = v.members.iter().collect();
            let current = TenantView::new(
                &v.tenant,
                &refs,
                StatusView::unknown(""),
                self.default_egress(v.tenant.fields.tier),
            )
            .to_replace();
            let mut doc = serde_json::to_value(current).map_err(|e| {
                tracing::error!(error = %e, "cannot serialize a tenant");
                ApiError::Internal
            })?;
            json_patch::merge(&mut doc, &Value::Object(patch));
            let valid = deserialize_all::<TenantReplace>(doc)?.merge(|b| b.validate(name))?;
            self.write_update(caller, v, expected, valid, touches_members)
                .await
        }
        .await;
        self.audited(caller, "tenant.update", &tenant_target(name), result)
            .await
    }

    async fn write_update(
        &self,
        caller: &Caller,
        v: Visible,
        expected: i64,
        valid: ValidTenant,
        replace_members: bool,
    ) -> Result<TenantView> {
        if valid.fields.tier != v.tenant.fields.tier && v.access != Access::PlatformAdmin {
            let membership = match v.access {
                Access::Member(role) => Some(role),
                _ => None,
            };
            authz::authorize(caller.authz(), Action::ChangeTier, membership)
                .map_err(|d| denied(&valid.name, d))?;
        }
        let audit = caller.audit("tenant.update", &tenant_target(&valid.name), "success");
        let logged = audit.clone();
        let (record, members) = self
            .store
            .replace_tenant_audited(
                v.tenant.id,
                expected,
                valid.fields,
                replace_members.then_some(valid.members),
                audit,
            )
            .await?;
        log_audit(&logged);
        Ok(self.view(&record, &members).await)
    }

    /// Deletes a tenant (platform admins).
    pub async fn delete(
        &self,
        caller: &Caller,
        name: &str,
        if_match: Result<Option<i64>>,
    ) -> Result<()> {
        let target = tenant_target(name);
        let result = async {
            let v = self.visible(caller, name, Action::DeleteTenant).await?;
            let expected = if_match?;
            let audit = caller.audit("tenant.delete", &target, "success");
            let logged = audit.clone();
            self.store
                .delete_tenant_audited(v.tenant.id, expected, audit)
                .await?;
            log_audit(&logged);
            Ok(())
        }
        .await;
        self.audited(caller, "tenant.delete", &target, result).await
    }

    /// The members of a tenant.
    pub async fn members(&self, caller: &Caller, name: &str) -> Result<ListView<MemberView>> {
        let v = self.visible(caller, name, Action::ReadTenant).await?;
        Ok(ListView {
            items: v.members.iter().map(MemberView::from).collect(),
            continue_: None,
        })
    }

    /// Adds a member (tenant admins, platform admins). The audit record names the member when
    /// the body names one.
    pub async fn add_member(
        &self,
        caller: &Caller,
        name: &str,
        body: Result<Typed<MemberInput>>,
    ) -> Result<Versioned<MemberView>> {
        let target = match &body {
            Ok(b) if !b.value.user_id.is_empty() => member_target(name, &b.value.user_id),
            _ => tenant_target(name),
        };
        let result = async {
            let v = self.visible(caller, name, Action::AddMember).await?;
            let member = body?.merge(MemberInput::validate)?;
            let audit = caller.audit("member.add", &member_target(name, &member.user), "success");
            let logged = audit.clone();
            let (added, record) = self
                .store
                .add_member_audited(v.tenant.id, member, audit)
                .await?;
            log_audit(&logged);
            Ok(Versioned {
                value: MemberView::from(&added),
                version: record.version,
            })
        }
        .await;
        self.audited(caller, "member.add", &target, result).await
    }

    /// Removes a member (tenant admins, platform admins); answers the tenant's new version.
    pub async fn remove_member(&self, caller: &Caller, name: &str, user: &str) -> Result<i64> {
        let target = member_target(name, user);
        let not_member =
            || ApiError::NotFound(format!("user {user:?} is not a member of tenant {name:?}"));
        let result = async {
            let v = self.visible(caller, name, Action::RemoveMember).await?;
            if mtp_core::tenant::validate_user("userId", user).is_err() {
                return Err(not_member());
            }
            let audit = caller.audit("member.remove", &target, "success");
            let logged = audit.clone();
            match self
                .store
                .remove_member_audited(v.tenant.id, user, audit)
                .await
            {
                Ok(record) => {
                    log_audit(&logged);
                    Ok(record.version)
                }
                Err(StoreError::NotFound { kind: "member", .. }) => Err(not_member()),
                Err(e) => Err(e.into()),
            }
        }
        .await;
        self.audited(caller, "member.remove", &target, result).await
    }

    /// A page of the audit records of a tenant (tenant admins, platform admins).
    pub async fn audit(
        &self,
        caller: &Caller,
        name: &str,
        params: Result<ListParams>,
    ) -> Result<ListView<AuditView>> {
        self.visible(caller, name, Action::ReadAudit).await?;
        let page = self
            .store
            .list_tenant_audit(name, &params?)
            .await
            .map_err(map_list_error)?;
        Ok(ListView {
            items: page.items.into_iter().map(AuditView::from).collect(),
            continue_: page.next_cursor,
        })
    }
}
