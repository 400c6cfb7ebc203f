//! OIDC verification: the attack classes and every "must" check, with keys generated here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::KeyPair as _;
use common::*;
use jsonwebtoken::Algorithm;
use mtp_auth::oidc::{KeySource, OidcAuthenticator, OidcConfig, parse_jwks};
use mtp_auth::{AuthMethod, Authenticator, Rejection};
use serde_json::json;

struct Fixture {
    keys: Keys,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let keys = Keys::generate();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, keys.jwks().to_string()).unwrap();
    Fixture {
        keys,
        _dir: dir,
        path,
    }
}

fn config(f: &Fixture) -> OidcConfig {
    let mut c = OidcConfig::new(ISSUER, AUD);
    c.key_source = KeySource::JwksFile(f.path.clone());
    c
}

async fn verify(c: OidcConfig, token: &str) -> Result<mtp_auth::Identity, Rejection> {
    OidcAuthenticator::new(c).unwrap().verify(token).await
}

#[tokio::test]
async fn valid_rs256_and_es256_map_claims() {
    let f = fixture();
    let mut c = config(&f);
    c.username_claim = "email".into();
    c.username_prefix = Some("oidc:".into());
    c.groups_claim = Some("groups".into());
    c.groups_prefix = Some("oidc:".into());
    c.tenant_claim = Some("tenant".into());
    let id = verify(c.clone(), &f.keys.sign(rs_header(), claims()))
        .await
        .unwrap();
    assert_eq!(id.subject, "user-1");
    assert_eq!(id.username, "oidc:u@example.com");
    assert_eq!(id.groups, ["oidc:dev", "oidc:ops"]);
    assert_eq!(id.tenant.as_deref(), Some("acme"));
    assert_eq!(
        id.method,
        AuthMethod::Oidc {
            issuer: ISSUER.into()
        }
    );
    assert!(id.expires_at.is_some());
    let es = f.keys.sign(json!({"alg": "ES256", "kid": "ec1"}), claims());
    assert_eq!(verify(c, &es).await.unwrap().subject, "user-1");
}

#[tokio::test]
async fn unverified_email_is_rejected_as_username() {
    let f = fixture();
    let mut c = config(&f);
    c.username_claim = "email".into();
    let mut cl = claims();
    cl["email_verified"] = json!(false);
    let r = verify(c, &f.keys.sign(rs_header(), cl)).await.unwrap_err();
    assert!(
        matches!(r, Rejection::Claim { ref claim, .. } if claim == "email_verified"),
        "{r:?}"
    );
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let f = fixture();
    let h = b64(br#"{"alg":"none","kid":"rsa1"}"#);
    let p = b64(claims().to_string().as_bytes());
    let unsigned = format!("{h}.{p}.");
    assert!(matches!(
        verify(config(&f), &unsigned).await.unwrap_err(),
        Rejection::Malformed(_)
    ));
    // Even with some signature bytes present.
    let with_sig = format!("{h}.{p}.AAAA");
    assert_eq!(
        verify(config(&f), &with_sig).await.unwrap_err(),
        Rejection::AlgorithmNotAllowed("none".into())
    );
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    let f = fixture();
    let pk_der = f.keys.rsa.public_key().as_ref().to_vec();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &pk_der);
    let msg = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","kid":"rsa1"}"#),
        b64(claims().to_string().as_bytes())
    );
    let tag = aws_lc_rs::hmac::sign(&key, msg.as_bytes());
    let token = format!("{msg}.{}", b64(tag.as_ref()));
    assert_eq!(
        verify(config(&f), &token).await.unwrap_err(),
        Rejection::AlgorithmNotAllowed("HS256".into())
    );
    // And HS* cannot even be configured.
    let mut c = config(&f);
    c.algorithms.push(Algorithm::HS256);
    let err = OidcAuthenticator::new(c).unwrap_err().to_string();
    assert!(err.contains("`HS256` is never accepted"), "{err}");
}

#[tokio::test]
async fn algorithm_not_in_allowlist() {
    let f = fixture();
    let mut c = config(&f);
    c.algorithms = vec![Algorithm::RS256];
    let es = f.keys.sign(json!({"alg": "ES256", "kid": "ec1"}), claims());
    assert_eq!(
        verify(c, &es).await.unwrap_err(),
        Rejection::AlgorithmNotAllowed("ES256".into())
    );
}

