//! OAuth2 / OpenID Connect login flows against the IdP: the device authorization grant
//! (RFC 8628), authorization code with PKCE on a loopback redirect (RFC 7636, RFC 8252), the
//! resource-owner password grant, and refresh.

use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use reqwest::Url;
use serde::Deserialize;

use super::config::Tokens;
use super::error::{CliError, IDP_HINT, describe_transport};

/// The IdP's endpoints, from its discovery document.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// The issuer, as the IdP states it.
    pub issuer: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The authorization endpoint (authorization code flow).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// The device authorization endpoint (RFC 8628).
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
}

/// Who logs in and for what.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// The client secret of a confidential client (sent in the form, `client_secret_post`).
    pub client_secret: Option<mtp_auth::token::Secret>,
    /// The scopes requested (`openid` is always included).
    pub scopes: Vec<String>,
    /// The API's audience, sent as the `resource` parameter (RFC 8707) when it differs from the
    /// client id; the access token is then the bearer token.
    pub audience: Option<String>,
}

impl Client {
    fn scope(&self) -> String {
        let mut s: Vec<&str> = vec!["openid"];
        for x in &self.scopes {
            if !s.contains(&x.as_str()) {
                s.push(x);
            }
        }
        s.join(" ")
    }

    fn resource(&self) -> Option<&str> {
        self.audience
            .as_deref()
            .filter(|a| !a.is_empty() && *a != self.client_id)
    }

    fn base_params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![("client_id", self.client_id.clone())];
        if let Some(s) = &self.client_secret {
            p.push(("client_secret", s.expose().to_string()));
        }
        if let Some(r) = self.resource() {
            p.push(("resource", r.to_string()));
        }
        p
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error_description {
            Some(d) if !d.is_empty() => write!(f, "{} ({d})", self.error),
            _ => f.write_str(&self.error),
        }
    }
}

/// The current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn unreachable_idp(url: &str, e: &reqwest::Error) -> CliError {
    CliError::Unreachable {
        what: "the identity provider",
        url: url.to_string(),
        reason: describe_transport(e),
        hint: IDP_HINT,
    }
}

/// Fetches `{issuer}/.well-known/openid-configuration` and checks its issuer.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, CliError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| unreachable_idp(issuer, &e))?;
    if !resp.status().is_success() {
        return Err(CliError::Auth(format!(
            "the identity provider {issuer} answered {} to its discovery document {url}",
            resp.status()
        )));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| unreachable_idp(issuer, &e))?;
    let d: Discovery = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::Auth(format!(
            "the discovery document of {issuer} is not valid: {e}"
        ))
    })?;
    if d.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(CliError::Auth(format!(
            "the identity provider at {issuer} calls itself {:?}: check --issuer",
            d.issuer
        )));
    }
    Ok(d)
}

/// POSTs a form to the token (or device) endpoint. `Ok(Err(e))` is an OAuth error answer.
async fn post_form<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, String)],
) -> Result<Result<T, OAuthError>, CliError> {
    let send = || {
        http.post(url)
            .header("Accept", "application/json")
            .form(form)
            .send()
    };
    let resp = match send().await {
        Ok(resp) => resp,
        // A pooled keep-alive connection the IdP closed just as it was reused (the device flow
        // polls every `interval` seconds, about the idle timeout of common servers, e.g. Node's
        // 5 s) fails with a reset before the IdP read the request: one fresh try on a new
        // connection. Timeouts are not retried.
        Err(e) if !e.is_timeout() => send().await.map_err(|e| unreachable_idp(url, &e))?,
        Err(e) => return Err(unreachable_idp(url, &e)),
    };
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| unreachable_idp(url, &e))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map(Ok).map_err(|e| {
            CliError::Auth(format!(
                "the identity provider's answer from {url} is not valid: {e}"
            ))
        });
    }
    // An error without an OAuth error body (some IdPs answer a bare 403): the status stands in.
    Ok(Err(serde_json::from_slice::<OAuthError>(&bytes).unwrap_or(
        OAuthError {
            error: status.to_string(),
            error_description: None,
        },
    )))
}

