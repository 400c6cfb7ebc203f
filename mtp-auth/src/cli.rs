//! The authentication flags shared by every binary (feature `cli`): flatten [`AuthArgs`] into a
//! binary's clap parser so the names are the same everywhere.
//!
//! The flags are the same whatever the features; a mode whose backend is compiled out (`oidc`,
//! `chain` without feature `oidc`, `--redis-url` without feature `redis`) is refused with an
//! error naming the feature.
//!
//! ```
//! use clap::Parser;
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     auth: mtp_auth::cli::AuthArgs,
//! }
//! let cli = Cli::parse_from(["svc", "--api-keys-file", "/etc/mtp/api-keys",
//!     "--rate-limit-rps", "5", "--rate-limit-burst", "10"]);
//! assert_eq!(cli.auth.auth_mode, mtp_auth::cli::AuthMode::StaticKeys);
//! assert_eq!(cli.auth.quota().unwrap().burst.get(), 10);
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "oidc")]
use crate::chain::Chain;
use crate::chain::NoAuth;
use crate::error::{Error, Result};
use crate::identity::Authenticator;
#[cfg(feature = "oidc")]
use crate::oidc::{KeySource, OidcAuthenticator, OidcConfig, parse_algorithm};
use crate::ratelimit::{LocalLimiter, Quota, RateLimiter};
#[cfg(feature = "redis")]
use crate::ratelimit::{RedisLimiter, RedisLimiterConfig};
use crate::static_keys::StaticKeys;
use crate::token::Secret;

/// Which backend authenticates requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// No authentication (local development only).
    None,
    /// Static API keys from `--api-keys-file`.
    StaticKeys,
    /// OIDC / JWT bearer tokens.
    Oidc,
    /// JWTs to OIDC, anything else to static keys.
    Chain,
}

/// Authentication and rate-limit flags (each also from an `MTP_*` environment variable).
#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// Authentication backend.
    #[arg(long, env = "MTP_AUTH_MODE", value_enum, default_value = "static-keys")]
    pub auth_mode: AuthMode,
    /// Static keys file: `<key-id>:<sha256-hex>[:<group>,...]` per line.
    #[arg(long, env = "MTP_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// OIDC issuer URL (exactly as in the tokens' `iss`).
    #[arg(long, env = "MTP_OIDC_ISSUER_URL")]
    pub oidc_issuer_url: Option<String>,
    /// Accepted audience(s), comma-separated.
    #[arg(long, env = "MTP_OIDC_AUDIENCE", value_delimiter = ',')]
    pub oidc_audience: Vec<String>,
    /// JWKS URL (skips discovery).
    #[arg(long, env = "MTP_OIDC_JWKS_URL", conflicts_with = "oidc_jwks_file")]
    pub oidc_jwks_url: Option<String>,
    /// Local JWKS file (e.g. a SPIFFE/SPIRE JWT-SVID bundle).
    #[arg(long, env = "MTP_OIDC_JWKS_FILE")]
    pub oidc_jwks_file: Option<PathBuf>,
    /// Accepted signing algorithms, comma-separated (never `none` or HS*).
    #[arg(
        long,
        env = "MTP_OIDC_SIGNING_ALGS",
        value_delimiter = ',',
        default_value = "RS256,ES256"
    )]
    pub oidc_signing_algs: Vec<String>,
    /// Claim giving the username.
    #[arg(long, env = "MTP_OIDC_USERNAME_CLAIM", default_value = "sub")]
    pub oidc_username_claim: String,
    /// Prefix added to usernames.
    #[arg(long, env = "MTP_OIDC_USERNAME_PREFIX")]
    pub oidc_username_prefix: Option<String>,
    /// Claim giving the groups.
    #[arg(long, env = "MTP_OIDC_GROUPS_CLAIM")]
    pub oidc_groups_claim: Option<String>,
    /// Prefix added to groups.
    #[arg(long, env = "MTP_OIDC_GROUPS_PREFIX")]
    pub oidc_groups_prefix: Option<String>,
    /// Claim giving the tenant.
    #[arg(long, env = "MTP_OIDC_TENANT_CLAIM")]
    pub oidc_tenant_claim: Option<String>,
    /// Required claim `key=value` (string, or array containing the value); repeatable.
    #[arg(long, env = "MTP_OIDC_REQUIRED_CLAIM")]
    pub oidc_required_claim: Vec<String>,
    /// Clock skew allowed, in seconds.
    #[arg(long, env = "MTP_OIDC_LEEWAY", default_value_t = 60)]
    pub oidc_leeway: u64,
    /// Required `typ` header, e.g. `at+jwt`.
    #[arg(long, env = "MTP_OIDC_REQUIRE_TYP")]
    pub oidc_require_typ: Option<String>,
    /// Sustained requests per second per key.
    #[arg(long, env = "MTP_RATE_LIMIT_RPS", default_value_t = 10)]
    pub rate_limit_rps: u32,
    /// Burst per key.
    #[arg(long, env = "MTP_RATE_LIMIT_BURST", default_value_t = 20)]
    pub rate_limit_burst: u32,
    /// Redis URL for rate limits shared between replicas (may hold a password: never printed).
    #[arg(long, env = "MTP_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
}

