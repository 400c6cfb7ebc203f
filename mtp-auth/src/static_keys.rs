//! Static API keys: a file of `<key-id>:<sha256-hex>[:<group>,<group>...]` lines.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use aws_lc_rs::digest;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::error::{Error, Rejection, Result};
use crate::identity::{AuthMethod, Authenticator, Identity};

/// One key of a keys file (only its hash is kept).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The key id (not secret).
    pub key_id: String,
    hash: [u8; 32],
    /// Groups given to callers of this key.
    pub groups: Vec<String>,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("key_id", &self.key_id)
            .field("hash", &"<redacted>")
            .field("groups", &self.groups)
            .finish()
    }
}

/// The most keys a keys file may hold. Every lookup compares the presented key with each
/// stored hash in constant time, so the count bounds the work of every request (10,000 keys:
/// about 0.1 ms). Static keys are for a few machine clients; people and many clients belong
/// in OIDC.
pub const MAX_KEYS: usize = 10_000;

/// The largest keys file read (4 MiB: 10,000 keys with groups fit many times over).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A parsed keys file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    entries: Vec<KeyEntry>,
}

fn valid_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')
}

impl KeySet {
    /// Parses the text of a keys file; `origin` names it in errors.
    ///
    /// ```
    /// use mtp_auth::static_keys::KeySet;
    /// let text = "# ci key\nci:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae:admins\n";
    /// let set = KeySet::parse(text, "keys.txt").unwrap();
    /// assert_eq!(set.len(), 1);
    /// // Group names may contain ':'.
    /// let text = "ops:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae:mtp:platform-admins,dev\n";
    /// let set = KeySet::parse(text, "keys.txt").unwrap();
    /// assert_eq!(set.lookup("foo").unwrap().groups, ["mtp:platform-admins", "dev"]);
    /// let err = KeySet::parse("oops\n", "keys.txt").unwrap_err();
    /// assert_eq!(err.to_string(), "keys.txt: line 1: expected <key-id>:<sha256-hex>[:<group>,...]");
    /// ```
    pub fn parse(text: &str, origin: impl AsRef<Path>) -> Result<Self> {
        let origin = origin.as_ref();
        let err = |line: usize, why: String| Error::KeysFileLine {
            path: origin.to_path_buf(),
            line,
            why,
        };
        let mut entries: Vec<KeyEntry> = Vec::new();
        let mut ids = HashSet::new();
        let mut hashes = HashSet::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Groups come last and may contain ':' (e.g. `mtp:platform-admins`).
            let parts: Vec<&str> = line.splitn(3, ':').collect();
            if parts.len() < 2 {
                return Err(err(
                    n,
                    "expected <key-id>:<sha256-hex>[:<group>,...]".to_string(),
                ));
            }
            let key_id = parts[0].trim();
            if key_id.is_empty() {
                return Err(err(n, "empty key id".into()));
            }
            if !key_id.chars().all(valid_id_char) {
                return Err(err(
                    n,
                    format!(
                        "key id `{key_id}` may only contain letters, digits, '-', '_', '.', '@'"
                    ),
                ));
            }
            let hex = parts[1].trim();
            let hash = parse_sha256_hex(hex).ok_or_else(|| {
                err(
                    n,
                    format!(
                        "hash of key `{key_id}` must be 64 hex digits (SHA-256), found {} characters",
                        hex.len()
                    ),
                )
            })?;
            let mut groups = Vec::new();
            if let Some(g) = parts.get(2) {
                for group in g.split(',') {
                    let group = group.trim();
                    if group.is_empty() {
                        return Err(err(n, format!("empty group name for key `{key_id}`")));
                    }
                    if group.chars().any(char::is_whitespace) {
                        return Err(err(n, format!("group `{group}` contains whitespace")));
                    }
                    groups.push(group.to_string());
                }
            }
            if entries.len() == MAX_KEYS {
                return Err(err(
                    n,
                    format!(
                        "more than {MAX_KEYS} keys: static keys are for a few machine clients; \
                         use OIDC for more"
                    ),
                ));
            }
            if !ids.insert(key_id.to_string()) {
                return Err(err(n, format!("duplicate key id `{key_id}`")));
            }
            if !hashes.insert(hash) {
                return Err(err(
                    n,
                    format!("key `{key_id}` has the same hash as an earlier key"),
                ));
            }
            entries.push(KeyEntry {
                key_id: key_id.to_string(),
                hash,
                groups,
            });
        }
        Ok(KeySet { entries })
    }

    /// Reads and parses a keys file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::fs::File::open(path).map_err(io)?, MAX_FILE_BYTES + 1),
            &mut text,
        )
        .map_err(io)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(Error::KeysFileTooLarge {
                path: path.to_path_buf(),
                limit_mib: MAX_FILE_BYTES / (1024 * 1024),
            });
        }
        Self::parse(&text, path)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The key ids, in file order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key_id.as_str())
    }

    /// Finds the entry for a presented key.
    ///
    /// The presented key is hashed and compared with every entry in constant time: the time
    /// taken does not depend on which entry (if any) matched nor on how many bytes did.
    pub fn lookup(&self, presented: &str) -> Option<&KeyEntry> {
        let h = sha256(presented.as_bytes());
        let mut found: Option<&KeyEntry> = None;
        for e in &self.entries {
            // Every entry is compared; `ct_eq` does not stop at the first differing byte.
            let eq: bool = e.hash.ct_eq(&h).into();
            if eq {
                found = Some(e);
            }
        }
        found
    }
}

fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Lower-case hex SHA-256 of a secret, as written in keys files.
pub fn hash_key(secret: &str) -> String {
    sha256(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A freshly generated key: show `secret` once to its owner, append `line` to the keys file.
pub struct GeneratedKey {
    /// The secret to give to the client (shown once, never stored).
    pub secret: String,
    /// The line to append to the keys file.
    pub line: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("secret", &"<redacted>")
            .field("line", &self.line)
            .finish()
    }
}

/// Generates a random key (256 bits from the system RNG) for `key_id` with `groups`.
///
/// ```
/// let k = mtp_auth::static_keys::generate_key("ci", &["admins".into()]).unwrap();
/// let set = mtp_auth::static_keys::KeySet::parse(&k.line, "new").unwrap();
/// assert_eq!(set.lookup(&k.secret).unwrap().key_id, "ci");
/// ```
pub fn generate_key(key_id: &str, groups: &[String]) -> Result<GeneratedKey> {
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw)
        .map_err(|_| Error::Config("system random number generator failed".into()))?;
    let secret = format!(
        "mtp_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let mut line = format!("{key_id}:{}", hash_key(&secret));
    if !groups.is_empty() {
        line.push(':');
        line.push_str(&groups.join(","));
    }
    // Validate through the parser so the line is sure to load.
    KeySet::parse(&line, "<generated>")?;
    Ok(GeneratedKey { secret, line })
}

/// Authenticates static API keys from a file; [`StaticKeys::reload`] re-reads it.
#[derive(Debug)]
pub struct StaticKeys {
    path: Option<PathBuf>,
    keys: RwLock<Arc<KeySet>>,
}

impl StaticKeys {
    /// Loads the keys file at `path`.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let set = KeySet::load(&path)?;
        Ok(StaticKeys {
            path: Some(path),
            keys: RwLock::new(Arc::new(set)),
        })
    }

    /// Uses an already parsed set (no file: [`StaticKeys::reload`] is a no-op).
    pub fn from_set(set: KeySet) -> Self {
        StaticKeys {
            path: None,
            keys: RwLock::new(Arc::new(set)),
        }
    }

    /// Re-reads the file. When the new file is bad the previous keys stay in force and the
    /// error is returned, so a botched edit does not lock anyone out.
    pub fn reload(&self) -> Result<usize> {
        let Some(path) = &self.path else {
            return Ok(self.current().len());
        };
        let set = KeySet::load(path)?;
        let n = set.len();
        match self.keys.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(n)
    }

    /// Watches the file (modification time and size, checked every `every`) and reloads it when
    /// it changes; a bad new file is logged and the previous keys stay in force. The task ends
    /// when the authenticator is dropped.
    pub fn spawn_reload_on_change(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let path = self.path.clone();
        let stamp = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().ok(), m.len()))
        };
        // Taken now, not in the task: a change made before the task first runs still counts.
        let mut last = path.as_deref().and_then(stamp);
        tokio::spawn(async move {
            let Some(path) = path else { return };
            loop {
                tokio::time::sleep(every).await;
                let Some(this) = weak.upgrade() else { break };
                let now = stamp(&path);
                if now != last {
                    last = now;
                    match this.reload() {
                        Ok(n) => {
                            tracing::info!(keys = n, file = %path.display(), "API keys reloaded")
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "API keys file is invalid; keeping the previous keys")
                        }
                    }
                }
            }
        })
    }

    /// The keys in force.
    pub fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Synchronous check (what [`Authenticator::authenticate`] does), in an `auth.static_key`
    /// span that records the key id when the key is known (never the key).
    #[tracing::instrument(name = "auth.static_key", skip_all, fields(auth.key_id = tracing::field::Empty))]
    pub fn check(&self, presented: &str) -> Result<Identity> {
        let set = self.current();
        match set.lookup(presented) {
            Some(e) => {
                tracing::Span::current().record("auth.key_id", e.key_id.as_str());
                let mut id = Identity::new(
                    format!("apikey:{}", e.key_id),
                    AuthMethod::StaticKey {
                        key_id: e.key_id.clone(),
                    },
                );
                id.groups = e.groups.clone();
                Ok(id)
            }
            None => {
                tracing::debug!(reason = %Rejection::UnknownApiKey, "static key rejected");
                Err(Rejection::UnknownApiKey.into())
            }
        }
    }
}

#[async_trait]
impl Authenticator for StaticKeys {
    async fn authenticate(&self, credential: &str) -> Result<Identity> {
        self.check(credential)
    }
}
