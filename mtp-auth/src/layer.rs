//! tower/axum layers: [`AuthLayer`], [`RateLimitLayer`], and the gateway check handler
//! ([`gateway_router`]) for Envoy `ext_authz` and nginx `auth_request`.
//!
//! Errors are RFC 9457 `application/problem+json`; a 401 never says which check failed.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Extension, Router, routing::get};
//! use mtp_auth::{Identity, layer::{AuthLayer, KeyExtractor, RateLimitLayer}};
//! use mtp_auth::ratelimit::{LocalLimiter, Quota};
//! use mtp_auth::static_keys::StaticKeys;
//!
//! # fn build() -> mtp_auth::Result<Router> {
//! let auth = Arc::new(StaticKeys::from_file("/etc/mtp/api-keys")?);
//! let limiter = Arc::new(LocalLimiter::new(Quota::new(10, 20)?));
//! let app = Router::new()
//!     .route("/whoami", get(|Extension(id): Extension<Identity>| async move { id.subject }))
//!     // Onion order: the last layer added runs first, so authentication runs before the
//!     // per-identity limit. `route_layer` keeps unknown paths a 404.
//!     .route_layer(RateLimitLayer::new(limiter, KeyExtractor::Subject))
//!     .route_layer(AuthLayer::new(auth));
//! # Ok(app) }
//! ```

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tower::{Layer, Service};

use crate::error::{Error, Rejection, Result};
use crate::identity::{Authenticator, Identity};
use crate::ratelimit::{Decision, RateLimiter};

/// Base of the problem `type` URIs.
pub const PROBLEM_BASE: &str = "https://mtp.dev/problems/";

/// An RFC 9457 problem response.
pub fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("{PROBLEM_BASE}{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// The generic 401: the same for every failure.
pub fn unauthorized() -> Response {
    let mut r = problem(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Unauthorized",
        "missing or invalid credentials",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    r
}

fn secs_ceil(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Adds the IETF draft `RateLimit-Policy` and `RateLimit` headers (and `Retry-After` when denied).
pub fn rate_limit_headers(headers: &mut HeaderMap, d: &Decision, window: std::time::Duration) {
    let mut set = |name: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set(
        "ratelimit-policy",
        format!("\"default\";q={};w={}", d.limit, secs_ceil(window).max(1)),
    );
    set(
        "ratelimit",
        format!("\"default\";r={};t={}", d.remaining, secs_ceil(d.reset)),
    );
    if let Some(wait) = d.retry_after {
        set("retry-after", secs_ceil(wait).max(1).to_string());
    }
}

/// The 429 for a denied decision.
pub fn too_many_requests(d: &Decision, window: std::time::Duration) -> Response {
    let mut r = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too Many Requests",
        "request rate limit exceeded; retry after the time in Retry-After",
    );
    rate_limit_headers(r.headers_mut(), d, window);
    r
}

/// The bearer credential of a request (`Authorization: Bearer <token>`, scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// Authenticates a request's bearer credential, in an `auth.authenticate` span that records the
/// method (`static_key`, `oidc`, ...) and the outcome, never the credential.
#[tracing::instrument(
    name = "auth.authenticate",
    skip_all,
    fields(auth.method = tracing::field::Empty, auth.outcome = tracing::field::Empty)
)]
pub async fn authenticate_headers(
    auth: &dyn Authenticator,
    headers: &HeaderMap,
) -> Result<Identity> {
    let result = match bearer(headers) {
        Some(cred) => auth.authenticate(cred).await,
        None => {
            tracing::debug!(reason = %Rejection::Missing, "request rejected");
            Err(Error::unauthenticated(Rejection::Missing))
        }
    };
    let span = tracing::Span::current();
    match &result {
        Ok(id) => {
            span.record("auth.method", id.method.kind());
            span.record("auth.outcome", "authenticated");
        }
        Err(_) => {
            span.record("auth.outcome", "rejected");
        }
    }
    result
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Authenticates every request; puts the [`Identity`] into the request extensions or answers 401.
#[derive(Clone)]
pub struct AuthLayer {
    auth: Arc<dyn Authenticator>,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthLayer")
    }
}

