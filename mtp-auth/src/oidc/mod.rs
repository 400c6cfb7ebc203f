//! OIDC / JWT bearer tokens verified against an issuer's JWKS (discovery, JWKS URL, or file).
//!
//! jsonwebtoken does the signature arithmetic (aws-lc-rs); everything around it is done here:
//! a size limit before parsing, strict JSON (duplicate keys rejected), header allowlists
//! (`crit`, `cty`, `jku`, `x5u`, `jwk`, `x5c` refused), the JWK's own `alg`/`use`/`key_ops`,
//! ambiguous `kid`s, the registered claims with leeway, required claims, and claim mapping.

mod jwks;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_lc_rs::digest;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

pub use crate::discovery::{ProviderMetadata, discover};
pub use jwks::{KeySource, VerifyKey, parse_jwks};

use crate::error::{Error, Rejection, Result};
use crate::identity::{AuthMethod, Authenticator, Identity};
use crate::strict;

/// Default algorithm allowlist.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256];

/// Parses an algorithm name; `none` and `HS*` are never accepted.
///
/// ```
/// use mtp_auth::oidc::parse_algorithm;
/// assert!(parse_algorithm("ES384").is_ok());
/// assert_eq!(
///     parse_algorithm("HS256").unwrap_err().to_string(),
///     "invalid configuration: signing algorithm `HS256` is never accepted (symmetric or unsigned)"
/// );
/// ```
pub fn parse_algorithm(name: &str) -> Result<Algorithm> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("none") || name.to_ascii_uppercase().starts_with("HS") {
        return Err(Error::Config(format!(
            "signing algorithm `{name}` is never accepted (symmetric or unsigned)"
        )));
    }
    name.parse::<Algorithm>().map_err(|_| {
        Error::Config(format!(
            "unknown signing algorithm `{name}` (expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA)"
        ))
    })
}

fn alg_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
    }
}

/// Configuration of an [`OidcAuthenticator`].
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer, compared exactly with `iss` and the discovery document.
    pub issuer: String,
    /// Accepted audiences: `aud` (string or array) must contain one of them.
    pub audiences: Vec<String>,
    /// Where the keys come from.
    pub key_source: KeySource,
    /// Accepted `alg`s (default RS256, ES256).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed for `exp`, `nbf`, `iat` (default 60 s).
    pub leeway: Duration,
    /// Larger tokens are rejected before any parsing (default 8 KiB).
    pub max_token_size: usize,
    /// Claims that must be present with this value (string equal, or array containing it).
    pub required_claims: Vec<(String, String)>,
    /// Claim giving the username (default `sub`).
    pub username_claim: String,
    /// Prefix added to the username (like the apiserver's `--oidc-username-prefix`).
    pub username_prefix: Option<String>,
    /// Claim giving the groups (string or array of strings), if any.
    pub groups_claim: Option<String>,
    /// Prefix added to each group.
    pub groups_prefix: Option<String>,
    /// Claim giving the tenant, if any.
    pub tenant_claim: Option<String>,
    /// Required `typ` header (e.g. `at+jwt` for RFC 9068 access tokens), compared case-insensitively,
    /// with or without the `application/` prefix.
    pub require_typ: Option<String>,
    /// An unknown `kid` causes at most one JWKS fetch per cooldown (default 30 s).
    pub refresh_cooldown: Duration,
    /// Periodic refresh interval (default 10 min), see [`OidcAuthenticator::spawn_refresh`].
    pub refresh_interval: Duration,
    /// Capacity of the verified-token cache (0 disables it; default 10,000).
    pub cache_capacity: usize,
    /// Timeout for discovery and JWKS requests (default 10 s).
    pub http_timeout: Duration,
}

