//! Logs and traces of every long-running binary (`mtp-apiserver`, `mtp-controller`,
//! `mtp-webhook serve`, `mtp-token-broker`).
//!
//! - Logs: `tracing` lines on stderr, text or JSON (`--log-format`), level from `RUST_LOG`
//!   (default `info`). The spans of a request carry its id, so every line of a request has it.
//! - Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set,
//!   spans are exported with OTLP over HTTP (protobuf) by a batch exporter, and W3C trace
//!   context (`traceparent`, `tracestate`) is accepted from callers. The standard variables
//!   apply: `OTEL_SERVICE_NAME` (default: the binary's name), `OTEL_RESOURCE_ATTRIBUTES`,
//!   `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER`,
//!   `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_SDK_DISABLED` ... Without an endpoint there is no exporter,
//!   no OpenTelemetry layer and no propagator: nothing is paid for.
//!
//! [`init`] returns a [`Telemetry`] guard; dropping it (or [`Telemetry::shutdown`]) flushes the
//! spans still queued, so the binaries keep it until after their runtime has stopped.

use std::io::{self, IsTerminal as _};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderMap;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, filter};

/// The endpoint of every OTLP signal (`/v1/traces` is appended for traces).
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The endpoint of traces (used as is).
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `true` turns the SDK off whatever the endpoint says.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// The only protocol value accepted (`OTEL_EXPORTER_OTLP_PROTOCOL`,
/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`).
pub const HTTP_PROTOBUF: &str = "http/protobuf";

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What can go wrong setting up telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter cannot be built from the `OTEL_*` variables.
    #[error("cannot build the OTLP trace exporter: {0}")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
    /// An OTLP protocol other than `http/protobuf` was asked for.
    #[error(
        "{var}={value:?} is not supported: mtp exports traces with OTLP over HTTP, `{HTTP_PROTOBUF}`"
    )]
    Protocol {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// Another global subscriber was installed first.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[source] tracing_subscriber::util::TryInitError),
}

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans (an OTLP endpoint is configured).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Keeps the trace exporter alive; flushes it and shuts it down when dropped.
#[must_use = "dropping the guard shuts the trace exporter down"]
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still queued and stops the exporter (what dropping the guard does).
    pub fn shutdown(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(provider) = self.provider.take() {
            EXPORTING.store(false, Ordering::Relaxed);
            if let Err(e) = provider.shutdown() {
                // The subscriber may be gone by now: stderr is the one place left.
                eprintln!("warning: cannot flush the trace exporter: {e}");
            }
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The log filter: `RUST_LOG`, else `info`.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The log layer in `format`, writing to `writer` (no colours). Tests use it with a buffer.
pub fn log_layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    log_layer_with(format, writer, false)
}

fn log_layer_with<S, W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Json => layer.json().boxed(),
        LogFormat::Text => layer.with_ansi(ansi).boxed(),
    }
}

/// What is exported as spans: spans and events at `info` and above, and the (debug-level) HTTP
/// spans of kube's client when they happen inside one of ours (a reconcile, a request), so the
/// watches and Lease renewals do not make a trace each. The exporter's own HTTP stack and the
/// SDK's diagnostics are never exported (they would feed back into themselves).
fn export_filter<S>() -> impl tracing_subscriber::layer::Filter<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    filter::dynamic_filter_fn(|meta, cx| {
        let target = meta.target();
        if ["opentelemetry", "reqwest", "hyper", "h2", "tower"]
            .iter()
            .any(|t| target.starts_with(t))
        {
            return false;
        }
        if *meta.level() <= tracing::Level::INFO {
            return true;
        }
        meta.is_span() && target.starts_with("kube_client") && cx.lookup_current().is_some()
    })
}

fn nonempty(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The tracer provider, when an OTLP endpoint is configured (and the SDK is not disabled).
fn tracer_provider(service: &str) -> Result<Option<SdkTracerProvider>, TelemetryError> {
    if nonempty(OTEL_EXPORTER_OTLP_ENDPOINT).is_none()
        && nonempty(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).is_none()
    {
        return Ok(None);
    }
    if nonempty(OTEL_SDK_DISABLED).is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    for var in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(value) = nonempty(var) {
            if value.trim() != HTTP_PROTOBUF {
                return Err(TelemetryError::Protocol { var, value });
            }
            break;
        }
    }
    // Endpoint, headers, timeout and compression come from the standard variables.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
        .map_err(TelemetryError::Exporter)?;
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(service))
            .build(),
    ))
}

/// `OTEL_SERVICE_NAME`, else `service.name` from `OTEL_RESOURCE_ATTRIBUTES`, else `service`;
/// the other attributes of `OTEL_RESOURCE_ATTRIBUTES`; `service.version`.
fn resource(service: &str) -> opentelemetry_sdk::Resource {
    let named = nonempty("OTEL_SERVICE_NAME").is_some()
        || nonempty("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attrs| {
            attrs
                .split(',')
                .any(|kv| kv.split('=').next().map(str::trim) == Some("service.name"))
        });
    let mut builder = opentelemetry_sdk::Resource::builder().with_attribute(
        opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
    );
    if !named {
        builder = builder.with_service_name(service.to_owned());
    }
    builder.build()
}

/// What every long-running binary's `main` does: installs the telemetry for `service` (exit
/// code 2 on a bad `OTEL_*` setting), runs `run` on a multi-threaded runtime, gives whatever
/// is still running at most one second once it returns (connections cut at a drain deadline,
/// background refreshes must not hold the exit), flushes the queued spans, and turns the result
/// into the exit code (errors printed with their causes).
pub fn run_service<F>(service: &'static str, format: LogFormat, run: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    use std::process::ExitCode;
    let telemetry = match init(service, format) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    // Exports the spans still queued (SIGTERM ends `run` once the work in flight is drained).
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error with its causes, `outer: inner: root`, each said once: a cause whose text its
/// wrapper already contains (kube's `failed to read kubeconfig from "x": No such file or
/// directory`, whose source is that same I/O error) is not repeated.
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Installs the global subscriber for `service` (the binary's name): logs in `format` on stderr
/// and, when an OTLP endpoint is configured, span export and the W3C trace-context propagator.
pub fn init(service: &'static str, format: LogFormat) -> Result<Telemetry, TelemetryError> {
    let provider = tracer_provider(service)?;
    let logs =
        log_layer_with(format, io::stderr, io::stderr().is_terminal()).with_filter(env_filter());
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service))
            .with_filter(export_filter())
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .map_err(TelemetryError::AlreadyInstalled)?;
    if provider.is_some() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        EXPORTING.store(true, Ordering::Relaxed);
        tracing::info!(service, "exporting traces with OTLP/HTTP");
    }
    Ok(Telemetry { provider })
}

