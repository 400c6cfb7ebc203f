//! The mtp-apiserver client: JSON under `/api/v1`, bearer authentication, problem+json errors
//! turned into one line.

use mtp_core::api::{ListView, Problem};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{CliError, SERVER_HINT, describe_transport};

/// A response that succeeded.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The ETag header (the tenant version), quotes removed.
    pub etag: Option<String>,
    /// The body as JSON (`null` when empty).
    pub body: Value,
}

impl Answer {
    /// The body as the API type `T` ([`mtp_core::api`]).
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T, CliError> {
        serde_json::from_value(self.body.clone()).map_err(|e| {
            CliError::Other(format!(
                "the server's answer is not what the API describes: {e}"
            ))
        })
    }
}

/// A client of one API server.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    bearer: Option<String>,
    credential: Option<String>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base.as_str())
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("credential", &self.credential)
            .finish()
    }
}

/// Parses and checks a server URL (http or https, no query or fragment).
pub fn parse_server(s: &str) -> Result<Url, CliError> {
    let url = Url::parse(s.trim())
        .map_err(|e| CliError::Usage(format!("server URL {s:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(CliError::Usage(format!(
            "server URL {s:?} must be http:// or https:// with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CliError::Usage(format!(
            "server URL {s:?} must not carry a query or fragment"
        )));
    }
    Ok(url)
}

/// An HTTP client with mtpctl's timeouts and user agent.
pub fn http_client() -> Result<reqwest::Client, CliError> {
    reqwest::Client::builder()
        .user_agent(concat!("mtpctl/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::Other(format!("cannot build the HTTP client: {e}")))
}

impl Api {
    /// A client of `base`, authenticating with `bearer` when given.
    pub fn new(http: reqwest::Client, base: Url, bearer: Option<String>) -> Self {
        Api {
            http,
            base,
            bearer,
            credential: None,
        }
    }

    /// Names the credential the bearer is (`the API key of context "x"`; never the secret),
    /// for the message of a 401.
    pub fn with_credential(mut self, what: impl Into<String>) -> Self {
        self.credential = Some(what.into());
        self
    }

    /// The server's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `path` (relative to the server, e.g. `/api/v1/tenants`) with `query` pairs.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, CliError> {
        let mut url = self.base.clone();
        {
            let mut p = url.path_segments_mut().map_err(|_| {
                CliError::Usage(format!("server URL {} cannot be a base", self.base))
            })?;
            p.pop_if_empty();
            for s in segments {
                p.push(s);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends a request; a non-2xx answer becomes [`CliError::Api`] with the problem's detail.
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<(&str, Vec<u8>)>,
        if_match: Option<&str>,
    ) -> Result<Answer, CliError> {
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header("Accept", "application/json, application/problem+json");
        if let Some(b) = &self.bearer {
            req = req.bearer_auth(b);
        }
        if let Some(v) = if_match {
            req = req.header("If-Match", format!("\"{}\"", v.trim_matches('"')));
        }
        if let Some((ct, bytes)) = body {
            req = req.header("Content-Type", ct).body(bytes);
        }
        let resp = req.send().await.map_err(|e| CliError::Unreachable {
            what: "the mtp API server",
            url: self.base.to_string(),
            reason: describe_transport(&e),
            hint: SERVER_HINT,
        })?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim_start_matches("W/").trim_matches('"').to_string());
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.map_err(|e| CliError::Unreachable {
            what: "the mtp API server",
            url: self.base.to_string(),
            reason: describe_transport(&e),
            hint: SERVER_HINT,
        })?;
        if !status.is_success() {
            let mut line = problem_line(status, &bytes, retry_after.as_deref());
            if status == StatusCode::UNAUTHORIZED
                && let Some(c) = &self.credential
            {
                line.push_str(&format!(" (sent {c})"));
            }
            return Err(CliError::Api {
                status: status.as_u16(),
                line,
            });
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Other(format!(
                    "{} {url} answered {status} with a body that is not JSON: {e}",
                    method
                ))
            })?
        };
        Ok(Answer {
            status: status.as_u16(),
            etag,
            body,
        })
    }

    /// GET `segments` under the server and return the JSON body.
    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Answer, CliError> {
        let url = self.url(segments, query)?;
        self.call(Method::GET, url, None, None).await
    }

    /// Sends `body` as JSON (`content_type` given) with `method`.
    pub async fn send_json(
        &self,
        method: Method,
        segments: &[&str],
        content_type: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Answer, CliError> {
        let url = self.url(segments, &[])?;
        let bytes = serde_json::to_vec(body)
            .map_err(|e| CliError::Other(format!("cannot serialize the request: {e}")))?;
        self.call(method, url, Some((content_type, bytes)), if_match)
            .await
    }

    /// Follows `continue` tokens from `segments` until the last page (or one page when `limit`
    /// is given), returning the items and the last continue token.
    pub async fn list_all(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        limit: Option<u32>,
        start: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), CliError> {
        let mut items = Vec::new();
        let mut token = start.map(str::to_string);
        let limit_s = limit.map(|l| l.to_string());
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if let Some(l) = &limit_s {
                q.push(("limit", l));
            }
            if let Some(t) = &token {
                q.push(("continue", t));
            }
            let answer = self.get(segments, &q).await?;
            let page: ListView<Value> = answer.typed().map_err(|_| {
                CliError::Other(format!(
                    "the server's answer to GET /{} has no \"items\" list",
                    segments.join("/")
                ))
            })?;
            items.extend(page.items);
            token = page.continue_.filter(|s| !s.is_empty());
            if token.is_none() || limit.is_some() {
                return Ok((items, token));
            }
        }
    }
}

