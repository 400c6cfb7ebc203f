//! The token broker: OAuth2 client credentials, kept fresh in a file.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tracing::Instrument as _;

use crate::backoff::Backoff;
use crate::discovery::{Capped, discover, read_capped};
use crate::error::{Error, Result};
use crate::token::{Secret, write_token_file};

/// Largest token endpoint response accepted (1 MiB: a token response is a few KiB). A larger
/// one, by its `Content-Length` or as it arrives, is refused without being read further.
pub const MAX_TOKEN_RESPONSE: usize = 1 << 20;

/// Longest `expires_in` accepted: 366 days, in seconds.
pub const MAX_EXPIRES_IN: u64 = 366 * 24 * 3600;

/// Settings of a [`Broker`].
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The issuer; its discovery document gives the token endpoint.
    pub issuer: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// OAuth2 client secret (sent with HTTP Basic, never logged).
    pub client_secret: Secret,
    /// `audience` parameter (also sent as RFC 8707 `resource` when it is an absolute URI).
    pub audience: Option<String>,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Where the token is written.
    pub token_file: PathBuf,
    /// Request timeout (default 10 s).
    pub http_timeout: Duration,
    /// First retry delay after a failure (default 1 s), doubled up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay (default 60 s).
    pub max_backoff: Duration,
}

impl BrokerConfig {
    /// Defaults for the required settings.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        token_file: impl Into<PathBuf>,
    ) -> Self {
        BrokerConfig {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            audience: None,
            scopes: Vec::new(),
            token_file: token_file.into(),
            http_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// A token from the token endpoint.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The access token.
    pub access_token: Secret,
    /// Its lifetime (`expires_in`, 1 s to 366 days; 5 min when the IdP gives none).
    pub expires_in: Duration,
}

/// When to refresh a token of `lifetime`: at half its life (well before expiry), at least 1 s.
pub fn refresh_after(lifetime: Duration) -> Duration {
    (lifetime / 2).max(Duration::from_secs(1))
}

/// The broker's delay after failure number `attempt` (0-based): `min` doubling to `max`, ±25 %
/// jitter ([`Backoff`]).
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    Backoff::new(min, max)
        .with_jitter()
        .delay(attempt.saturating_add(1))
}

/// A new id for one refresh cycle: 16 hex digits.
fn refresh_id() -> String {
    let mut r = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut r).is_err() {
        // No randomness: the time still tells cycles apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        r = (nanos as u64).to_le_bytes();
    }
    r.iter().map(|b| format!("{b:02x}")).collect()
}

/// The span of one refresh cycle: every log line of the cycle carries its `refresh_id`. It is
/// an error-level span so that it is enabled whenever any line of the cycle is logged.
fn cycle_span() -> tracing::Span {
    tracing::error_span!("token_refresh", refresh_id = %refresh_id())
}

/// Fetches client-credentials tokens and keeps them fresh in a file.
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    http: reqwest::Client,
    token_endpoint: tokio::sync::Mutex<Option<String>>,
}

