//! The shared clap flags: parsing, environment variables, and the clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser;
use mtp_auth::cli::AuthArgs;
#[cfg(feature = "oidc")]
use mtp_auth::oidc::KeySource;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    auth: AuthArgs,
}

fn parse(args: &[&str]) -> AuthArgs {
    Cli::try_parse_from(std::iter::once("svc").chain(args.iter().copied()))
        .unwrap()
        .auth
}

#[cfg(feature = "oidc")]
fn config_err(args: &[&str]) -> String {
    parse(args).oidc_config().unwrap_err().to_string()
}

#[cfg(feature = "oidc")]
#[test]
fn all_oidc_flags_reach_the_config() {
    let a = parse(&[
        "--auth-mode",
        "chain",
        "--oidc-issuer-url",
        "https://idp.example",
        "--oidc-audience",
        "a,b",
        "--oidc-jwks-file",
        "/etc/spire/bundle.json",
        "--oidc-signing-algs",
        "ES384,EdDSA",
        "--oidc-username-claim",
        "email",
        "--oidc-username-prefix",
        "oidc:",
        "--oidc-groups-claim",
        "groups",
        "--oidc-groups-prefix",
        "g:",
        "--oidc-tenant-claim",
        "tenant",
        "--oidc-required-claim",
        "hd=example.com",
        "--oidc-required-claim",
        "groups=ops",
        "--oidc-leeway",
        "5",
        "--oidc-require-typ",
        "at+jwt",
        "--rate-limit-rps",
        "3",
        "--rate-limit-burst",
        "7",
    ]);
    assert_eq!(a.auth_mode, mtp_auth::cli::AuthMode::Chain);
    let c = a.oidc_config().unwrap();
    assert_eq!(c.audiences, ["a", "b"]);
    assert_eq!(
        c.key_source,
        KeySource::JwksFile("/etc/spire/bundle.json".into())
    );
    assert_eq!(c.algorithms.len(), 2);
    assert_eq!(c.username_claim, "email");
    assert_eq!(c.username_prefix.as_deref(), Some("oidc:"));
    assert_eq!(c.groups_prefix.as_deref(), Some("g:"));
    assert_eq!(c.tenant_claim.as_deref(), Some("tenant"));
    assert_eq!(c.required_claims.len(), 2);
    assert_eq!(c.leeway.as_secs(), 5);
    assert_eq!(c.require_typ.as_deref(), Some("at+jwt"));
    let q = a.quota().unwrap();
    assert_eq!((q.per_second.get(), q.burst.get()), (3, 7));
}

#[test]
fn every_flag_has_its_mtp_environment_variable() {
    // Every flag declares its MTP_* variable (setting process variables would race other tests).
    let cmd = <Cli as clap::CommandFactory>::command();
    let names: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    for want in [
        "MTP_AUTH_MODE",
        "MTP_API_KEYS_FILE",
        "MTP_OIDC_ISSUER_URL",
        "MTP_OIDC_AUDIENCE",
        "MTP_OIDC_JWKS_URL",
        "MTP_OIDC_JWKS_FILE",
        "MTP_OIDC_SIGNING_ALGS",
        "MTP_OIDC_USERNAME_CLAIM",
        "MTP_OIDC_USERNAME_PREFIX",
        "MTP_OIDC_GROUPS_CLAIM",
        "MTP_OIDC_GROUPS_PREFIX",
        "MTP_OIDC_TENANT_CLAIM",
        "MTP_OIDC_REQUIRED_CLAIM",
        "MTP_OIDC_LEEWAY",
        "MTP_OIDC_REQUIRE_TYP",
        "MTP_RATE_LIMIT_RPS",
        "MTP_RATE_LIMIT_BURST",
        "MTP_REDIS_URL",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing");
    }
}

