//! The one error type of `mtp-auth`.

use std::path::PathBuf;

/// Result with [`enum@Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a credential was rejected.
///
/// This is the precise reason, for debug logs and tests. Values taken from a token (kid, alg, ...)
/// are printed quoted and escaped, so a crafted token cannot forge log lines. It never reaches the
/// caller: over HTTP
/// every rejection is the same generic 401 (see [`Error::Unauthenticated`]), so an attacker learns
/// nothing about which check failed. It never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No credential was presented.
    #[error("no credential presented")]
    Missing,
    /// The credential is larger than the configured limit.
    #[error("token of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the presented token.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The token is not a compact JWS (three base64url segments, no padding).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// A header or the claims contain the same JSON key twice.
    #[error("duplicate JSON key {0:?}")]
    DuplicateKey(String),
    /// The `alg` header is not in the allowlist.
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(String),
    /// A header that is never accepted (`crit`, `cty`, `jku`, `x5u`, `jwk`, `x5c`, `enc`, ...).
    #[error("header `{0}` is not accepted")]
    ForbiddenHeader(String),
    /// `typ` differs from the required one.
    #[error("token type {found:?} is not the required {required:?}")]
    WrongType {
        /// The required `typ`.
        required: String,
        /// The presented `typ` (empty when absent).
        found: String,
    },
    /// No key with this `kid` (or no `kid` while several keys exist).
    #[error("no usable key for kid {0:?}")]
    UnknownKey(Option<String>),
    /// Several keys share this `kid`.
    #[error("kid {0:?} matches more than one key")]
    AmbiguousKey(String),
    /// The key exists but may not be used for this token (its `alg`, `use` or `key_ops`).
    #[error("key `{kid}` may not verify this token: {why}")]
    KeyNotUsable {
        /// The key's id.
        kid: String,
        /// What forbids it.
        why: String,
    },
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// A claim is missing or wrong.
    #[error("claim `{claim}`: {why}")]
    Claim {
        /// The claim's name.
        claim: String,
        /// What is wrong with it.
        why: String,
    },
    /// The token is expired.
    #[error("token expired")]
    Expired,
    /// The token is not valid yet (`nbf`).
    #[error("token not valid yet")]
    NotYetValid,
    /// The token was issued in the future (`iat`).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// The API key is unknown.
    #[error("unknown API key")]
    UnknownApiKey,
    /// The signing keys could not be fetched.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

/// Errors of `mtp-auth`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Authentication failed. `Display` is deliberately generic; the reason is for logs only.
    #[error("authentication failed")]
    Unauthenticated {
        /// The precise reason (never shown to the caller).
        reason: Rejection,
    },
    /// A static keys file has a bad line.
    #[error("{path}: line {line}: {why}")]
    KeysFileLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// A static keys file is larger than [`crate::static_keys::MAX_FILE_BYTES`].
    #[error(
        "{path}: larger than {limit_mib} MiB; static keys are for a few machine clients, use OIDC for more"
    )]
    KeysFileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in MiB.
        limit_mib: u64,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A token file is empty.
    #[error("token file {0} is empty")]
    EmptyTokenFile(PathBuf),
    /// Configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// OIDC discovery failed.
    #[error("OIDC discovery at {url} failed: {why}")]
    Discovery {
        /// The discovery URL.
        url: String,
        /// What went wrong.
        why: String,
    },
    /// A JWKS document is invalid.
    #[error("invalid JWKS from {source_name}: {why}")]
    Jwks {
        /// Where the JWKS came from (URL or file).
        source_name: String,
        /// What is wrong.
        why: String,
    },
    /// An HTTP request failed.
    #[cfg(any(feature = "oidc", feature = "broker"))]
    #[error("HTTP request to {url} failed: {source}")]
    Http {
        /// The URL (never with credentials).
        url: String,
        /// The cause.
        #[source]
        source: Box<reqwest::Error>,
    },
    /// The token endpoint refused or returned something unusable.
    #[error("token endpoint {url}: {why}")]
    TokenEndpoint {
        /// The token endpoint.
        url: String,
        /// What went wrong (the IdP's `error` and `error_description`, never the secret).
        why: String,
    },
    /// Redis failed.
    #[cfg(feature = "redis")]
    #[error("redis: {0}")]
    Redis(#[source] Box<redis::RedisError>),
}

impl Error {
    /// The generic authentication error for `reason`.
    pub fn unauthenticated(reason: Rejection) -> Self {
        Error::Unauthenticated { reason }
    }

    /// The rejection reason, when this is an authentication failure.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Error::Unauthenticated { reason } => Some(reason),
            _ => None,
        }
    }
}

impl From<Rejection> for Error {
    fn from(reason: Rejection) -> Self {
        Error::Unauthenticated { reason }
    }
}