impl Broker {
    /// A broker for `config`.
    pub fn new(config: BrokerConfig) -> Result<Self> {
        if config.client_id.is_empty() {
            return Err(Error::Config("--client-id is empty".into()));
        }
        if config.client_secret.expose().is_empty() {
            return Err(Error::Config("the client secret is empty".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Broker {
            config,
            http,
            token_endpoint: tokio::sync::Mutex::new(None),
        })
    }

    async fn endpoint(&self) -> Result<String> {
        let mut g = self.token_endpoint.lock().await;
        if let Some(e) = g.as_ref() {
            return Ok(e.clone());
        }
        let meta = discover(&self.http, &self.config.issuer).await?;
        let ep = meta.token_endpoint.ok_or_else(|| Error::Discovery {
            url: self.config.issuer.clone(),
            why: "no `token_endpoint`".into(),
        })?;
        *g = Some(ep.clone());
        Ok(ep)
    }

    /// Requests a token (client credentials grant). Bounded: the whole exchange within
    /// `http_timeout`, a response of at most [`MAX_TOKEN_RESPONSE`] bytes.
    #[tracing::instrument(name = "token.fetch", skip_all, fields(otel.kind = "client"))]
    pub async fn fetch(&self) -> Result<IssuedToken> {
        let url = self.endpoint().await?;
        let mut form: Vec<(&str, String)> = vec![("grant_type", "client_credentials".into())];
        if !self.config.scopes.is_empty() {
            form.push(("scope", self.config.scopes.join(" ")));
        }
        if let Some(a) = &self.config.audience {
            form.push(("audience", a.clone()));
            if a.contains("://") {
                form.push(("resource", a.clone()));
            }
        }
        let resp = self
            .http
            .post(&url)
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| self.http_error(&url, e))?;
        let status = resp.status();
        let body = match read_capped(resp, MAX_TOKEN_RESPONSE).await {
            Ok(body) => body,
            Err(Capped::Http(e)) => return Err(self.http_error(&url, e)),
            Err(Capped::TooLarge) => {
                return Err(Error::TokenEndpoint {
                    url,
                    why: format!("HTTP {status}, response larger than {MAX_TOKEN_RESPONSE} bytes"),
                });
            }
        };
        let v: Value = serde_json::from_slice(&body).map_err(|_| Error::TokenEndpoint {
            url: url.clone(),
            why: format!("HTTP {status}, response is not JSON"),
        })?;
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        if !status.is_success() {
            return Err(Error::TokenEndpoint {
                url,
                why: format!(
                    "HTTP {status}: {} {}",
                    s("error").unwrap_or("error"),
                    s("error_description").unwrap_or("")
                )
                .trim_end()
                .to_string(),
            });
        }
        let token =
            s("access_token")
                .filter(|t| !t.is_empty())
                .ok_or_else(|| Error::TokenEndpoint {
                    url: url.clone(),
                    why: "no `access_token` in the response".into(),
                })?;
        // Absent: 5 min. Present, it must be a whole number of seconds up to a year: a bogus
        // value (negative, fractional, a string, years) is refused rather than guessed at, so
        // it can neither spin the loop, overflow a deadline nor keep a token unrefreshed.
        let expires_in = match v.get("expires_in") {
            None | Some(Value::Null) => 300,
            Some(e) => e
                .as_u64()
                .filter(|s| *s <= MAX_EXPIRES_IN)
                .ok_or_else(|| Error::TokenEndpoint {
                    url: url.clone(),
                    why: format!(
                        "`expires_in` is {}, not a whole number of seconds from 0 to {MAX_EXPIRES_IN} (366 days)",
                        e.to_string().chars().take(40).collect::<String>()
                    ),
                })?
                .max(1),
        };
        let expires_in = Duration::from_secs(expires_in);
        Ok(IssuedToken {
            access_token: Secret::new(token),
            expires_in,
        })
    }

    /// A failed exchange with the token endpoint; a timeout says so (reqwest's own message,
    /// "error sending request", does not).
    fn http_error(&self, url: &str, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            return Error::TokenEndpoint {
                url: url.to_string(),
                why: format!(
                    "no complete answer within {} s (timed out)",
                    self.config.http_timeout.as_secs_f64()
                ),
            };
        }
        Error::Http {
            url: url.to_string(),
            source: Box::new(e),
        }
    }

    /// Fetches a token and writes it to the token file; returns its lifetime. One refresh
    /// cycle: its log lines carry a new `refresh_id`.
    pub async fn refresh_once(&self) -> Result<Duration> {
        self.refresh().instrument(cycle_span()).await
    }

    async fn refresh(&self) -> Result<Duration> {
        let t = self.fetch().await?;
        write_token_file(&self.config.token_file, t.access_token.expose())?;
        tracing::info!(
            file = %self.config.token_file.display(),
            expires_in_s = t.expires_in.as_secs(),
            "token written"
        );
        Ok(t.expires_in)
    }

    /// Keeps the token file fresh until `shutdown` completes. Refreshes at half-life; on failure
    /// retries with backoff and jitter, leaving the old token in place.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        let mut valid_until: Option<tokio::time::Instant> = None;
        loop {
            let cycle = async {
                match self.refresh().await {
                    Ok(lifetime) => {
                        failures = 0;
                        valid_until = Some(tokio::time::Instant::now() + lifetime);
                        refresh_after(lifetime)
                    }
                    Err(e) => {
                        let expired = valid_until.is_none_or(|t| tokio::time::Instant::now() >= t);
                        tracing::warn!(error = %e, expired, "token refresh failed; keeping the old token");
                        let d = backoff(failures, self.config.min_backoff, self.config.max_backoff);
                        failures = failures.saturating_add(1);
                        d
                    }
                }
            };
            let wait = cycle.instrument(cycle_span()).await;
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
