//! Client side: [`FileTokenSource`] reads a token kept fresh by a sidecar (e.g. `mtp-token-broker`),
//! and [`write_token_file`] writes one atomically.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A secret string whose `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// Reads a secret from a file (surrounding whitespace trimmed); a missing or empty file is
    /// an error naming the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let t = text.trim();
        if t.is_empty() {
            return Err(Error::Config(format!(
                "secret file {} is empty",
                path.display()
            )));
        }
        Ok(Secret(t.to_string()))
    }

    /// The secret itself (handle with care).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

struct Cached {
    token: Secret,
    read_at: Instant,
}

/// Reads a bearer token from a file, re-reading it at most once per `max_age` (default 1 s).
///
/// A missing or empty file at start is an error; a later read error (or an empty file, e.g. a
/// sidecar restarting) keeps the cached token.
///
/// ```no_run
/// let src = mtp_auth::token::FileTokenSource::new("/var/run/secrets/mtp/token")?;
/// let header = format!("Bearer {}", src.token().expose());
/// # Ok::<(), mtp_auth::Error>(())
/// ```
pub struct FileTokenSource {
    path: PathBuf,
    max_age: Duration,
    cached: Mutex<Cached>,
}

impl std::fmt::Debug for FileTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTokenSource")
            .field("path", &self.path)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

fn read_token(path: &Path) -> Result<Secret> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::EmptyTokenFile(path.to_path_buf()));
    }
    Ok(Secret(t.to_string()))
}

impl FileTokenSource {
    /// Reads `path` now (an error if missing or empty), with the default 1 s cache.
    pub fn new(path: impl Into<PathBuf>) -> Result<Self> {
        Self::with_max_age(path, Duration::from_secs(1))
    }

    /// Like [`FileTokenSource::new`] with another cache age.
    pub fn with_max_age(path: impl Into<PathBuf>, max_age: Duration) -> Result<Self> {
        let path = path.into();
        let token = read_token(&path)?;
        Ok(FileTokenSource {
            path,
            max_age,
            cached: Mutex::new(Cached {
                token,
                read_at: Instant::now(),
            }),
        })
    }

    /// The current token.
    pub fn token(&self) -> Secret {
        let mut c = match self.cached.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if c.read_at.elapsed() >= self.max_age {
            match read_token(&self.path) {
                Ok(t) => c.token = t,
                Err(e) => {
                    tracing::warn!(error = %e, "token file unreadable; keeping the cached token");
                }
            }
            c.read_at = Instant::now();
        }
        c.token.clone()
    }
}

/// Writes `token` to `path` atomically: a temporary file in the same directory (mode 0600),
/// fsync, rename over `path`, fsync of the directory. Readers see the old or the new token, never
/// a partial one.
pub fn write_token_file(path: &Path, token: &str) -> Result<()> {
    let io = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Config(format!("token file {} has no file name", path.display())))?;
    let mut rnd = [0u8; 8];
    aws_lc_rs::rand::fill(&mut rnd).map_err(|_| Error::Config("random generator failed".into()))?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        u64::from_le_bytes(rnd)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(token.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
