//! The configuration file `$XDG_CONFIG_HOME/mtp/config.toml`: contexts (server, IdP, credentials)
//! and the current context, like a kubeconfig. Written atomically with mode 0600; tokens and keys
//! never appear in `Debug` output.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::CliError;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// The context used when `--context` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    /// Contexts by name.
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// One server and how to authenticate to it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Context {
    /// The API server's base URL (`https://mtp.example.com`).
    pub server: String,
    /// The OIDC issuer used at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The public OAuth2 client id used at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client secret, for IdPs that only allow confidential clients (sent as
    /// `client_secret`, e.g. Glewlwyd's password grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The audience the server expects (sent as `resource`; the access token is then used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// A static API key (from `login --api-key-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// OAuth2 tokens from the last login or refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("server", &self.server)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl Context {
    /// How this context authenticates, for `config get-contexts`.
    pub fn auth_kind(&self) -> &'static str {
        if self.api_key.is_some() {
            "api-key"
        } else if self.tokens.is_some() {
            "oidc"
        } else {
            "none"
        }
    }
}

/// Tokens of an OAuth2 login.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Tokens {
    /// The OpenID Connect ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the token sent to the server expires (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Whether the access token (true) or the ID token (false) is sent as the bearer token.
    #[serde(default)]
    pub use_access_token: bool,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("use_access_token", &self.use_access_token)
            .finish()
    }
}

impl Tokens {
    /// The token sent to the API server.
    pub fn bearer(&self) -> &str {
        if self.use_access_token {
            &self.access_token
        } else {
            self.id_token.as_deref().unwrap_or(&self.access_token)
        }
    }

    /// Whether the bearer token expires within `skew_secs` of `now` (Unix seconds).
    pub fn expired(&self, now: i64, skew_secs: i64) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.saturating_add(skew_secs))
    }
}

/// Where the configuration lives: `$MTPCTL_CONFIG`, else `$XDG_CONFIG_HOME/mtp/config.toml`, else
/// `$HOME/.config/mtp/config.toml`.
pub fn default_path() -> Result<PathBuf, CliError> {
    if let Some(p) = std::env::var_os("MTPCTL_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("HOME").filter(|p| !p.is_empty()) {
            Some(h) => PathBuf::from(h).join(".config"),
            None => {
                return Err(CliError::Config(
                    "neither XDG_CONFIG_HOME nor HOME is set: cannot find the mtpctl configuration"
                        .into(),
                ));
            }
        },
    };
    Ok(base.join("mtp").join("config.toml"))
}

impl Config {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Config, CliError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(CliError::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        toml::from_str(&text).map_err(|e| {
            // toml's message carries the line and column; flatten it to one line.
            let msg = e.to_string().replace('\n', " ");
            CliError::Config(format!("{}: {}", path.display(), msg.trim()))
        })
    }

    /// Writes the file atomically with mode 0600 (its directory is created with mode 0700).
    pub fn save(&self, path: &Path) -> Result<(), CliError> {
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| CliError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let text = toml::to_string(self)
            .map_err(|e| CliError::Config(format!("cannot serialize the configuration: {e}")))?;
        mtp_auth::token::write_token_file(path, text.trim_end())
            .map_err(|e| CliError::Config(e.to_string()))?;
        // write_token_file creates the file with 0600; make sure a umask cannot widen it.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| CliError::Config(format!("cannot chmod {}: {e}", path.display())))
    }

    /// The name of the context to use: `--context`, else the current one.
    pub fn context_name(&self, flag: Option<&str>) -> Result<String, CliError> {
        match flag {
            Some(n) => Ok(n.to_string()),
            None => self
                .current_context
                .clone()
                .ok_or(CliError::NotLoggedIn { context: None }),
        }
    }

    /// The context `name`.
    pub fn context(&self, name: &str) -> Result<&Context, CliError> {
        self.contexts.get(name).ok_or_else(|| CliError::NoContext {
            name: name.to_string(),
            known: self.contexts.keys().cloned().collect(),
        })
    }
}

/// The default context name for a server URL: its host and port (`mtp.example.com`,
/// `127.0.0.1:8080`).
pub fn context_name_for(server: &reqwest::Url) -> String {
    let host = server.host_str().unwrap_or("default");
    match server.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Context {
            server: "http://x".into(),
            api_key: Some("mtp_supersecret".into()),
            tokens: Some(Tokens {
                id_token: Some("idtok".into()),
                access_token: "acctok".into(),
                refresh_token: Some("reftok".into()),
                expires_at: Some(1),
                use_access_token: false,
            }),
            ..Context::default()
        };
        let d = format!("{c:?}");
        for s in ["mtp_supersecret", "idtok", "acctok", "reftok"] {
            assert!(!d.contains(s), "{d}");
        }
    }

    #[test]
    fn bad_file_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "current-context = \"a\"\n[contexts.a]\nserverr = 1\n").unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("config.toml") && e.contains("line 3"), "{e}");
        assert!(e.contains("serverr"), "{e}");
    }

    #[test]
    fn save_is_0600_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mtp/config.toml");
        let mut c = Config {
            current_context: Some("a".into()),
            ..Config::default()
        };
        c.contexts.insert(
            "a".into(),
            Context {
                server: "http://127.0.0.1:1".into(),
                ..Context::default()
            },
        );
        c.save(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(p.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        assert_eq!(Config::load(&p).unwrap(), c);
    }

    #[test]
    fn expiry_with_skew() {
        let t = Tokens {
            expires_at: Some(100),
            ..Tokens::default()
        };
        assert!(t.expired(80, 30));
        assert!(!t.expired(60, 30));
        assert!(!Tokens::default().expired(i64::MAX - 100, 30));
    }
}
