//! Test helpers: keys generated per test run, raw JWS signing (so tests control every header
//! byte), and a small JWKS/discovery HTTP server on loopback.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use serde_json::{Value, json};

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub struct Keys {
    pub rsa: RsaKeyPair,
    pub ec: EcdsaKeyPair,
}

impl Keys {
    pub fn generate() -> Self {
        Keys {
            rsa: RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
            ec: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        }
    }

    pub fn rsa_jwk(&self, kid: &str) -> Value {
        let pk = self.rsa.public_key();
        json!({
            "kty": "RSA", "kid": kid, "use": "sig",
            "n": b64(pk.modulus().big_endian_without_leading_zero()),
            "e": b64(pk.exponent().big_endian_without_leading_zero()),
        })
    }

    pub fn ec_jwk(&self, kid: &str) -> Value {
        let pt = self.ec.public_key().as_ref();
        // Uncompressed point: 0x04 || x || y.
        json!({
            "kty": "EC", "kid": kid, "crv": "P-256", "use": "sig",
            "x": b64(&pt[1..33]), "y": b64(&pt[33..65]),
        })
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [self.rsa_jwk("rsa1"), self.ec_jwk("ec1")]})
    }

    /// Signs `header` and `claims` (raw JSON text, so duplicates can be crafted).
    pub fn sign_raw(&self, header: &str, claims: &str) -> String {
        let h: Value = serde_json::from_str(header).unwrap_or(Value::Null);
        let alg = h.get("alg").and_then(Value::as_str).unwrap_or("RS256");
        let msg = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = match alg {
            "ES256" => self
                .ec
                .sign(&SystemRandom::new(), msg.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            _ => {
                let mut sig = vec![0; self.rsa.public_modulus_len()];
                self.rsa
                    .sign(
                        &signature::RSA_PKCS1_SHA256,
                        &SystemRandom::new(),
                        msg.as_bytes(),
                        &mut sig,
                    )
                    .unwrap();
                sig
            }
        };
        format!("{msg}.{}", b64(&sig))
    }

    pub fn sign(&self, header: Value, claims: Value) -> String {
        self.sign_raw(&header.to_string(), &claims.to_string())
    }
}

pub const ISSUER: &str = "https://issuer.test";
pub const AUD: &str = "mtp";

pub fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": AUD, "sub": "user-1", "exp": now() + 600, "iat": now(),
        "email": "u@example.com", "groups": ["dev", "ops"], "tenant": "acme",
    })
}

pub fn rs_header() -> Value {
    json!({"alg": "RS256", "kid": "rsa1", "typ": "JWT"})
}

/// A JWKS + discovery server on a free loopback port, counting JWKS fetches.
#[derive(Clone)]
pub struct JwksServer {
    pub url: String,
    pub fetches: Arc<AtomicU64>,
    pub fail: Arc<AtomicBool>,
    pub jwks: Arc<std::sync::RwLock<String>>,
    pub issuer_override: Arc<std::sync::RwLock<Option<String>>>,
}

impl JwksServer {
    pub async fn start(jwks: Value) -> Self {
        use axum::{Router, extract::State, http::StatusCode, routing::get};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let s = JwksServer {
            url,
            fetches: Arc::new(AtomicU64::new(0)),
            fail: Arc::new(AtomicBool::new(false)),
            jwks: Arc::new(std::sync::RwLock::new(jwks.to_string())),
            issuer_override: Arc::new(std::sync::RwLock::new(None)),
        };
        let app = Router::new()
            .route(
                "/jwks",
                get(|State(s): State<JwksServer>| async move {
                    s.fetches.fetch_add(1, Ordering::SeqCst);
                    // A slow IdP makes concurrent misses overlap.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    if s.fail.load(Ordering::SeqCst) {
                        return (StatusCode::INTERNAL_SERVER_ERROR, String::new());
                    }
                    (StatusCode::OK, s.jwks.read().unwrap().clone())
                }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(|State(s): State<JwksServer>| async move {
                    let iss = s.issuer_override.read().unwrap().clone().unwrap_or(s.url.clone());
                    json!({"issuer": iss, "jwks_uri": format!("{}/jwks", s.url), "token_endpoint": format!("{}/token", s.url)}).to_string()
                }),
            )
            .with_state(s.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        s
    }

    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}