/// The header carrying a request's id, in requests (from callers) and in responses.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of a request: the caller's `x-request-id` when sane (1 to 128 visible ASCII
/// characters), else a new UUID ([`new_request_id`]).
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_owned)
}

/// A new request id: a version-4 UUID, unique within the process (a counter) and unpredictable
/// across processes (a random seed drawn once), without a `getrandom` system call per request as
/// `Uuid::new_v4` makes. Ids name requests in logs; they are not secrets.
pub fn new_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: OnceLock<(u64, u64)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (a, b) = *SEED.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // splitmix64 of seed and counter: ids differ between requests and cannot be guessed from
    // one another without the seed.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hi = mix(a.wrapping_add(n));
    let lo = mix(b ^ n);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

struct Headers<'a>(&'a HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// When spans are exported: makes `span` a child of the caller's W3C trace context in
/// `headers` (`traceparent`, `tracestate`; a missing or malformed one starts a new trace), and
/// records the trace id in the span's `trace_id` field (declared empty by the caller), so log
/// lines can be matched with their trace. Call it before the span is first entered.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    if !exporting() {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    if parent.span().span_context().is_valid() {
        // Fails only when the span is disabled for the exporter: nothing to link then.
        let _ = span.set_parent(parent);
    }
    record_trace_id(span);
}

