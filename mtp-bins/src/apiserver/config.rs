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
use crate::tls::TlsFiles;

/// The keys file used when `--api-keys-file` is not given.
pub const DEFAULT_KEYS_FILE: &str = "mtp-api-keys";
pub use mtp_core::authz::FIRST_KEY_ID;

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
///
/// With no flags it serves http://127.0.0.1:8080 from an embedded SQLite database (`mtp.db`)
/// with static API keys (`mtp-api-keys`, generated with an admin key on a first start). Every
/// flag also comes from its `MTP_*` variable or from `--config`.
#[derive(Clone, Parser)]
#[command(name = "mtp-apiserver", version)]
pub struct ApiArgs {
    /// YAML config file.
    ///
    /// Flag names without the dashes as keys (`listen: 0.0.0.0:8080`). Command line and
    /// environment win over it.
    #[arg(help_heading = "Configuration", long, env = "MTP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL (SQLite or PostgreSQL; never printed).
    ///
    /// `sqlite://<path>?mode=rwc` or `postgres://user:pass@host:port/db`. Migrations run at
    /// start.
    #[arg(
        help_heading = "Storage",
        long,
        env = "MTP_DATABASE_URL",
        default_value = "sqlite://mtp.db?mode=rwc",
        hide_env_values = true
    )]
    pub database_url: Secret,
    /// How long authorizing reads are cached, e.g. `5s`, `500ms`, `0` (off).
    ///
    /// The tenant and member reads that authorize each call. Writes through this server are seen at once; writes by other
    /// processes after at most this long. Default: 5s on SQLite (this server is its only
    /// writer), off on PostgreSQL (replicas write too).
    #[arg(help_heading = "Storage", long, env = "MTP_READ_CACHE_TTL", value_parser = parse_duration)]
    pub read_cache_ttl: Option<Duration>,
    /// Address to listen on.
    #[arg(
        help_heading = "Serving",
        long,
        env = "MTP_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,
    /// Serve HTTPS with this PEM certificate; needs --tls-key-file.
    ///
    /// The chain, server certificate first. Reloaded when it changes on disk.
    #[arg(
        help_heading = "Serving",
        long,
        env = "MTP_TLS_CERT_FILE",
        requires = "tls_key_file"
    )]
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of --tls-cert-file; reloaded when it changes on disk.
    #[arg(
        help_heading = "Serving",
        long,
        env = "MTP_TLS_KEY_FILE",
        requires = "tls_cert_file"
    )]
    pub tls_key_file: Option<PathBuf>,
    /// How often to look for changed TLS files, in seconds.
    #[arg(
        help_heading = "Serving",
        long,
        env = "MTP_CERT_RELOAD_SECONDS",
        default_value_t = 5
    )]
    pub cert_reload_seconds: u64,
    /// Members of this group are platform admins.
    #[arg(help_heading = "Authorization", long, env = "MTP_PLATFORM_ADMIN_GROUP", default_value = DEFAULT_PLATFORM_ADMIN_GROUP)]
    pub platform_admin_group: String,
    /// The OIDC client id `mtpctl login` uses (public client), served by `/api/v1/auth-config`.
    #[arg(
        help_heading = "Authentication",
        long,
        env = "MTP_OIDC_PUBLIC_CLIENT_ID"
    )]
    pub oidc_public_client_id: Option<String>,
    /// Per-client-IP requests per second, before authentication (0: no per-IP limit).
    #[arg(
        help_heading = "Rate limits",
        long,
        env = "MTP_RATE_LIMIT_IP_RPS",
        default_value_t = 100
    )]
    pub rate_limit_ip_rps: u32,
    /// Per-client-IP burst.
    #[arg(
        help_heading = "Rate limits",
        long,
        env = "MTP_RATE_LIMIT_IP_BURST",
        default_value_t = 200
    )]
    pub rate_limit_ip_burst: u32,
    /// Proxies (IP or CIDR, comma-separated) whose `X-Forwarded-For` the per-IP limit believes.
    #[arg(
        help_heading = "Rate limits",
        long,
        env = "MTP_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Seconds a request may take before it is answered 503.
    #[arg(
        help_heading = "Serving",
        long,
        env = "MTP_REQUEST_TIMEOUT",
        default_value_t = 30
    )]
    pub request_timeout: u64,
    /// Seconds a client gets to finish a request head it has started; one trickling its
    /// headers is disconnected, so it holds no worker.
    #[arg(
        help_heading = "Serving",
        long,
        env = "MTP_HEADER_READ_TIMEOUT",
        default_value_t = crate::tls::DEFAULT_HEADER_READ_TIMEOUT.as_secs()
    )]
    pub header_read_timeout: u64,
    /// Seconds in-flight requests get to finish on SIGTERM.
    ///
    /// Then their connections are closed and the process exits anyway.
    #[arg(
        help_heading = "Serving",
        long,
        env = "MTP_DRAIN_TIMEOUT",
        default_value_t = 30
    )]
    pub drain_timeout: u64,
    /// Prefix of the rate-limit keys in Redis.
    ///
    /// Budgets live under `<prefix>id:` and `<prefix>ip:`; replicas sharing one budget use the
    /// same prefix.
    #[arg(
        help_heading = "Rate limits",
        long,
        env = "MTP_REDIS_KEY_PREFIX",
        default_value = "mtp:rl:"
    )]
    pub redis_key_prefix: String,
    /// While Redis is unreachable, answer 429 instead of limiting each replica on its own.
    #[arg(help_heading = "Rate limits", long, env = "MTP_REDIS_FAIL_CLOSED")]
    pub redis_fail_closed: bool,
    /// Read tenant status from the cluster's Tenant resources.
    #[arg(help_heading = "Cluster", long, env = "MTP_CLUSTER_STATUS", value_enum, default_value_t = ClusterStatus::Auto)]
    pub cluster_status: ClusterStatus,
    /// Log format (level from RUST_LOG, default info).
    #[arg(help_heading = "Logging", long, env = "MTP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Authentication and rate limits.
    #[command(flatten, next_help_heading = "Authentication")]
    pub auth: AuthArgs,
}

