//! The resource-owner password grant against Debian's `glewlwyd` (installed by
//! .ci/install-deps), configured by the test in a tempdir with a throwaway SQLite database; the
//! password prompt driven through a pseudo-terminal (python3's `pty`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "mtpctl_common/mod.rs"]
mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{ApiServer, GLEWLWYD_CLIENT_SECRET, Glewlwyd, mtpctl, run_on_pty};
use mtp_auth::oidc::{KeySource, OidcAuthenticator, OidcConfig};
use mtp_auth::token::Secret;
use mtp_bins::mtpctl::error::CliError;
use mtp_bins::mtpctl::oauth::{self, Client};

fn client() -> Client {
    Client {
        client_id: "mtpctl".into(),
        client_secret: Some(Secret::new(GLEWLWYD_CLIENT_SECRET)),
        scopes: vec![],
        audience: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_grant_and_refresh_against_glewlwyd() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Glewlwyd::start(dir.path(), 60).await;
    let http = reqwest::Client::new();
    let disc = oauth::discover(&http, &idp.issuer).await.unwrap();
    let client = client();
    let tokens = oauth::password_login(&http, &disc, &client, "alice", "password")
        .await
        .unwrap();
    // No audience advertised: the ID token (aud = client id) is the bearer token.
    assert!(!tokens.use_access_token);
    assert!(tokens.refresh_token.is_some());
    let now = oauth::now();
    assert!((now + 50..=now + 61).contains(&tokens.expires_at.unwrap()));
    let mut c = OidcConfig::new(idp.issuer.clone(), "mtpctl");
    c.key_source = KeySource::Discovery;
    let verifier = OidcAuthenticator::new(c).unwrap();
    verifier.verify(tokens.bearer()).await.unwrap();

    // glewlwyd's refresh answer has no ID token: with the ID token as the bearer, a clear
    // error that says what to do; with the access token as the bearer, new tokens.
    let e = oauth::refresh(&http, &disc, &client, &tokens)
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Auth(_)), "{e:?}");
    assert!(e.to_string().contains("issued no new ID token"), "{e}");
    let mut access_mode = tokens.clone();
    access_mode.use_access_token = true;
    let fresh = oauth::refresh(&http, &disc, &client, &access_mode)
        .await
        .unwrap();
    assert_ne!(fresh.access_token, tokens.access_token);
    assert!(fresh.use_access_token);
    assert_eq!(
        fresh.refresh_token, tokens.refresh_token,
        "kept when not rotated"
    );

    let e = oauth::password_login(&http, &disc, &client, "alice", "not-her-password")
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Auth(_)), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains("403") && m.contains("wrong username or password"),
        "{m}"
    );
    assert!(!m.contains("not-her-password"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_prompt_on_a_terminal_never_echoes_or_stores_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Glewlwyd::start(dir.path(), 60).await;
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // The API server trusts glewlwyd's ID tokens (audience = the client id).
    let api = ApiServer::start(
        dir.path(),
        &[],
        &[
            "--auth-mode",
            "oidc",
            "--oidc-issuer-url",
            &idp.issuer,
            "--oidc-audience",
            "mtpctl",
        ],
    )
    .await;
    let server = api.url.clone();
    let bin = env!("CARGO_BIN_EXE_mtpctl");
    let argv = [
        bin,
        "login",
        "--server",
        &server,
        "--password",
        "--issuer",
        &idp.issuer,
        "--client-id",
        "mtpctl",
        "--client-secret",
        GLEWLWYD_CLIENT_SECRET,
    ];
    let env = [("XDG_CONFIG_HOME", home.to_str().unwrap())];

    // A wrong password: a clear error, exit 3, nothing saved.
    let (screen, code) = run_on_pty(&argv, &env, "alice", "wrong-secret-typed");
    assert_eq!(code, 3, "{screen}");
    assert!(screen.contains("password login failed"), "{screen}");
    assert!(!screen.contains("wrong-secret-typed"), "echoed: {screen}");
    let config = home.join("mtp/config.toml");
    assert!(!config.exists());

    // The right one.
    let (screen, code) = run_on_pty(&argv, &env, "alice", "password");
    assert!(
        screen.contains("Username: alice"),
        "the username is echoed: {screen}"
    );
    assert!(screen.contains("Password: "), "{screen}");
    assert!(
        !screen.contains("password"),
        "the password is never echoed: {screen}"
    );
    assert!(screen.contains("Logged in to "), "{screen}");
    assert_eq!(code, 0, "{screen}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        text.contains("id-token") && text.contains("refresh-token"),
        "{text}"
    );
    assert!(!text.contains("\"password\""), "{text}");
    assert!(!text.contains("alice\""), "no username either: {text}");

    // The server sees the user glewlwyd vouched for.
    let who = mtpctl(&home, &[], &["whoami", "-o", "json"]).await;
    let who: serde_json::Value = serde_json::from_str(who.ok()).unwrap();
    assert_eq!(who["method"], "oidc", "{who}");

    // The server refuses the ID token (damaged here): mtpctl tries a refresh, glewlwyd issues
    // no new ID token, and the user is told to log in again (exit 3).
    let text = std::fs::read_to_string(&config).unwrap();
    let damaged: String = text
        .lines()
        .map(|l| {
            if l.starts_with("id-token = ") {
                "id-token = \"eyJhbGciOiJSUzI1NiJ9.e30.AAAA\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, damaged).unwrap();
    let again = mtpctl(&home, &[], &["whoami", "-o", "json"]).await;
    let line = again.fails(3);
    assert!(
        line.contains("issued no new ID token") && line.contains("run mtpctl login"),
        "{line}"
    );
}