/// One line from an error answer: `<status> <reason>: <detail>`, the invalid fields of a 422,
/// and when to retry a 429. A body that is not problem+json is quoted briefly.
pub fn problem_line(status: StatusCode, body: &[u8], retry_after: Option<&str>) -> String {
    let reason = status.canonical_reason().unwrap_or("error");
    let mut line = format!("{} {reason}", status.as_u16());
    let parsed: Option<Problem> = serde_json::from_slice(body).ok();
    match parsed {
        Some(p) => {
            let msg = if p.detail.is_empty() {
                one_line(&p.title)
            } else {
                one_line(&p.detail)
            };
            if !msg.is_empty() {
                line.push_str(": ");
                line.push_str(&msg);
            }
            // The invalid fields, unless the detail already says each of them.
            let fields: Vec<String> = p
                .errors
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    let d = one_line(&e.detail);
                    if e.pointer.is_empty() {
                        d
                    } else {
                        format!("{}: {d}", one_line(&e.pointer))
                    }
                })
                .filter(|f| !msg.contains(f.as_str()))
                .collect();
            if !fields.is_empty() {
                line.push_str(" [");
                line.push_str(&fields.join("; "));
                line.push(']');
            }
        }
        _ => {
            let s = String::from_utf8_lossy(body);
            let s = one_line(s.trim());
            if !s.is_empty() {
                line.push_str(": ");
                line.push_str(&s.chars().take(200).collect::<String>());
            }
        }
    }
    if let Some(r) = retry_after {
        line.push_str(&format!(" (retry after {} s)", one_line(r.trim())));
    }
    line
}

/// Whitespace runs become one space; other control characters (a terminal escape sent by a
/// hostile server) become `?`.
fn one_line(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            w.chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_lines() {
        let b = br#"{"type":"https://mtp.dev/problems/validation","title":"Invalid request","status":422,"detail":"2 fields are invalid","errors":[{"pointer":"/name","detail":"must be a DNS label"},{"pointer":"/tier","detail":"unknown tier \"gold\""}]}"#;
        assert_eq!(
            problem_line(StatusCode::UNPROCESSABLE_ENTITY, b, None),
            "422 Unprocessable Entity: 2 fields are invalid [/name: must be a DNS label; /tier: unknown tier \"gold\"]"
        );
        // mtp-apiserver's 422: the detail lists the fields; they are not repeated.
        let b = br#"{"type":"https://mtp.dev/problems/validation","title":"Unprocessable Content","status":422,"detail":"/tier: unknown variant `gold`","errors":[{"pointer":"/tier","detail":"unknown variant `gold`"}]}"#;
        assert_eq!(
            problem_line(StatusCode::UNPROCESSABLE_ENTITY, b, None),
            "422 Unprocessable Entity: /tier: unknown variant `gold`"
        );
        assert_eq!(
            problem_line(
                StatusCode::TOO_MANY_REQUESTS,
                br#"{"title":"Too many requests"}"#,
                Some("3")
            ),
            "429 Too Many Requests: Too many requests (retry after 3 s)"
        );
        assert_eq!(
            problem_line(
                StatusCode::BAD_GATEWAY,
                b"<html>\n bad\n gateway</html>",
                None
            ),
            "502 Bad Gateway: <html> bad gateway</html>"
        );
        assert_eq!(
            problem_line(StatusCode::NOT_FOUND, b"", None),
            "404 Not Found"
        );
        assert_eq!(
            problem_line(
                StatusCode::FORBIDDEN,
                b"{\"detail\":\"no\\u001b[2J\"}",
                None
            ),
            "403 Forbidden: no?[2J"
        );
    }

    #[test]
    fn debug_hides_the_bearer() {
        let api = Api::new(
            reqwest::Client::new(),
            parse_server("http://h:1").unwrap_or_else(|_| unreachable!()),
            Some("mtp_topsecret".into()),
        );
        assert!(!format!("{api:?}").contains("topsecret"));
    }

    #[test]
    fn server_urls() {
        assert!(parse_server("http://127.0.0.1:8080").is_ok());
        assert!(parse_server("ftp://x").is_err());
        assert!(parse_server("not a url").is_err());
        assert!(parse_server("http://x/?a=b").is_err());
    }

    #[test]
    fn urls_escape_segments() {
        let api = Api::new(
            reqwest::Client::new(),
            parse_server("http://h:1/prefix/").unwrap_or_else(|_| unreachable!()),
            None,
        );
        let u = api
            .url(&["api", "v1", "tenants", "a/b c"], &[("tier", "pro")])
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(
            u.as_str(),
            "http://h:1/prefix/api/v1/tenants/a%2Fb%20c?tier=pro"
        );
    }
}
