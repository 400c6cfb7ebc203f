//! AuthLayer, RateLimitLayer and the gateway check, driven through axum routers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::BodyExt;
use mtp_auth::Identity;
use mtp_auth::layer::{
    AuthLayer, GatewayState, KeyExtractor, RateLimitLayer, TrustedProxies, gateway_router,
};
use mtp_auth::ratelimit::{LocalLimiter, Quota};
use mtp_auth::static_keys::{KeySet, StaticKeys, hash_key};
use tower::ServiceExt;

fn keys() -> Arc<StaticKeys> {
    let text = format!(
        "alice:{}:dev,ops\nbob:{}\n",
        hash_key("alice-secret"),
        hash_key("bob-secret")
    );
    Arc::new(StaticKeys::from_set(KeySet::parse(&text, "keys").unwrap()))
}

fn app(burst: u32) -> Router {
    let limiter = Arc::new(LocalLimiter::new(Quota::new(1, burst).unwrap()));
    Router::new()
        .route(
            "/whoami",
            get(|Extension(id): Extension<Identity>| async move {
                format!("{}|{}", id.subject, id.groups.join(","))
            }),
        )
        // Last added runs first: authenticate, then limit per subject.
        .route_layer(RateLimitLayer::new(limiter, KeyExtractor::Subject))
        .route_layer(AuthLayer::new(keys()))
}

fn req(path: &str, auth: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(Body::empty()).unwrap()
}