impl OidcConfig {
    /// A configuration with the defaults, using discovery.
    ///
    /// ```
    /// let c = mtp_auth::oidc::OidcConfig::new("https://idp.example", "mtp");
    /// assert_eq!(c.username_claim, "sub");
    /// assert_eq!(c.max_token_size, 8192);
    /// ```
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        OidcConfig {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            key_source: KeySource::Discovery,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: Duration::from_secs(60),
            max_token_size: 8 * 1024,
            required_claims: Vec::new(),
            username_claim: "sub".into(),
            username_prefix: None,
            groups_claim: None,
            groups_prefix: None,
            tenant_claim: None,
            require_typ: None,
            refresh_cooldown: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(600),
            cache_capacity: 10_000,
            http_timeout: Duration::from_secs(10),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.issuer.is_empty() {
            return Err(Error::Config("OIDC issuer is empty".into()));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(Error::Config(
                "OIDC needs at least one non-empty audience".into(),
            ));
        }
        if self.algorithms.is_empty() {
            return Err(Error::Config("OIDC signing algorithm list is empty".into()));
        }
        for a in &self.algorithms {
            parse_algorithm(alg_name(*a))?;
        }
        if self.max_token_size == 0 {
            return Err(Error::Config("OIDC max token size is 0".into()));
        }
        if self.username_claim.is_empty() {
            return Err(Error::Config("OIDC username claim is empty".into()));
        }
        Ok(())
    }
}

struct Cached {
    identity: Identity,
    exp: u64,
}

/// Verifies JWT bearer tokens from one issuer.
pub struct OidcAuthenticator {
    config: OidcConfig,
    keys: jwks::KeyStore,
    cache: RwLock<HashMap<[u8; 32], Cached>>,
}

impl std::fmt::Debug for OidcAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcAuthenticator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn token_hash(token: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

const FORBIDDEN_HEADERS: &[&str] = &["crit", "cty", "jku", "x5u", "jwk", "x5c", "enc", "zip"];

fn is_b64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn b64(seg: &str, what: &str) -> std::result::Result<Vec<u8>, Rejection> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .map_err(|_| Rejection::Malformed(format!("{what} is not base64url")))
}

fn num_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> std::result::Result<Option<f64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| Rejection::Claim {
            claim: name.into(),
            why: "not a number".into(),
        }),
    }
}

/// Whether `v` (a string, or an array of strings) contains `want`.
fn claim_contains(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Array(a) => a.iter().any(|e| e.as_str() == Some(want)),
        _ => false,
    }
}

