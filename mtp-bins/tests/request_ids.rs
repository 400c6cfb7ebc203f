//! A request id in every log line of a request, in every long-running binary, with
//! `--log-format json` and `RUST_LOG=debug`: the apiserver (`x-request-id`), the webhook
//! (`x-request-id` and the AdmissionReview's `request.uid`), the token broker (one `refresh_id`
//! per refresh cycle) and the controller (the tenant and a `reconcile_id` per reconcile, with
//! kube's HTTP spans inside it). Lines logged outside a request carry none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_common;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use apiserver_common::{Server, TempDir, lines};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// Every line until the process closes stderr; each must be one JSON object.
fn drain(rx: &mpsc::Receiver<String>) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        out.push(v);
    }
    out
}

fn message(line: &Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or_default()
}

/// The value of `field` in the span named `span` around `line`.
fn span_field<'a>(line: &'a Value, span: &str, field: &str) -> Option<&'a str> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == span)
        .and_then(|s| s[field].as_str())
}

fn position(lines: &[Value], msg: &str) -> usize {
    lines
        .iter()
        .position(|l| message(l) == msg)
        .unwrap_or_else(|| panic!("no line {msg:?} in {lines:#?}"))
}

fn wait_exit(child: &mut std::process::Child) {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the process did not exit on SIGTERM");
}