async fn body(r: axum::response::Response) -> String {
    String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn identity_reaches_the_handler() {
    let r = app(5)
        .oneshot(req("/whoami", Some("Bearer alice-secret")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["ratelimit-policy"], "\"default\";q=5;w=5");
    assert_eq!(r.headers()["ratelimit"], "\"default\";r=4;t=1");
    assert_eq!(body(r).await, "apikey:alice|dev,ops");
    let r = app(5)
        .oneshot(req("/whoami", Some("bearer bob-secret")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_failure_is_the_same_problem_401() {
    let mut bodies = Vec::new();
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic YWxpY2U6eA=="),
        Some("Bearer "),
        Some("alice-secret"),
    ] {
        let r = app(5).oneshot(req("/whoami", auth)).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        let b = body(r).await;
        assert!(!b.contains("wrong"));
        bodies.push(b);
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(v["status"], 401);
    assert_eq!(v["type"], "https://mtp.dev/problems/unauthenticated");
}

#[tokio::test]
async fn unknown_paths_stay_404() {
    let r = app(5).oneshot(req("/nope", None)).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rate_limit_429_with_headers_per_subject() {
    let app = app(2);
    for _ in 0..2 {
        let r = app
            .clone()
            .oneshot(req("/whoami", Some("Bearer alice-secret")))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = app
        .clone()
        .oneshot(req("/whoami", Some("Bearer alice-secret")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["ratelimit-policy"], "\"default\";q=2;w=2");
    assert_eq!(r.headers()["ratelimit"], "\"default\";r=0;t=2");
    let v: serde_json::Value = serde_json::from_str(&body(r).await).unwrap();
    assert_eq!(v["status"], 429);
    // Bob has his own budget.
    let r = app
        .oneshot(req("/whoami", Some("Bearer bob-secret")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn nested_limits_report_the_inner_limiter_that_refused() {
    // Per IP (outer, generous) around per subject (inner, burst 1), as mtp-apiserver nests them.
    let ip = Arc::new(LocalLimiter::new(Quota::new(100, 200).unwrap()));
    let subject = Arc::new(LocalLimiter::new(Quota::new(1, 1).unwrap()));
    let app = Router::new()
        .route("/whoami", get(|| async { "ok" }))
        .route_layer(RateLimitLayer::new(subject, KeyExtractor::Subject))
        .route_layer(AuthLayer::new(keys()))
        .route_layer(RateLimitLayer::new(
            ip,
            KeyExtractor::ClientIp(TrustedProxies::default()),
        ));
    let call = || {
        let mut r = req("/whoami", Some("Bearer alice-secret"));
        r.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>("192.0.2.1:4000".parse().unwrap()));
        app.clone().oneshot(r)
    };
    let r = call().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["ratelimit-policy"], "\"default\";q=1;w=1");
    assert_eq!(r.headers()["ratelimit"], "\"default\";r=0;t=1");
    let r = call().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["ratelimit-policy"], "\"default\";q=1;w=1");
    assert_eq!(r.headers()["ratelimit"], "\"default\";r=0;t=1");
    assert_eq!(r.headers()["retry-after"], "1");
}

fn ip_req(peer: &str, xff: Option<&str>) -> Request<Body> {
    let mut r = req("/", None);
    if let Some(x) = xff {
        r.headers_mut()
            .insert("x-forwarded-for", x.parse().unwrap());
    }
    r.extensions_mut()
        .insert(ConnectInfo::<SocketAddr>(peer.parse().unwrap()));
    r
}

#[tokio::test]
async fn client_ip_key_honours_only_trusted_proxies() {
    let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
    let k = KeyExtractor::ClientIp(trusted);
    // Untrusted peer: its forwarded header is ignored.
    assert_eq!(
        k.key(&ip_req("203.0.113.7:5000", Some("1.2.3.4"))),
        "ip:203.0.113.7"
    );
    // Trusted proxy: the right-most untrusted address counts (a client cannot spoof past it).
    assert_eq!(
        k.key(&ip_req(
            "10.0.0.1:5000",
            Some("6.6.6.6, 198.51.100.9, 10.0.0.2")
        )),
        "ip:198.51.100.9"
    );
    assert_eq!(k.key(&ip_req("10.0.0.1:5000", None)), "ip:10.0.0.1");
    assert_eq!(
        k.key(&ip_req("10.0.0.1:5000", Some("garbage"))),
        "ip:10.0.0.1"
    );
    let limiter = Arc::new(LocalLimiter::new(Quota::new(1, 1).unwrap()));
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(RateLimitLayer::new(limiter, k));
    assert_eq!(
        app.clone()
            .oneshot(ip_req("10.0.0.1:1", Some("198.51.100.1")))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.clone()
            .oneshot(ip_req("10.0.0.9:1", Some("198.51.100.1")))
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.oneshot(ip_req("10.0.0.9:1", Some("198.51.100.2")))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[test]
fn bad_trusted_proxy_is_named() {
    assert_eq!(
        TrustedProxies::parse(&["10.0.0.0/8", "nope"])
            .unwrap_err()
            .to_string(),
        "invalid configuration: trusted proxy `nope` is not an IP or CIDR"
    );
}

#[tokio::test]
async fn gateway_check_answers_identity_headers_401_and_429() {
    let limiter = Arc::new(LocalLimiter::new(Quota::new(1, 1).unwrap()));
    let gw = gateway_router(GatewayState::new(keys()).with_limiter(limiter));
    let r = gw
        .clone()
        .oneshot(req(
            "/check/api/v1/tenants?x=1",
            Some("Bearer alice-secret"),
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-mtp-subject"], "apikey:alice");
    assert_eq!(r.headers()["x-mtp-groups"], "dev,ops");
    assert_eq!(r.headers()["x-mtp-tenant"], "");
    let r = gw
        .clone()
        .oneshot(req("/check", Some("Bearer alice-secret")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // Envoy appends the original path to /check, so "/" arrives as "/check/".
    let gw_open = gateway_router(GatewayState::new(keys()));
    for path in ["/check/", "/check", "/check/a/b/c?q=1"] {
        let r = gw_open
            .clone()
            .oneshot(req(path, Some("Bearer bob-secret")))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    let r = gw
        .oneshot(req("/check", Some("Bearer nope")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
}

#[tokio::test]
async fn gateway_limits_per_ip_before_authentication() {
    let ip_limiter = Arc::new(LocalLimiter::new(Quota::new(1, 2).unwrap()));
    let trusted = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
    let gw = gateway_router(GatewayState::new(keys()).with_ip_limiter(ip_limiter, trusted));
    let guess = |peer: &str, xff: &str, key: &str| {
        let mut r = req("/check", Some(&format!("Bearer {key}")));
        r.headers_mut()
            .insert("x-forwarded-for", xff.parse().unwrap());
        r.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(peer.parse().unwrap()));
        r
    };
    // A client guessing keys through the proxy on 127.0.0.1: two tries, then 429.
    for _ in 0..2 {
        let r = gw
            .clone()
            .oneshot(guess("127.0.0.1:1", "198.51.100.7", "guess"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = gw
        .clone()
        .oneshot(guess("127.0.0.1:1", "198.51.100.7", "alice-secret"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not affected.
    let r = gw
        .oneshot(guess("127.0.0.1:1", "198.51.100.8", "alice-secret"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
