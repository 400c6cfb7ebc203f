//! The handlers: parsing, authorization against the stored members, the store call, and the
//! audit record of every mutation.

use std::collections::HashMap;
use std::sync::Arc;

use super::types::responses;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use mtp_auth::{AuthMethod, Identity};
use mtp_core::{ListParams, Member, NewAuditRecord, Role, StoreError, TenantRecord, Tier};
use serde_json::Value;

use super::problem::ApiError;
#[allow(unused_imports)] // named by the OpenAPI attributes only
use super::types::{
    AuditView, AuthConfigView, ListView, MemberInput, MemberView, Problem, StatusOk, TenantInput,
    TenantPatch, TenantReplace, TenantView, WhoAmI, parse_member_body, parse_tenant_body,
};
use super::{ApiState, BODY_LIMIT, RequestId};

type Shared = Arc<ApiState>;
type ApiResult<T = Response> = Result<T, ApiError>;

/// The authenticated routes (`/api/v1/...`); [`super::app`] adds the authentication layers.
pub fn api_routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/tenants", get(list_tenants).post(create_tenant))
        .route(
            "/api/v1/tenants/{name}",
            get(get_tenant)
                .put(put_tenant)
                .patch(patch_tenant)
                .delete(delete_tenant),
        )
        .route(
            "/api/v1/tenants/{name}/members",
            get(list_members).post(add_member),
        )
        .route(
            "/api/v1/tenants/{name}/members/{userId}",
            delete(remove_member),
        )
        .route("/api/v1/tenants/{name}/audit", get(list_audit))
        .route("/api/v1/whoami", get(whoami))
}

/// The routes without authentication.
pub fn public_routes() -> Router<Shared> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/auth-config", get(auth_config))
}

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

impl FromRequestParts<Shared> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let Some(identity) = parts.extensions.get::<Identity>().cloned() else {
            return Err(mtp_auth::layer::unauthorized());
        };
        let platform_admin = identity
            .groups
            .iter()
            .any(|g| g == &state.platform_admin_group);
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        Ok(Caller {
            identity,
            platform_admin,
            request_id,
        })
    }
}

/// What the caller may do with one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    PlatformAdmin,
    Member(Role),
    None,
}

impl Access {
    fn can_see(self) -> bool {
        self != Access::None
    }