/// When spans are exported: records the trace id of `span` in its `trace_id` field.
pub fn record_trace_id(span: &tracing::Span) {
    if !exporting() {
        return;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_callers_when_sane() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, "abc-123".parse().unwrap());
        assert_eq!(request_id(&h), "abc-123");
        for bad in ["", "has space", &"x".repeat(129)] {
            h.insert(REQUEST_ID_HEADER, bad.parse().unwrap());
            let id = request_id(&h);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} replaced: {id}");
        }
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
    }

    #[test]
    fn new_request_ids_are_distinct_v4_uuids() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 4, "{id}");
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }

    #[test]
    fn without_an_endpoint_nothing_is_exported() {
        // The test process sets no OTEL_* variable.
        if nonempty(OTEL_EXPORTER_OTLP_ENDPOINT).is_none()
            && nonempty(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).is_none()
        {
            assert!(tracer_provider("t").unwrap().is_none());
            let span = tracing::info_span!("x", trace_id = tracing::field::Empty);
            continue_trace(&span, &HeaderMap::new());
            assert!(!exporting());
        }
    }

    /// Records the names of the spans and events it is given.
    #[derive(Clone, Default)]
    struct Seen(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::span::Id,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0
                .lock()
                .unwrap()
                .push(attrs.metadata().name().to_owned());
        }

        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0
                .lock()
                .unwrap()
                .push(format!("event@{}", event.metadata().target()));
        }
    }

    #[test]
    fn export_takes_info_and_kube_calls_inside_our_spans_only() {
        let seen = Seen::default();
        let subscriber =
            tracing_subscriber::registry().with(seen.clone().with_filter(export_filter()));
        tracing::subscriber::with_default(subscriber, || {
            // A watch outside any span of ours: not exported.
            tracing::debug_span!(target: "kube_client::client::builder", "watch-call")
                .in_scope(|| tracing::debug!(target: "kube_client::client::builder", "requesting"));
            tracing::error_span!("reconcile").in_scope(|| {
                // Inside a reconcile: the call's span is exported, not its debug events.
                tracing::debug_span!(target: "kube_client::client::builder", "HTTP").in_scope(
                    || tracing::debug!(target: "kube_client::client::builder", "requesting"),
                );
                tracing::info_span!(target: "mtp_store::store", "store.get_tenant").in_scope(
                    || {
                        tracing::debug_span!("debug-of-ours").in_scope(|| {});
                        tracing::info!("an info line");
                    },
                );
                // The exporter's own HTTP stack and the SDK's logs never.
                tracing::info_span!(target: "hyper_util::client", "connect").in_scope(|| {});
                tracing::warn!(target: "opentelemetry_sdk", "export failed");
            });
        });
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "reconcile",
                "HTTP",
                "store.get_tenant",
                &format!("event@{}", module_path!()),
            ]
        );
    }

    #[test]
    fn the_service_name_defaults_to_the_binary() {
        if nonempty("OTEL_SERVICE_NAME").is_none() && nonempty("OTEL_RESOURCE_ATTRIBUTES").is_none()
        {
            let r = resource("mtp-apiserver");
            assert_eq!(
                r.get(&opentelemetry::Key::new("service.name"))
                    .map(|v| v.to_string()),
                Some("mtp-apiserver".to_owned())
            );
            assert_eq!(
                r.get(&opentelemetry::Key::new("service.version"))
                    .map(|v| v.to_string()),
                Some(env!("CARGO_PKG_VERSION").to_owned())
            );
        }
    }
}