/// The claim `exp` of a JWT, without verifying it (the server verifies; this only schedules the
/// refresh).
fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("exp")?.as_i64()
}

/// The tokens of a token response. `mode` keeps the bearer choice of an earlier login (on
/// refresh); at login the access token is used when a resource was asked for or no ID token came.
fn into_tokens(
    t: TokenResponse,
    client: &Client,
    previous_refresh: Option<String>,
    mode: Option<bool>,
) -> Tokens {
    let use_access_token =
        mode.unwrap_or_else(|| client.resource().is_some() || t.id_token.is_none());
    let bearer_exp = if use_access_token {
        jwt_exp(&t.access_token)
    } else {
        t.id_token.as_deref().and_then(jwt_exp)
    };
    let from_expires_in = t.expires_in.map(|s| now().saturating_add(s));
    let expires_at = match (bearer_exp, from_expires_in) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Tokens {
        id_token: t.id_token,
        access_token: t.access_token,
        refresh_token: t.refresh_token.or(previous_refresh),
        expires_at,
        use_access_token,
    }
}

fn oauth_failure(what: &str, e: OAuthError) -> CliError {
    CliError::Auth(format!("{what} failed at the identity provider: {e}"))
}

/// Device authorization answer (RFC 8628 §3.2).
#[derive(Deserialize)]
struct DeviceAuth {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
}

/// How the device flow reports to the user.
pub struct Prompt<'a> {
    /// Where instructions go (stderr).
    pub out: &'a mut dyn Write,
    /// Whether to print progress (only on a terminal).
    pub progress: bool,
}

/// The device authorization grant: prints the verification URL and code, then polls the token
/// endpoint every `interval` seconds (5 when absent), adding 5 seconds on each `slow_down`.
pub async fn device_login(
    http: &reqwest::Client,
    disc: &Discovery,
    client: &Client,
    prompt: Prompt<'_>,
) -> Result<Tokens, CliError> {
    let endpoint = disc.device_authorization_endpoint.as_deref().ok_or_else(|| {
        CliError::Auth(format!(
            "the identity provider {} does not offer the device flow (no device_authorization_endpoint); use --browser or --password",
            disc.issuer
        ))
    })?;
    let mut form = client.base_params();
    form.push(("scope", client.scope()));
    let auth: DeviceAuth = post_form(http, endpoint, &form)
        .await?
        .map_err(|e| oauth_failure("the device authorization request", e))?;
    let out = prompt.out;
    let _ = writeln!(
        out,
        "To log in, open {} and enter the code {}",
        auth.verification_uri, auth.user_code
    );
    if let Some(c) = &auth.verification_uri_complete {
        let _ = writeln!(out, "(or open {c})");
    }
    if prompt.progress {
        let _ = writeln!(out, "Waiting for you to approve the login...");
    }
    let mut interval = auth.interval.unwrap_or(5).max(1);
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(auth.expires_in.unwrap_or(600).min(3600));
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if tokio::time::Instant::now() > deadline {
            return Err(CliError::Auth(
                "the device code expired before the login was approved: run mtpctl login again"
                    .into(),
            ));
        }
        let mut form = client.base_params();
        form.push((
            "grant_type",
            "urn:ietf:params:oauth:grant-type:device_code".into(),
        ));
        form.push(("device_code", auth.device_code.clone()));
        match post_form::<TokenResponse>(http, &disc.token_endpoint, &form).await? {
            Ok(t) => return Ok(into_tokens(t, client, None, None)),
            Err(e) if e.error == "authorization_pending" => {}
            Err(e) if e.error == "slow_down" => interval += 5,
            Err(e) if e.error == "access_denied" => {
                return Err(CliError::Auth(
                    "the login was denied at the identity provider".into(),
                ));
            }
            Err(e) if e.error == "expired_token" => {
                return Err(CliError::Auth(
                    "the device code expired before the login was approved: run mtpctl login again"
                        .into(),
                ));
            }
            Err(e) => return Err(oauth_failure("the device login", e)),
        }
    }
}

