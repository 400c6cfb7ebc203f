//! OpenTelemetry traces of the real binaries, exported by the real OTLP/HTTP exporter to a
//! loopback receiver that decodes the protobuf. `mtp-apiserver` (SQLite, static keys): the
//! request span continues the caller's `traceparent`, authentication and the store queries are
//! its children, the service name and resource attributes are set, no secret is in any
//! attribute, and the spans still queued are flushed on SIGTERM. `mtp-webhook serve`: the
//! admission span continues the caller's trace and carries the request id and review uid.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use apiserver_common::{Server, TempDir, call};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use serde_json::json;

type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

async fn receive(State(received): State<Received>, body: Bytes) -> impl IntoResponse {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            received.lock().unwrap().push(request);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        }
        Err(_) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain")],
            b"not an ExportTraceServiceRequest".to_vec(),
        ),
    }
}

/// A loopback OTLP/HTTP trace receiver: `POST /v1/traces` with protobuf.
async fn collector() -> (SocketAddr, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

fn text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| text(&kv.value))
}

/// A received span, flattened.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    environment: String,
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent: String,
    attrs: HashMap<String, String>,
    /// Every attribute value, of the span and of its events.
    values: Vec<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn spans(received: &Received) -> Vec<Span> {
    let mut out = Vec::new();
    for request in received.lock().unwrap().iter() {
        for rs in &request.resource_spans {
            let resource = |key| {
                rs.resource
                    .as_ref()
                    .and_then(|r| attr(&r.attributes, key))
                    .unwrap_or_default()
            };
            let (service, environment) =
                (resource("service.name"), resource("deployment.environment"));
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    let mut values: Vec<String> =
                        s.attributes.iter().map(|kv| text(&kv.value)).collect();
                    for e in &s.events {
                        values.push(e.name.clone());
                        values.extend(e.attributes.iter().map(|kv| text(&kv.value)));
                    }
                    out.push(Span {
                        service: service.clone(),
                        environment: environment.clone(),
                        name: s.name.clone(),
                        kind: s.kind,
                        trace_id: hex(&s.trace_id),
                        span_id: hex(&s.span_id),
                        parent: hex(&s.parent_span_id),
                        attrs: s
                            .attributes
                            .iter()
                            .map(|kv| (kv.key.clone(), text(&kv.value)))
                            .collect(),
                        values,
                    });
                }
            }
        }
    }
    out
}

/// The chain of ancestors of `span` within `all`, nearest first.
fn ancestors<'a>(all: &'a [Span], span: &Span) -> Vec<&'a Span> {
    let mut chain = Vec::new();
    let mut parent = span.parent.clone();
    while let Some(p) = all.iter().find(|s| s.span_id == parent) {
        chain.push(p);
        parent = p.parent.clone();
    }
    chain
}

