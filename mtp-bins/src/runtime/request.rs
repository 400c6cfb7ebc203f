//! The request context of every mtp HTTP server (the API server and the webhook), from
//! tower-http's layers, outermost first:
//!
//! 1. the request id ([`RequestId`]): the caller's `x-request-id` when sane (1 to 128 visible
//!    ASCII characters), else a new UUID; put in the request's extensions and headers, and
//!    echoed in the response (`PropagateRequestIdLayer`);
//! 2. a span around the request (`TraceLayer`), carrying the id into every log line of the
//!    request. It is an error-level span so that it is enabled whenever any line is logged,
//!    whatever `RUST_LOG` says. When traces are exported it is the server span of the trace, a
//!    child of the caller's `traceparent`; its status is recorded, and one line reports the answer
//!    ([`RequestContext`] says how);
//! 3. a panicking handler answers 500 `application/problem+json` (`CatchPanicLayer`) instead of
//!    dropping the connection.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{Extensions, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

use crate::telemetry;

/// The id of a request, in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Reports a request's answer, in its span: the status, the response's extensions and the time
/// taken in microseconds.
pub type Answered = dyn Fn(&Span, StatusCode, &Extensions, u64) + Send + Sync;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Admission,
}

/// How a server names its request spans and reports answers.
#[derive(Clone)]
pub struct RequestContext {
    kind: Kind,
    answered: Arc<Answered>,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn answered_at_debug(_: &Span, status: StatusCode, _: &Extensions, elapsed_us: u64) {
    tracing::debug!(status = status.as_u16(), elapsed_us, "request answered");
}

impl RequestContext {
    /// Spans named `request` with `method`, `path`, `request_id` (and, when traces are exported,
    /// `http.route`, the matched route template); answers logged at debug.
    pub fn request() -> RequestContext {
        RequestContext {
            kind: Kind::Request,
            answered: Arc::new(answered_at_debug),
        }
    }

    /// Spans named `admission` with `method`, `path`, `request_id` and an empty `uid` (for
    /// `answered` to record); `answered` logs the answer.
    pub fn admission(
        answered: impl Fn(&Span, StatusCode, &Extensions, u64) + Send + Sync + 'static,
    ) -> RequestContext {
        RequestContext {
            kind: Kind::Admission,
            answered: Arc::new(answered),
        }
    }
}

impl<B> MakeSpan<B> for RequestContext {
    fn make_span(&mut self, req: &axum::http::Request<B>) -> Span {
        let id = req
            .extensions()
            .get::<RequestId>()
            .map_or("", |r| r.0.as_str());
        let method = req.method();
        let path = req.uri().path();
        // The OpenTelemetry fields only when spans are exported: every field of an enabled span
        // is formatted for the log lines, on every request.
        let exporting = telemetry::exporting();
        let span = match (self.kind, exporting) {
            (Kind::Request, true) => {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", |p| p.as_str());
                tracing::error_span!(
                    "request",
                    method = %method,
                    path = %path,
                    request_id = %id,
                    otel.name = %format_args!("{method} {route}"),
                    otel.kind = "server",
                    http.route = route,
                    http.response.status_code = tracing::field::Empty,
                    otel.status_code = tracing::field::Empty,
                    trace_id = tracing::field::Empty,
                )
            }
            (Kind::Request, false) => tracing::error_span!(
                "request",
                method = %method,
                path = %path,
                request_id = %id,
            ),
            (Kind::Admission, true) => tracing::error_span!(
                "admission",
                method = %method,
                path = %path,
                request_id = %id,
                uid = tracing::field::Empty,
                otel.name = %format_args!("{method} {path}"),
                otel.kind = "server",
                http.response.status_code = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
                trace_id = tracing::field::Empty,
            ),
            (Kind::Admission, false) => tracing::error_span!(
                "admission",
                method = %method,
                path = %path,
                request_id = %id,
                uid = tracing::field::Empty,
            ),
        };
        telemetry::continue_trace(&span, req.headers());
        span
    }
}

impl<B> OnResponse<B> for RequestContext {
    fn on_response(self, resp: &axum::http::Response<B>, latency: Duration, span: &Span) {
        let status = resp.status();
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.record("otel.status_code", "error");
        }
        let elapsed_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        span.in_scope(|| (self.answered)(span, status, resp.extensions(), elapsed_us));
    }
}

/// Layer 1: the request id, in the extensions and in the header `PropagateRequestIdLayer`
/// echoes.
async fn assign_request_id(mut req: Request) -> Request {
    let id = telemetry::request_id(req.headers());
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(telemetry::REQUEST_ID_HEADER, v);
    }
    req.extensions_mut().insert(RequestId(id));
    req
}

/// Layer 3: a panic in a handler is logged (in the request's span) and answered with a 500.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("the handler panicked; answered 500");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/problem+json")],
        r#"{"type":"about:blank","title":"Internal Server Error","status":500}"#,
    )
        .into_response()
}

/// `router` with the request context (see the module's documentation) around every route and
/// the fallback: add it last, so that it is the outermost layer.
pub fn with_request_context(router: Router, context: RequestContext) -> Router {
    // `Router::layer` wraps like an onion: the last added runs first.
    router
        .layer(CatchPanicLayer::custom(panicked))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(context.clone())
                .on_request(())
                .on_response(context)
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(axum::middleware::map_request(assign_request_id))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    fn app() -> Router {
        let router = Router::new()
            .route(
                "/id",
                get(|axum::Extension(id): axum::Extension<RequestId>| async move { id.0 }),
            )
            .route(
                "/panic",
                get(|| async {
                    #[allow(clippy::panic)]
                    if true {
                        panic!("boom");
                    }
                    "unreachable"
                }),
            );
        with_request_context(router, RequestContext::request())
    }

    async fn call(path: &str, id: Option<&str>) -> (StatusCode, Option<String>, String) {
        let mut req = axum::http::Request::get(path);
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        let r = app()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let echoed = r
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, echoed, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_request_id_is_the_callers_when_sane_and_echoed() {
        let (status, echoed, body) = call("/id", Some("abc-123")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(echoed.as_deref(), Some("abc-123"));
        assert_eq!(body, "abc-123");
        for bad in [None, Some(""), Some("a b"), Some(&*"x".repeat(129))] {
            let (_, echoed, body) = call("/id", bad).await;
            assert!(uuid::Uuid::parse_str(&body).is_ok(), "{bad:?}: {body}");
            assert_eq!(echoed.as_deref(), Some(body.as_str()));
        }
        let (status, echoed, _) = call("/nowhere", Some("n-1")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(echoed.as_deref(), Some("n-1"), "the fallback too");
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_the_request_id() {
        let (status, echoed, body) = call("/panic", Some("p-1")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(echoed.as_deref(), Some("p-1"));
        assert!(body.contains(r#""status":500"#), "{body}");
    }
}
