//! `mtp-webhook serve` over real sockets: a TLS client that trusts the generated CA, `/healthz` on
//! the TLS listener, an admission request end to end, `/readyz` and `/metrics` on the probe port,
//! certificate reload, and the refusal to start without a certificate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mtp_bins::webhook::certs::{self, CertPaths};
use mtp_bins::webhook::serve::{HookState, ServeArgs, Server, registry};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const SNI: &str = "mtp-webhook.mtp-system.svc";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtp-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn args(cert_dir: &Path) -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        cert_dir: cert_dir.to_owned(),
        self_signed: true,
        dns_names: vec![],
        probe_listen: "127.0.0.1:0".parse().unwrap(),
        platform_namespace: "mtp-system".into(),
        service_name: "mtp-webhook".into(),
        manage: false,
        watch_namespaces: false,
        tiers: None,
        cert_reload_seconds: 1,
        header_read_timeout: 10,
        log_denials: false,
        hooks: mtp_bins::webhook::serve::HookArgs::default(),
    }
}

struct Running {
    tls: SocketAddr,
    probe: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(args: &ServeArgs) -> Running {
    let registry = registry(&args.platform_namespace, &HookState::default()).unwrap();
    let server = Server::bind(args, &registry).await.unwrap();
    let (tls, probe) = (server.tls_addr().unwrap(), server.probe_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        tls,
        probe,
        stop,
        task,
    }
}

fn connector(ca: &Path) -> TlsConnector {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// One HTTP/1.1 request over TLS; returns the response text and the server's certificate.
async fn https(addr: SocketAddr, ca: &Path, request: &[u8]) -> std::io::Result<(String, Vec<u8>)> {
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = connector(ca)
        .connect(ServerName::try_from(SNI).unwrap().to_owned(), tcp)
        .await?;
    let peer = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    tls.write_all(request).await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    Ok((String::from_utf8_lossy(&response).into_owned(), peer))
}

async fn http(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {SNI}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn capture() -> Vec<u8> {
    let dir = std::env::var_os("MTP_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mtp-policy/testdata/conformance")
        });
    std::fs::read(dir.join("admissionreview/pods-create.kube-rs.json")).unwrap()
}

async fn wait_ready(probe: SocketAddr) {
    for _ in 0..100 {
        if http(probe, "/readyz").await.starts_with("HTTP/1.1 200") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never ready");
}

#[tokio::test]
async fn serves_admission_over_tls_with_the_generated_ca() {
    let dir = temp_dir("tls");
    let args = args(&dir);
    let server = start(&args).await;
    wait_ready(server.probe).await;
    let paths = CertPaths::in_dir(&dir);
    let (health, peer) = https(
        server.tls,
        &paths.ca,
        format!("GET /healthz HTTP/1.1\r\nHost: {SNI}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let served = CertificateDer::from_pem_file(&paths.cert).unwrap();
    assert_eq!(peer, served.to_vec(), "the server presents tls.crt");

    let (review, _) = https(
        server.tls,
        &paths.ca,
        &post("/validate/pod-security", &capture()),
    )
    .await
    .unwrap();
    assert!(review.starts_with("HTTP/1.1 200"), "{review}");
    let body = review.split("\r\n\r\n").nth(1).unwrap();
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(value["response"]["allowed"], false);
    assert_eq!(value["response"]["status"]["code"], 403);

    // A client that does not trust the CA cannot talk to it.
    let other = temp_dir("other-ca");
    certs::write(
        &certs::generate(&[SNI.to_owned()]).unwrap(),
        &CertPaths::in_dir(&other),
    )
    .unwrap();
    assert!(
        https(
            server.tls,
            &CertPaths::in_dir(&other).ca,
            b"GET /healthz HTTP/1.1\r\n\r\n"
        )
        .await
        .is_err()
    );

    let metrics = http(server.probe, "/metrics").await;
    assert!(
        metrics
            .to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"mtp_webhook_requests_total{hook="pod-security.mtp.dev",outcome="denied"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"mtp_webhook_denials_total{hook="pod-security.mtp.dev",check="limits"} 1"#),
        "{metrics}"
    );

    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}

/// Bodies of every size around rustls' 4 KiB reads and the 16 KiB TLS record arrive whole over
/// the TLS listener, and a second request written in the same packets as the first is answered.
#[tokio::test]
async fn reads_bodies_of_every_size_and_requests_sent_back_to_back() {
    let dir = temp_dir("sizes");
    let args = args(&dir);
    let server = start(&args).await;
    wait_ready(server.probe).await;
    let ca = CertPaths::in_dir(&dir).ca;
    let capture = capture();
    let record = 16 * 1024;
    for size in [
        capture.len(),
        4096,
        4097,
        record - 1,
        record,
        record + 1,
        record + 5 + 256,
        2 * record,
        3 * record + 17,
        1024 * 1024,
    ] {
        // Trailing whitespace keeps the review valid JSON of any length.
        let mut body = capture.clone();
        body.resize(size.max(capture.len()), b' ');
        let (review, _) = https(server.tls, &ca, &post("/validate/pod-security", &body))
            .await
            .unwrap();
        assert!(review.starts_with("HTTP/1.1 200"), "{size} bytes: {review}");
        assert!(review.contains(r#""code":403"#), "{size} bytes: {review}");
    }

    let mut both = format!(
        "POST /validate/pod-security HTTP/1.1\r\nHost: {SNI}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        capture.len()
    )
    .into_bytes();
    both.extend_from_slice(&capture);
    both.extend_from_slice(
        format!("GET /healthz HTTP/1.1\r\nHost: {SNI}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let (responses, _) = https(server.tls, &ca, &both).await.unwrap();
    assert_eq!(responses.matches("HTTP/1.1 200").count(), 2, "{responses}");
    assert!(responses.contains(r#""code":403"#), "{responses}");

    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn reloads_the_certificate_when_it_changes_on_disk() {
    let dir = temp_dir("reload");
    let server = start(&args(&dir)).await;
    wait_ready(server.probe).await;
    let paths = CertPaths::in_dir(&dir);
    let (_, before) = https(
        server.tls,
        &paths.ca,
        b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();

    // A half-written pair (garbage key) is ignored: the old certificate keeps being served.
    std::fs::write(&paths.key, "not a key").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, still) = https(
        server.tls,
        &paths.ca,
        b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(still, before);

    let rotated = certs::generate(&certs::service_dns_names("mtp-webhook", "mtp-system")).unwrap();
    certs::write(&rotated, &paths).unwrap();
    let expected = CertificateDer::from_pem_slice(rotated.cert_pem.as_bytes())
        .unwrap()
        .to_vec();
    let mut served = Vec::new();
    for _ in 0..50 {
        if let Ok((_, peer)) = https(
            server.tls,
            &paths.ca,
            b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
        )
        .await
        {
            served = peer;
            if served == expected {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        served, expected,
        "the rotated certificate is served without a restart"
    );
    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn refuses_to_start_without_a_certificate() {
    let dir = temp_dir("none");
    let mut args = args(&dir);
    args.self_signed = false;
    let registry = registry("mtp-system", &HookState::default()).unwrap();
    let err = Server::bind(&args, &registry)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no tls.crt and tls.key in"), "{err}");
    assert!(err.contains("--self-signed"), "{err}");
}
