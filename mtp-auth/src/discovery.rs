//! OpenID Provider discovery and bounded document fetches, shared by `oidc` and `broker`.

use serde_json::Value;

use crate::error::{Error, Result};

/// Largest JWKS or discovery document accepted.
pub(crate) const MAX_DOCUMENT: usize = 1 << 20;

/// Fetches `url` (a JWKS or discovery document), refusing non-2xx answers and bodies over
/// [`MAX_DOCUMENT`].
pub(crate) async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let http_err = |source| Error::Http {
        url: url.to_string(),
        source: Box::new(source),
    };
    let resp = http.get(url).send().await.map_err(http_err)?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Error::Jwks {
            source_name: url.to_string(),
            why: format!("HTTP status {status}"),
        });
    }
    match read_capped(resp, MAX_DOCUMENT).await {
        Ok(body) => Ok(body),
        Err(Capped::Http(e)) => Err(http_err(e)),
        Err(Capped::TooLarge) => Err(Error::Jwks {
            source_name: url.to_string(),
            why: format!("document larger than {MAX_DOCUMENT} bytes"),
        }),
    }
}

/// Why [`read_capped`] gave no body.
#[derive(Debug)]
pub(crate) enum Capped {
    /// The body (by its `Content-Length`, or as it arrived) is over the limit.
    TooLarge,
    /// Reading failed (including the client's timeout).
    Http(reqwest::Error),
}

/// Reads `resp`'s body, chunk by chunk, refusing it as soon as it is known to be over `limit`
/// bytes: a huge or endless body costs at most `limit` bytes of memory, never the whole of it.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> std::result::Result<Vec<u8>, Capped> {
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(Capped::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The parts of an OpenID Provider's discovery document that mtp uses.
// With `broker` alone only `token_endpoint` is read.
#[cfg_attr(not(feature = "oidc"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// `issuer` (equal to the configured issuer).
    pub issuer: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
    /// `token_endpoint`, if advertised.
    pub token_endpoint: Option<String>,
}

/// Fetches `<issuer>/.well-known/openid-configuration` and checks that its `issuer` equals
/// `issuer` exactly.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<ProviderMetadata> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let err = |why: String| Error::Discovery {
        url: url.clone(),
        why,
    };
    let body = fetch(http, &url).await.map_err(|e| err(e.to_string()))?;
    let doc =
        crate::strict::parse_object(&body, "discovery document").map_err(|r| err(r.to_string()))?;
    let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let found = s("issuer").ok_or_else(|| err("no `issuer`".into()))?;
    if found != issuer {
        return Err(err(format!(
            "document issuer `{found}` differs from the configured `{issuer}`"
        )));
    }
    let jwks_uri = s("jwks_uri").ok_or_else(|| err("no `jwks_uri`".into()))?;
    Ok(ProviderMetadata {
        issuer: found,
        jwks_uri,
        token_endpoint: s("token_endpoint"),
    })
}