impl AuthLayer {
    /// A layer using `auth`.
    pub fn new(auth: Arc<dyn Authenticator>) -> Self {
        AuthLayer { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<dyn Authenticator>,
}

impl<S> Service<Request> for AuthService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<std::result::Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // The clone that was polled ready is the one we call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            match authenticate_headers(auth.as_ref(), req.headers()).await {
                Ok(id) => {
                    req.extensions_mut().insert(id);
                    inner.call(req).await
                }
                Err(_) => Ok(unauthorized()),
            }
        })
    }
}

/// Networks whose forwarded headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `127.0.0.1`, `::1/128` ...
    ///
    /// ```
    /// let t = mtp_auth::layer::TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap();
    /// assert!(t.contains("10.1.2.3".parse().unwrap()));
    /// assert!(!t.contains("11.0.0.1".parse().unwrap()));
    /// assert!(mtp_auth::layer::TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
    /// ```
    pub fn parse<S: AsRef<str>>(cidrs: &[S]) -> Result<Self> {
        let mut nets = Vec::new();
        for c in cidrs {
            let c = c.as_ref().trim();
            let (ip, len) = match c.split_once('/') {
                Some((ip, len)) => (ip, Some(len)),
                None => (c, None),
            };
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| Error::Config(format!("trusted proxy `{c}` is not an IP or CIDR")))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                None => max,
                Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(|| {
                    Error::Config(format!("trusted proxy `{c}`: bad prefix length"))
                })?,
            };
            nets.push((ip, len));
        }
        Ok(TrustedProxies { nets })
    }

    /// Whether `ip` is in one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|(net, len)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(i) & mask
            }
            _ => false,
        })
    }

    /// The client address: the socket's, or — only when the socket's peer is a trusted proxy —
    /// the right-most untrusted address of `X-Forwarded-For`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        for v in headers.get_all("x-forwarded-for").iter().rev() {
            let Ok(s) = v.to_str() else { return client };
            for part in s.split(',').rev() {
                match part.trim().parse::<IpAddr>() {
                    Ok(ip) => {
                        client = ip;
                        if !self.contains(ip) {
                            return ip;
                        }
                    }
                    Err(_) => return client,
                }
            }
        }
        client
    }
}

/// What a [`RateLimitLayer`] keys its budget on.
#[derive(Debug, Clone)]
pub enum KeyExtractor {
    /// The authenticated identity's subject (the client IP when there is none).
    Subject,
    /// The client IP (forwarded headers only from trusted proxies).
    ClientIp(TrustedProxies),
}

impl KeyExtractor {
    /// The key for `req`.
    pub fn key(&self, req: &Request) -> String {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = |t: &TrustedProxies| match peer {
            Some(p) => format!("ip:{}", t.client_ip(p, req.headers())),
            None => "ip:unknown".to_string(),
        };
        match self {
            KeyExtractor::Subject => match req.extensions().get::<Identity>() {
                Some(id) => format!("sub:{}", id.subject),
                None => ip(&TrustedProxies::default()),
            },
            KeyExtractor::ClientIp(t) => ip(t),
        }
    }
}

/// Limits requests per key; answers 429 with `Retry-After` and the `RateLimit` headers. When
/// layers are nested, the innermost limiter's headers are the ones a response carries.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<dyn RateLimiter>,
    key: Arc<KeyExtractor>,
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("key", &self.key)
            .finish()
    }
}

impl RateLimitLayer {
    /// A layer applying `limiter` to the key given by `key`.
    pub fn new(limiter: Arc<dyn RateLimiter>, key: KeyExtractor) -> Self {
        RateLimitLayer {
            limiter,
            key: Arc::new(key),
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
            key: self.key.clone(),
        }
    }
}

/// The service made by [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: Arc<dyn RateLimiter>,
    key: Arc<KeyExtractor>,
}