fn random_b64(n: usize) -> Result<String, CliError> {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf)
        .map_err(|_| CliError::Other("the random generator failed".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// The PKCE S256 challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// Options of the browser flow.
pub struct BrowserOptions {
    /// The loopback port for the redirect (0: any free port).
    pub port: u16,
    /// How long to wait for the browser.
    pub timeout: Duration,
    /// Whether to try to open a browser.
    pub open: bool,
}

/// Authorization code with PKCE: listens on `127.0.0.1`, prints the authorization URL (and
/// opens a browser when possible), waits for the redirect and exchanges the code.
pub async fn browser_login(
    http: &reqwest::Client,
    disc: &Discovery,
    client: &Client,
    opts: BrowserOptions,
    out: &mut dyn Write,
) -> Result<Tokens, CliError> {
    let endpoint = disc.authorization_endpoint.as_deref().ok_or_else(|| {
        CliError::Auth(format!(
            "the identity provider {} has no authorization_endpoint; use the device flow",
            disc.issuer
        ))
    })?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|e| {
            CliError::Other(format!(
                "cannot listen on 127.0.0.1:{} for the login redirect: {e}",
                opts.port
            ))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::Other(format!("loopback listener: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let verifier = random_b64(32)?;
    let state = random_b64(16)?;
    let nonce = random_b64(16)?;
    let mut url = Url::parse(endpoint).map_err(|e| {
        CliError::Auth(format!(
            "authorization_endpoint {endpoint:?} is not a URL: {e}"
        ))
    })?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in client.base_params() {
            q.append_pair(k, &v);
        }
        q.append_pair("response_type", "code")
            .append_pair("scope", &client.scope())
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
    }
    let _ = writeln!(out, "To log in, open this URL in your browser:\n{url}");
    if opts.open {
        open_browser(url.as_str());
    }
    let code = tokio::time::timeout(opts.timeout, wait_for_code(&listener, &state))
        .await
        .map_err(|_| {
            CliError::Auth(format!(
                "no login redirect arrived within {} s",
                opts.timeout.as_secs()
            ))
        })??;
    let mut form = client.base_params();
    form.push(("grant_type", "authorization_code".into()));
    form.push(("code", code));
    form.push(("redirect_uri", redirect_uri));
    form.push(("code_verifier", verifier));
    let t = post_form::<TokenResponse>(http, &disc.token_endpoint, &form)
        .await?
        .map_err(|e| oauth_failure("the authorization code exchange", e))?;
    Ok(into_tokens(t, client, None, None))
}

/// Tries `$BROWSER`, then `xdg-open`, then `open`; failures are ignored (the URL is printed).
fn open_browser(url: &str) {
    let candidates: Vec<String> = match std::env::var("BROWSER") {
        Ok(b) if !b.is_empty() => vec![b],
        _ => vec!["xdg-open".into(), "open".into()],
    };
    for c in candidates {
        let spawned = std::process::Command::new(&c)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if spawned.is_ok() {
            return;
        }
    }
}

/// Accepts connections until one brings `/callback?code=..&state=..` with our state.
async fn wait_for_code(
    listener: &tokio::net::TcpListener,
    state: &str,
) -> Result<String, CliError> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            // Out of file descriptors or similar: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut buf = vec![0u8; 8192];
        let mut len = 0;
        // Read the request head (the request line is all we need).
        while len < buf.len() {
            match sock.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..len]);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/");
        let parsed = Url::parse(&format!("http://127.0.0.1{target}")).ok();
        let result = match parsed {
            Some(u) if u.path() == "/callback" => {
                let get = |k: &str| {
                    u.query_pairs()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.into_owned())
                };
                if get("state").as_deref() != Some(state) {
                    Some(Err(CliError::Auth(
                        "the login redirect carried a wrong state (a stale or forged request): run mtpctl login again".into(),
                    )))
                } else if let Some(err) = get("error") {
                    let d = get("error_description").unwrap_or_default();
                    Some(Err(CliError::Auth(format!(
                        "the identity provider refused the login: {err} {d}"
                    ))))
                } else {
                    get("code").map(Ok).or(Some(Err(CliError::Auth(
                        "the login redirect carried no code".into(),
                    ))))
                }
            }
            _ => None,
        };
        let (status, body) = match &result {
            Some(Ok(_)) => (
                "200 OK",
                "Logged in. You can close this window and return to mtpctl.",
            ),
            Some(Err(_)) => ("400 Bad Request", "Login failed. See mtpctl for details."),
            None => ("404 Not Found", "Not found."),
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        let _ = sock.shutdown().await;
        if let Some(r) = result {
            return r;
        }
    }
}

/// The resource-owner password grant. The password is only sent to the token endpoint.
pub async fn password_login(
    http: &reqwest::Client,
    disc: &Discovery,
    client: &Client,
    username: &str,
    password: &str,
) -> Result<Tokens, CliError> {
    let mut form = client.base_params();
    form.push(("grant_type", "password".into()));
    form.push(("username", username.to_string()));
    form.push(("password", password.to_string()));
    form.push(("scope", client.scope()));
    let t = post_form::<TokenResponse>(http, &disc.token_endpoint, &form)
        .await?
        .map_err(|e| {
            let refused = matches!(
                e.error.as_str(),
                "invalid_grant" | "unauthorized_client" | "403 Forbidden" | "401 Unauthorized"
            );
            let mut err = oauth_failure("the password login", e);
            if refused && let CliError::Auth(m) = &mut err {
                m.push_str(
                    " (wrong username or password, or the client may not use the password grant)",
                );
            }
            err
        })?;
    Ok(into_tokens(t, client, None, None))
}

/// Exchanges the refresh token for new tokens (the refresh token is kept when the IdP does not
/// rotate it).
pub async fn refresh(
    http: &reqwest::Client,
    disc: &Discovery,
    client: &Client,
    tokens: &Tokens,
) -> Result<Tokens, CliError> {
    let Some(rt) = tokens.refresh_token.clone() else {
        return Err(CliError::Auth(
            "the login expired and there is no refresh token: run mtpctl login".into(),
        ));
    };
    let mut form = client.base_params();
    form.push(("grant_type", "refresh_token".into()));
    form.push(("refresh_token", rt.clone()));
    let t = post_form::<TokenResponse>(http, &disc.token_endpoint, &form)
        .await?
        .map_err(|e| {
            CliError::Auth(format!(
                "refreshing the login failed at the identity provider: {e}; run mtpctl login"
            ))
        })?;
    if !tokens.use_access_token && t.id_token.is_none() {
        // The server takes the ID token, and an old one would be refused: say so now.
        return Err(CliError::Auth(
            "the identity provider refreshed the login but issued no new ID token (the token the server takes); run mtpctl login".into(),
        ));
    }
    Ok(into_tokens(
        t,
        client,
        Some(rt),
        Some(tokens.use_access_token),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn bearer_choice_and_expiry() {
        let c = Client {
            client_id: "mtpctl".into(),
            client_secret: None,
            scopes: vec![],
            audience: Some("mtpctl".into()),
        };
        assert!(c.resource().is_none());
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1000}"#);
        let t = into_tokens(
            TokenResponse {
                access_token: "opaque".into(),
                id_token: Some(format!("h.{claims}.s")),
                refresh_token: None,
                expires_in: Some(10_000_000_000),
            },
            &c,
            Some("r".into()),
            None,
        );
        assert!(!t.use_access_token);
        assert_eq!(t.expires_at, Some(1000));
        assert_eq!(t.refresh_token.as_deref(), Some("r"));
        assert_eq!(t.bearer(), format!("h.{claims}.s"));
    }
}