#[cfg(feature = "oidc")]
#[test]
fn bad_flags_are_named() {
    assert_eq!(
        config_err(&["--oidc-audience", "a"]),
        "invalid configuration: --oidc-issuer-url is required for --auth-mode oidc/chain"
    );
    assert_eq!(
        config_err(&["--oidc-issuer-url", "https://i"]),
        "invalid configuration: --oidc-audience is required for --auth-mode oidc/chain"
    );
    assert_eq!(
        config_err(&[
            "--oidc-issuer-url",
            "https://i",
            "--oidc-audience",
            "a",
            "--oidc-required-claim",
            "novalue"
        ]),
        "invalid configuration: --oidc-required-claim `novalue`: expected key=value"
    );
    let e = config_err(&[
        "--oidc-issuer-url",
        "https://i",
        "--oidc-audience",
        "a",
        "--oidc-signing-algs",
        "RS256,HS256",
    ]);
    assert!(
        e.contains("--oidc-signing-algs") && e.contains("HS256"),
        "{e}"
    );
    let e = parse(&["--auth-mode", "static-keys"])
        .authenticator()
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        e,
        "invalid configuration: --api-keys-file is required for --auth-mode static-keys/chain"
    );
    let e = parse(&["--rate-limit-burst", "0"])
        .quota()
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "invalid configuration: rate limit: burst must be at least 1"
    );
    assert!(Cli::try_parse_from(["svc", "--auth-mode", "magic"]).is_err());
    assert!(Cli::try_parse_from(["svc", "--oidc-jwks-url", "u", "--oidc-jwks-file", "f"]).is_err());
}

#[cfg(feature = "oidc")]
#[tokio::test]
async fn chain_mode_routes_by_credential_shape() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let k = mtp_auth::static_keys::generate_key("ci", &[]).unwrap();
    std::fs::write(&keys, format!("{}\n", k.line)).unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, r#"{"keys":[]}"#).unwrap();
    let a = parse(&[
        "--auth-mode",
        "chain",
        "--api-keys-file",
        keys.to_str().unwrap(),
        "--oidc-issuer-url",
        "https://i",
        "--oidc-audience",
        "a",
        "--oidc-jwks-file",
        jwks.to_str().unwrap(),
    ]);
    let auth = a.authenticator().unwrap();
    assert_eq!(
        auth.authenticate(&k.secret).await.unwrap().subject,
        "apikey:ci"
    );
    // A JWT-shaped credential goes to OIDC (which has no keys): rejected, generically.
    let e = auth
        .authenticate("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "authentication failed");
    assert!(matches!(
        e.rejection(),
        Some(mtp_auth::Rejection::UnknownKey(None))
    ));
    let none = parse(&["--auth-mode", "none"]).authenticator().unwrap();
    assert_eq!(none.authenticate("").await.unwrap().subject, "dev");
    let l = parse(&[]).rate_limiter().unwrap();
    assert!(l.check("x").await.allowed);
}

#[cfg(feature = "redis")]
#[test]
fn redis_password_never_shows_in_debug() {
    let a = parse(&["--redis-url", "redis://:hunter2@127.0.0.1:6379/0"]);
    assert!(!format!("{a:?}").contains("hunter2"));
    let cfg = mtp_auth::ratelimit::RedisLimiterConfig::new("redis://user:hunter2@127.0.0.1:6379");
    let d = format!("{cfg:?}");
    assert!(
        !d.contains("hunter2") && d.contains("redis://<redacted>@127.0.0.1:6379"),
        "{d}"
    );
}

/// Built without a backend, the flags still parse and choosing it is a clear error
/// (`cargo test -p mtp-auth --no-default-features --features cli`).
#[cfg(not(all(feature = "oidc", feature = "redis")))]
#[tokio::test]
async fn compiled_out_backends_are_named() {
    #[cfg(not(feature = "oidc"))]
    for mode in ["oidc", "chain"] {
        let e = parse(&["--auth-mode", mode, "--oidc-issuer-url", "https://i"])
            .authenticator()
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "invalid configuration: --auth-mode oidc/chain needs mtp-auth built with the `oidc` feature"
        );
    }
    #[cfg(not(feature = "redis"))]
    {
        let e = parse(&["--redis-url", "redis://:hunter2@127.0.0.1:6379/0"])
            .rate_limiter()
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "invalid configuration: --redis-url needs mtp-auth built with the `redis` feature"
        );
    }
    let l = parse(&[]).rate_limiter().unwrap();
    assert!(l.check("x").await.allowed);
}