// Found by the `jwt` fuzz target (issue 20): `"alg":"ES256 "` was trimmed and accepted as
// ES256, where jsonwebtoken (and RFC 7515's case-sensitive names) refuse it.
#[tokio::test]
async fn an_alg_with_whitespace_is_not_that_algorithm() {
    let f = fixture();
    for alg in ["RS256 ", " RS256", "RS256\n", "\tRS256", "rs256"] {
        let token = f.keys.sign(json!({"alg": alg, "kid": "rsa1"}), claims());
        assert_eq!(
            verify(config(&f), &token).await.unwrap_err(),
            Rejection::AlgorithmNotAllowed(alg.into()),
            "{alg:?}"
        );
    }
}

#[tokio::test]
async fn kid_injection_finds_no_key() {
    let f = fixture();
    for kid in [
        "../../../../dev/null",
        "' OR '1'='1' --",
        "rsa1\u{0}",
        "/etc/passwd",
        "",
    ] {
        let t = f.keys.sign(json!({"alg": "RS256", "kid": kid}), claims());
        assert_eq!(
            verify(config(&f), &t).await.unwrap_err(),
            Rejection::UnknownKey(Some(kid.into())),
            "kid {kid:?}"
        );
    }
}

#[tokio::test]
async fn key_bearing_and_unknown_critical_headers_are_rejected() {
    let f = fixture();
    let cases = [
        ("jku", json!("https://attacker.example/jwks")),
        ("x5u", json!("https://attacker.example/cert")),
        ("jwk", f.keys.rsa_jwk("rsa1")),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
        ("cty", json!("JWT")),
    ];
    for (name, value) in cases {
        let mut h = rs_header();
        h[name] = value;
        assert_eq!(
            verify(config(&f), &f.keys.sign(h, claims()))
                .await
                .unwrap_err(),
            Rejection::ForbiddenHeader(name.into()),
            "{name}"
        );
    }
}

