//! JWT verification (mtp-auth's strict compact-JWS reader and claim checks), two ways:
//! - input without a NUL byte is a token as a client sends it: it must be refused (nothing here
//!   can sign with the key the verifier trusts), and never panic;
//! - `header NUL claims` is signed with that key (ES256) whatever the header says, `$NOW` and
//!   `$EXP` in the claims replaced by now and now + 10 minutes: whenever mtp accepts the token,
//!   the plain jsonwebtoken path with the same strict rules accepts it too, for the same subject.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use libfuzzer_sys::fuzz_target;
use mtp_auth::oidc::{KeySource, OidcAuthenticator, OidcConfig};

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "mtp";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: OidcAuthenticator,
    key: EcdsaKeyPair,
    decoding: DecodingKey,
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap_or_else(|e| panic!("key: {e}"));
        let point = key.public_key().as_ref();
        let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
        let jwks = serde_json::json!({"keys": [
            {"kty": "EC", "kid": "ec1", "crv": "P-256", "use": "sig", "x": x, "y": y}
        ]});
        let path = std::env::temp_dir().join(format!("mtp-fuzz-jwks-{}.json", std::process::id()));
        std::fs::write(&path, jwks.to_string()).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let mut config = OidcConfig::new(ISSUER, AUDIENCE);
        config.key_source = KeySource::JwksFile(path);
        config.algorithms = vec![Algorithm::ES256];
        config.refresh_cooldown = Duration::from_secs(3600);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let verifier = runtime
            .block_on(async { OidcAuthenticator::new(config) })
            .unwrap_or_else(|e| panic!("verifier: {e}"));
        let decoding =
            DecodingKey::from_ec_components(&x, &y).unwrap_or_else(|e| panic!("decoding key: {e}"));
        Fixture { runtime, verifier, key, decoding }
    })
}

fn strict_validation() -> Validation {
    let mut v = Validation::new(Algorithm::ES256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.validate_nbf = true;
    v.leeway = 60;
    v
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.split_once('\u{0}') {
        None => {
            let result = f.runtime.block_on(f.verifier.verify(text));
            assert!(result.is_err(), "a token no one signed was accepted: {text:?}");
        }
        Some((header, claims)) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let claims = claims
                .replace("$NOW", &now.to_string())
                .replace("$EXP", &(now + 600).to_string());
            let message = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
            let Ok(sig) = f.key.sign(&SystemRandom::new(), message.as_bytes()) else {
                return;
            };
            let token = format!("{message}.{}", b64(sig.as_ref()));
            if let Ok(identity) = f.runtime.block_on(f.verifier.verify(&token)) {
                let plain = jsonwebtoken::decode::<serde_json::Value>(&token, &f.decoding, &strict_validation());
                match plain {
                    Ok(data) => {
                        let sub = data.claims.get("sub").and_then(|s| s.as_str()).unwrap_or_default();
                        assert_eq!(identity.subject, sub, "mtp and jsonwebtoken read different subjects");
                    }
                    Err(e) => panic!("mtp accepted a token jsonwebtoken refuses ({e}): {header} / {claims}"),
                }
            }
        }
    }
});