/// The read cache's TTL when `--read-cache-ttl` is not given, for a database URL.
pub const SQLITE_READ_CACHE_TTL: Duration = Duration::from_secs(5);

impl ApiArgs {
    /// The read cache's time to live: the flag, else 5 s on SQLite and off elsewhere.
    pub fn read_cache_ttl(&self) -> Duration {
        self.read_cache_ttl.unwrap_or_else(|| {
            if self.database_url.expose().starts_with("sqlite:") {
                SQLITE_READ_CACHE_TTL
            } else {
                Duration::ZERO
            }
        })
    }
}

/// Parses `250ms`, `5s`, `2m`, or bare seconds (`0` is off).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: use e.g. 500ms, 5s, 2m or 0"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("{s:?}: unknown unit {unit:?}: use ms, s or m")),
    }
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
            if !arg.get_action().takes_values() {
                // A switch (`redis-fail-closed: true`): present or absent.
                match values.as_slice() {
                    [v] if v == "true" => extra.push(format!("--{key}").into()),
                    [v] if v == "false" => {}
                    _ => return Err(file_err(format!("{key}: must be true or false"))),
                }
                continue;
            }
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

    /// The TLS files, when `--tls-cert-file` and `--tls-key-file` are given (clap requires both
    /// or neither).
    pub fn tls_files(&self) -> Option<TlsFiles> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
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
                "cannot create the keys file {}: {e}; give it with --api-keys-file, or in a \
                 cluster create the Secret {} that is mounted there: `mtpctl install admin-key \
                 | kubectl apply -f -` (docs/install.md#the-first-api-key)",
                path.display(),
                crate::API_KEYS_SECRET
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

/// The rate limiters built from the flags.
pub struct Limiters {
    /// Per identity (`--rate-limit-rps`, `--rate-limit-burst`).
    pub identity: Arc<dyn RateLimiter>,
    /// Per client IP (`None` when `--rate-limit-ip-rps 0`).
    pub ip: Option<Arc<dyn RateLimiter>>,
    /// The Redis-backed ones by name (`identity`, `ip`), for their fallback counts.
    pub redis: Vec<(&'static str, Arc<RedisLimiter>)>,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("ip", &self.ip.is_some())
            .field("redis", &self.redis.len())
            .finish_non_exhaustive()
    }
}

