//! mtp-auth hot paths: static key check, OIDC verify (cold: signature; warm: verified-token
//! cache) against bare jsonwebtoken, and rate-limit checks in-process and via Redis.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mtp_auth::oidc::{KeySource, OidcAuthenticator, OidcConfig};
use mtp_auth::ratelimit::{LocalLimiter, Quota, RedisLimiter, RedisLimiterConfig};
use mtp_auth::static_keys::{KeySet, hash_key};
use serde_json::json;

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

struct Setup {
    rsa_token: String,
    ec_token: String,
    rsa_key: DecodingKey,
    ec_key: DecodingKey,
    _dir: tempfile::TempDir,
    jwks: std::path::PathBuf,
}

fn setup() -> Setup {
    let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let ec = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let n = b64(rsa.public_key().modulus().big_endian_without_leading_zero());
    let e = b64(rsa
        .public_key()
        .exponent()
        .big_endian_without_leading_zero());
    let pt = ec.public_key().as_ref();
    let (x, y) = (b64(&pt[1..33]), b64(&pt[33..65]));
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "rsa1", "use": "sig", "n": n, "e": e},
        {"kty": "EC", "kid": "ec1", "crv": "P-256", "use": "sig", "x": x, "y": y},
    ]});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks.to_string()).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": "https://issuer.test", "aud": "mtp", "sub": "user-1",
        "exp": now + 3600, "iat": now, "groups": ["dev", "ops"], "email": "u@example.com"})
    .to_string();
    let sign = |header: &str| {
        let msg = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = if header.contains("ES256") {
            ec.sign(&SystemRandom::new(), msg.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec()
        } else {
            let mut s = vec![0; rsa.public_modulus_len()];
            rsa.sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                msg.as_bytes(),
                &mut s,
            )
            .unwrap();
            s
        };
        format!("{msg}.{}", b64(&sig))
    };
    Setup {
        rsa_token: sign(r#"{"alg":"RS256","kid":"rsa1","typ":"JWT"}"#),
        ec_token: sign(r#"{"alg":"ES256","kid":"ec1","typ":"JWT"}"#),
        rsa_key: DecodingKey::from_rsa_components(&n, &e).unwrap(),
        ec_key: DecodingKey::from_ec_components(&x, &y).unwrap(),
        _dir: dir,
        jwks: path,
    }
}

fn authenticator(s: &Setup, cache: usize) -> OidcAuthenticator {
    let mut c = OidcConfig::new("https://issuer.test", "mtp");
    c.key_source = KeySource::JwksFile(s.jwks.clone());
    c.groups_claim = Some("groups".into());
    c.cache_capacity = cache;
    OidcAuthenticator::new(c).unwrap()
}

fn bench_oidc(c: &mut Criterion) {
    let s = setup();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cold = authenticator(&s, 0);
    let warm = authenticator(&s, 10_000);
    let mut g = c.benchmark_group("oidc");
    for (name, token, key, alg) in [
        ("rs256", &s.rsa_token, &s.rsa_key, Algorithm::RS256),
        ("es256", &s.ec_token, &s.ec_key, Algorithm::ES256),
    ] {
        rt.block_on(cold.verify(token)).unwrap();
        rt.block_on(warm.verify(token)).unwrap();
        let mut v = Validation::new(alg);
        v.set_audience(&["mtp"]);
        v.set_issuer(&["https://issuer.test"]);
        jsonwebtoken::decode::<serde_json::Value>(token, key, &v).unwrap();
        g.bench_function(format!("{name}/bare_jsonwebtoken_decode"), |b| {
            b.iter(|| jsonwebtoken::decode::<serde_json::Value>(black_box(token), key, &v).unwrap())
        });
        g.bench_function(format!("{name}/verify_cold"), |b| {
            b.iter(|| rt.block_on(cold.verify(black_box(token))).unwrap())
        });
        g.bench_function(format!("{name}/verify_warm"), |b| {
            b.iter(|| rt.block_on(warm.verify(black_box(token))).unwrap())
        });
    }
    g.finish();
}

fn bench_static_keys(c: &mut Criterion) {
    let lines: String = (0..20)
        .map(|i| format!("k{i}:{}\n", hash_key(&format!("secret-{i}"))))
        .collect();
    let set = KeySet::parse(&lines, "bench").unwrap();
    c.bench_function("static_keys/lookup_20_keys", |b| {
        b.iter(|| set.lookup(black_box("secret-7")).unwrap())
    });
    // Constant time across entries: first, last and no match cost the same.
    let mut g = c.benchmark_group("static_keys_20");
    for (name, key) in [
        ("first", "secret-0"),
        ("last", "secret-19"),
        ("miss", "secret-x"),
    ] {
        g.bench_function(name, |b| b.iter(|| set.lookup(black_box(key))));
    }
    g.finish();
}

fn bench_rate_limit(c: &mut Criterion) {
    let mut g = c.benchmark_group("rate_limit");
    let l = LocalLimiter::new(Quota::new(1_000_000_000, 1_000_000).unwrap());
    g.bench_function("in_process/same_key", |b| {
        b.iter(|| l.check_now(black_box("sub:alice")))
    });
    let keys: Vec<String> = (0..10_000).map(|i| format!("sub:user-{i}")).collect();
    let mut i = 0;
    g.bench_function("in_process/10k_keys", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            l.check_now(black_box(&keys[i]))
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = RedisLimiterConfig::new("redis://127.0.0.1:6379");
    cfg.key_prefix = format!("mtp:bench:{}:", std::process::id());
    let r = RedisLimiter::new(cfg, Quota::new(1_000_000, 1_000_000).unwrap()).unwrap();
    if rt.block_on(r.check_redis("probe")).is_ok() {
        g.bench_function("redis/same_key", |b| {
            b.iter(|| rt.block_on(r.check_redis(black_box("sub:alice"))).unwrap())
        });
    } else {
        eprintln!("redis on 127.0.0.1:6379 unreachable: skipping the Redis benchmark");
    }
    g.finish();
}

criterion_group!(benches, bench_oidc, bench_static_keys, bench_rate_limit);
criterion_main!(benches);
