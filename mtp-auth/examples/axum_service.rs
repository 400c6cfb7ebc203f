//! An axum service behind mtp-auth: static API keys (plus OIDC bearer tokens when built with the
//! `oidc` feature and `MTP_OIDC_ISSUER_URL` / `MTP_OIDC_AUDIENCE` are set), a per-IP limit before
//! authentication and a per-identity limit after it.
//!
//! ```sh
//! cargo run -p mtp-auth --example axum_service              # 127.0.0.1:8080 until Ctrl-C
//! cargo run -p mtp-auth --example axum_service -- --check   # a free port; calls itself, exits
//! ```
//!
//! Keys come from `MTP_API_KEYS_FILE`; without it a key is generated into a temporary file and
//! its secret printed once, so `curl -H "Authorization: Bearer <secret>" 127.0.0.1:8080/whoami`
//! works right away.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use mtp_auth::layer::{AuthLayer, KeyExtractor, RateLimitLayer, TrustedProxies};
use mtp_auth::ratelimit::{LocalLimiter, Quota};
use mtp_auth::static_keys::{StaticKeys, generate_key};
use mtp_auth::{Authenticator, Identity};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The service: `/whoami` needs a credential, `/healthz` does not.
fn app(auth: Arc<dyn Authenticator>) -> mtp_auth::Result<Router> {
    let per_ip = Arc::new(LocalLimiter::new(Quota::new(50, 100)?));
    let per_subject = Arc::new(LocalLimiter::new(Quota::new(5, 10)?));
    per_ip.spawn_housekeeping(Duration::from_secs(60));
    per_subject.spawn_housekeeping(Duration::from_secs(60));
    Ok(Router::new()
        .route("/whoami", get(whoami))
        // `route_layer` wraps only the routes above (unknown paths stay 404, /healthz stays
        // open). Onion order: the last layer added runs first, so a request is limited per IP,
        // then authenticated, then limited per identity.
        .route_layer(RateLimitLayer::new(per_subject, KeyExtractor::Subject))
        .route_layer(AuthLayer::new(auth))
        .route_layer(RateLimitLayer::new(
            per_ip,
            KeyExtractor::ClientIp(TrustedProxies::default()),
        ))
        .route("/healthz", get(|| async { "ok" })))
}

async fn whoami(Extension(id): Extension<Identity>) -> impl IntoResponse {
    let body = serde_json::json!({
        "subject": id.subject,
        "username": id.username,
        "groups": id.groups,
        "method": id.method.kind(),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

/// Static keys from `MTP_API_KEYS_FILE`, or one generated key (its secret returned).
fn static_keys(tmp: &tempfile::TempDir) -> Result<(Arc<StaticKeys>, Option<String>), BoxError> {
    if let Some(path) = std::env::var_os("MTP_API_KEYS_FILE") {
        return Ok((Arc::new(StaticKeys::from_file(PathBuf::from(path))?), None));
    }
    let key = generate_key("demo", &["developers".to_string()])?;
    let path = tmp.path().join("api-keys");
    std::fs::write(&path, format!("{}\n", key.line))?;
    Ok((Arc::new(StaticKeys::from_file(path)?), Some(key.secret)))
}

/// The authenticator: static keys, chained with OIDC when it is configured.
fn authenticator(keys: Arc<StaticKeys>) -> Result<Arc<dyn Authenticator>, BoxError> {
    keys.spawn_reload_on_change(Duration::from_secs(5));
    #[cfg(feature = "oidc")]
    if let (Ok(issuer), Ok(audience)) = (
        std::env::var("MTP_OIDC_ISSUER_URL"),
        std::env::var("MTP_OIDC_AUDIENCE"),
    ) {
        use mtp_auth::chain::Chain;
        use mtp_auth::oidc::{OidcAuthenticator, OidcConfig};
        let oidc = Arc::new(OidcAuthenticator::new(OidcConfig::new(issuer, audience))?);
        oidc.spawn_refresh();
        // JWT-shaped credentials go to OIDC, anything else to the keys.
        return Ok(Arc::new(Chain::new(
            Some(Box::new(oidc)),
            Some(Box::new(keys)),
        )));
    }
    Ok(keys)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let check = std::env::args().any(|a| a == "--check");
    let tmp = tempfile::tempdir()?;
    let (keys, secret) = static_keys(&tmp)?;
    let app = app(authenticator(keys)?)?;

    let addr = if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:8080"
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    if let (Some(s), false) = (&secret, check) {
        println!("generated API key (shown once): {s}");
        println!("try: curl -H 'Authorization: Bearer {s}' http://{addr}/whoami");
    }
    // ConnectInfo gives the per-IP limiter the peer address.
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    if !check {
        axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        return Ok(());
    }

    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    let secret = secret.ok_or("--check needs the generated key: unset MTP_API_KEYS_FILE")?;
    let bearer = format!("Bearer {secret}");
    let mut seen = vec![
        get_status(addr, "/healthz", None).await?,
        get_status(addr, "/whoami", None).await?,
        get_status(addr, "/whoami", Some("Bearer wrong")).await?,
    ];
    // A burst of 10, then 429.
    for _ in 0..11 {
        seen.push(get_status(addr, "/whoami", Some(&bearer)).await?);
    }
    server.abort();
    let mut want = vec![200, 401, 401];
    want.extend([200; 10]);
    want.push(429);
    println!("statuses: {seen:?}");
    if seen != want {
        return Err(format!("expected {want:?}").into());
    }
    println!("check passed");
    Ok(())
}

/// One HTTP/1.1 GET over a plain socket; returns the status code.
async fn get_status(addr: SocketAddr, path: &str, auth: Option<&str>) -> Result<u16, BoxError> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).await?;
    resp.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {resp:.40}").into())
}
