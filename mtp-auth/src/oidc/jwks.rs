//! JWKS: parsing with the checks jsonwebtoken leaves to us, and the refreshing cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use crate::discovery::{discover, fetch};
use crate::error::{Error, Rejection, Result};

/// One verification key.
#[derive(Clone)]
pub struct VerifyKey {
    /// `kid`, if any.
    pub kid: Option<String>,
    /// `kty`: RSA, EC or OKP.
    pub kty: String,
    /// `crv` for EC/OKP keys.
    pub crv: Option<String>,
    /// The JWK's own `alg`, if any.
    pub alg: Option<String>,
    /// The JWK's `use`, if any.
    pub use_: Option<String>,
    /// The JWK's `key_ops`, if any.
    pub key_ops: Option<Vec<String>>,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    /// Whether this key may verify a token signed with `alg`, honouring the JWK's own
    /// `alg`, `use`, `key_ops` and its type/curve.
    pub fn usable_for(&self, alg: Algorithm, alg_name: &str) -> std::result::Result<(), String> {
        if let Some(a) = &self.alg
            && a != alg_name
        {
            return Err(format!("key is for `{a}`, token uses `{alg_name}`"));
        }
        // `jwt-svid` is how SPIFFE trust bundles mark JWT signing keys.
        if let Some(u) = &self.use_
            && u != "sig"
            && u != "jwt-svid"
        {
            return Err(format!(
                "key `use` is `{u}`, not `sig` (or SPIFFE `jwt-svid`)"
            ));
        }
        if let Some(ops) = &self.key_ops
            && !ops.iter().any(|o| o == "verify")
        {
            return Err("key_ops does not contain `verify`".into());
        }
        let ok = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => self.kty == "RSA",
            Algorithm::ES256 => self.kty == "EC" && self.crv.as_deref() == Some("P-256"),
            Algorithm::ES384 => self.kty == "EC" && self.crv.as_deref() == Some("P-384"),
            Algorithm::EdDSA => self.kty == "OKP" && self.crv.as_deref() == Some("Ed25519"),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "key type `{}`{} cannot verify `{alg_name}`",
                self.kty,
                self.crv
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ))
        }
    }
}

