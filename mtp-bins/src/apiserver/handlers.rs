//! The handlers: thin adapters that extract the typed input, call the [`TenantService`] and
//! turn its answer into a response.

use std::collections::HashMap;
use std::sync::Arc;

use super::types::responses;
use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use mtp_auth::AuthMethod;
use mtp_core::{ListParams, Tier};

use super::extract::{JsonBody, MergePatch};
use super::problem::ApiError;
pub use super::service::Caller;
use super::service::TenantService;
#[allow(unused_imports)] // named by the OpenAPI attributes only
use super::types::{
    AuditView, AuthConfigView, ListView, MemberInput, MemberView, Problem, StatusOk, TenantCreate,
    TenantPatch, TenantReplace, TenantView, WhoAmI,
};
use super::{ApiState, RequestId};

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

impl FromRequestParts<Shared> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let Some(identity) = parts.extensions.get::<mtp_auth::Identity>().cloned() else {
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

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` header asks for (`None`: absent, empty or `*`).
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
    if s == "*" || s.is_empty() {
        return Ok(None);
    }
    let s = s.strip_prefix("W/").unwrap_or(s);
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(bad)?;
    inner.parse::<i64>().map(Some).map_err(|_| bad())
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

fn service(state: &ApiState) -> TenantService {
    state.tenants()
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
    params(("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100)"), ("continue" = Option<String>, Query, description = "The `continue` of the previous page"), ("tier" = Option<Tier>, Query, description = "Only tenants of this tier")),
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
    Ok(Json(service(&state).list(&caller, &params).await?).into_response())
}

/// Creates a tenant (platform admins).
#[utoipa::path(
    post,
    path = "/api/v1/tenants",
    request_body(content = TenantCreate, content_type = "application/json"),
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
    body: Result<JsonBody<TenantCreate>, ApiError>,
) -> ApiResult {
    let view = service(&state).create(&caller, body.map(|b| b.0)).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/tenants/{}", view.name));
    let mut r = with_etag(StatusCode::CREATED, view);
    if let Ok(loc) = location {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(r)
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
    let view = service(&state).get(&caller, &name).await?;
    Ok(with_etag(StatusCode::OK, view))
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
    body: Result<JsonBody<TenantReplace>, ApiError>,
) -> ApiResult {
    let view = service(&state)
        .replace(&caller, &name, if_match(&headers), body.map(|b| b.0))
        .await?;
    Ok(with_etag(StatusCode::OK, view))
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
    body: Result<MergePatch, ApiError>,
) -> ApiResult {
    let view = service(&state)
        .patch(&caller, &name, if_match(&headers), body.map(|b| b.0))
        .await?;
    Ok(with_etag(StatusCode::OK, view))
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
) -> ApiResult {
    service(&state)
        .delete(&caller, &name, if_match(&headers))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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
    Ok(Json(service(&state).members(&caller, &name).await?).into_response())
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
    body: Result<JsonBody<MemberInput>, ApiError>,
) -> ApiResult {
    let added = service(&state)
        .add_member(&caller, &name, body.map(|b| b.0))
        .await?;
    let mut r = (StatusCode::CREATED, Json(added.value)).into_response();
    r.headers_mut().insert(header::ETAG, etag(added.version));
    Ok(r)
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
) -> ApiResult {
    let version = service(&state)
        .remove_member(&caller, &name, &user_id)
        .await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::ETAG, etag(version));
    Ok(r)
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
    let params = query_map(raw).and_then(|q| list_params(&q));
    Ok(Json(service(&state).audit(&caller, &name, params).await?).into_response())
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