impl<S> Service<Request> for RateLimitService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<std::result::Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        let key = self.key.key(&req);
        Box::pin(async move {
            let d = limiter.check(&key).await;
            let window = limiter.quota().window();
            if !d.allowed {
                return Ok(too_many_requests(&d, window));
            }
            let mut resp = inner.call(req).await?;
            // An inner limiter (closer to the handler, e.g. per identity inside per IP) already
            // reported its budget or refused the request: keep its numbers, which are the ones
            // the client ran into.
            if !resp.headers().contains_key("ratelimit") {
                rate_limit_headers(resp.headers_mut(), &d, window);
            }
            Ok(resp)
        })
    }
}

/// State of the gateway check handler.
#[derive(Clone)]
pub struct GatewayState {
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
    /// Per-subject limit, if any.
    pub limiter: Option<Arc<dyn RateLimiter>>,
    /// Per-client-IP limit applied before authentication (slows down key guessing), with the
    /// proxies whose `X-Forwarded-For` is believed (the gateway itself sits behind one).
    pub ip_limiter: Option<(Arc<dyn RateLimiter>, TrustedProxies)>,
}

impl GatewayState {
    /// Authentication only, no limits.
    pub fn new(auth: Arc<dyn Authenticator>) -> Self {
        GatewayState {
            auth,
            limiter: None,
            ip_limiter: None,
        }
    }

    /// Adds the per-subject limit.
    pub fn with_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Adds the per-client-IP limit (applied before authentication).
    pub fn with_ip_limiter(
        mut self,
        limiter: Arc<dyn RateLimiter>,
        trusted: TrustedProxies,
    ) -> Self {
        self.ip_limiter = Some((limiter, trusted));
        self
    }
}

impl std::fmt::Debug for GatewayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayState")
            .field("limiter", &self.limiter.is_some())
            .finish()
    }
}

/// Header carrying the subject to the upstream.
pub const SUBJECT_HEADER: &str = "x-mtp-subject";
/// Header carrying the tenant to the upstream.
pub const TENANT_HEADER: &str = "x-mtp-tenant";
/// Header carrying the comma-separated groups to the upstream.
pub const GROUPS_HEADER: &str = "x-mtp-groups";

/// Authenticates and rate-limits a forwarded request: 200 with `x-mtp-subject`,
/// `x-mtp-tenant`, `x-mtp-groups`, or 401/429 problem+json.
pub async fn gateway_check(State(state): State<GatewayState>, req: Request) -> Response {
    let headers = req.headers();
    if let Some((l, trusted)) = &state.ip_limiter {
        let key = KeyExtractor::ClientIp(trusted.clone()).key(&req);
        let d = l.check(&key).await;
        if !d.allowed {
            return too_many_requests(&d, l.quota().window());
        }
    }
    let id = match authenticate_headers(state.auth.as_ref(), headers).await {
        Ok(id) => id,
        Err(_) => return unauthorized(),
    };
    let mut out = HeaderMap::new();
    if let Some(l) = &state.limiter {
        let d = l.check(&format!("sub:{}", id.subject)).await;
        if !d.allowed {
            return too_many_requests(&d, l.quota().window());
        }
        rate_limit_headers(&mut out, &d, l.quota().window());
    }
    let mut put = |name: &'static str, v: &str| match HeaderValue::from_str(v) {
        Ok(v) => {
            out.insert(HeaderName::from_static(name), v);
            true
        }
        Err(_) => false,
    };
    // A value that cannot be a header (control characters) is refused rather than dropped.
    if !put(SUBJECT_HEADER, &id.subject)
        || !put(TENANT_HEADER, id.tenant.as_deref().unwrap_or(""))
        || !put(GROUPS_HEADER, &id.groups.join(","))
    {
        tracing::debug!("identity has a value that cannot be sent as a header");
        return unauthorized();
    }
    (StatusCode::OK, out, Body::empty()).into_response()
}

/// A router answering the gateway check on `/check` and every path below it (Envoy's
/// `ext_authz` appends the original path to `path_prefix`).
pub fn gateway_router(state: GatewayState) -> Router {
    Router::new()
        .route("/check", any(gateway_check))
        .route("/check/", any(gateway_check))
        .route("/check/{*rest}", any(gateway_check))
        .with_state(state)
}
