//! Against a real OpenID Provider: the npm package `oidc-provider`, started on a free loopback
//! port by these tests (tests/oidc/provider.mjs). Needs node and the package (.ci/install-deps);
//! fails when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mtp_auth::broker::{Broker, BrokerConfig};
use mtp_auth::oidc::{KeySource, OidcAuthenticator, OidcConfig};
use mtp_auth::token::{FileTokenSource, Secret};
use tokio::io::{AsyncBufReadExt, BufReader};

const RESOURCE: &str = "https://api.mtp.test";

struct Idp {
    child: tokio::process::Child,
    issuer: String,
}

impl Idp {
    async fn start(state: &Path, port: u16, rotate: bool, ttl: u32) -> Idp {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/provider.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(state)
            .arg(port.to_string())
            .env("ROTATE", if rotate { "1" } else { "0" })
            .env("TOKEN_TTL", ttl.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is required for the oidc-provider tests (run .ci/install-deps)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if let Some(i) = l.strip_prefix("READY ") {
                    return i.to_string();
                }
            }
            panic!("oidc-provider exited before READY (is it installed? run .ci/install-deps)");
        })
        .await
        .expect("oidc-provider did not start within 20 s");
        Idp { child, issuer }
    }

    fn port(&self) -> u16 {
        self.issuer.rsplit(':').next().unwrap().parse().unwrap()
    }

    async fn stop(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

fn broker_config(issuer: &str, secret: &str, file: PathBuf) -> BrokerConfig {
    let mut c = BrokerConfig::new(issuer, "mtp-broker", Secret::new(secret), file);
    c.audience = Some(RESOURCE.into());
    c.scopes = vec!["api:read".into()];
    c.min_backoff = Duration::from_millis(100);
    c.max_backoff = Duration::from_millis(400);
    c
}

fn verifier(issuer: &str) -> OidcAuthenticator {
    let mut c = OidcConfig::new(issuer, RESOURCE);
    c.key_source = KeySource::Discovery;
    c.require_typ = Some("at+jwt".into());
    c.required_claims = vec![("scope".into(), "api:read".into())];
    c.refresh_cooldown = Duration::from_millis(200);
    OidcAuthenticator::new(c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_token_is_written_atomically_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::start(dir.path(), 0, false, 300).await;
    let file = dir.path().join("run/token");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let broker = Broker::new(broker_config(&idp.issuer, "broker-secret", file.clone())).unwrap();
    let lifetime = broker.refresh_once().await.unwrap();
    assert_eq!(lifetime, Duration::from_secs(300));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No temporary files left next to it.
    assert_eq!(
        std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
        1
    );

    let src = FileTokenSource::new(&file).unwrap();
    let token = src.token();
    let v = verifier(&idp.issuer);
    let id = v.verify(token.expose()).await.unwrap();
    assert_eq!(id.subject, "mtp-broker");
    assert_eq!(v.jwks_fetches(), 1);
    // Without the required typ the same verifier would refuse a plain JWT: checked in
    // oidc_attacks; here a wrong audience from the real IdP's token is refused.
    let mut other = OidcConfig::new(idp.issuer.clone(), "https://other.test");
    other.key_source = KeySource::Discovery;
    assert!(
        OidcAuthenticator::new(other)
            .unwrap()
            .verify(token.expose())
            .await
            .is_err()
    );
    idp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_client_secret_is_a_clear_error_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::start(dir.path(), 0, false, 300).await;
    let file = dir.path().join("token");
    let broker = Broker::new(broker_config(&idp.issuer, "not-the-secret", file.clone())).unwrap();
    let e = broker.refresh_once().await.unwrap_err().to_string();
    assert!(e.contains("invalid_client"), "{e}");
    assert!(!e.contains("not-the-secret"));
    assert!(!file.exists());
    assert!(!format!("{broker:?}").contains("not-the-secret"));
    idp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_picked_up_with_one_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::start(dir.path(), 0, false, 300).await;
    let port = idp.port();
    let issuer = idp.issuer.clone();
    let broker = Broker::new(broker_config(
        &issuer,
        "broker-secret",
        dir.path().join("t"),
    ))
    .unwrap();
    let old = broker.fetch().await.unwrap().access_token;
    let v = verifier(&issuer);
    v.verify(old.expose()).await.unwrap();
    assert_eq!(v.jwks_fetches(), 1);
    idp.stop().await;

    // Restart with a new key first in the JWKS (the old one stays published).
    let idp = Idp::start(dir.path(), port, true, 300).await;
    let new = broker.fetch().await.unwrap().access_token;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(v.verify(new.expose()).await.unwrap().subject, "mtp-broker");
    assert_eq!(v.jwks_fetches(), 2);
    v.verify(old.expose()).await.unwrap();
    assert_eq!(v.jwks_fetches(), 2);
    idp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_refreshes_before_expiry_and_keeps_the_token_while_the_idp_is_down() {
    let dir = tempfile::tempdir().unwrap();
    // 2 s tokens: refreshed at half-life.
    let idp = Idp::start(dir.path(), 0, false, 2).await;
    let port = idp.port();
    let file = dir.path().join("token");
    let broker = std::sync::Arc::new(
        Broker::new(broker_config(&idp.issuer, "broker-secret", file.clone())).unwrap(),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let b = broker.clone();
    let task = tokio::spawn(async move {
        b.run(async {
            let _ = stop_rx.await;
        })
        .await;
    });
    let mut first = String::new();
    for _ in 0..50 {
        if let Ok(t) = std::fs::read_to_string(&file) {
            first = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!first.is_empty(), "no token written");
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let second = std::fs::read_to_string(&file).unwrap();
    assert_ne!(first, second, "token not refreshed before expiry");

    // The IdP goes away: retries fail, the last token stays in place.
    idp.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = std::fs::read_to_string(&file).unwrap();
    assert!(!during.trim().is_empty());
    // It comes back: the broker recovers by itself.
    let idp = Idp::start(dir.path(), port, false, 2).await;
    let mut recovered = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if std::fs::read_to_string(&file).unwrap() != during {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "broker did not recover after the IdP came back");
    stop_tx.send(()).unwrap();
    task.await.unwrap();
    idp.stop().await;
}