impl OidcAuthenticator {
    /// Builds the authenticator. With a JWKS file the file is read now (an error if unreadable);
    /// with discovery or a JWKS URL the keys are fetched on first use or by [`Self::refresh`].
    pub fn new(config: OidcConfig) -> Result<Self> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let keys = jwks::KeyStore::new(
            config.issuer.clone(),
            config.key_source.clone(),
            http,
            config.refresh_cooldown,
        )?;
        Ok(OidcAuthenticator {
            config,
            keys,
            cache: RwLock::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Fetches the keys now (ignoring the cooldown); a failure keeps the cached keys.
    pub async fn refresh(&self) -> Result<usize> {
        self.keys.refresh().await
    }

    /// How many JWKS fetches (or file reads) were attempted so far.
    pub fn jwks_fetches(&self) -> u64 {
        self.keys.fetches()
    }

    /// Spawns the periodic refresh (every `refresh_interval`); it stops when the authenticator
    /// is dropped.
    pub fn spawn_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = self.config.refresh_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(this) = weak.upgrade() else { break };
                if let Err(e) = this.refresh().await {
                    tracing::warn!(error = %e, "periodic JWKS refresh failed; keeping cached keys");
                }
                if let Some(t) = this.keys.last_success() {
                    tracing::debug!(age_s = t.elapsed().as_secs(), "JWKS refreshed");
                }
            }
        })
    }

    /// Verifies `token` and maps its claims to an [`Identity`]; the error names the precise
    /// reason (for logs and tests), [`Authenticator::authenticate`] hides it behind a generic error.
    #[tracing::instrument(
        name = "auth.oidc.verify",
        skip_all,
        fields(auth.issuer = %self.config.issuer, auth.cached = tracing::field::Empty)
    )]
    pub async fn verify(&self, token: &str) -> std::result::Result<Identity, Rejection> {
        if token.len() > self.config.max_token_size {
            return Err(Rejection::TooLarge {
                size: token.len(),
                limit: self.config.max_token_size,
            });
        }
        let hash = (self.config.cache_capacity > 0).then(|| token_hash(token));
        if let Some(h) = &hash
            && let Some(id) = self.cached(h)
        {
            tracing::Span::current().record("auth.cached", true);
            return Ok(id);
        }
        tracing::Span::current().record("auth.cached", false);
        let parsed = self.parse(token)?;
        let key = self.keys.key_for(parsed.kid.as_deref()).await?;
        key.usable_for(parsed.alg, alg_name(parsed.alg))
            .map_err(|why| Rejection::KeyNotUsable {
                kid: key.kid.clone().unwrap_or_default(),
                why,
            })?;
        let ok = jsonwebtoken::crypto::verify(
            parsed.signature,
            parsed.message.as_bytes(),
            &key.key,
            parsed.alg,
        )
        .unwrap_or(false);
        if !ok {
            return Err(Rejection::BadSignature);
        }
        let (identity, exp) = self.check_claims(&parsed.claims)?;
        if let Some(h) = hash {
            self.remember(h, &identity, exp);
        }
        Ok(identity)
    }

    fn cached(&self, h: &[u8; 32]) -> Option<Identity> {
        let guard = self.cache.read().ok()?;
        let c = guard.get(h)?;
        (now_secs() < c.exp).then(|| c.identity.clone())
    }

    fn remember(&self, h: [u8; 32], identity: &Identity, exp: u64) {
        let Ok(mut m) = self.cache.write() else {
            return;
        };
        let cap = self.config.cache_capacity;
        if m.len() >= cap {
            let now = now_secs();
            m.retain(|_, c| c.exp > now);
            if m.len() >= cap {
                // Still full of live entries: drop a quarter (arbitrary ones) to make room.
                let drop: Vec<[u8; 32]> = m.keys().take(cap / 4 + 1).copied().collect();
                for k in drop {
                    m.remove(&k);
                }
            }
        }
        m.insert(
            h,
            Cached {
                identity: identity.clone(),
                exp,
            },
        );
    }

    /// Number of tokens in the verified-token cache.
    pub fn cache_len(&self) -> usize {
        self.cache.read().map_or(0, |m| m.len())
    }

    fn parse<'t>(&self, token: &'t str) -> std::result::Result<Parsed<'t>, Rejection> {
        let parts: Vec<&str> = token.split('.').collect();
        match parts.len() {
            3 => {}
            5 => {
                return Err(Rejection::Malformed(
                    "JWE (encrypted) tokens are not accepted".into(),
                ));
            }
            n => return Err(Rejection::Malformed(format!("{n} segments, expected 3"))),
        }
        let (h, p, s) = (parts[0], parts[1], parts[2]);
        if h.is_empty() || p.is_empty() {
            return Err(Rejection::Malformed("empty header or payload".into()));
        }
        if s.is_empty() {
            return Err(Rejection::Malformed("no signature".into()));
        }
        if !(is_b64url(h) && is_b64url(p) && is_b64url(s)) {
            return Err(Rejection::Malformed(
                "segments must be unpadded base64url".into(),
            ));
        }
        let header = strict::parse_object(&b64(h, "header")?, "header")?;
        let alg_s = match header.get("alg") {
            Some(Value::String(a)) => a.as_str(),
            _ => return Err(Rejection::Malformed("header has no `alg` string".into())),
        };
        // Exactly a registered name (RFC 7515: `alg` is case-sensitive): `"RS256 "` is not
        // RS256. Not `parse_algorithm`, which trims what an operator typed in a flag.
        let alg = match alg_s.parse::<Algorithm>() {
            Ok(a) if self.config.algorithms.contains(&a) => a,
            _ => return Err(Rejection::AlgorithmNotAllowed(alg_s.to_string())),
        };
        for f in FORBIDDEN_HEADERS {
            if header.contains_key(*f) {
                return Err(Rejection::ForbiddenHeader((*f).to_string()));
            }
        }
        if let Some(required) = &self.config.require_typ {
            let found = header.get("typ").and_then(Value::as_str).unwrap_or("");
            let norm = |s: &str| {
                let l = s.to_ascii_lowercase();
                l.strip_prefix("application/")
                    .map(str::to_string)
                    .unwrap_or(l)
            };
            if norm(found) != norm(required) {
                return Err(Rejection::WrongType {
                    required: required.clone(),
                    found: found.to_string(),
                });
            }
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(Rejection::Malformed("`kid` is not a string".into())),
        };
        let claims = strict::parse_object(&b64(p, "payload")?, "claims")?;
        // Verify the signature decodes as base64url before spending a key lookup on it.
        b64(s, "signature")?;
        Ok(Parsed {
            alg,
            kid,
            claims,
            message: &token[..h.len() + 1 + p.len()],
            signature: s,
        })
    }

    fn check_claims(
        &self,
        c: &Map<String, Value>,
    ) -> std::result::Result<(Identity, u64), Rejection> {
        let cfg = &self.config;
        let claim_err = |claim: &str, why: &str| Rejection::Claim {
            claim: claim.into(),
            why: why.into(),
        };
        match c.get("iss") {
            Some(Value::String(i)) if *i == cfg.issuer => {}
            Some(Value::String(_)) => return Err(claim_err("iss", "unexpected issuer")),
            Some(_) => return Err(claim_err("iss", "not a string")),
            None => return Err(claim_err("iss", "missing")),
        }
        match c.get("aud") {
            None => return Err(claim_err("aud", "missing")),
            Some(v @ (Value::String(_) | Value::Array(_))) => {
                if let Value::Array(a) = v
                    && a.iter().any(|e| !e.is_string())
                {
                    return Err(claim_err("aud", "array with a non-string entry"));
                }
                if !cfg.audiences.iter().any(|a| claim_contains(v, a)) {
                    return Err(claim_err("aud", "no accepted audience"));
                }
            }
            Some(_) => return Err(claim_err("aud", "neither a string nor an array")),
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let leeway = cfg.leeway.as_secs_f64();
        let exp = num_claim(c, "exp")?.ok_or_else(|| claim_err("exp", "missing"))?;
        if !exp.is_finite() || exp + leeway <= now {
            return Err(Rejection::Expired);
        }
        if let Some(nbf) = num_claim(c, "nbf")?
            && nbf > now + leeway
        {
            return Err(Rejection::NotYetValid);
        }
        if let Some(iat) = num_claim(c, "iat")?
            && iat > now + leeway
        {
            return Err(Rejection::IssuedInFuture);
        }
        for (k, v) in &cfg.required_claims {
            match c.get(k) {
                Some(found) if claim_contains(found, v) => {}
                _ => return Err(claim_err(k, "required value not present")),
            }
        }
        let sub = match c.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(claim_err("sub", "missing or not a non-empty string")),
        };
        let user = match c.get(&cfg.username_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(claim_err(
                    &cfg.username_claim,
                    "username claim missing or not a non-empty string",
                ));
            }
        };
        if cfg.username_claim == "email"
            && let Some(v) = c.get("email_verified")
            && v != &Value::Bool(true)
        {
            return Err(claim_err("email_verified", "email is not verified"));
        }
        let mut groups = Vec::new();
        if let Some(g) = &cfg.groups_claim {
            match c.get(g) {
                None => {}
                Some(Value::String(s)) => groups.push(s.clone()),
                Some(Value::Array(a)) => {
                    for e in a {
                        match e {
                            Value::String(s) => groups.push(s.clone()),
                            _ => return Err(claim_err(g, "group entry is not a string")),
                        }
                    }
                }
                Some(_) => return Err(claim_err(g, "neither a string nor an array")),
            }
        }
        if let Some(p) = &cfg.groups_prefix {
            for g in &mut groups {
                g.insert_str(0, p);
            }
        }
        let tenant = match &cfg.tenant_claim {
            None => None,
            Some(t) => match c.get(t) {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(claim_err(t, "tenant claim is not a string")),
            },
        };
        let username = match &cfg.username_prefix {
            Some(p) => format!("{p}{user}"),
            None => user,
        };
        let exp_secs = exp.max(0.0) as u64;
        let identity = Identity {
            subject: sub,
            username,
            tenant,
            groups,
            method: AuthMethod::Oidc {
                issuer: cfg.issuer.clone(),
            },
            // `checked_add`: an absurd `exp` (1e300) must not overflow SystemTime.
            expires_at: UNIX_EPOCH.checked_add(Duration::from_secs(exp_secs)),
        };
        Ok((identity, exp_secs))
    }
}

struct Parsed<'t> {
    alg: Algorithm,
    kid: Option<String>,
    claims: Map<String, Value>,
    message: &'t str,
    signature: &'t str,
}

#[async_trait]
impl Authenticator for OidcAuthenticator {
    async fn authenticate(&self, credential: &str) -> Result<Identity> {
        self.verify(credential).await.map_err(|reason| {
            tracing::debug!(%reason, issuer = %self.config.issuer, "bearer token rejected");
            Error::unauthenticated(reason)
        })
    }
}