fn str_field(m: &Map<String, Value>, k: &str) -> std::result::Result<Option<String>, String> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{k}` is not a string")),
    }
}

/// Parses a JWKS document. Keys that cannot be used are skipped with a warning (`oct` keys
/// always: HMAC is never accepted); a document that is not a JWKS is an error.
pub fn parse_jwks(bytes: &[u8], source_name: &str) -> Result<Vec<VerifyKey>> {
    let err = |why: String| Error::Jwks {
        source_name: source_name.to_string(),
        why,
    };
    let doc = crate::strict::parse_object(bytes, "JWKS").map_err(|r| err(r.to_string()))?;
    let Some(Value::Array(keys)) = doc.get("keys") else {
        return Err(err("no `keys` array".into()));
    };
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let Value::Object(m) = k else {
            return Err(err(format!("keys[{i}] is not an object")));
        };
        match parse_jwk(m) {
            Ok(Some(key)) => out.push(key),
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(source = source_name, index = i, %why, "skipping JWKS key");
            }
        }
    }
    Ok(out)
}

fn parse_jwk(m: &Map<String, Value>) -> std::result::Result<Option<VerifyKey>, String> {
    let kty = str_field(m, "kty")?.ok_or("no `kty`")?;
    if kty == "oct" {
        return Err("symmetric (`oct`) keys are refused".into());
    }
    if !matches!(kty.as_str(), "RSA" | "EC" | "OKP") {
        return Err(format!("unsupported kty `{kty}`"));
    }
    let kid = str_field(m, "kid")?;
    let alg = str_field(m, "alg")?;
    let use_ = str_field(m, "use")?;
    let crv = str_field(m, "crv")?;
    let key_ops = match m.get("key_ops") {
        None => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or("`key_ops` entry not a string")
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err("`key_ops` is not an array".into()),
    };
    if m.contains_key("d") {
        return Err("private key material in a public JWKS".into());
    }
    let b64 = |name: &str| -> std::result::Result<String, String> {
        str_field(m, name)?.ok_or_else(|| format!("no `{name}`"))
    };
    let key = match kty.as_str() {
        "RSA" => DecodingKey::from_rsa_components(&b64("n")?, &b64("e")?)
            .map_err(|e| format!("bad RSA key: {e}"))?,
        "EC" => DecodingKey::from_ec_components(&b64("x")?, &b64("y")?)
            .map_err(|e| format!("bad EC key: {e}"))?,
        _ => {
            DecodingKey::from_ed_components(&b64("x")?).map_err(|e| format!("bad OKP key: {e}"))?
        }
    };
    Ok(Some(VerifyKey {
        kid,
        kty,
        crv,
        alg,
        use_,
        key_ops,
        key,
    }))
}

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `<issuer>/.well-known/openid-configuration`, then its `jwks_uri`.
    Discovery,
    /// A JWKS URL (no discovery).
    JwksUrl(String),
    /// A local JWKS file, e.g. a SPIFFE/SPIRE JWT-SVID bundle (re-read on refresh).
    JwksFile(PathBuf),
}

/// The set of keys in force.
#[derive(Debug, Default)]
pub(crate) struct KeyMap {
    by_kid: HashMap<String, Vec<VerifyKey>>,
    all: Vec<VerifyKey>,
}

impl KeyMap {
    fn new(keys: Vec<VerifyKey>) -> Self {
        let mut by_kid: HashMap<String, Vec<VerifyKey>> = HashMap::new();
        for k in &keys {
            if let Some(kid) = &k.kid {
                by_kid.entry(kid.clone()).or_default().push(k.clone());
            }
        }
        KeyMap { by_kid, all: keys }
    }

    /// `Ok(Some)` one key, `Ok(None)` unknown, `Err` ambiguous.
    fn find(&self, kid: Option<&str>) -> std::result::Result<Option<&VerifyKey>, Rejection> {
        match kid {
            Some(kid) => match self.by_kid.get(kid).map(Vec::as_slice) {
                None | Some([]) => Ok(None),
                Some([one]) => Ok(Some(one)),
                Some(_) => Err(Rejection::AmbiguousKey(kid.to_string())),
            },
            // No kid: only unambiguous when the set holds exactly one key.
            None => match self.all.as_slice() {
                [one] => Ok(Some(one)),
                _ => Ok(None),
            },
        }
    }
}

/// A key cache with refresh cooldown and single-flight fetching.
pub(crate) struct KeyStore {
    issuer: String,
    source: KeySource,
    http: reqwest::Client,
    jwks_uri: Mutex<Option<String>>,
    keys: RwLock<Arc<KeyMap>>,
    last_attempt: Mutex<Option<Instant>>,
    last_success: Mutex<Option<Instant>>,
    flight: tokio::sync::Mutex<()>,
    cooldown: Duration,
    fetches: AtomicU64,
}

impl KeyStore {
    pub(crate) fn new(
        issuer: String,
        source: KeySource,
        http: reqwest::Client,
        cooldown: Duration,
    ) -> Result<Self> {
        let store = KeyStore {
            issuer,
            jwks_uri: Mutex::new(match &source {
                KeySource::JwksUrl(u) => Some(u.clone()),
                _ => None,
            }),
            source,
            http,
            keys: RwLock::new(Arc::new(KeyMap::default())),
            last_attempt: Mutex::new(None),
            last_success: Mutex::new(None),
            flight: tokio::sync::Mutex::new(()),
            cooldown,
            fetches: AtomicU64::new(0),
        };
        if let KeySource::JwksFile(path) = &store.source {
            // A static bundle must be readable at start.
            let keys = read_jwks_file(path)?;
            store.install(keys);
        }
        Ok(store)
    }

    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn current(&self) -> Arc<KeyMap> {
        match self.keys.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn install(&self, keys: Vec<VerifyKey>) {
        let map = Arc::new(KeyMap::new(keys));
        match self.keys.write() {
            Ok(mut g) => *g = map,
            Err(p) => *p.into_inner() = map,
        }
        set(&self.last_success, Some(Instant::now()));
    }

    pub(crate) fn last_success(&self) -> Option<Instant> {
        get(&self.last_success)
    }

    /// The key for `kid`; on a miss, at most one refresh per cooldown, shared by concurrent callers.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
    ) -> std::result::Result<VerifyKey, Rejection> {
        if let Some(k) = self.current().find(kid)? {
            return Ok(k.clone());
        }
        let _flight = self.flight.lock().await;
        // Another caller may have refreshed while we waited.
        if let Some(k) = self.current().find(kid)? {
            return Ok(k.clone());
        }
        let now = Instant::now();
        if let Some(t) = get(&self.last_attempt)
            && now.duration_since(t) < self.cooldown
        {
            return Err(Rejection::UnknownKey(kid.map(str::to_string)));
        }
        if let Err(e) = self.refresh_locked().await {
            tracing::warn!(error = %e, "JWKS refresh failed; keeping the cached keys");
        }
        self.current()
            .find(kid)?
            .cloned()
            .ok_or_else(|| Rejection::UnknownKey(kid.map(str::to_string)))
    }

    /// Refreshes now (single-flight, ignores the cooldown). A failure keeps the cached keys.
    pub(crate) async fn refresh(&self) -> Result<usize> {
        let _flight = self.flight.lock().await;
        self.refresh_locked().await
    }

    #[tracing::instrument(name = "auth.jwks.refresh", skip_all)]
    async fn refresh_locked(&self) -> Result<usize> {
        set(&self.last_attempt, Some(Instant::now()));
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let keys = match &self.source {
            KeySource::JwksFile(path) => read_jwks_file(path)?,
            _ => {
                let uri = match get(&self.jwks_uri) {
                    Some(u) => u,
                    None => {
                        let u = self.discover().await?;
                        set(&self.jwks_uri, Some(u.clone()));
                        u
                    }
                };
                let body = fetch(&self.http, &uri).await?;
                parse_jwks(&body, &uri)?
            }
        };
        let n = keys.len();
        self.install(keys);
        Ok(n)
    }

    async fn discover(&self) -> Result<String> {
        let doc = discover(&self.http, &self.issuer).await?;
        Ok(doc.jwks_uri)
    }
}

fn get<T: Clone>(m: &Mutex<T>) -> T {
    match m.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn set<T>(m: &Mutex<T>, v: T) {
    match m.lock() {
        Ok(mut g) => *g = v,
        Err(p) => *p.into_inner() = v,
    }
}

fn read_jwks_file(path: &std::path::Path) -> Result<Vec<VerifyKey>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_jwks(&bytes, &path.display().to_string())
}