// Multi-threaded: the receiver keeps answering while the test blocks waiting for the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticated_get_is_traced_from_the_caller_through_auth_to_the_store() {
    let (addr, received) = collector().await;
    let dir = TempDir::new("otel");
    let endpoint = format!("http://{addr}");
    // A long schedule delay: nothing is exported while serving, so every span the receiver gets
    // was flushed by the shutdown on SIGTERM.
    let mut server = Server::start_with(
        dir.path(),
        &[],
        &[
            ("RUST_LOG", "warn"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"),
        ],
        false,
    );
    let key = server
        .first_key
        .take()
        .expect("a first start prints the key");
    let client = reqwest::Client::new();
    let created = call(
        &client,
        reqwest::Method::POST,
        &server.url("/api/v1/tenants"),
        &key,
        Some((
            "application/json",
            json!({"name": "acme", "tier": "free", "ownerEmail": "ops@acme.io"}),
        )),
        None,
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let got = client
        .get(server.url("/api/v1/tenants/acme"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .header("x-request-id", "trace-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    // A bad key: the authentication span says rejected, and the key is nowhere.
    let bad_key = "mtp_platform-admin_notthesecretatallnotthesecret";
    let denied = client
        .get(server.url("/api/v1/tenants/acme"))
        .bearer_auth(bad_key)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing exported before the schedule delay"
    );
    server.stop();

    let all = spans(&received);
    assert!(!all.is_empty(), "the spans were flushed on SIGTERM");
    for s in &all {
        assert_eq!(s.service, "mtp-apiserver", "{s:?}");
        assert_eq!(
            s.environment, "test",
            "OTEL_RESOURCE_ATTRIBUTES is honoured"
        );
        for v in &s.values {
            assert!(!v.contains(&key), "the API key in span {}: {v}", s.name);
            assert!(!v.contains(bad_key), "a presented key in span {}", s.name);
            assert!(
                !v.to_ascii_lowercase().contains("bearer"),
                "{}: {v}",
                s.name
            );
        }
    }

    // The server span of the GET continues the caller's trace.
    let server_span = all
        .iter()
        .find(|s| s.attrs.get("request_id").map(String::as_str) == Some("trace-test-1"))
        .unwrap_or_else(|| panic!("no span of the GET: {all:#?}"));
    assert_eq!(server_span.name, "GET /api/v1/tenants/{name}");
    assert_eq!(server_span.kind, SpanKind::Server as i32);
    assert_eq!(server_span.trace_id, trace_id);
    assert_eq!(server_span.parent, caller_span);
    assert_eq!(server_span.attrs["http.route"], "/api/v1/tenants/{name}");
    assert_eq!(server_span.attrs["http.response.status_code"], "200");
    assert_eq!(server_span.attrs["trace_id"], trace_id, "the id logs carry");
    let in_trace: Vec<Span> = all
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .cloned()
        .collect();

    // HTTP → authentication.
    let auth = in_trace
        .iter()
        .find(|s| s.name == "auth.authenticate")
        .expect("an authentication span");
    assert_eq!(auth.parent, server_span.span_id);
    assert_eq!(auth.attrs["auth.outcome"], "authenticated");
    assert_eq!(auth.attrs["auth.method"], "static_key");
    let key_check = in_trace
        .iter()
        .find(|s| s.name == "auth.static_key")
        .expect("the static key check");
    assert_eq!(key_check.parent, auth.span_id);
    assert_eq!(key_check.attrs["auth.key_id"], "platform-admin");

    // HTTP → store queries (not under authentication).
    for op in ["store.get_tenant_by_name", "store.list_members_of"] {
        let store = in_trace
            .iter()
            .find(|s| s.name == op)
            .unwrap_or_else(|| panic!("no {op} in {in_trace:#?}"));
        let chain = ancestors(&in_trace, store);
        assert!(
            chain.iter().any(|a| a.span_id == server_span.span_id),
            "{op} is a descendant of the request span"
        );
        assert!(chain.iter().all(|a| !a.name.starts_with("auth.")));
        assert_eq!(store.kind, SpanKind::Client as i32);
    }
    assert_eq!(
        in_trace
            .iter()
            .find(|s| s.name == "store.get_tenant_by_name")
            .unwrap()
            .attrs["tenant"],
        "acme"
    );

    // Without a traceparent, a request starts its own trace; the rejection is recorded.
    let rejected = all
        .iter()
        .find(|s| {
            s.name == "auth.authenticate"
                && s.attrs.get("auth.outcome").map(String::as_str) == Some("rejected")
        })
        .expect("the rejected request's authentication span");
    assert_ne!(rejected.trace_id, trace_id);
    let root = all.iter().find(|s| s.span_id == rejected.parent).unwrap();
    assert_eq!(root.attrs["http.response.status_code"], "401");
    assert_eq!(root.parent, "", "a root span");
}

fn review(uid: &str) -> serde_json::Value {
    let dir = std::env::var_os("MTP_CONFORMANCE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../mtp-policy/testdata/conformance")
        });
    let bytes = std::fs::read(dir.join("admissionreview/pods-create.kube-rs.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["request"]["uid"] = json!(uid);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_continues_the_callers_trace() {
    let (addr, received) = collector().await;
    let dir = TempDir::new("otel-webhook");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mtp-webhook"))
        .args([
            "--log-format",
            "json",
            "serve",
            "--self-signed",
            "--log-denials",
        ])
        .arg("--cert-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--probe-listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("http://{addr}/v1/traces"),
        )
        .env("OTEL_SERVICE_NAME", "webhook-under-test")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = apiserver_common::lines(child.stderr.take().unwrap());
    let tls: SocketAddr = loop {
        let line = stderr
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the webhook did not start serving");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["fields"]["message"] == "serving admission webhooks over TLS" {
            break v["fields"]["addr"].as_str().unwrap().parse().unwrap();
        }
    };
    let ca = std::fs::read(dir.path().join("ca.crt")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("mtp-webhook.mtp-system.svc", tls)
        .build()
        .unwrap();
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let caller_span = "b7ad6b7169203331";
    let r = client
        .post(format!(
            "https://mtp-webhook.mtp-system.svc:{}/validate/pod-security",
            tls.port()
        ))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .body(review("uid-traced").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    let all = spans(&received);
    let span = all
        .iter()
        .find(|s| s.trace_id == trace_id)
        .unwrap_or_else(|| panic!("no span of the review: {all:#?}"));
    assert_eq!(span.service, "webhook-under-test", "OTEL_SERVICE_NAME");
    assert_eq!(span.name, "POST /validate/pod-security");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(span.parent, caller_span);
    assert_eq!(span.attrs["uid"], "uid-traced");
    assert_eq!(span.attrs["request_id"], request_id);
    assert_eq!(span.attrs["http.response.status_code"], "200");
    assert!(
        span.values.iter().any(|v| v == "admission review answered"),
        "the denial (at info with --log-denials) is an event of the span: {span:?}"
    );
}