#[tokio::test]
async fn tampered_payload_and_stripped_signature() {
    let f = fixture();
    let t = f.keys.sign(rs_header(), claims());
    let parts: Vec<&str> = t.split('.').collect();
    let mut cl = claims();
    cl["sub"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(cl.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(
        verify(config(&f), &tampered).await.unwrap_err(),
        Rejection::BadSignature
    );
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    assert!(matches!(
        verify(config(&f), &stripped).await.unwrap_err(),
        Rejection::Malformed(_)
    ));
    let two = format!("{}.{}", parts[0], parts[1]);
    assert!(matches!(
        verify(config(&f), &two).await.unwrap_err(),
        Rejection::Malformed(_)
    ));
}

#[tokio::test]
async fn ecdsa_zero_signature_is_rejected() {
    let f = fixture();
    let msg = format!(
        "{}.{}",
        b64(br#"{"alg":"ES256","kid":"ec1"}"#),
        b64(claims().to_string().as_bytes())
    );
    let token = format!("{msg}.{}", b64(&[0u8; 64]));
    assert_eq!(
        verify(config(&f), &token).await.unwrap_err(),
        Rejection::BadSignature
    );
}

#[tokio::test]
async fn expiry_nbf_iat_with_leeway() {
    let f = fixture();
    let with = |k: &str, v: serde_json::Value| {
        let mut c = claims();
        c[k] = v;
        f.keys.sign(rs_header(), c)
    };
    assert_eq!(
        verify(config(&f), &with("exp", json!(now() - 120)))
            .await
            .unwrap_err(),
        Rejection::Expired
    );
    // Within the 60 s leeway: accepted.
    assert!(
        verify(config(&f), &with("exp", json!(now() - 30)))
            .await
            .is_ok()
    );
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(matches!(
        verify(config(&f), &f.keys.sign(rs_header(), no_exp)).await.unwrap_err(),
        Rejection::Claim { ref claim, .. } if claim == "exp"
    ));
    assert!(matches!(
        verify(config(&f), &with("exp", json!("tomorrow"))).await.unwrap_err(),
        Rejection::Claim { ref claim, .. } if claim == "exp"
    ));
    assert_eq!(
        verify(config(&f), &with("nbf", json!(now() + 300)))
            .await
            .unwrap_err(),
        Rejection::NotYetValid
    );
    assert!(
        verify(config(&f), &with("nbf", json!(now() + 30)))
            .await
            .is_ok()
    );
    assert_eq!(
        verify(config(&f), &with("iat", json!(now() + 300)))
            .await
            .unwrap_err(),
        Rejection::IssuedInFuture
    );
    // Absurd but valid numbers: no overflow, no panic.
    assert!(verify(config(&f), &with("exp", json!(1e300))).await.is_ok());
    assert!(
        verify(config(&f), &with("exp", json!(u64::MAX)))
            .await
            .is_ok()
    );
    assert_eq!(
        verify(config(&f), &with("exp", json!(-1e300)))
            .await
            .unwrap_err(),
        Rejection::Expired
    );
    assert_eq!(
        verify(config(&f), &with("nbf", json!(1e300)))
            .await
            .unwrap_err(),
        Rejection::NotYetValid
    );
    let mut strict = config(&f);
    strict.leeway = Duration::ZERO;
    assert_eq!(
        verify(strict, &with("exp", json!(now() - 1)))
            .await
            .unwrap_err(),
        Rejection::Expired
    );
}

#[tokio::test]
async fn issuer_checks() {
    let f = fixture();
    for iss in [
        json!("https://evil.test"),
        json!("https://issuer.test/"),
        json!(1),
    ] {
        let mut c = claims();
        c["iss"] = iss.clone();
        assert!(
            matches!(
                verify(config(&f), &f.keys.sign(rs_header(), c)).await.unwrap_err(),
                Rejection::Claim { ref claim, .. } if claim == "iss"
            ),
            "{iss}"
        );
    }
    let mut c = claims();
    c.as_object_mut().unwrap().remove("iss");
    assert!(
        verify(config(&f), &f.keys.sign(rs_header(), c))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn audience_variants() {
    let f = fixture();
    let with_aud = |aud: Option<serde_json::Value>| {
        let mut c = claims();
        match aud {
            Some(a) => c["aud"] = a,
            None => {
                c.as_object_mut().unwrap().remove("aud");
            }
        }
        f.keys.sign(rs_header(), c)
    };
    assert!(
        verify(config(&f), &with_aud(Some(json!("mtp"))))
            .await
            .is_ok()
    );
    assert!(
        verify(config(&f), &with_aud(Some(json!(["other", "mtp"]))))
            .await
            .is_ok()
    );
    for bad in [
        Some(json!("other")),
        Some(json!(["other"])),
        Some(json!([])),
        Some(json!(["mtp", 5])),
        Some(json!(5)),
        Some(json!("MTP")),
        None,
    ] {
        assert!(
            matches!(
                verify(config(&f), &with_aud(bad.clone())).await.unwrap_err(),
                Rejection::Claim { ref claim, .. } if claim == "aud"
            ),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn duplicate_json_keys_are_rejected() {
    let f = fixture();
    let c = format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUD}","sub":"user-1","sub":"admin","exp":{}}}"#,
        now() + 600
    );
    assert_eq!(
        verify(
            config(&f),
            &f.keys.sign_raw(r#"{"alg":"RS256","kid":"rsa1"}"#, &c)
        )
        .await
        .unwrap_err(),
        Rejection::DuplicateKey("sub".into())
    );
    let ok_claims = claims().to_string();
    assert_eq!(
        verify(
            config(&f),
            &f.keys
                .sign_raw(r#"{"alg":"RS256","kid":"rsa1","kid":"ec1"}"#, &ok_claims)
        )
        .await
        .unwrap_err(),
        Rejection::DuplicateKey("kid".into())
    );
}

#[tokio::test]
async fn jwe_shaped_padded_and_oversized_tokens() {
    let f = fixture();
    let jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn";
    assert!(
        matches!(verify(config(&f), jwe).await.unwrap_err(), Rejection::Malformed(m) if m.contains("JWE"))
    );
    let t = f.keys.sign(rs_header(), claims());
    let parts: Vec<&str> = t.split('.').collect();
    let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
    assert!(matches!(
        verify(config(&f), &padded).await.unwrap_err(),
        Rejection::Malformed(_)
    ));
    let std_b64 = t.replace('-', "+").replace('_', "/");
    if std_b64 != t {
        assert!(matches!(
            verify(config(&f), &std_b64).await.unwrap_err(),
            Rejection::Malformed(_)
        ));
    }
    let mut c = claims();
    c["pad"] = json!("x".repeat(9000));
    let big = f.keys.sign(rs_header(), c);
    assert!(matches!(
        verify(config(&f), &big).await.unwrap_err(),
        Rejection::TooLarge { limit: 8192, .. }
    ));
    assert!(matches!(
        verify(config(&f), &"A".repeat(100_000)).await.unwrap_err(),
        Rejection::TooLarge { .. }
    ));
}

#[tokio::test]
async fn jwk_alg_use_and_key_ops_are_honoured() {
    let keys = Keys::generate();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let mut k_alg = keys.rsa_jwk("alg");
    k_alg["alg"] = json!("RS384");
    let mut k_use = keys.rsa_jwk("use");
    k_use["use"] = json!("enc");
    let mut k_ops = keys.rsa_jwk("ops");
    k_ops["key_ops"] = json!(["encrypt"]);
    let mut k_ops_ok = keys.rsa_jwk("ops-ok");
    k_ops_ok["key_ops"] = json!(["verify"]);
    k_ops_ok["alg"] = json!("RS256");
    let jwks = json!({"keys": [k_alg, k_use, k_ops, k_ops_ok, keys.rsa_jwk("dup"), keys.ec_jwk("dup"), keys.ec_jwk("ec1")]});
    std::fs::write(&path, jwks.to_string()).unwrap();
    let mut c = OidcConfig::new(ISSUER, AUD);
    c.key_source = KeySource::JwksFile(path);
    let a = OidcAuthenticator::new(c).unwrap();
    for kid in ["alg", "use", "ops"] {
        let t = keys.sign(json!({"alg": "RS256", "kid": kid}), claims());
        assert!(
            matches!(
                a.verify(&t).await.unwrap_err(),
                Rejection::KeyNotUsable { .. }
            ),
            "{kid}"
        );
    }
    let t = keys.sign(json!({"alg": "RS256", "kid": "ops-ok"}), claims());
    assert!(a.verify(&t).await.is_ok());
    let t = keys.sign(json!({"alg": "RS256", "kid": "dup"}), claims());
    assert_eq!(
        a.verify(&t).await.unwrap_err(),
        Rejection::AmbiguousKey("dup".into())
    );
    // Key-type confusion: an RS256 token naming an EC key.
    let t = keys.sign(json!({"alg": "RS256", "kid": "ec1"}), claims());
    assert!(matches!(
        a.verify(&t).await.unwrap_err(),
        Rejection::KeyNotUsable { .. }
    ));
    // No kid while several keys exist: no key is guessed.
    let t = keys.sign(json!({"alg": "RS256"}), claims());
    assert_eq!(a.verify(&t).await.unwrap_err(), Rejection::UnknownKey(None));
}

#[test]
fn oct_and_private_keys_are_refused_from_a_jwks() {
    let keys = Keys::generate();
    let mut private = keys.rsa_jwk("priv");
    private["d"] = json!("AAAA");
    let doc = json!({"keys": [
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        private,
        keys.rsa_jwk("rsa1"),
    ]});
    let parsed = parse_jwks(doc.to_string().as_bytes(), "https://idp/jwks").unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].kid.as_deref(), Some("rsa1"));
    let err = parse_jwks(b"{\"keys\": 1}", "https://idp/jwks")
        .unwrap_err()
        .to_string();
    assert_eq!(err, "invalid JWKS from https://idp/jwks: no `keys` array");
    let err = parse_jwks(br#"{"keys":[],"keys":[]}"#, "f")
        .unwrap_err()
        .to_string();
    assert!(err.contains("duplicate JSON key \"keys\""), "{err}");
}

#[tokio::test]
async fn typ_can_be_required() {
    let f = fixture();
    let mut c = config(&f);
    c.require_typ = Some("at+jwt".into());
    let t = f.keys.sign(rs_header(), claims());
    assert!(matches!(
        verify(c.clone(), &t).await.unwrap_err(),
        Rejection::WrongType { .. }
    ));
    for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let t = f
            .keys
            .sign(json!({"alg": "RS256", "kid": "rsa1", "typ": typ}), claims());
        assert!(verify(c.clone(), &t).await.is_ok(), "{typ}");
    }
}

#[tokio::test]
async fn required_claims_string_or_array() {
    let f = fixture();
    let mut c = config(&f);
    c.required_claims = vec![
        ("groups".into(), "ops".into()),
        ("tenant".into(), "acme".into()),
    ];
    assert!(
        verify(c.clone(), &f.keys.sign(rs_header(), claims()))
            .await
            .is_ok()
    );
    let mut cl = claims();
    cl["tenant"] = json!("other");
    assert!(matches!(
        verify(c, &f.keys.sign(rs_header(), cl)).await.unwrap_err(),
        Rejection::Claim { ref claim, .. } if claim == "tenant"
    ));
}

#[tokio::test]
async fn verified_token_cache_is_used_and_never_outlives_exp() {
    let f = fixture();
    let mut c = config(&f);
    c.leeway = Duration::ZERO;
    let a = OidcAuthenticator::new(c).unwrap();
    let t = f.keys.sign(rs_header(), claims());
    a.verify(&t).await.unwrap();
    assert_eq!(a.cache_len(), 1);
    a.verify(&t).await.unwrap();
    assert_eq!(a.cache_len(), 1);
    let mut cl = claims();
    cl["exp"] = json!(now() + 2);
    let short = f.keys.sign(rs_header(), cl);
    a.verify(&short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(a.verify(&short).await.unwrap_err(), Rejection::Expired);
}

#[tokio::test]
async fn cache_stays_bounded() {
    let f = fixture();
    let mut c = config(&f);
    c.cache_capacity = 8;
    let a = OidcAuthenticator::new(c).unwrap();
    for i in 0..40 {
        let mut cl = claims();
        cl["jti"] = json!(i);
        a.verify(&f.keys.sign(rs_header(), cl)).await.unwrap();
        assert!(a.cache_len() <= 8);
    }
}

#[tokio::test]
async fn every_failure_is_the_same_generic_error() {
    let f = fixture();
    let a = OidcAuthenticator::new(config(&f)).unwrap();
    let mut expired = claims();
    expired["exp"] = json!(now() - 1000);
    let tokens = [
        "garbage".to_string(),
        f.keys
            .sign(json!({"alg": "RS256", "kid": "nope"}), claims()),
        f.keys.sign(rs_header(), expired),
    ];
    for t in tokens {
        let e = a.authenticate(&t).await.unwrap_err();
        assert_eq!(e.to_string(), "authentication failed");
        assert!(e.rejection().is_some());
        assert!(!format!("{e:?}").contains(&t) || t == "garbage");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kid_miss_storm_fetches_at_most_once_per_cooldown() {
    let keys = Keys::generate();
    // All tokens signed up front, so the timing below is only the verifier's.
    let good = keys.sign(rs_header(), claims());
    let first_wave: Vec<String> = (0..50)
        .map(|i| {
            if i % 2 == 0 {
                good.clone()
            } else {
                keys.sign(
                    json!({"alg": "RS256", "kid": format!("unknown-{i}")}),
                    claims(),
                )
            }
        })
        .collect();
    let storm: Vec<String> = (0..200)
        .map(|i| {
            keys.sign(
                json!({"alg": "RS256", "kid": format!("storm-{i}")}),
                claims(),
            )
        })
        .collect();
    let after = keys.sign(json!({"alg": "RS256", "kid": "after"}), claims());
    let server = JwksServer::start(keys.jwks()).await;
    let mut c = OidcConfig::new(ISSUER, AUD);
    c.key_source = KeySource::JwksUrl(format!("{}/jwks", server.url));
    let cooldown = Duration::from_secs(2);
    c.refresh_cooldown = cooldown;
    let a = Arc::new(OidcAuthenticator::new(c).unwrap());
    // At most one fetch per cooldown since the start: one, unless a loaded machine makes the
    // waves below outlast a cooldown.
    let start = std::time::Instant::now();
    let at_most = || 1 + (start.elapsed().as_millis() / cooldown.as_millis()) as u64;
    // First use: keys are fetched once, however many requests arrive together.
    let tasks: Vec<_> = first_wave
        .into_iter()
        .map(|t| {
            let a = a.clone();
            tokio::spawn(async move { a.verify(&t).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 25);
    assert!(server.fetches() >= 1 && server.fetches() <= at_most());
    // A storm of unknown kids within the cooldown: no more fetches, and a user with a good
    // token keeps being served in the middle of it.
    for (i, t) in storm.iter().enumerate() {
        assert!(matches!(
            a.verify(t).await.unwrap_err(),
            Rejection::UnknownKey(Some(_))
        ));
        if i % 20 == 0 {
            assert!(
                a.verify(&good).await.is_ok(),
                "a good token refused during the storm"
            );
        }
    }
    assert!(
        server.fetches() <= at_most(),
        "{} fetches",
        server.fetches()
    );
    // After the cooldown one miss refreshes once more.
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    let before = server.fetches();
    assert!(a.verify(&after).await.is_err());
    assert_eq!(server.fetches(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fetch_keeps_cached_keys_and_rotation_is_picked_up() {
    let keys = Keys::generate();
    let server = JwksServer::start(keys.jwks()).await;
    let mut c = OidcConfig::new(ISSUER, AUD);
    c.key_source = KeySource::JwksUrl(format!("{}/jwks", server.url));
    c.refresh_cooldown = Duration::from_millis(100);
    c.cache_capacity = 0;
    let a = OidcAuthenticator::new(c).unwrap();
    let good = keys.sign(rs_header(), claims());
    a.verify(&good).await.unwrap();
    server.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let unknown = keys.sign(json!({"alg": "RS256", "kid": "new"}), claims());
    assert!(a.verify(&unknown).await.is_err());
    assert!(a.refresh().await.is_err());
    a.verify(&good).await.unwrap();
    // The IdP rotates to a new key; an unknown kid makes us fetch it.
    server
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    *server.jwks.write().unwrap() = json!({"keys": [keys.rsa_jwk("new")]}).to_string();
    tokio::time::sleep(Duration::from_millis(150)).await;
    a.verify(&unknown).await.unwrap();
}

#[tokio::test]
async fn discovery_checks_the_issuer_exactly() {
    let keys = Keys::generate();
    let server = JwksServer::start(keys.jwks()).await;
    let mut c = OidcConfig::new(server.url.clone(), AUD);
    c.key_source = KeySource::Discovery;
    let a = OidcAuthenticator::new(c.clone()).unwrap();
    assert_eq!(a.refresh().await.unwrap(), 2);
    let mut cl = claims();
    cl["iss"] = json!(server.url);
    a.verify(&keys.sign(rs_header(), cl)).await.unwrap();

    *server.issuer_override.write().unwrap() = Some(format!("{}/", server.url));
    let b = OidcAuthenticator::new(c).unwrap();
    let err = b.refresh().await.unwrap_err().to_string();
    assert!(err.contains("differs from the configured"), "{err}");
}

#[tokio::test]
async fn missing_jwks_file_is_a_clear_error() {
    let mut c = OidcConfig::new(ISSUER, AUD);
    c.key_source = KeySource::JwksFile("/nonexistent/bundle.json".into());
    let err = OidcAuthenticator::new(c).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot read /nonexistent/bundle.json"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_refresh_picks_up_new_keys_without_a_miss() {
    let keys = Keys::generate();
    let server = JwksServer::start(keys.jwks()).await;
    let mut c = OidcConfig::new(ISSUER, AUD);
    c.key_source = KeySource::JwksUrl(format!("{}/jwks", server.url));
    c.refresh_cooldown = Duration::from_secs(30);
    c.refresh_interval = Duration::from_millis(200);
    let a = Arc::new(OidcAuthenticator::new(c).unwrap());
    a.refresh().await.unwrap();
    let task = a.spawn_refresh();
    *server.jwks.write().unwrap() = json!({"keys": [keys.rsa_jwk("rotated")]}).to_string();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(server.fetches() >= 2, "{} fetches", server.fetches());
    // The unknown-kid cooldown (30 s) would forbid a fetch now: the key came from the periodic refresh.
    let t = keys.sign(json!({"alg": "RS256", "kid": "rotated"}), claims());
    a.verify(&t).await.unwrap();
    // The task ends once the authenticator is gone.
    drop(a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(task.is_finished());
}

#[test]
fn rejection_reasons_escape_token_values() {
    let r = Rejection::AlgorithmNotAllowed("RS256\n2026-01-01 INFO forged".into());
    assert_eq!(
        r.to_string(),
        "algorithm \"RS256\\n2026-01-01 INFO forged\" is not allowed"
    );
    assert!(
        !Rejection::UnknownKey(Some("a\nb".into()))
            .to_string()
            .contains('\n')
    );
}

#[tokio::test]
async fn spiffe_bundle_jwt_svid_keys_are_used_and_x509_svid_keys_are_not() {
    let keys = Keys::generate();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    let mut jwt_key = keys.ec_jwk("spire-jwt");
    jwt_key["use"] = json!("jwt-svid");
    let mut x509_key = keys.rsa_jwk("spire-x509");
    x509_key["use"] = json!("x509-svid");
    // The SPIFFE trust bundle format: extra top-level members, `use` per key.
    let bundle =
        json!({"spiffe_sequence": 7, "spiffe_refresh_hint": 300, "keys": [jwt_key, x509_key]});
    std::fs::write(&path, bundle.to_string()).unwrap();
    let mut c = OidcConfig::new("spiffe://example.org", "spiffe://example.org/api");
    c.key_source = KeySource::JwksFile(path);
    let a = OidcAuthenticator::new(c).unwrap();
    let svid_claims = || {
        json!({"iss": "spiffe://example.org", "aud": ["spiffe://example.org/api"],
               "sub": "spiffe://example.org/ns/prod/sa/web", "exp": now() + 300})
    };
    let id = a
        .verify(&keys.sign(
            json!({"alg": "ES256", "kid": "spire-jwt", "typ": "JWT"}),
            svid_claims(),
        ))
        .await
        .unwrap();
    assert_eq!(id.subject, "spiffe://example.org/ns/prod/sa/web");
    let r = a
        .verify(&keys.sign(json!({"alg": "RS256", "kid": "spire-x509"}), svid_claims()))
        .await
        .unwrap_err();
    assert!(matches!(r, Rejection::KeyNotUsable { .. }), "{r:?}");
}

#[tokio::test]
async fn eddsa_and_es384_are_opt_in() {
    use aws_lc_rs::signature::{
        ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
    };
    let ed = Ed25519KeyPair::generate().unwrap();
    let p384 = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
    let pt = p384.public_key().as_ref().to_vec();
    let jwks = json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.public_key().as_ref())},
        {"kty": "EC", "crv": "P-384", "kid": "p384", "x": b64(&pt[1..49]), "y": b64(&pt[49..97])},
    ]});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks.to_string()).unwrap();
    let sign = |header: &str, signer: &dyn Fn(&[u8]) -> Vec<u8>| {
        let msg = format!(
            "{}.{}",
            b64(header.as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        let sig = signer(msg.as_bytes());
        format!("{msg}.{}", b64(&sig))
    };
    let ed_token = sign(r#"{"alg":"EdDSA","kid":"ed"}"#, &|m| {
        ed.sign(m).as_ref().to_vec()
    });
    let p384_token = sign(r#"{"alg":"ES384","kid":"p384"}"#, &|m| {
        p384.sign(&aws_lc_rs::rand::SystemRandom::new(), m)
            .unwrap()
            .as_ref()
            .to_vec()
    });
    let mut c = OidcConfig::new(ISSUER, AUD);
    c.key_source = KeySource::JwksFile(path);
    let default = OidcAuthenticator::new(c.clone()).unwrap();
    assert_eq!(
        default.verify(&ed_token).await.unwrap_err(),
        Rejection::AlgorithmNotAllowed("EdDSA".into())
    );
    assert_eq!(
        default.verify(&p384_token).await.unwrap_err(),
        Rejection::AlgorithmNotAllowed("ES384".into())
    );
    c.algorithms = vec![Algorithm::EdDSA, Algorithm::ES384];
    let opted = OidcAuthenticator::new(c).unwrap();
    assert_eq!(opted.verify(&ed_token).await.unwrap().subject, "user-1");
    assert_eq!(opted.verify(&p384_token).await.unwrap().subject, "user-1");
    // Key-type confusion among opted-in algorithms: an ES384 token naming the Ed25519 key.
    let wrong = sign(r#"{"alg":"ES384","kid":"ed"}"#, &|m| {
        ed.sign(m).as_ref().to_vec()
    });
    assert!(matches!(
        opted.verify(&wrong).await.unwrap_err(),
        Rejection::KeyNotUsable { .. }
    ));
}
