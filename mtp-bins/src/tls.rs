//! TLS for the HTTPS servers (`mtp-apiserver`, `mtp-webhook serve`): a certificate chain and a
//! private key in PEM files, loaded with errors that name the file, and reloaded when the files
//! change on disk (a Kubernetes Secret mount, cert-manager, a renewal cron job).
//!
//! The reload polls the files' metadata every few seconds. A pair that does not load (half
//! written, mismatched, garbage) keeps the old certificate in service and logs a warning once;
//! the next tick tries again, so a pair whose second half lands later is picked up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tracing::{debug, info, warn};

/// The certificate (chain) and key files of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificates: the server's first, then its intermediates.
    pub cert: PathBuf,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A certificate or key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM `CERTIFICATE`, or a broken one.
    #[error("{path}: not a PEM certificate file ({reason})")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file holds no PEM private key, or a broken one.
    #[error("{path}: not a PEM private key file ({reason})")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the pair (the key does not belong to the certificate, unsupported key).
    #[error("{cert} and {key} are not a usable certificate and key: {source}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The default time a connection gets to send a whole request head (`--header-read-timeout`).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Disconnects a client that has started an HTTP/1 request head and not finished it within
/// `timeout`: a slow client trickling its headers holds no worker. (axum-server turns hyper's
/// 30 s default off.) An idle connection that sends nothing costs a socket and no worker: two
/// thousand of them do not delay other requests (`tests/adversarial.rs`).
pub fn limit_header_reads<A: axum_server::Address, Acc>(
    server: &mut axum_server::Server<A, Acc>,
    timeout: Duration,
) {
    server.http_builder().http1().header_read_timeout(timeout);
}

/// Reads and checks `files` and builds a rustls server configuration offering HTTP/2 and
/// HTTP/1.1 (ALPN).
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate {
            path: files.cert.clone(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: files.cert.clone(),
            reason: "no BEGIN CERTIFICATE block".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        reason: match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no BEGIN PRIVATE KEY block".into(),
            other => other.to_string(),
        },
    })?;
    let pair_err = |source| TlsError::Pair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(pair_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(pair_err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Loads `files` into a configuration that [`watch`] can swap while the server runs.
pub fn load(files: &TlsFiles) -> Result<RustlsConfig, TlsError> {
    Ok(RustlsConfig::from_config(Arc::new(server_config(files)?)))
}

/// What identifies a version of a file without reading it: modification time, size, inode.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt as _;
    // `metadata` follows symlinks: a Secret volume swaps its `..data` link, a new inode.
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

fn stamps(files: &TlsFiles) -> (Stamp, Stamp) {
    (stamp(&files.cert), stamp(&files.key))
}

/// Polls `files` every `every` and swaps `config` to the new pair when they changed and load.
/// A pair that does not load keeps the old certificate (warning once per change, then retrying
/// every tick). Runs until its task is aborted.
pub async fn watch(config: RustlsConfig, files: TlsFiles, every: Duration) {
    let mut loaded = stamps(&files);
    let mut warned = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = stamps(&files);
        if now == loaded {
            continue;
        }
        match server_config(&files) {
            Ok(c) => {
                config.reload_from_config(Arc::new(c));
                info!(cert = %files.cert.display(), "reloaded the TLS certificate");
                loaded = now;
                warned = None;
            }
            // Half-written or mismatched files: keep serving the old certificate, retry later.
            Err(e) if warned != Some(now) => {
                warn!(error = %e, "the changed TLS files cannot be loaded; keeping the old certificate");
                warned = Some(now);
            }
            Err(e) => debug!(error = %e, "the TLS files still cannot be loaded"),
        }
    }
}

/// Spawns [`watch`]; abort the handle to stop it.
pub fn spawn_watch(
    config: RustlsConfig,
    files: TlsFiles,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(watch(config, files, every.max(Duration::from_millis(100))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pair(dir: &Path, cn: &str) -> TlsFiles {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&key).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{cn}.crt")),
            key: dir.join(format!("{cn}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn loads_a_pair_with_alpn() {
        let d = dir();
        let c = server_config(&pair(d.path(), "a")).unwrap();
        assert_eq!(c.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn errors_name_the_file() {
        let d = dir();
        let a = pair(d.path(), "a");
        let missing = TlsFiles {
            cert: d.path().join("nope.crt"),
            key: a.key.clone(),
        };
        let e = server_config(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read ") && e.contains("nope.crt"),
            "{e}"
        );

        std::fs::write(d.path().join("garbage"), "hello").unwrap();
        let e = server_config(&TlsFiles {
            cert: d.path().join("garbage"),
            key: a.key.clone(),
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("garbage: not a PEM certificate file"), "{e}");

        let e = server_config(&TlsFiles {
            cert: a.cert.clone(),
            key: a.cert.clone(),
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("a.crt: not a PEM private key file"), "{e}");

        let b = pair(d.path(), "b");
        let e = server_config(&TlsFiles {
            cert: a.cert.clone(),
            key: b.key,
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("a.crt and ") && e.contains("b.key are not a usable"),
            "{e}"
        );
    }
}
