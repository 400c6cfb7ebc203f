//! Authentication through a real OpenID Provider (the npm package `oidc-provider`, the harness of
//! the mtp-auth tests: mtp-auth/tests/oidc/provider.mjs) and through static keys, in one
//! `--auth-mode chain` server. Needs node and the package (.ci/install-deps).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use apiserver_common::{Server, TempDir, call};
use reqwest::Method;
use serde_json::json;

const RESOURCE: &str = "https://api.mtp.test";

struct Idp {
    child: Child,
    issuer: String,
}

impl Idp {
    fn start(state: &std::path::Path) -> Idp {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../mtp-auth/tests/oidc/provider.mjs"
        );
        let mut child = Command::new("node")
            .arg(script)
            .arg(state)
            .arg("0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is required (run .ci/install-deps)");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(i) = line.strip_prefix("READY ") {
                    let _ = tx.send(i.to_string());
                }
            }
        });
        let issuer = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("oidc-provider did not start (is it installed? run .ci/install-deps)");
        Idp { child, issuer }
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn client_credentials_token(issuer: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("mtp-broker", Some("broker-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api:read"),
            ("resource", RESOURCE),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    r["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_and_static_keys_in_chain_mode() {
    let state = TempDir::new("idp");
    let idp = Idp::start(state.path());
    let dir = TempDir::new("oidc");
    let s = Server::start(
        dir.path(),
        &[
            "--auth-mode",
            "chain",
            "--oidc-issuer-url",
            &idp.issuer,
            "--oidc-audience",
            RESOURCE,
            "--oidc-public-client-id",
            "mtpctl",
            "--oidc-username-prefix",
            "oidc:",
        ],
    );
    let key = s
        .first_key
        .clone()
        .expect("chain mode generates the key file too");
    let c = reqwest::Client::new();

    let cfg: serde_json::Value = reqwest::get(s.url("/api/v1/auth-config"))
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(
        cfg,
        json!({"issuer": idp.issuer, "clientId": "mtpctl", "audience": RESOURCE})
    );

    for (name, admins) in [("acme", json!(["oidc:mtp-broker"])), ("other", json!([]))] {
        let r = call(
            &c,
            Method::POST,
            &s.url("/api/v1/tenants"),
            &key,
            Some((
                "application/json",
                json!({"name": name, "tier": "free", "ownerEmail": "o@x.io", "admins": admins}),
            )),
            None,
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r);
    }

    let token = client_credentials_token(&idp.issuer).await;
    let w = call(
        &c,
        Method::GET,
        &s.url("/api/v1/whoami"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(w.status, 200, "{:?}", w);
    assert_eq!(w.body["user"], "oidc:mtp-broker");
    assert_eq!(w.body["method"], "oidc");
    assert_eq!(w.body["platformAdmin"], false);
    let l = call(
        &c,
        Method::GET,
        &s.url("/api/v1/tenants"),
        &token,
        None,
        None,
    )
    .await;
    let names: Vec<&str> = l.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme"]);
    let g = call(
        &c,
        Method::GET,
        &s.url("/api/v1/tenants/other"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(g.status, 404);
    // As tenant admin the token holder may add a member, not create tenants.
    let m = call(
        &c,
        Method::POST,
        &s.url("/api/v1/tenants/acme/members"),
        &token,
        Some((
            "application/json",
            json!({"userId": "oidc:bob", "role": "viewer"}),
        )),
        None,
    )
    .await;
    assert_eq!(m.status, 201, "{:?}", m);
    let p = call(
        &c,
        Method::POST,
        &s.url("/api/v1/tenants"),
        &token,
        Some((
            "application/json",
            json!({"name": "mine", "tier": "free", "ownerEmail": "o@x.io"}),
        )),
        None,
    )
    .await;
    assert_eq!(p.status, 403);
    // A tampered token is a 401 that does not echo it.
    let mut bad = token.clone();
    bad.pop();
    bad.push(if token.ends_with('A') { 'B' } else { 'A' });
    let r = call(&c, Method::GET, &s.url("/api/v1/whoami"), &bad, None, None).await;
    assert_eq!(r.status, 401);
    assert!(!r.body.to_string().contains(&bad));
    // The static key still works in chain mode.
    let w = call(&c, Method::GET, &s.url("/api/v1/whoami"), &key, None, None).await;
    assert_eq!(w.body["method"], "static-key");
    s.stop();
}
