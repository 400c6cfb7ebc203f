//! mtpctl's login flows against a real OpenID Provider (npm `oidc-provider`, started by the test
//! from tests/mtpctl/idp.mjs): the device grant (interval and slow_down honoured), authorization
//! code + PKCE on a loopback redirect, and refresh. Needs node and the package
//! (.ci/install-deps); fails when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "mtpctl_common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Browser, ChanWriter, Idp, RESOURCE, wait_for_word};
use mtp_auth::oidc::{KeySource, OidcAuthenticator, OidcConfig};
use mtp_bins::mtpctl::error::CliError;
use mtp_bins::mtpctl::oauth::{self, BrowserOptions, Client, Prompt};

fn client() -> Client {
    Client {
        client_id: "mtpctl".into(),
        client_secret: None,
        scopes: vec!["offline_access".into()],
        audience: Some(RESOURCE.into()),
    }
}

async fn verify(issuer: &str, token: &str) -> mtp_auth::Identity {
    let mut c = OidcConfig::new(issuer, RESOURCE);
    c.key_source = KeySource::Discovery;
    OidcAuthenticator::new(c)
        .unwrap()
        .verify(token)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_honours_interval_and_slow_down() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::start(
        dir.path(),
        &[("DEVICE_INTERVAL", "1"), ("SLOW_DOWN_FIRST", "1")],
    )
    .await;
    let http = reqwest::Client::new();
    let disc = oauth::discover(&http, &idp.issuer).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut err = ChanWriter(tx);
    let client = client();
    let login = oauth::device_login(
        &http,
        &disc,
        &client,
        Prompt {
            out: &mut err,
            progress: false,
        },
    );
    let user = async {
        let mut seen = String::new();
        let complete = wait_for_word(&mut rx, &mut seen, &format!("{}/device?", idp.issuer)).await;
        let code = seen
            .split("enter the code ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let page = Browser::new().approve_device(&complete, &code).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Sign-in Success"), "{}", page.body);
        seen
    };
    let (tokens, seen) = tokio::join!(login, user);
    let tokens = tokens.unwrap();
    assert!(seen.contains("To log in, open"), "{seen}");
    assert!(
        !seen.contains("Waiting"),
        "no progress output off a terminal: {seen}"
    );
    assert!(tokens.use_access_token);
    assert!(tokens.refresh_token.is_some() && tokens.id_token.is_some());
    let id = verify(&idp.issuer, tokens.bearer()).await;
    assert_eq!(id.subject, "alice@example.com");

    // Polls: the first after the announced 1 s, answered slow_down; the next 5 s later.
    let polls = idp.polls().await;
    assert_eq!(polls["tooFast"], 0, "{polls}");
    let t: Vec<i64> = polls["polls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(t.len() >= 2, "{polls}");
    assert!(t[1] - t[0] >= 5_900, "slow_down adds 5 s: {polls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_flow_with_pkce_then_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::start(dir.path(), &[("TOKEN_TTL", "60")]).await;
    let http = reqwest::Client::new();
    let disc = oauth::discover(&http, &idp.issuer).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut err = ChanWriter(tx);
    let client = client();
    let login = oauth::browser_login(
        &http,
        &disc,
        &client,
        BrowserOptions {
            port: 0,
            timeout: Duration::from_secs(30),
            open: false,
        },
        &mut err,
    );
    let user = async {
        let mut seen = String::new();
        let url = wait_for_word(&mut rx, &mut seen, &format!("{}/auth?", idp.issuer)).await;
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(
            url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
            "{url}"
        );
        let page = Browser::new().visit(&url, None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.url.starts_with("http://127.0.0.1:"), "{}", page.url);
        assert!(page.body.contains("Logged in"), "{}", page.body);
    };
    let (tokens, ()) = tokio::join!(login, user);
    let tokens = tokens.unwrap();
    let now = oauth::now();
    let exp = tokens.expires_at.unwrap();
    assert!((now + 50..=now + 61).contains(&exp), "{exp} vs {now}");
    verify(&idp.issuer, tokens.bearer()).await;

    let fresh = oauth::refresh(&http, &disc, &client, &tokens)
        .await
        .unwrap();
    assert_ne!(fresh.access_token, tokens.access_token);
    assert!(fresh.refresh_token.is_some());
    let id = verify(&idp.issuer, fresh.bearer()).await;
    assert_eq!(id.subject, "alice@example.com");

    // A refresh token the IdP does not know: a clear error that says what to do.
    let mut bad = tokens.clone();
    bad.refresh_token = Some("not-a-refresh-token".into());
    let e = oauth::refresh(&http, &disc, &client, &bad)
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Auth(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("invalid_grant") && msg.contains("run mtpctl login"),
        "{msg}"
    );
    assert!(!msg.contains("not-a-refresh-token"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_redirect_with_a_wrong_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::start(dir.path(), &[]).await;
    let http = reqwest::Client::new();
    let disc = oauth::discover(&http, &idp.issuer).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut err = ChanWriter(tx);
    let client = client();
    let login = oauth::browser_login(
        &http,
        &disc,
        &client,
        BrowserOptions {
            port: 0,
            timeout: Duration::from_secs(30),
            open: false,
        },
        &mut err,
    );
    let attacker = async {
        let mut seen = String::new();
        let url = wait_for_word(&mut rx, &mut seen, &format!("{}/auth?", idp.issuer)).await;
        let url = reqwest::Url::parse(&url).unwrap();
        let redirect = url
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .unwrap()
            .1
            .into_owned();
        let r = reqwest::get(format!("{redirect}?code=stolen&state=forged"))
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    };
    let (result, ()) = tokio::join!(login, attacker);
    let e = result.unwrap_err().to_string();
    assert!(e.contains("wrong state"), "{e}");
}

#[tokio::test]
async fn unreachable_idp_names_it() {
    let http = reqwest::Client::new();
    let e = oauth::discover(&http, "http://127.0.0.1:9")
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Unreachable { .. }));
    let m = e.to_string();
    assert!(
        m.starts_with("cannot reach the identity provider at http://127.0.0.1:9"),
        "{m}"
    );
}