/// Builds the per-identity and per-IP limiters: in-process, or shared through Redis when
/// `--redis-url` is given (keys under `<prefix>id:` and `<prefix>ip:`: the two quotas differ, so
/// their budgets never share a key). Inside a tokio runtime it also spawns the housekeeping.
///
/// While Redis is unreachable each replica limits on its own (fail open: the in-process budget,
/// a warning in the log, `mtp_apiserver_rate_limit_redis_fallbacks_total`), or with
/// `--redis-fail-closed` answers 429; Redis is tried again after a second.
pub fn limiters(args: &ApiArgs) -> anyhow::Result<Limiters> {
    let in_runtime = tokio::runtime::Handle::try_current().is_ok();
    let mut redis = Vec::new();
    let mut build =
        |name: &'static str, quota: Quota, kind: &str| -> anyhow::Result<Arc<dyn RateLimiter>> {
            Ok(match &args.auth.redis_url {
                Some(url) => {
                    let mut config = RedisLimiterConfig::new(url.expose());
                    config.key_prefix = format!("{}{kind}:", args.redis_key_prefix);
                    config.fail_closed = args.redis_fail_closed;
                    let r = Arc::new(RedisLimiter::new(config, quota)?);
                    if in_runtime {
                        r.fallback().spawn_housekeeping(Duration::from_secs(60));
                    }
                    redis.push((name, Arc::clone(&r)));
                    r
                }
                None => {
                    let l = Arc::new(LocalLimiter::new(quota));
                    if in_runtime {
                        l.spawn_housekeeping(Duration::from_secs(60));
                    }
                    l
                }
            })
        };
    let identity = build("identity", args.auth.quota()?, "id")?;
    let ip = if args.rate_limit_ip_rps == 0 {
        None
    } else {
        let quota = Quota::new(args.rate_limit_ip_rps, args.rate_limit_ip_burst)?;
        Some(build("ip", quota, "ip")?)
    };
    Ok(Limiters {
        identity,
        ip,
        redis,
    })
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
        assert_eq!(a.tls_files(), None);
        assert_eq!(a.redis_key_prefix, "mtp:rl:");
        assert!(!a.redis_fail_closed);
    }

    #[test]
    fn tls_needs_both_files() {
        let e = ApiArgs::parse_with_config(["mtp-apiserver", "--tls-cert-file", "c.pem"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--tls-key-file"), "{e}");
        let e = ApiArgs::parse_with_config(["mtp-apiserver", "--tls-key-file", "k.pem"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--tls-cert-file"), "{e}");
        let a = ApiArgs::parse_with_config([
            "mtp-apiserver",
            "--tls-cert-file",
            "c.pem",
            "--tls-key-file",
            "k.pem",
        ])
        .unwrap();
        assert_eq!(
            a.tls_files(),
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
    }

    #[test]
    fn tls_files_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.yaml");
        std::fs::write(&path, "tls-cert-file: /etc/mtp/tls.crt\n").unwrap();
        let e = ApiArgs::parse_with_config(["mtp-apiserver", "--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--tls-key-file"), "{e}");
        std::fs::write(
            &path,
            "tls-cert-file: /etc/mtp/tls.crt\ntls-key-file: /etc/mtp/tls.key\ncert-reload-seconds: 2\n",
        )
        .unwrap();
        let a = ApiArgs::parse_with_config(["mtp-apiserver", "--config", path.to_str().unwrap()])
            .unwrap();
        assert_eq!(
            a.tls_files().unwrap().key,
            PathBuf::from("/etc/mtp/tls.key")
        );
        assert_eq!(a.cert_reload_seconds, 2);
    }

    #[test]
    fn switches_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.yaml");
        let parse = |text: &str| {
            std::fs::write(&path, text).unwrap();
            ApiArgs::parse_with_config(["mtp-apiserver", "--config", path.to_str().unwrap()])
        };
        assert!(
            parse("redis-fail-closed: true\n")
                .unwrap()
                .redis_fail_closed
        );
        assert!(
            !parse("redis-fail-closed: false\n")
                .unwrap()
                .redis_fail_closed
        );
        let e = parse("redis-fail-closed: maybe\n").unwrap_err().to_string();
        assert!(
            e.contains("redis-fail-closed: must be true or false"),
            "{e}"
        );
    }

    #[test]
    fn the_read_cache_is_on_for_sqlite_and_off_for_postgres_unless_set() {
        let a = ApiArgs::parse_with_config(["mtp-apiserver"]).unwrap();
        assert_eq!(a.read_cache_ttl(), SQLITE_READ_CACHE_TTL);
        let a = ApiArgs::parse_with_config([
            "mtp-apiserver",
            "--database-url",
            "postgres://127.0.0.1/test",
        ])
        .unwrap();
        assert_eq!(a.read_cache_ttl(), Duration::ZERO);
        let a = ApiArgs::parse_with_config([
            "mtp-apiserver",
            "--database-url",
            "postgres://127.0.0.1/test",
            "--read-cache-ttl",
            "250ms",
        ])
        .unwrap();
        assert_eq!(a.read_cache_ttl(), Duration::from_millis(250));
        let a = ApiArgs::parse_with_config(["mtp-apiserver", "--read-cache-ttl", "0"]).unwrap();
        assert_eq!(a.read_cache_ttl(), Duration::ZERO);
        let err = ApiArgs::parse_with_config(["mtp-apiserver", "--read-cache-ttl", "5h"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--read-cache-ttl") && err.contains("unknown unit"),
            "{err}"
        );
    }
}
