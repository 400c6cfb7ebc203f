//! mtpctl end to end with OIDC: a real `mtp-apiserver` (static keys + OIDC chain) that
//! advertises a real OpenID Provider (npm `oidc-provider`, tests/mtpctl/idp.mjs); the user runs
//! `mtpctl login --server URL` (device flow, then `--browser`) and the test plays the browser.
//! Refresh after the access token has expired.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "mtpctl_common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{ApiServer, Browser, Idp, RESOURCE, mtpctl};
use tokio::io::{AsyncBufReadExt as _, BufReader};

async fn oidc_server(dir: &Path, idp: &Idp) -> ApiServer {
    ApiServer::start(
        dir,
        &[(
            "admin",
            "mtp_admin-secret-0123456789",
            "mtp:platform-admins",
        )],
        &[
            "--auth-mode",
            "chain",
            "--oidc-issuer-url",
            &idp.issuer,
            "--oidc-audience",
            RESOURCE,
            "--oidc-public-client-id",
            "mtpctl",
            "--oidc-username-claim",
            "email",
            "--oidc-groups-claim",
            "groups",
        ],
    )
    .await
}

/// Starts `mtpctl login ...`, waits for a stderr word starting with `prefix`, returns it with
/// the running child.
async fn start_login(
    home: &Path,
    args: &[&str],
    prefix: &str,
) -> (
    tokio::process::Child,
    String,
    tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mtpctl"))
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .env("BROWSER", "/bin/false")
        .env_remove("MTP_API_KEY")
        .env_remove("MTP_SERVER")
        .env_remove("MTP_CONTEXT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let word = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(w) = l.split_whitespace().find(|w| w.starts_with(prefix)) {
                return (w.trim_end_matches(')').to_string(), l);
            }
        }
        panic!("mtpctl ended without printing {prefix}");
    })
    .await
    .expect("no login instructions within 30 s");
    (child, word.0, lines)
}

async fn finish(
    child: tokio::process::Child,
    mut lines: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
) -> (i32, String) {
    let mut rest = String::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        rest.push_str(&l);
        rest.push('\n');
    }
    let out = child.wait_with_output().await.unwrap();
    assert!(out.stdout.is_empty(), "login prints nothing on stdout");
    (out.status.code().unwrap_or(-1), rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_with_only_the_server_url_then_refresh_after_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::start(dir.path(), &[("TOKEN_TTL", "4"), ("DEVICE_INTERVAL", "1")]).await;
    let server = oidc_server(dir.path(), &idp).await;
    let home = dir.path().join("home");

    let (child, complete, lines) = start_login(
        &home,
        &["login", "--server", &server.url],
        &format!("{}/device?user_code=", idp.issuer),
    )
    .await;
    let code = complete.rsplit('=').next().unwrap().to_string();
    let page = Browser::new().approve_device(&complete, &code).await;
    assert!(page.body.contains("Sign-in Success"), "{}", page.body);
    let (status, rest) = finish(child, lines).await;
    assert_eq!(status, 0, "{rest}");
    assert!(rest.contains("as alice@example.com"), "{rest}");
    assert!(
        !rest.contains("Waiting"),
        "no progress off a terminal: {rest}"
    );

    let config = home.join("mtp/config.toml");
    let before = std::fs::read_to_string(&config).unwrap();
    assert!(
        before.contains(&format!("issuer = \"{}\"", idp.issuer)),
        "{before}"
    );
    assert!(before.contains("use-access-token = true"), "{before}");

    // Wait until the 4 s access token has expired for sure: the next command refreshes it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let who = mtpctl(&home, &[], &["whoami", "--no-headers"]).await;
    let out = who.ok();
    assert!(out.starts_with("alice@example.com"), "{out}");
    assert!(out.contains("oidc"), "{out}");
    let after = std::fs::read_to_string(&config).unwrap();
    let access = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("access-token = "))
            .unwrap()
            .to_string()
    };
    assert_ne!(
        access(&before),
        access(&after),
        "the access token was refreshed"
    );
    for token_line in after.lines().filter(|l| {
        ["id-token = ", "access-token = ", "refresh-token = "]
            .iter()
            .any(|p| l.starts_with(p))
    }) {
        let value = token_line.split('"').nth(1).unwrap();
        assert!(!who.stdout.contains(value) && !who.stderr.contains(value));
    }

    // The IdP goes away: once the token has expired again the refresh cannot happen, and the
    // error names the IdP (exit 4).
    let mut idp_child = idp.child;
    idp_child.kill().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = mtpctl(&home, &[], &["whoami"]).await;
    let line = r.fails(4);
    assert!(
        line.contains("cannot reach the identity provider"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_against_the_server_and_tenants_as_that_user() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::start(dir.path(), &[("LOGIN_GROUPS", "mtp:platform-admins")]).await;
    let server = oidc_server(dir.path(), &idp).await;
    let home = dir.path().join("home");

    let (child, url, lines) = start_login(
        &home,
        &[
            "login",
            "--server",
            &server.url,
            "--browser",
            "--context",
            "prod",
        ],
        &format!("{}/auth?", idp.issuer),
    )
    .await;
    let page = Browser::new().visit(&url, None).await;
    assert!(page.body.contains("Logged in"), "{}", page.body);
    let (status, rest) = finish(child, lines).await;
    assert_eq!(status, 0, "{rest}");
    assert!(
        rest.contains("as alice@example.com (context prod)"),
        "{rest}"
    );

    let r = mtpctl(
        &home,
        &[],
        &[
            "tenants",
            "create",
            "acme",
            "--tier",
            "free",
            "--owner",
            "o@acme.io",
            "-o",
            "json",
        ],
    )
    .await;
    let t: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(t["name"], "acme");
    let audit = mtpctl(&home, &[], &["audit", "acme", "--no-headers"]).await;
    assert!(audit.ok().contains("alice@example.com"), "{audit:?}");

    // The server refuses a token that has not expired (here: damaged): mtpctl refreshes once
    // and retries, and the user sees only the result.
    let config = home.join("mtp/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let damaged: String = text
        .lines()
        .map(|l| {
            if l.starts_with("access-token = ") {
                "access-token = \"eyJhbGciOiJSUzI1NiJ9.e30.AAAA\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, damaged).unwrap();
    let r = mtpctl(&home, &[], &["tenants", "get", "acme", "--no-headers"]).await;
    assert!(r.ok().starts_with("acme "), "{r:?}");
    assert!(r.stderr.is_empty(), "{r:?}");
    assert!(
        !std::fs::read_to_string(&config)
            .unwrap()
            .contains("e30.AAAA")
    );
    // Without a refresh token the 401 is the answer (exit 3).
    let text = std::fs::read_to_string(&config).unwrap();
    let no_refresh: String = text
        .lines()
        .filter(|l| !l.starts_with("refresh-token = "))
        .map(|l| {
            if l.starts_with("access-token = ") {
                "access-token = \"eyJhbGciOiJSUzI1NiJ9.e30.AAAA\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, no_refresh).unwrap();
    let line = mtpctl(&home, &[], &["tenants", "get", "acme"])
        .await
        .fails(3)
        .to_string();
    assert!(line.starts_with("error: 401 Unauthorized"), "{line}");
}
