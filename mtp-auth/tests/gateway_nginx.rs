//! The gateway check behind a real nginx (`auth_request`), using deploy/gateway/nginx.conf (its
//! copy in tests/gateway/, so the packaged crate tests itself; .ci/libraries keeps them equal).
//! Needs nginx (Debian package, installed by .ci/install-deps); fails when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use mtp_auth::layer::{GatewayState, gateway_router};
use mtp_auth::ratelimit::{LocalLimiter, Quota};
use mtp_auth::static_keys::{KeySet, StaticKeys, hash_key};

fn nginx_binary() -> String {
    for p in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if std::path::Path::new(p).exists() {
            return p.to_string();
        }
    }
    panic!("nginx is not installed: run .ci/install-deps (Debian package nginx-light)");
}

async fn serve(app: Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_uses_the_gateway_check() {
    let keys = format!("alice:{}:dev,ops\n", hash_key("alice-secret"));
    let auth = Arc::new(StaticKeys::from_set(KeySet::parse(&keys, "keys").unwrap()));
    let limiter = Arc::new(LocalLimiter::new(Quota::new(1, 2).unwrap()));
    let gw = serve(gateway_router(
        GatewayState::new(auth).with_limiter(limiter),
    ))
    .await;
    let upstream = serve(Router::new().fallback(any(|h: HeaderMap| async move {
        let g = |n: &str| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string()
        };
        format!(
            "{}|{}|{}|{}",
            g("x-mtp-subject"),
            g("x-mtp-tenant"),
            g("x-mtp-groups"),
            g("authorization")
        )
    })))
    .await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    let conf = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/gateway/nginx.conf"
    ))
    .unwrap()
    .replace("127.0.0.1:8081", &gw)
    .replace("127.0.0.1:9000", &upstream)
    .replace("listen 127.0.0.1:8080", &format!("listen 127.0.0.1:{port}"))
    // One process, so killing it (also when the test fails) leaves no worker behind.
    .replace("daemon off;", "daemon off;\nmaster_process off;");
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut nginx = tokio::process::Command::new(nginx_binary())
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg("stderr")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        if let Some(status) = nginx.try_wait().unwrap() {
            panic!("nginx exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "nginx did not listen on {port}");

    let r = http
        .get(format!("{base}/api/v1/tenants"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let r = http
        .get(format!("{base}/x"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Allowed: identity headers (an empty tenant is no header) reach the upstream; forged ones and the credential do not.
    let r = http
        .get(format!("{base}/api/v1/tenants?x=1"))
        .bearer_auth("alice-secret")
        .header("x-mtp-subject", "admin")
        .header("x-mtp-groups", "system:masters")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "apikey:alice|-|dev,ops|-");
    let r = http
        .get(format!("{base}/y"))
        .bearer_auth("alice-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Burst of 2 spent: 429 with Retry-After.
    let r = http
        .get(format!("{base}/z"))
        .bearer_auth("alice-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    nginx.start_kill().unwrap();
    nginx.wait().await.unwrap();
}
