//! The probe and metrics server: `/healthz` (the process is alive), `/readyz` (it can serve),
//! `/metrics` (prometheus-client's registry in the OpenMetrics text format, one content type for
//! every component). The controller and the webhook serve [`router`] on `--probe-listen`; the API
//! server routes the same handlers ([`healthz`], [`readyz`], [`metrics`]) on its API port.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;

use super::RuntimeError;

/// The content type of `/metrics`: what prometheus-client's text encoder writes.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A component's metrics: one prometheus-client registry.
pub trait Metrics: Send + Sync + 'static {
    /// The registry holding every metric (and collector) of the component.
    fn registry(&self) -> &Registry;
}

/// Whether a component can serve: what `/readyz` answers.
pub trait Readiness: Clone + Send + Sync + 'static {
    /// `Ok` when ready, else the answer to give (a 503 saying why).
    fn check(&self) -> impl Future<Output = Result<(), Response>> + Send;
}

/// Readiness as a flag the component sets (when its listener serves, its caches are synced ...).
#[derive(Debug, Clone)]
pub struct ReadyFlag {
    flag: Arc<AtomicBool>,
    not_ready: &'static str,
}

impl ReadyFlag {
    /// A flag, not ready at first; `not_ready` is the 503's body until it is set.
    pub fn new(not_ready: &'static str) -> ReadyFlag {
        ReadyFlag::from_flag(Arc::default(), not_ready)
    }

    /// The same, on a flag shared with its setter.
    pub fn from_flag(flag: Arc<AtomicBool>, not_ready: &'static str) -> ReadyFlag {
        ReadyFlag { flag, not_ready }
    }

    /// Marks the component ready or not.
    pub fn set(&self, ready: bool) {
        self.flag.store(ready, Ordering::Release);
    }

    /// Whether it is ready.
    pub fn get(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// The shared flag.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }
}

impl Readiness for ReadyFlag {
    async fn check(&self) -> Result<(), Response> {
        if self.get() {
            Ok(())
        } else {
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{}\n", self.not_ready),
            )
                .into_response())
        }
    }
}

/// 200 `{"status":"ok"}`.
fn ok() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// `GET /healthz`: 200 `{"status":"ok"}` while the process answers at all.
pub async fn healthz() -> Response {
    ok()
}

/// `GET /readyz`: 200 `{"status":"ok"}` when `readiness` says so, else its answer.
pub async fn readyz<R: Readiness>(readiness: &R) -> Response {
    match readiness.check().await {
        Ok(()) => ok(),
        Err(not_ready) => not_ready,
    }
}

/// The registry in the OpenMetrics text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail; a collector's error leaves the text it wrote.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// `GET /metrics`: the metrics, [`OPENMETRICS_CONTENT_TYPE`].
pub fn metrics<M: Metrics + ?Sized>(metrics: &M) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        encode(metrics.registry()),
    )
        .into_response()
}

struct Probes<R, M: ?Sized> {
    readiness: R,
    metrics: Arc<M>,
}

impl<R: Clone, M: ?Sized> Clone for Probes<R, M> {
    fn clone(&self) -> Self {
        Probes {
            readiness: self.readiness.clone(),
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// The probe router: `/healthz`, `/readyz` (`readiness`), `/metrics` (`metrics`).
pub fn router<R: Readiness, M: Metrics + ?Sized>(readiness: R, metrics: Arc<M>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/readyz",
            get(|State(p): State<Probes<R, M>>| async move { readyz(&p.readiness).await }),
        )
        .route(
            "/metrics",
            get(|State(p): State<Probes<R, M>>| async move { self::metrics(&*p.metrics) }),
        )
        .with_state(Probes { readiness, metrics })
}

/// The probe server, bound to its address and not yet serving.
#[derive(Debug)]
pub struct ProbeServer {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl ProbeServer {
    /// Binds `addr` for `router` (usually [`router`]); `flag` is the command-line flag that gave
    /// the address, named in the error when it cannot be bound.
    pub async fn bind(
        flag: &'static str,
        addr: SocketAddr,
        router: Router,
    ) -> Result<ProbeServer, RuntimeError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| RuntimeError::Bind { flag, addr, source })?;
        Ok(ProbeServer { listener, router })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves in a task until it is aborted (plain HTTP); an error is logged.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(e) = axum::serve(self.listener, self.router).await {
                tracing::error!(error = %e, "the probe listener stopped");
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    struct Counted(Registry);

    impl Metrics for Counted {
        fn registry(&self) -> &Registry {
            &self.0
        }
    }

    #[tokio::test]
    async fn probes_answer_and_metrics_are_openmetrics() {
        let mut registry = Registry::default();
        let c = prometheus_client::metrics::counter::Counter::<u64>::default();
        registry.register("mtp_test_things", "Things", c.clone());
        c.inc();
        let ready = ReadyFlag::new("not yet");
        let app = router(ready.clone(), Arc::new(Counted(registry)));
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let body = |r: Response| async move {
            String::from_utf8(
                axum::body::to_bytes(r.into_body(), 1 << 20)
                    .await
                    .unwrap()
                    .to_vec(),
            )
            .unwrap()
        };
        let r = app.clone().oneshot(get("/healthz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(body(r).await, r#"{"status":"ok"}"#);
        let r = app.clone().oneshot(get("/readyz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body(r).await, "not yet\n");
        ready.set(true);
        let r = app.clone().oneshot(get("/readyz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = app.oneshot(get("/metrics")).await.unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], OPENMETRICS_CONTENT_TYPE);
        let text = body(r).await;
        assert!(text.contains("mtp_test_things_total 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[tokio::test]
    async fn an_address_in_use_names_the_flag_that_gave_it() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let ready = ReadyFlag::new("not yet");
        let err = ProbeServer::bind(
            "--probe-listen",
            addr,
            router(ready, Arc::new(Counted(Registry::default()))),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {addr} (given by --probe-listen)")
        );
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("in use"), "{cause}");
    }
}
