//! `mtp-apiserver` over HTTPS, the real binary: a rustls client trusting a CA generated here
//! reaches `/healthz` and the authenticated API; new certificate files are served without a
//! restart; a broken file keeps the old certificate; SIGTERM drains a request in flight over TLS;
//! bad TLS settings stop the start with an error naming the flag or the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_proc;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver_proc::{Proc, RawResponse, TempDir, request, run_to_failure, write_admin_key};
use nix::sys::signal::Signal;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A test CA and the serving certificates it signs for `localhost`.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, "mtp test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn leaf(&self, cn: &str, serial: u64) -> Leaf {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    fn connector(&self) -> TlsConnector {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.issuer.pem().as_bytes()).unwrap())
            .unwrap();
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

fn write_leaf(dir: &Path, leaf: &Leaf) {
    std::fs::write(dir.join("tls.crt"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("tls.key"), &leaf.key_pem).unwrap();
}

/// Connects over TLS to `localhost` at `addr`; returns the stream and the served certificate.
async fn connect(
    ca: &Ca,
    addr: SocketAddr,
) -> std::io::Result<(tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>)> {
    let tcp = TcpStream::connect(addr).await?;
    let tls = ca
        .connector()
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let peer = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    Ok((tls, peer))
}

/// One `Connection: close` exchange over TLS.
async fn https(ca: &Ca, addr: SocketAddr, req: &[u8]) -> std::io::Result<(RawResponse, Vec<u8>)> {
    let (mut tls, peer) = connect(ca, addr).await?;
    tls.write_all(req).await?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await?;
    Ok((RawResponse::parse(&raw), peer))
}

async fn served_cert(ca: &Ca, addr: SocketAddr) -> Vec<u8> {
    https(ca, addr, &request("GET", "/healthz", None, None))
        .await
        .unwrap()
        .1
}

fn tls_args(dir: &Path) -> Vec<String> {
    vec![
        "--tls-cert-file".into(),
        dir.join("tls.crt").display().to_string(),
        "--tls-key-file".into(),
        dir.join("tls.key").display().to_string(),
        "--cert-reload-seconds".into(),
        "1".into(),
    ]
}

#[tokio::test]
async fn serves_https_and_reloads_the_certificate_without_a_restart() {
    let dir = TempDir::new("tls");
    let key = write_admin_key(dir.path(), "tls-admin");
    let ca = Ca::new();
    let first = ca.leaf("mtp-api-1", 1);
    write_leaf(dir.path(), &first);
    let args = tls_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Proc::start(dir.path(), &args);
    assert!(server.base.starts_with("https://"), "{}", server.base);

    // /healthz and the authenticated API over HTTPS, with the certificate of our CA.
    let (r, peer) = https(&ca, server.addr, &request("GET", "/healthz", None, None))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(peer, first.der);
    let (r, _) = https(
        &ca,
        server.addr,
        &request("GET", "/api/v1/whoami", Some(&key), None),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("tls-admin"), "{}", r.body);
    let (r, _) = https(
        &ca,
        server.addr,
        &request(
            "POST",
            "/api/v1/tenants",
            Some(&key),
            Some(r#"{"name":"tls-acme","tier":"free","ownerEmail":"ops@acme.io"}"#),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    let (r, _) = https(
        &ca,
        server.addr,
        &request("GET", "/api/v1/whoami", None, None),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401, "credentials are still required over TLS");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(&request("GET", "/healthz", None, None))
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw).await;
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "plain HTTP must not work"
    );

    // A broken key file: the old certificate keeps being served, with a warning.
    std::fs::write(
        dir.path().join("tls.key"),
        "-----BEGIN PRIVATE KEY-----\nbroken\n",
    )
    .unwrap();
    assert!(
        server.wait_log("keeping the old certificate", Duration::from_secs(10)),
        "no warning about the broken file; log:\n{}",
        server.stderr()
    );
    assert_eq!(served_cert(&ca, server.addr).await, first.der);

    // The new certificate lands first (its key does not match the broken file either)...
    let second = ca.leaf("mtp-api-2", 2);
    std::fs::write(dir.path().join("tls.crt"), &second.cert_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(served_cert(&ca, server.addr).await, first.der);
    // ...then its key: served without a restart.
    std::fs::write(dir.path().join("tls.key"), &second.key_pem).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut served = served_cert(&ca, server.addr).await;
    while served != second.der && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        served = served_cert(&ca, server.addr).await;
    }
    assert_eq!(
        served,
        second.der,
        "the new certificate is not served; log:\n{}",
        server.stderr()
    );
    assert!(server.stderr().contains("reloaded the TLS certificate"));
    let (r, _) = https(
        &ca,
        server.addr,
        &request("GET", "/api/v1/tenants/tls-acme", Some(&key), None),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn sigterm_drains_a_request_in_flight_over_tls() {
    let dir = TempDir::new("tls-term");
    let key = write_admin_key(dir.path(), "tls-admin");
    let ca = Ca::new();
    write_leaf(dir.path(), &ca.leaf("mtp-api", 7));
    let args = tls_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Proc::start(dir.path(), &args);

    let body = r#"{"name":"tls-drained","tier":"free","ownerEmail":"ops@acme.io"}"#;
    let (mut tls, _) = connect(&ca, server.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tenants HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    // The 100 Continue says the handler is reading the body: the request is in flight.
    let mut buf = [0u8; 64];
    let n = tls.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 100"), "{:?}", &buf[..n]);
    tls.write_all(&body.as_bytes()[..10]).await.unwrap();
    tls.flush().await.unwrap();

    server.signal(Signal::SIGTERM);
    assert!(server.wait_log("shutting down", Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    tls.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.unwrap();
    let r = RawResponse::parse(&raw);
    assert_eq!(r.status, 201, "{r:?}");
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("mtp-apiserver did not exit after SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn bad_tls_settings_stop_the_start_with_a_clear_error() {
    let dir = TempDir::new("tls-bad");
    let d = dir.path();
    let ca = Ca::new();
    let good = ca.leaf("mtp-api", 1);
    let other = ca.leaf("mtp-other", 2);
    write_leaf(d, &good);
    let cert = d.join("tls.crt").display().to_string();
    let key = d.join("tls.key").display().to_string();

    // One without the other: clap names the missing flag (exit 2).
    let (status, err) = run_to_failure(d, &["--tls-cert-file", &cert], &[]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--tls-key-file"), "{err}");
    let (status, err) = run_to_failure(d, &[], &[("MTP_TLS_KEY_FILE", &key)]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--tls-cert-file"), "{err}");
    std::fs::write(d.join("api.yaml"), format!("tls-cert-file: {cert}\n")).unwrap();
    let (status, err) = run_to_failure(d, &["--config", "api.yaml"], &[]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--tls-key-file"), "{err}");

    // Files that do not work: the error names the file (exit 1).
    let missing = d.join("missing.crt").display().to_string();
    let (status, err) = run_to_failure(
        d,
        &["--tls-cert-file", &missing, "--tls-key-file", &key],
        &[],
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("cannot read {missing}")), "{err}");

    std::fs::write(d.join("garbage.crt"), "not a certificate\n").unwrap();
    let garbage = d.join("garbage.crt").display().to_string();
    let (_, err) = run_to_failure(
        d,
        &["--tls-cert-file", &garbage, "--tls-key-file", &key],
        &[],
    );
    assert!(
        err.contains(&format!("{garbage}: not a PEM certificate file")),
        "{err}"
    );

    let (_, err) = run_to_failure(d, &["--tls-cert-file", &cert, "--tls-key-file", &cert], &[]);
    assert!(
        err.contains(&format!("{cert}: not a PEM private key file")),
        "{err}"
    );

    std::fs::write(d.join("other.key"), &other.key_pem).unwrap();
    let other_key = d.join("other.key").display().to_string();
    let (_, err) = run_to_failure(
        d,
        &["--tls-cert-file", &cert, "--tls-key-file", &other_key],
        &[],
    );
    assert!(
        err.contains(&format!(
            "{cert} and {other_key} are not a usable certificate and key"
        )),
        "{err}"
    );

    // Nothing was created on the way: no keys file, no database.
    let keys_file_made = d.join("mtp-api-keys").exists();
    let db_made = d.join("mtp.db").exists();
    assert!(
        !keys_file_made && !db_made,
        "a failed start left files behind"
    );
}
