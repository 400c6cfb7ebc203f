//! Flags of `mtp-apiserver` (each also from an `MTP_*` variable, and from an optional YAML
//! config file), and what is built from them: the authenticator (with the first-start key),
//! the limiters.
//!
//! Precedence: command line, then environment, then the config file, then the defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, parser::ValueSource};
use mtp_auth::Authenticator;
use mtp_auth::chain::{Chain, NoAuth};
use mtp_auth::cli::{AuthArgs, AuthMode};
use mtp_auth::oidc::OidcAuthenticator;
use mtp_auth::ratelimit::{LocalLimiter, Quota, RateLimiter, RedisLimiter, RedisLimiterConfig};
use mtp_auth::static_keys::{StaticKeys, generate_key};
use mtp_auth::token::Secret;

use super::DEFAULT_PLATFORM_ADMIN_GROUP;
use super::types::AuthConfigView;

/// The keys file used when `--api-keys-file` is not given.
pub const DEFAULT_KEYS_FILE: &str = "mtp-api-keys";
/// The key id of the key generated on a first start.
pub const FIRST_KEY_ID: &str = "platform-admin";

pub use crate::telemetry::LogFormat;

/// Whether to read tenant status from a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterStatus {
    /// When a kubeconfig or in-cluster config is found.
    Auto,
    /// Never (the status says unknown).
    Off,
}

/// The REST API for tenants and members.
#[derive(Clone, Parser)]
#[command(name = "mtp-apiserver", version, about)]
pub struct ApiArgs {
    /// YAML config file: flag names without the dashes as keys (`listen: 0.0.0.0:8080`).
    /// Command line and environment win over it.
    #[arg(long, env = "MTP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: `sqlite://<path>?mode=rwc` or `postgres://user:pass@host:port/db`
    /// (never printed). Migrations run at start.
    #[arg(
        long,
        env = "MTP_DATABASE_URL",
        default_value = "sqlite://mtp.db?mode=rwc",
        hide_env_values = true
    )]
    pub database_url: Secret,
    /// Address to listen on.
    #[arg(long, env = "MTP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Members of this group are platform admins.
    #[arg(long, env = "MTP_PLATFORM_ADMIN_GROUP", default_value = DEFAULT_PLATFORM_ADMIN_GROUP)]
    pub platform_admin_group: String,
    /// The OIDC client id `mtpctl login` uses (public client), served by `/api/v1/auth-config`.
    #[arg(long, env = "MTP_OIDC_PUBLIC_CLIENT_ID")]
    pub oidc_public_client_id: Option<String>,
    /// Per-client-IP requests per second, before authentication (0: no per-IP limit).
    #[arg(long, env = "MTP_RATE_LIMIT_IP_RPS", default_value_t = 100)]
    pub rate_limit_ip_rps: u32,
    /// Per-client-IP burst.
    #[arg(long, env = "MTP_RATE_LIMIT_IP_BURST", default_value_t = 200)]
    pub rate_limit_ip_burst: u32,
    /// Proxies (IP or CIDR, comma-separated) whose `X-Forwarded-For` the per-IP limit believes.
    #[arg(long, env = "MTP_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "MTP_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds in-flight requests get to finish on SIGTERM.
    #[arg(long, env = "MTP_DRAIN_TIMEOUT", default_value_t = 30)]
    pub drain_timeout: u64,
    /// Read tenant status from the cluster's Tenant resources.
    #[arg(long, env = "MTP_CLUSTER_STATUS", value_enum, default_value_t = ClusterStatus::Auto)]
    pub cluster_status: ClusterStatus,
    /// Log format (level from RUST_LOG, default info).
    #[arg(long, env = "MTP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Authentication and rate limits.
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Never shows the database URL or the Redis URL.
impl std::fmt::Debug for ApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiArgs")
            .field("listen", &self.listen)
            .field("auth_mode", &self.auth.auth_mode)
            .finish_non_exhaustive()
    }
}

/// An error in the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The flags do not parse (clap's message, with usage).
    #[error("{0}")]
    Clap(#[from] clap::Error),
    /// The config file cannot be read or parsed.
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn yaml_scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl ApiArgs {
    /// Parses `argv` (with `argv[0]`), then fills what neither the command line nor the
    /// environment set from the config file.
    pub fn parse_with_config<I, T>(argv: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let argv: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
        let cmd = Self::command();
        let matches = cmd.clone().try_get_matches_from(&argv)?;
        let first = Self::from_arg_matches(&matches)?;
        let Some(path) = first.config.clone() else {
            return Ok(first);
        };
        let file_err = |message: String| ConfigError::File {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| file_err(e.to_string()))?;
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&text).map_err(|e| file_err(e.to_string()))?;
        let map = match doc {
            serde_yaml::Value::Mapping(m) => m,
            serde_yaml::Value::Null => return Ok(first),
            _ => return Err(file_err("must be a mapping of flag names to values".into())),
        };
        let mut extra: Vec<std::ffi::OsString> = Vec::new();
        for (k, v) in map {
            let Some(key) = k.as_str() else {
                return Err(file_err("keys must be flag names".into()));
            };
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(key) && key != "config")
                .ok_or_else(|| {
                    file_err(format!(
                        "unknown setting {key:?} (use the flag names, like database-url)"
                    ))
                })?;
            let from_user = matches!(
                matches.value_source(arg.get_id().as_str()),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            if from_user {
                continue;
            }
            let values: Vec<String> = match &v {
                serde_yaml::Value::Sequence(items) => items
                    .iter()
                    .map(|i| {
                        yaml_scalar(i)
                            .ok_or_else(|| file_err(format!("{key}: list items must be scalars")))
                    })
                    .collect::<Result<_, _>>()?,
                other => vec![
                    yaml_scalar(other)
                        .ok_or_else(|| file_err(format!("{key}: must be a scalar or a list")))?,
                ],
            };
            for value in values {
                extra.push(format!("--{key}={value}").into());
            }
        }
        let mut all = argv;
        all.extend(extra);
        Ok(Self::try_parse_from(all)?)
    }

    /// The keys file: `--api-keys-file`, or [`DEFAULT_KEYS_FILE`] in the working directory.
    pub fn keys_file(&self) -> PathBuf {
        self.auth
            .api_keys_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYS_FILE))
    }

    /// What `GET /api/v1/auth-config` answers.
    pub fn auth_config(&self) -> AuthConfigView {
        let oidc = matches!(self.auth.auth_mode, AuthMode::Oidc | AuthMode::Chain);
        AuthConfigView {
            issuer: self.auth.oidc_issuer_url.clone().filter(|_| oidc),
            client_id: self.oidc_public_client_id.clone().filter(|_| oidc),
            audience: self.auth.oidc_audience.first().cloned().filter(|_| oidc),
        }
    }
}