impl AuthArgs {
    /// The OIDC configuration from the `--oidc-*` flags (feature `oidc`).
    ///
    /// ```
    /// use clap::Parser;
    /// #[derive(Parser)]
    /// struct Cli {
    ///     #[command(flatten)]
    ///     auth: mtp_auth::cli::AuthArgs,
    /// }
    /// let cli = Cli::parse_from(["svc", "--auth-mode", "oidc", "--oidc-issuer-url", "https://idp",
    ///     "--oidc-audience", "mtp", "--oidc-required-claim", "tenant=acme"]);
    /// let cfg = cli.auth.oidc_config().unwrap();
    /// assert_eq!(cfg.required_claims, [("tenant".to_string(), "acme".to_string())]);
    /// ```
    #[cfg(feature = "oidc")]
    pub fn oidc_config(&self) -> Result<OidcConfig> {
        let issuer = self.oidc_issuer_url.clone().ok_or_else(|| {
            Error::Config("--oidc-issuer-url is required for --auth-mode oidc/chain".into())
        })?;
        if self.oidc_audience.is_empty() {
            return Err(Error::Config(
                "--oidc-audience is required for --auth-mode oidc/chain".into(),
            ));
        }
        let mut c = OidcConfig::new(issuer, "");
        c.audiences = self.oidc_audience.clone();
        c.key_source = match (&self.oidc_jwks_url, &self.oidc_jwks_file) {
            (Some(u), _) => KeySource::JwksUrl(u.clone()),
            (None, Some(f)) => KeySource::JwksFile(f.clone()),
            (None, None) => KeySource::Discovery,
        };
        c.algorithms = self
            .oidc_signing_algs
            .iter()
            .map(|a| {
                parse_algorithm(a).map_err(|e| Error::Config(format!("--oidc-signing-algs: {e}")))
            })
            .collect::<Result<_>>()?;
        c.username_claim = self.oidc_username_claim.clone();
        c.username_prefix = self.oidc_username_prefix.clone();
        c.groups_claim = self.oidc_groups_claim.clone();
        c.groups_prefix = self.oidc_groups_prefix.clone();
        c.tenant_claim = self.oidc_tenant_claim.clone();
        c.required_claims = self
            .oidc_required_claim
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(Error::Config(format!(
                    "--oidc-required-claim `{kv}`: expected key=value"
                ))),
            })
            .collect::<Result<_>>()?;
        c.leeway = Duration::from_secs(self.oidc_leeway);
        c.require_typ = self.oidc_require_typ.clone();
        Ok(c)
    }

    fn static_keys(&self) -> Result<Arc<StaticKeys>> {
        let path = self.api_keys_file.clone().ok_or_else(|| {
            Error::Config("--api-keys-file is required for --auth-mode static-keys/chain".into())
        })?;
        let keys = Arc::new(StaticKeys::from_file(path)?);
        if tokio::runtime::Handle::try_current().is_ok() {
            keys.spawn_reload_on_change(Duration::from_secs(5));
        }
        Ok(keys)
    }

    /// Builds the authenticator chosen by `--auth-mode`. Inside a tokio runtime it also spawns
    /// the periodic JWKS refresh (OIDC) and the keys-file watcher (static keys, every 5 s).
    pub fn authenticator(&self) -> Result<Arc<dyn Authenticator>> {
        Ok(match self.auth_mode {
            AuthMode::None => Arc::new(NoAuth::new("dev", vec!["system:authenticated".into()])),
            AuthMode::StaticKeys => self.static_keys()?,
            #[cfg(feature = "oidc")]
            AuthMode::Oidc => self.oidc()?,
            #[cfg(feature = "oidc")]
            AuthMode::Chain => Arc::new(Chain::new(
                Some(Box::new(self.oidc()?)),
                Some(Box::new(self.static_keys()?)),
            )),
            #[cfg(not(feature = "oidc"))]
            AuthMode::Oidc | AuthMode::Chain => {
                return Err(Error::Config(
                    "--auth-mode oidc/chain needs mtp-auth built with the `oidc` feature".into(),
                ));
            }
        })
    }

    #[cfg(feature = "oidc")]
    fn oidc(&self) -> Result<Arc<OidcAuthenticator>> {
        let a = Arc::new(OidcAuthenticator::new(self.oidc_config()?)?);
        if tokio::runtime::Handle::try_current().is_ok() {
            a.spawn_refresh();
        }
        Ok(a)
    }

    /// The quota from `--rate-limit-rps` and `--rate-limit-burst`.
    pub fn quota(&self) -> Result<Quota> {
        Quota::new(self.rate_limit_rps, self.rate_limit_burst)
    }

    /// The limiter: Redis-backed when `--redis-url` is given, else in-process (with its
    /// housekeeping task when inside a tokio runtime).
    pub fn rate_limiter(&self) -> Result<Arc<dyn RateLimiter>> {
        let quota = self.quota()?;
        Ok(match &self.redis_url {
            #[cfg(feature = "redis")]
            Some(url) => {
                let r = RedisLimiter::new(RedisLimiterConfig::new(url.expose()), quota)?;
                if tokio::runtime::Handle::try_current().is_ok() {
                    r.fallback().spawn_housekeeping(Duration::from_secs(60));
                }
                Arc::new(r)
            }
            #[cfg(not(feature = "redis"))]
            Some(_) => {
                return Err(Error::Config(
                    "--redis-url needs mtp-auth built with the `redis` feature".into(),
                ));
            }
            None => {
                let l = Arc::new(LocalLimiter::new(quota));
                if tokio::runtime::Handle::try_current().is_ok() {
                    l.spawn_housekeeping(Duration::from_secs(60));
                }
                l
            }
        })
    }
}
