//! The HTTP side: one route per hook, the AdmissionReview wire format, RFC 9457 errors.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::any;
use serde_json::json;

use super::{Registry, ReviewError, Reviewed, Webhook};

/// The apiserver's own limit on an AdmissionReview body.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What became of one admission request, for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed without a patch.
    Allowed,
    /// Allowed with a JSON Patch.
    Patched,
    /// Denied; the check ids behind it.
    Denied(Vec<String>),
    /// The HTTP request was refused (bad body, method, content type); the HTTP status.
    Rejected(u16),
}

/// Told about every request a hook answers.
pub trait Observer: Send + Sync + 'static {
    /// One request to `hook` ended with `outcome` after `elapsed`.
    fn observe(&self, hook: &str, outcome: &Outcome, elapsed: Duration);
}

struct NoObserver;

impl Observer for NoObserver {
    fn observe(&self, _: &str, _: &Outcome, _: Duration) {}
}

/// The `request.uid` of the AdmissionReview a response answers, in the HTTP response's
/// extensions (for the server's logs and traces; absent when the request was refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionUid(pub String);

#[derive(Clone)]
struct HookState {
    hook: Arc<dyn Webhook>,
    observer: Arc<dyn Observer>,
}

/// An RFC 9457 `application/problem+json` response with a stable `type`.
pub fn problem(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: impl Into<String>,
) -> HttpResponse {
    let body = json!({
        "type": format!("https://mtp.dev/problems/{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl Registry {
    /// The router: one route per hook at its path, answering `POST` with `application/json`.
    pub fn router(&self) -> Router {
        self.router_with_observer(Arc::new(NoObserver))
    }

    /// The router, telling `observer` about every request.
    pub fn router_with_observer(&self, observer: Arc<dyn Observer>) -> Router {
        let mut router = Router::new();
        for hook in &self.hooks {
            let state = HookState {
                hook: Arc::clone(hook),
                observer: Arc::clone(&observer),
            };
            router = router.route(hook.path(), any(handle).with_state(state));
        }
        // Bodies over the apiserver's own limit are refused with 413 by the handler.
        router.layer(DefaultBodyLimit::max(MAX_BODY))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

async fn handle(State(state): State<HookState>, request: Request) -> HttpResponse {
    let started = Instant::now();
    // Method and content type are checked before the body is read; the headers are borrowed,
    // not copied.
    let (outcome, mut response) = match precheck(request.method(), request.headers()) {
        Some(rejected) => rejected,
        None => answer(&*state.hook, Bytes::from_request(request, &()).await),
    };
    state
        .observer
        .observe(state.hook.name(), &outcome, started.elapsed());
    // For the layers around the router (logs, traces).
    response.extensions_mut().insert(outcome);
    response
}

fn reject(status: StatusCode, kind: &str, title: &str, detail: String) -> (Outcome, HttpResponse) {
    (
        Outcome::Rejected(status.as_u16()),
        problem(status, kind, title, detail),
    )
}

/// Refuses anything but `POST` with `application/json`.
fn precheck(method: &Method, headers: &HeaderMap) -> Option<(Outcome, HttpResponse)> {
    if method != Method::POST {
        let (outcome, mut response) = reject(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not allowed: send the AdmissionReview with POST"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Some((outcome, response));
    }
    if !is_json(headers) {
        let got = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        return Some(reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("content type {got:?} is not supported: send application/json"),
        ));
    }
    None
}

fn answer(
    hook: &dyn Webhook,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> (Outcome, HttpResponse) {
    let body = match body {
        Ok(body) if body.len() > super::router::MAX_BODY => return too_large(),
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(e) => {
            return reject(
                StatusCode::BAD_REQUEST,
                "unreadable-body",
                "Unreadable body",
                format!("cannot read the body: {e}"),
            );
        }
    };
    // The hooks do not panic on any input; should one ever do, the request gets a 500 and the
    // server goes on serving.
    let reviewed = match catch_unwind(AssertUnwindSafe(|| hook.review(&body))) {
        Ok(Ok(reviewed)) => reviewed,
        Ok(Err(e @ ReviewError::Malformed(_))) => {
            return reject(
                StatusCode::BAD_REQUEST,
                "malformed-admission-review",
                "Malformed AdmissionReview",
                e.to_string(),
            );
        }
        Ok(Err(ReviewError::Invalid(detail))) => {
            return reject(
                StatusCode::BAD_REQUEST,
                "invalid-admission-review",
                "Invalid AdmissionReview",
                detail,
            );
        }
        Err(_) => {
            return reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                format!("webhook {:?} failed on this request", hook.name()),
            );
        }
    };
    let Reviewed { uid, mut response } = reviewed;
    let mut http = HttpResponse::new(Body::from(response.to_review_bytes(&uid)));
    http.extensions_mut().insert(AdmissionUid(uid));
    let outcome = if !response.allowed {
        Outcome::Denied(std::mem::take(&mut response.checks))
    } else if response.patch.is_empty() {
        Outcome::Allowed
    } else {
        Outcome::Patched
    };
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (outcome, http)
}

fn too_large() -> (Outcome, HttpResponse) {
    (
        Outcome::Rejected(413),
        problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!(
                "the body is over {MAX_BODY} bytes, the apiserver's own limit for an AdmissionReview"
            ),
        ),
    )
}
