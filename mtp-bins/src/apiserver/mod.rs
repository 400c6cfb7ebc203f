//! `mtp-apiserver`: the REST API for tenants and members.
//!
//! [`app`] builds the router from an [`ApiState`]; the binary (`src/bin/mtp-apiserver.rs`)
//! parses [`config::ApiArgs`] and calls [`server::run`]. Tests drive [`app`] with `oneshot`.

pub mod config;
pub mod extract;
pub mod handlers;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod server;
pub mod service;
pub mod status;
pub mod types;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use mtp_auth::Authenticator;
use mtp_auth::layer::{
    AuthLayer, GatewayState, KeyExtractor, RateLimitLayer, TrustedProxies, gateway_router,
};
use mtp_auth::ratelimit::RateLimiter;
use mtp_core::Store;

use self::metrics::ApiMetrics;
use self::problem::ApiError;
use self::status::{NoCluster, StatusSource};
use self::types::AuthConfigView;

/// The largest request body accepted (1 MiB); larger ones get 413.
pub const BODY_LIMIT: usize = 1024 * 1024;
pub use mtp_core::authz::DEFAULT_PLATFORM_ADMIN_GROUP;
/// The header carrying the request id (taken from the client when sane, else generated).
pub const REQUEST_ID_HEADER: &str = crate::telemetry::REQUEST_ID_HEADER;

/// Everything the handlers need.
#[derive(Clone)]
pub struct ApiState {
    /// The tenants, members and audit log.
    pub store: Arc<dyn Store>,
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
    /// Per-identity limit (after authentication).
    pub identity_limiter: Option<Arc<dyn RateLimiter>>,
    /// Per-client-IP limit (before authentication).
    pub ip_limiter: Option<Arc<dyn RateLimiter>>,
    /// Proxies whose `X-Forwarded-For` is believed by the per-IP limit.
    pub trusted_proxies: TrustedProxies,
    /// Members of this group are platform admins.
    pub platform_admin_group: String,
    /// What `GET /api/v1/auth-config` answers.
    pub auth_config: AuthConfigView,
    /// Where tenant status comes from.
    pub status: Arc<dyn StatusSource>,
    /// The metrics.
    pub metrics: Arc<ApiMetrics>,
    /// Requests taking longer get 503.
    pub request_timeout: Duration,
    /// A client that has started a request head and not finished it within this time is
    /// disconnected (slow clients).
    pub header_read_timeout: Duration,
    /// The tier catalogue: the egress a tenant gets when it sets none.
    pub tiers: Arc<mtp_core::TierCatalogue>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("platform_admin_group", &self.platform_admin_group)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl ApiState {
    /// A state with no rate limits, no cluster, the default platform-admin group and a 30 s
    /// request timeout.
    pub fn new(store: Arc<dyn Store>, auth: Arc<dyn Authenticator>) -> Self {
        ApiState {
            store,
            auth,
            identity_limiter: None,
            ip_limiter: None,
            trusted_proxies: TrustedProxies::default(),
            platform_admin_group: DEFAULT_PLATFORM_ADMIN_GROUP.to_string(),
            auth_config: AuthConfigView::default(),
            status: Arc::new(NoCluster),
            metrics: Arc::new(ApiMetrics::default()),
            request_timeout: Duration::from_secs(30),
            header_read_timeout: crate::tls::DEFAULT_HEADER_READ_TIMEOUT,
            tiers: Arc::new(mtp_core::TierCatalogue::default()),
        }
    }

    /// The tenant service over this state's store, status source and tiers.
    pub fn tenants(&self) -> service::TenantService {
        service::TenantService::new(self.store.clone(), self.status.clone(), self.tiers.clone())
    }
}

/// The request id of a request, in its extensions (set by the shared request context).
pub use crate::runtime::RequestId;

/// Counts every request by method, matched route and status.
async fn observe(State(metrics): State<Arc<ApiMetrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let resp = next.run(req).await;
    metrics.observe(&method, &route, resp.status().as_u16(), start.elapsed());
    resp
}

/// Layer 2: requests taking longer than the timeout get 503 (`timeout`).
async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such path".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The router of the API.
///
/// The middleware order, outermost first (axum's `layer` wraps like an onion: the last added
/// runs first):
///
/// 1. the request context ([`crate::runtime::request`]: request id, tracing span continuing the
///    caller's trace, panics answered with 500), then metrics;
/// 2. request timeout, then the body limit (1 MiB; checked when the body is read: 413);
/// 3. per-IP rate limit, before authentication: generous, blunts credential stuffing;
/// 4. authentication ([`AuthLayer`]: 401 problem+json, the same for every failure);
/// 5. per-identity rate limit (429 with `RateLimit`/`Retry-After` headers);
/// 6. the handler, which authorizes against the stored members.
///
/// Steps 3 to 5 are `route_layer`s on the authenticated routes only, so unknown paths answer
/// 404 and `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/api/v1/auth-config` need no
/// credentials. `/authz/check` (the gateway check of mtp-auth) applies the same limits itself.
pub fn app(state: ApiState) -> Router {
    let state = Arc::new(state);
    let mut api = handlers::api_routes();
    // Added innermost first: 5, then 4, then 3.
    if let Some(l) = &state.identity_limiter {
        api = api.route_layer(RateLimitLayer::new(l.clone(), KeyExtractor::Subject));
    }
    api = api.route_layer(AuthLayer::new(state.auth.clone()));
    if let Some(l) = &state.ip_limiter {
        api = api.route_layer(RateLimitLayer::new(
            l.clone(),
            KeyExtractor::ClientIp(state.trusted_proxies.clone()),
        ));
    }
    let public = handlers::public_routes();

    let mut gateway = GatewayState::new(state.auth.clone());
    if let Some(l) = &state.identity_limiter {
        gateway = gateway.with_limiter(l.clone());
    }
    if let Some(l) = &state.ip_limiter {
        gateway = gateway.with_ip_limiter(l.clone(), state.trusted_proxies.clone());
    }

    let router = Router::new()
        .merge(api)
        .merge(public)
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .with_state(state.clone())
        .nest("/authz", gateway_router(gateway))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // 2: body limit (inner), timeout (outer)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.request_timeout,
            timeout,
        ))
        // 1: metrics (inner), then the request context (outermost)
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            observe,
        ));
    crate::runtime::with_request_context(router, crate::runtime::RequestContext::request())
}