/// A key generated on a first start: show the secret once.
pub struct FirstKey {
    /// The secret.
    pub secret: Secret,
    /// The file its hash was written to.
    pub path: PathBuf,
}

impl std::fmt::Debug for FirstKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// When `path` does not exist, generates a platform-admin key (group `group`), writes only its
/// hash to `path` (mode 0600, never overwriting a file) and returns the secret.
pub fn ensure_keys_file(path: &Path, group: &str) -> anyhow::Result<Option<FirstKey>> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if path.exists() {
        return Ok(None);
    }
    let key = generate_key(FIRST_KEY_ID, &[group.to_string()])?;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f,
        // Another process created it meanwhile: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot create the keys file {}: {e}",
                path.display()
            ));
        }
    };
    writeln!(
        file,
        "# mtp-apiserver API keys: <key-id>:<sha256-hex of the secret>[:<group>,...]\n{}",
        key.line
    )
    .and_then(|()| file.sync_all())
    .map_err(|e| anyhow::anyhow!("cannot write the keys file {}: {e}", path.display()))?;
    Ok(Some(FirstKey {
        secret: Secret::new(key.secret),
        path: path.to_path_buf(),
    }))
}

/// The authenticator and, for static keys, the key set to reload on SIGHUP.
pub struct Authn {
    /// Authenticates requests.
    pub auth: Arc<dyn Authenticator>,
    /// The static keys, when in use.
    pub keys: Option<Arc<StaticKeys>>,
}

impl std::fmt::Debug for Authn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authn")
            .field("static_keys", &self.keys.is_some())
            .finish()
    }
}

/// Builds the authenticator of `--auth-mode` (inside a tokio runtime: also the JWKS refresh).
pub fn authenticator(args: &ApiArgs) -> anyhow::Result<Authn> {
    let static_keys = || -> anyhow::Result<Arc<StaticKeys>> {
        Ok(Arc::new(StaticKeys::from_file(args.keys_file())?))
    };
    let oidc = || -> anyhow::Result<Arc<OidcAuthenticator>> {
        let a = Arc::new(OidcAuthenticator::new(args.auth.oidc_config()?)?);
        a.spawn_refresh();
        Ok(a)
    };
    Ok(match args.auth.auth_mode {
        AuthMode::None => Authn {
            auth: Arc::new(NoAuth::new("dev", vec![args.platform_admin_group.clone()])),
            keys: None,
        },
        AuthMode::StaticKeys => {
            let keys = static_keys()?;
            Authn {
                auth: keys.clone(),
                keys: Some(keys),
            }
        }
        AuthMode::Oidc => Authn {
            auth: oidc()?,
            keys: None,
        },
        AuthMode::Chain => {
            let keys = static_keys()?;
            Authn {
                auth: Arc::new(Chain::new(
                    Some(Box::new(oidc()?)),
                    Some(Box::new(keys.clone())),
                )),
                keys: Some(keys),
            }
        }
    })
}

/// The per-IP limiter (`None` when `--rate-limit-ip-rps 0`); shared through Redis when
/// `--redis-url` is given. Inside a tokio runtime it also spawns the housekeeping.
pub fn ip_limiter(args: &ApiArgs) -> anyhow::Result<Option<Arc<dyn RateLimiter>>> {
    if args.rate_limit_ip_rps == 0 {
        return Ok(None);
    }
    let quota = Quota::new(args.rate_limit_ip_rps, args.rate_limit_ip_burst)?;
    Ok(Some(match &args.auth.redis_url {
        Some(url) => {
            let r = RedisLimiter::new(RedisLimiterConfig::new(url.expose()), quota)?;
            r.fallback().spawn_housekeeping(Duration::from_secs(60));
            Arc::new(r)
        }
        None => {
            let l = Arc::new(LocalLimiter::new(quota));
            l.spawn_housekeeping(Duration::from_secs(60));
            l
        }
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_need_no_flags() {
        let a = ApiArgs::parse_with_config(["mtp-apiserver"]).unwrap();
        assert_eq!(a.database_url.expose(), "sqlite://mtp.db?mode=rwc");
        assert_eq!(a.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(a.auth.auth_mode, AuthMode::StaticKeys);
        assert_eq!(a.auth_config(), AuthConfigView::default());
    }
}
