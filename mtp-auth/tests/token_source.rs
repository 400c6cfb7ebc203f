//! FileTokenSource and the atomic token file writer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mtp_auth::token::{FileTokenSource, Secret, write_token_file};

#[test]
fn missing_or_empty_at_start_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("token");
    let e = FileTokenSource::new(&p).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot read {}", p.display())),
        "{e}"
    );
    std::fs::write(&p, "  \n").unwrap();
    assert_eq!(
        FileTokenSource::new(&p).unwrap_err().to_string(),
        format!("token file {} is empty", p.display())
    );
}

#[test]
fn rereads_after_max_age_and_keeps_the_cached_token_on_errors() {
    // Long enough that a loaded machine (tests run in parallel) does not outlive it between two
    // lines; 50 ms did.
    const MAX_AGE: Duration = Duration::from_secs(1);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("token");
    write_token_file(&p, "one").unwrap();
    let src = FileTokenSource::with_max_age(&p, MAX_AGE).unwrap();
    assert_eq!(src.token().expose(), "one");
    write_token_file(&p, "two").unwrap();
    // Within the cache age: still the old one.
    assert_eq!(src.token().expose(), "one");
    std::thread::sleep(MAX_AGE + Duration::from_millis(100));
    assert_eq!(src.token().expose(), "two");
    // The sidecar restarts: file gone, then empty. Callers keep the cached token.
    std::fs::remove_file(&p).unwrap();
    std::thread::sleep(MAX_AGE + Duration::from_millis(100));
    assert_eq!(src.token().expose(), "two");
    std::fs::write(&p, "").unwrap();
    std::thread::sleep(MAX_AGE + Duration::from_millis(100));
    assert_eq!(src.token().expose(), "two");
    write_token_file(&p, "three").unwrap();
    std::thread::sleep(MAX_AGE + Duration::from_millis(100));
    assert_eq!(src.token().expose(), "three");
}

#[test]
fn secrets_are_redacted_and_bad_paths_are_errors() {
    assert_eq!(
        format!("{:?}", Secret::new("hunter2")),
        "Secret(<redacted>)"
    );
    let e = write_token_file(std::path::Path::new("/nonexistent-dir/token"), "x")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot write /nonexistent-dir/token"), "{e}");
}

#[cfg(feature = "broker")]
#[test]
fn backoff_grows_with_jitter_and_is_capped() {
    use mtp_auth::broker::{backoff, refresh_after};
    let min = Duration::from_secs(1);
    let max = Duration::from_secs(30);
    for attempt in 0..20 {
        let d = backoff(attempt, min, max);
        let base = (min * 2u32.pow(attempt.min(16))).min(max);
        assert!(
            d >= base.mul_f64(0.75) && d <= base.mul_f64(1.25),
            "{attempt}: {d:?}"
        );
    }
    assert_eq!(
        refresh_after(Duration::from_secs(300)),
        Duration::from_secs(150)
    );
    assert_eq!(
        refresh_after(Duration::from_millis(10)),
        Duration::from_secs(1)
    );
}

#[cfg(feature = "broker")]
#[test]
fn secret_files_and_broker_settings_are_checked() {
    use mtp_auth::broker::{Broker, BrokerConfig};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("secret");
    let e = Secret::from_file(&p).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot read {}", p.display())),
        "{e}"
    );
    std::fs::write(&p, "\n").unwrap();
    assert_eq!(
        Secret::from_file(&p).unwrap_err().to_string(),
        format!(
            "invalid configuration: secret file {} is empty",
            p.display()
        )
    );
    std::fs::write(&p, "  s3cret \n").unwrap();
    assert_eq!(Secret::from_file(&p).unwrap().expose(), "s3cret");

    let cfg = |id: &str, secret: &str| {
        BrokerConfig::new("https://idp", id, Secret::new(secret), dir.path().join("t"))
    };
    assert_eq!(
        Broker::new(cfg("", "x")).unwrap_err().to_string(),
        "invalid configuration: --client-id is empty"
    );
    assert_eq!(
        Broker::new(cfg("c", "")).unwrap_err().to_string(),
        "invalid configuration: the client secret is empty"
    );
}

#[cfg(feature = "broker")]
#[tokio::test]
async fn unreachable_issuer_is_a_discovery_error() {
    use mtp_auth::broker::{Broker, BrokerConfig};
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens.
    let b = Broker::new(BrokerConfig::new(
        "http://127.0.0.1:1",
        "c",
        Secret::new("s"),
        dir.path().join("t"),
    ))
    .unwrap();
    let e = b.refresh_once().await.unwrap_err().to_string();
    assert!(
        e.starts_with(
            "OIDC discovery at http://127.0.0.1:1/.well-known/openid-configuration failed"
        ),
        "{e}"
    );
    assert!(!dir.path().join("t").exists());
}
