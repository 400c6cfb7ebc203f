//! JWKS documents (from an IdP or a file): any bytes give keys or an error naming the source,
//! never a panic; a symmetric (`oct`) key is never among the keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtp_auth::oidc::parse_jwks;

fuzz_target!(|data: &[u8]| {
    match parse_jwks(data, "fuzz-jwks") {
        Ok(keys) => {
            let doc: Option<serde_json::Value> = serde_json::from_slice(data).ok();
            let oct = doc
                .as_ref()
                .and_then(|d| d.get("keys"))
                .and_then(|k| k.as_array())
                .map(|keys| keys.iter().filter(|k| k.get("kty").and_then(|t| t.as_str()) != Some("oct")).count());
            if let Some(usable_at_most) = oct {
                assert!(keys.len() <= usable_at_most, "an `oct` key was accepted");
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("fuzz-jwks"), "the error does not name the source: {message}");
        }
    }
});