    fn can_admin(self) -> bool {
        matches!(self, Access::PlatformAdmin | Access::Member(Role::Admin))
    }
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
    fn user(&self) -> &str {
        &self.identity.username
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

    /// The caller's access to a tenant with these (stored) members.
    fn access(&self, members: &[Member]) -> Access {
        if self.platform_admin {
            return Access::PlatformAdmin;
        }
        match members.iter().find(|m| m.user == self.user()) {
            Some(m) => Access::Member(m.role),
            None => Access::None,
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

/// Records a refused or failed mutation (best effort: the database may be the reason it failed).
async fn audit_failure(
    state: &ApiState,
    caller: &Caller,
    action: &str,
    target: &str,
    err: &ApiError,
) {
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
    if let Err(e) = state.store.append_audit(record).await {
        tracing::warn!(error = %e, "cannot write the audit record of a failed request");
    }
}

/// Runs a mutation and audits its failure.
async fn audited(
    state: &ApiState,
    caller: &Caller,
    action: &str,
    target: &str,
    result: ApiResult,
) -> Response {
    match result {
        Ok(r) => r,
        Err(e) => {
            audit_failure(state, caller, action, target, &e).await;
            e.into_response()
        }
    }
}

fn tenant_target(name: &str) -> String {
    format!("tenant/{name}")
}

/// The live tenant `name`, or 404 when it does not exist or the name cannot be one.
async fn load_tenant(state: &ApiState, name: &str) -> ApiResult<TenantRecord> {
    if mtp_core::naming::validate_tenant_name(name).is_err() {
        return Err(ApiError::tenant_not_found(name));
    }
    match state.store.get_tenant_by_name(name).await {
        Ok(t) => Ok(t),
        Err(StoreError::NotFound { .. }) => Err(ApiError::tenant_not_found(name)),
        Err(e) => Err(e.into()),
    }
}

/// A live tenant, its members and the caller's access (two queries); 404 when they may not
/// see it.
struct Visible {
    tenant: TenantRecord,
    members: Vec<Member>,
    access: Access,
}

async fn visible_tenant(state: &ApiState, caller: &Caller, name: &str) -> ApiResult<Visible> {
    let tenant = load_tenant(state, name).await?;
    let members = state.store.list_members_of(&[tenant.id]).await?;
    let access = caller.access(&members);
    if !access.can_see() {
        return Err(ApiError::tenant_not_found(name));
    }
    Ok(Visible {
        tenant,
        members,
        access,
    })
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` header asks for (`None`: absent or `*`).
fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest {
        kind: "invalid-header",
        detail: "If-Match must be the ETag of a GET, like \"3\"".into(),
        errors: Vec::new(),
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.strip_prefix("W/").unwrap_or(s);
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(bad)?;
    inner.parse::<i64>().map(Some).map_err(|_| bad())
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Reads a JSON body of media type `expected`: 415, 413 or 400 when it is not one.
fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    expected: &str,
) -> ApiResult<Value> {
    match media_type(headers) {
        Some(t) if t == expected => {}
        Some(t) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "{t:?}; send Content-Type: {expected}"
            )));
        }
        None => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "none given; send Content-Type: {expected}"
            )));
        }
    }
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::PayloadTooLarge(BODY_LIMIT));
        }
        Err(_) => return Err(ApiError::malformed_json("the request body cannot be read")),
    };
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::malformed_json(format!(
            "the body is not valid JSON: {} at line {} column {}",
            match e.classify() {
                serde_json::error::Category::Eof => "unexpected end of input",
                _ => "syntax error",
            },
            e.line(),
            e.column()
        ))
    })
}

fn query_map(raw: Option<String>) -> ApiResult<HashMap<String, String>> {
    let raw = raw.unwrap_or_default();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(&raw).map_err(|_| ApiError::BadRequest {
            kind: "invalid-parameter",
            detail: "the query string cannot be decoded".into(),
            errors: Vec::new(),
        })?;
    Ok(pairs.into_iter().collect())
}

fn list_params(q: &HashMap<String, String>) -> ApiResult<ListParams> {
    let mut params = ListParams::default();
    if let Some(limit) = q.get("limit") {
        params.limit = limit
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=mtp_core::store::MAX_PAGE_SIZE).contains(l))
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "limit",
                    format!(
                        "must be a number from 1 to {}",
                        mtp_core::store::MAX_PAGE_SIZE
                    ),
                )
            })?;
    }
    if let Some(c) = q.get("continue")
        && !c.is_empty()
    {
        params.cursor = Some(c.clone());
    }
    Ok(params)
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

async fn views(state: &ApiState, tenants: &[TenantRecord]) -> ApiResult<Vec<TenantView>> {
    let ids: Vec<uuid::Uuid> = tenants.iter().map(|t| t.id).collect();
    let members = state.store.list_members_of(&ids).await?;
    let mut out = Vec::with_capacity(tenants.len());
    for t in tenants {
        let mine: Vec<&Member> = members.iter().filter(|m| m.tenant_id == t.id).collect();
        let status = state.status.status(&t.name).await;
        out.push(TenantView::new(t, &mine, status));
    }
    Ok(out)
}

async fn view(state: &ApiState, tenant: &TenantRecord, members: &[Member]) -> TenantView {
    let refs: Vec<&Member> = members.iter().collect();
    let status = state.status.status(&tenant.name).await;
    TenantView::new(tenant, &refs, status)
}

fn with_etag(status: StatusCode, view: TenantView) -> Response {
    let tag = etag(view.version);
    let mut r = (status, Json(view)).into_response();
    r.headers_mut().insert(header::ETAG, tag);
    r
}

/// Lists tenants.
#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    params(("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100)"), ("continue" = Option<String>, Query, description = "The `continue` of the previous page"), ("tier" = Option<String>, Query, description = "Only tenants of this tier (free, pro, enterprise)")),
    responses(
        (status = 200, description = "A page of tenants: all for platform admins, else those the caller is a member of", body = ListView<TenantView>),
        responses::BadRequest,
        responses::Unauthorized,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn list_tenants(
    State(state): State<Shared>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = query_map(raw)?;
    let mut params = list_params(&q)?;
    if let Some(tier) = q.get("tier") {
        params.tier = Some(tier.parse::<Tier>().map_err(|_| {
            ApiError::bad_parameter(
                "tier",
                format!("{tier:?} is not a tier (free, pro, enterprise)"),
            )
        })?);
    }
    let page = if caller.platform_admin {
        state.store.list_tenants(&params).await
    } else if mtp_core::tenant::validate_user("user", caller.user()).is_err() {
        Ok(mtp_core::Page {
            items: Vec::new(),
            next_cursor: None,
        })
    } else {
        state
            .store
            .list_tenants_of_user(caller.user(), &params)
            .await
    }
    .map_err(map_list_error)?;
    let items = views(&state, &page.items).await?;
    Ok(Json(ListView {
        items,
        continue_: page.next_cursor,
    })
    .into_response())
}

/// Creates a tenant (platform admins).
#[utoipa::path(
    post,
    path = "/api/v1/tenants",
    request_body(content = TenantInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; ETag and Location headers", body = TenantView),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::Conflict,
        responses::TooLarge,
        responses::UnsupportedMediaType,
        responses::Unprocessable,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn create_tenant(
    State(state): State<Shared>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let value = json_body(&headers, body, "application/json");
    let name = value
        .as_ref()
        .ok()
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let target = tenant_target(&name);
    let result = async {
        if !caller.platform_admin {
            return Err(ApiError::Forbidden(
                "only platform admins may create tenants".into(),
            ));
        }
        let parsed = parse_tenant_body(&value?, None).map_err(ApiError::Validation)?;
        let audit = caller.audit("tenant.create", &target, "success");
        let logged = audit.clone();
        let (record, members) = state
            .store
            .create_tenant_audited(
                mtp_core::NewTenant {
                    name: parsed.name,
                    fields: parsed.fields,
                },
                parsed.members,
                audit,
            )
            .await?;
        log_audit(&logged);
        let v = view(&state, &record, &members).await;
        let mut r = with_etag(StatusCode::CREATED, v);
        if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/tenants/{}", record.name)) {
            r.headers_mut().insert(header::LOCATION, loc);
        }
        Ok(r)
    }
    .await;
    audited(&state, &caller, "tenant.create", &target, result).await
}

/// Reads a tenant.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{name}",
    params(("name" = String, Path, description = "The tenant name")),
    responses(
        (status = 200, description = "The tenant; ETag header", body = TenantView),
        responses::Unauthorized,
        responses::NotFound,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn get_tenant(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    let v = visible_tenant(&state, &caller, &name).await?;
    Ok(with_etag(
        StatusCode::OK,
        view(&state, &v.tenant, &v.members).await,
    ))
}

/// PUT and PATCH: the new body, checked against what the caller may change.
async fn replace(
    state: &ApiState,
    caller: &Caller,
    name: &str,
    headers: &HeaderMap,
    build: impl FnOnce(&TenantView) -> ApiResult<(Value, bool)>,
) -> ApiResult {
    let Visible {
        tenant,
        members,
        access,
    } = visible_tenant(state, caller, name).await?;
    if !access.can_admin() {
        return Err(ApiError::Forbidden(
            "only tenant admins and platform admins may change a tenant".into(),
        ));
    }
    let expected = if_match(headers)?.unwrap_or(tenant.version);
    let refs: Vec<&Member> = members.iter().collect();
    let current = TenantView::new(&tenant, &refs, super::types::StatusView::unknown(""));
    let (doc, replace_members) = build(&current)?;
    let parsed = parse_tenant_body(&doc, Some(name)).map_err(ApiError::Validation)?;
    if access != Access::PlatformAdmin && parsed.fields.tier != tenant.fields.tier {
        return Err(ApiError::Forbidden(
            "only platform admins may change the tier".into(),
        ));
    }
    let action = "tenant.update";
    let audit = caller.audit(action, &tenant_target(name), "success");
    let logged = audit.clone();
    let (record, members) = state
        .store
        .replace_tenant_audited(
            tenant.id,
            expected,
            parsed.fields,
            replace_members.then_some(parsed.members),
            audit,
        )
        .await?;
    log_audit(&logged);
    Ok(with_etag(
        StatusCode::OK,
        view(state, &record, &members).await,
    ))
}

/// Replaces a tenant (platform admins; tenant admins, not the tier).
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{name}",
    request_body(content = TenantReplace, content_type = "application/json"),
    params(("name" = String, Path, description = "The tenant name"), ("If-Match" = Option<String>, Header, description = "The ETag of a GET (`\"3\"`); a stale one is 409")),
    responses(
        (status = 200, description = "Replaced; ETag header", body = TenantView),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::Conflict,
        responses::TooLarge,
        responses::UnsupportedMediaType,
        responses::Unprocessable,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn put_tenant(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let value = json_body(&headers, body, "application/json");
        replace(&state, &caller, &name, &headers, |_| Ok((value?, true))).await
    }
    .await;
    audited(
        &state,
        &caller,
        "tenant.update",
        &tenant_target(&name),
        result,
    )
    .await
}

/// Merge-patches a tenant (as PUT).
#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{name}",
    request_body(content = TenantPatch, content_type = "application/merge-patch+json"),
    params(("name" = String, Path, description = "The tenant name"), ("If-Match" = Option<String>, Header, description = "The ETag of a GET (`\"3\"`); a stale one is 409")),
    responses(
        (status = 200, description = "Patched; ETag header", body = TenantView),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::Conflict,
        responses::TooLarge,
        responses::UnsupportedMediaType,
        responses::Unprocessable,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn patch_tenant(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let patch = json_body(&headers, body, "application/merge-patch+json");
        replace(&state, &caller, &name, &headers, |current| {
            let patch = patch?;
            if !patch.is_object() {
                return Err(ApiError::Validation(vec![super::problem::FieldError::new(
                    "",
                    "a merge patch must be a JSON object",
                )]));
            }
            let touches_members = ["admins", "operators", "viewers"]
                .iter()
                .any(|k| patch.get(k).is_some());
            let mut doc = current.to_body();
            json_patch::merge(&mut doc, &patch);
            Ok((doc, touches_members))
        })
        .await
    }
    .await;
    audited(
        &state,
        &caller,
        "tenant.update",
        &tenant_target(&name),
        result,
    )
    .await
}

/// Deletes a tenant (platform admins).
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{name}",
    params(("name" = String, Path, description = "The tenant name"), ("If-Match" = Option<String>, Header, description = "The ETag of a GET (`\"3\"`); a stale one is 409")),
    responses(
        (status = 204, description = "Deleted"),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::Conflict,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn delete_tenant(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let target = tenant_target(&name);
    let result = async {
        let Visible { tenant, access, .. } = visible_tenant(&state, &caller, &name).await?;
        if access != Access::PlatformAdmin {
            return Err(ApiError::Forbidden(
                "only platform admins may delete tenants".into(),
            ));
        }
        let expected = if_match(&headers)?;
        let audit = caller.audit("tenant.delete", &target, "success");
        let logged = audit.clone();
        state
            .store
            .delete_tenant_audited(tenant.id, expected, audit)
            .await?;
        log_audit(&logged);
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    audited(&state, &caller, "tenant.delete", &target, result).await
}

/// Lists the members of a tenant.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{name}/members",
    params(("name" = String, Path, description = "The tenant name")),
    responses(
        (status = 200, description = "The members", body = ListView<MemberView>),
        responses::Unauthorized,
        responses::NotFound,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn list_members(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    let v = visible_tenant(&state, &caller, &name).await?;
    Ok(Json(ListView {
        items: v.members.iter().map(MemberView::from).collect(),
        continue_: None,
    })
    .into_response())
}

/// Adds a member (tenant admins, platform admins).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{name}/members",
    request_body(content = MemberInput, content_type = "application/json"),
    params(("name" = String, Path, description = "The tenant name")),
    responses(
        (status = 201, description = "Added; ETag header of the tenant", body = MemberView),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::Conflict,
        responses::TooLarge,
        responses::UnsupportedMediaType,
        responses::Unprocessable,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn add_member(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let target = tenant_target(&name);
    let result = async {
        let Visible { tenant, access, .. } = visible_tenant(&state, &caller, &name).await?;
        if !access.can_admin() {
            return Err(ApiError::Forbidden(
                "only tenant admins and platform admins may add members".into(),
            ));
        }
        let value = json_body(&headers, body, "application/json")?;
        let member = parse_member_body(&value).map_err(ApiError::Validation)?;
        let audit = caller.audit(
            "member.add",
            &format!("{target}/member/{}", member.user),
            "success",
        );
        let logged = audit.clone();
        let (added, record) = state
            .store
            .add_member_audited(tenant.id, member, audit)
            .await?;
        log_audit(&logged);
        let mut r = (StatusCode::CREATED, Json(MemberView::from(&added))).into_response();
        r.headers_mut().insert(header::ETAG, etag(record.version));
        Ok(r)
    }
    .await;
    audited(&state, &caller, "member.add", &target, result).await
}

/// Removes a member (tenant admins, platform admins).
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{name}/members/{userId}",
    params(("name" = String, Path, description = "The tenant name"), ("userId" = String, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed"),
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn remove_member(
    State(state): State<Shared>,
    caller: Caller,
    Path((name, user_id)): Path<(String, String)>,
) -> Response {
    let target = format!("{}/member/{user_id}", tenant_target(&name));
    let result = async {
        let Visible { tenant, access, .. } = visible_tenant(&state, &caller, &name).await?;
        if !access.can_admin() {
            return Err(ApiError::Forbidden(
                "only tenant admins and platform admins may remove members".into(),
            ));
        }
        if mtp_core::tenant::validate_user("userId", &user_id).is_err() {
            return Err(ApiError::NotFound(format!(
                "user {user_id:?} is not a member of tenant {name:?}"
            )));
        }
        let audit = caller.audit("member.remove", &target, "success");
        let logged = audit.clone();
        match state
            .store
            .remove_member_audited(tenant.id, &user_id, audit)
            .await
        {
            Ok(record) => {
                log_audit(&logged);
                let mut r = StatusCode::NO_CONTENT.into_response();
                r.headers_mut().insert(header::ETAG, etag(record.version));
                Ok(r)
            }
            Err(StoreError::NotFound { kind: "member", .. }) => Err(ApiError::NotFound(format!(
                "user {user_id:?} is not a member of tenant {name:?}"
            ))),
            Err(e) => Err(e.into()),
        }
    }
    .await;
    audited(&state, &caller, "member.remove", &target, result).await
}

/// Lists the audit records of a tenant (tenant admins, platform admins).
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{name}/audit",
    params(("name" = String, Path, description = "The tenant name"), ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100)"), ("continue" = Option<String>, Query, description = "The `continue` of the previous page")),
    responses(
        (status = 200, description = "A page of audit records, oldest first", body = ListView<AuditView>),
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::RateLimited,
        responses::Unavailable
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn list_audit(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let Visible { access, .. } = visible_tenant(&state, &caller, &name).await?;
    if !access.can_admin() {
        return Err(ApiError::Forbidden(
            "only tenant admins and platform admins may read the audit log".into(),
        ));
    }
    let q = query_map(raw)?;
    let params = list_params(&q)?;
    let page = state
        .store
        .list_tenant_audit(&name, &params)
        .await
        .map_err(map_list_error)?;
    Ok(Json(ListView {
        items: page.items.into_iter().map(AuditView::from).collect(),
        continue_: page.next_cursor,
    })
    .into_response())
}

/// Who the caller is.
#[utoipa::path(
    get,
    path = "/api/v1/whoami",
    responses(
        (status = 200, description = "The caller", body = WhoAmI),
        responses::Unauthorized,
        responses::RateLimited
    ),
    security(("bearer" = [])),
    tag = "api"
)]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    let method = match &caller.identity.method {
        AuthMethod::StaticKey { .. } => "static-key",
        AuthMethod::Oidc { .. } => "oidc",
        AuthMethod::Anonymous => "none",
        _ => "other",
    };
    Json(WhoAmI {
        user: caller.identity.username.clone(),
        groups: caller.identity.groups.clone(),
        method: method.to_string(),
        platform_admin: caller.platform_admin,
        subject: caller.identity.subject.clone(),
    })
}

/// The OIDC settings a client needs to log in (no credentials needed).
#[utoipa::path(
    get,
    path = "/api/v1/auth-config",
    responses(
        (status = 200, description = "What a client needs to log in (nulls without OIDC)", body = AuthConfigView)
    ),
    tag = "api"
)]
pub async fn auth_config(State(state): State<Shared>) -> Response {
    Json(state.auth_config.clone()).into_response()
}

/// Liveness.
#[utoipa::path(
    get,
    path = "/healthz",
    responses(
        (status = 200, description = "The process is alive", body = StatusOk)
    ),
    tag = "system"
)]
pub async fn healthz() -> Response {
    crate::runtime::probes::healthz().await
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "The database answers", body = StatusOk),
        responses::Unavailable
    ),
    tag = "system"
)]
pub async fn readyz(State(state): State<Shared>) -> Response {
    crate::runtime::probes::readyz(&StoreReady(state.store.clone())).await
}

/// The API is ready when its store answers; else the store's error as problem+json.
#[derive(Clone)]
struct StoreReady(Arc<dyn mtp_core::Store>);

impl crate::runtime::Readiness for StoreReady {
    async fn check(&self) -> Result<(), Response> {
        self.0
            .ping()
            .await
            .map_err(|e| ApiError::from(e).into_response())
    }
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    responses(
        (status = 200, description = "The metrics in the OpenMetrics text format", body = String,
         content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")
    ),
    tag = "system"
)]
pub async fn metrics(State(state): State<Shared>) -> Response {
    crate::runtime::probes::metrics(&*state.metrics)
}