fn sigterm(pid: u32) {
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

// ---------------------------------------------------------------- apiserver

#[tokio::test]
async fn apiserver_every_line_of_a_request_carries_its_request_id() {
    let dir = TempDir::new("reqid");
    let mut server = Server::start_with(
        dir.path(),
        &["--log-format", "json"],
        &[("RUST_LOG", "debug")],
        true,
    );
    let key = server.first_key.take().unwrap();
    let client = reqwest::Client::new();
    let created = client
        .post(server.url("/api/v1/tenants"))
        .bearer_auth(&key)
        .header("x-request-id", "req-create")
        .header("content-type", "application/json")
        .body(json!({"name": "acme", "tier": "free", "ownerEmail": "ops@acme.io"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["x-request-id"], "req-create");
    let got = client
        .get(server.url("/api/v1/tenants/acme"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let generated = got.headers()["x-request-id"].to_str().unwrap().to_owned();
    let denied = client
        .get(server.url("/api/v1/tenants/acme"))
        .bearer_auth("mtp_platform-admin_wrongwrongwrongwrongwrong")
        .header("x-request-id", "req-denied")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let stderr = server.stderr.take().unwrap();
    server.stop();

    let all = drain(&stderr);
    let start = position(&all, "listening");
    let end = position(
        &all,
        "shutting down: refusing new connections, draining in-flight requests",
    );
    let ids: BTreeSet<&str> = ["req-create", generated.as_str(), "req-denied"].into();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for line in &all[start + 1..end] {
        let id = span_field(line, "request", "request_id")
            .unwrap_or_else(|| panic!("a line while serving without a request id: {line}"));
        assert!(ids.contains(id), "{id} is not one of {ids:?}");
        *seen.entry(id).or_default() += 1;
    }
    for id in &ids {
        assert!(
            seen.get(id).is_some_and(|n| *n >= 1),
            "no line of {id}: {seen:?}"
        );
    }
    assert_eq!(
        all[start + 1..end]
            .iter()
            .filter(|l| message(l) == "request answered")
            .count(),
        3,
        "one access line (debug) per request"
    );
    // Lines from inside the authenticator and the handlers carry it too.
    assert!(
        all[start + 1..end].iter().any(|l| {
            message(l) == "static key rejected"
                && span_field(l, "request", "request_id") == Some("req-denied")
        }),
        "the authenticator's rejection is logged within the request"
    );
    assert!(
        all[start + 1..end].iter().any(|l| {
            message(l) == "audit" && span_field(l, "request", "request_id") == Some("req-create")
        }),
        "the audit line of the create"
    );
    for line in all[..=start].iter().chain(&all[end..]) {
        assert!(
            line.get("spans").is_none() || span_field(line, "request", "request_id").is_none(),
            "a line outside requests is labelled: {line}"
        );
    }
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&key), "the API key is logged");
}

// ---------------------------------------------------------------- webhook

fn tls_client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve("mtp-webhook.mtp-system.svc", "127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap()
}

fn review(uid: &str) -> Value {
    let dir = std::env::var_os("MTP_CONFORMANCE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../mtp-policy/testdata/conformance")
        });
    let bytes = std::fs::read(dir.join("admissionreview/pods-create.kube-rs.json")).unwrap();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    v["request"]["uid"] = json!(uid);
    v
}

#[tokio::test]
async fn webhook_every_line_of_a_review_carries_its_request_id_and_uid() {
    let dir = TempDir::new("webhook-reqid");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtp-webhook"))
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
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let mut early = Vec::new();
    let addr: SocketAddr = loop {
        let line = stderr
            .recv_timeout(Duration::from_secs(60))
            .expect("the webhook did not start serving");
        let v: Value = serde_json::from_str(&line).unwrap();
        let found = (message(&v) == "serving admission webhooks over TLS")
            .then(|| v["fields"]["addr"].as_str().unwrap().parse().unwrap());
        early.push(v);
        if let Some(addr) = found {
            break addr;
        }
    };
    let client = tls_client(&dir.path().join("ca.crt"));
    let url = |path: &str| format!("https://mtp-webhook.mtp-system.svc:{}{path}", addr.port());
    // Denied, with the caller's request id.
    let r = client
        .post(url("/validate/pod-security"))
        .header("x-request-id", "adm-1")
        .header("content-type", "application/json")
        .body(review("uid-denied-1").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-request-id"], "adm-1");
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["response"]["uid"], "uid-denied-1");
    assert_eq!(body["response"]["allowed"], false);
    // Without one: generated.
    let r = client
        .post(url("/validate/pod-security"))
        .header("content-type", "application/json")
        .body(review("uid-denied-2").to_string())
        .send()
        .await
        .unwrap();
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    // Refused (not JSON): logged with its id, no uid.
    let r = client
        .post(url("/validate/pod-security"))
        .header("x-request-id", "adm-bad")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sigterm(child.id());
    let mut all = early;
    all.extend(drain(&stderr));
    wait_exit(&mut child);

    let start = position(&all, "serving admission webhooks over TLS");
    let end = position(&all, "shutting down: draining in-flight requests");
    let ids: BTreeSet<&str> = ["adm-1", generated.as_str(), "adm-bad"].into();
    let mut answered = HashMap::new();
    for line in &all[start + 1..end] {
        let id = span_field(line, "admission", "request_id")
            .unwrap_or_else(|| panic!("a line while serving without a request id: {line}"));
        assert!(ids.contains(id), "{id}");
        if message(line).starts_with("admission") {
            answered.insert(id, span_field(line, "admission", "uid"));
        }
    }
    assert_eq!(
        answered.get("adm-1"),
        Some(&Some("uid-denied-1")),
        "{all:#?}"
    );
    assert_eq!(
        answered.get(generated.as_str()),
        Some(&Some("uid-denied-2"))
    );
    assert_eq!(
        answered.get("adm-bad"),
        Some(&None),
        "no uid in a refused body"
    );
    let denied = all
        .iter()
        .find(|l| {
            message(l) == "admission review answered"
                && span_field(l, "admission", "request_id") == Some("adm-1")
        })
        .unwrap();
    assert_eq!(denied["fields"]["outcome"], "denied");
    assert_eq!(
        denied["level"], "INFO",
        "--log-denials lifts denials to info"
    );
    for line in all[..=start].iter().chain(&all[end..]) {
        assert!(
            span_field(line, "admission", "request_id").is_none(),
            "a line outside requests is labelled: {line}"
        );
    }
}

// ---------------------------------------------------------------- token broker

/// A tiny IdP: discovery, and a token endpoint that answers 200, 500, 200 ...
async fn idp(calls: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let doc = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "token_endpoint": format!("{issuer}/token"),
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        )
        .route(
            "/token",
            axum::routing::post(move || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n % 2 == 1 {
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(json!({"error": "temporarily_unavailable"})),
                        )
                    } else {
                        (
                            StatusCode::OK,
                            axum::Json(json!({
                                "access_token": format!("secret-token-{n}"),
                                "token_type": "Bearer",
                                "expires_in": 2,
                            })),
                        )
                    }
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

// Multi-threaded: the IdP keeps answering while the test blocks reading the broker's logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_broker_every_line_of_a_refresh_cycle_carries_its_refresh_id() {
    let calls = Arc::new(AtomicUsize::new(0));
    let issuer = idp(calls.clone()).await;
    let dir = TempDir::new("broker-reqid");
    let token_file = dir.path().join("token");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtp-token-broker"))
        .args(["--issuer", &issuer, "--client-id", "svc"])
        .args(["--client-secret", "client-s3cr3t-value"])
        .arg("--token-file")
        .arg(&token_file)
        .args(["--log-format", "json"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    // A success, a failure (retried after about a second), a success.
    for _ in 0..200 {
        if calls.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(calls.load(Ordering::SeqCst) >= 3, "three refresh cycles");
    tokio::time::sleep(Duration::from_millis(200)).await;
    sigterm(child.id());
    let all = drain(&stderr);
    wait_exit(&mut child);

    let mut cycles: HashMap<String, Vec<&str>> = HashMap::new();
    // hyper-util's connection pool logs from the tasks the HTTP client spawns for its
    // connections, outside any cycle: not lines of a cycle.
    for line in all.iter().filter(|l| {
        !l["target"]
            .as_str()
            .unwrap_or_default()
            .starts_with("hyper")
    }) {
        let id = span_field(line, "token_refresh", "refresh_id")
            .unwrap_or_else(|| panic!("a line without a refresh id: {line}"));
        cycles.entry(id.to_owned()).or_default().push(message(line));
    }
    let written = cycles
        .values()
        .filter(|m| m.contains(&"token written"))
        .count();
    let failed = cycles
        .values()
        .filter(|m| m.contains(&"token refresh failed; keeping the old token"))
        .count();
    assert!(written >= 2 && failed >= 1, "{cycles:#?}");
    assert!(
        cycles.values().all(|m| {
            !(m.contains(&"token written")
                && m.contains(&"token refresh failed; keeping the old token"))
        }),
        "one outcome per cycle: {cycles:#?}"
    );
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains("client-s3cr3t-value"),
        "the client secret is logged"
    );
    assert!(!text.contains("secret-token-"), "a token is logged");
}

// ---------------------------------------------------------------- controller

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An apiserver that fails every call with 500.
async fn failing_apiserver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "etcd is on fire", "reason": "InternalError", "code": 500
            })),
        )
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn controller_every_line_of_a_reconcile_carries_the_tenant_and_a_reconcile_id() {
    use mtp_bins::controller::reconcile::reconcile;
    use mtp_bins::controller::{Context, ControllerMetrics, caches};
    use mtp_bins::telemetry::{LogFormat, log_layer};
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(
        log_layer(LogFormat::Json, move || writer.clone())
            .with_filter(tracing_subscriber::EnvFilter::new("debug")),
    );
    // This test's runtime has one thread: the default subscriber sees every task.
    let _guard = tracing::subscriber::set_default(subscriber);

    let url = failing_apiserver().await;
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let (caches, _writers) = caches();
    let ctx = Arc::new(Context::new(
        client,
        mtp_core::TierCatalogue::default(),
        mtp_core::PlatformSettings::default(),
        caches,
        Arc::new(ControllerMetrics::default()),
        Some("test".into()),
    ));
    tracing::info!("before the reconciles");
    let (a, b) = tokio::join!(
        reconcile(Arc::new(mtp_core::Tenant::test("acme")), ctx.clone()),
        reconcile(Arc::new(mtp_core::Tenant::test("beta")), ctx.clone()),
    );
    assert!(a.is_err() && b.is_err(), "the apiserver fails every call");
    tracing::info!("after the reconciles");

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let all: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let start = position(&all, "before the reconciles");
    let end = position(&all, "after the reconciles");
    assert!(span_field(&all[start], "reconcile", "reconcile_id").is_none());
    assert!(span_field(&all[end], "reconcile", "reconcile_id").is_none());
    let mut ids: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut kube_calls = 0;
    for line in &all[start + 1..end] {
        let tenant = span_field(line, "reconcile", "tenant")
            .unwrap_or_else(|| panic!("a line of a reconcile without its tenant: {line}"));
        let id = span_field(line, "reconcile", "reconcile_id").unwrap();
        ids.entry(tenant).or_default().insert(id);
        // kube's HTTP spans are children of the reconcile span.
        let names: Vec<&str> = line["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        if let Some(i) = names.iter().position(|n| *n == "HTTP") {
            assert!(names[..i].contains(&"reconcile"), "{names:?}");
            kube_calls += 1;
        }
    }
    assert_eq!(ids.len(), 2, "both tenants logged: {ids:?}");
    assert!(ids.values().all(|s| s.len() == 1), "one id per reconcile");
    assert_ne!(ids["acme"], ids["beta"], "each reconcile has its own id");
    assert!(
        kube_calls >= 2,
        "kube's requests are logged within the reconcile"
    );
    assert!(
        all[start + 1..end]
            .iter()
            .any(|l| message(l) == "reconcile failed"
                && span_field(l, "reconcile", "tenant") == Some("acme")),
        "{text}"
    );
}
