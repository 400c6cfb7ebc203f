//! The webhook's serving certificate: a CA and a serving certificate generated with rcgen, written
//! as `ca.crt`, `tls.crt` and `tls.key` (the key mode 0600), and their expiry.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

/// Errors about certificates.
#[derive(Debug, Error)]
pub enum CertError {
    /// rcgen refused the parameters.
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A CA and the serving certificate it signed, in PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertBundle {
    /// The CA certificate (what the apiserver trusts: the `caBundle`).
    pub ca_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// The serving key.
    pub key_pem: String,
    /// When the serving certificate expires.
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for CertBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("CertBundle")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// The DNS names of the webhook Service `name` in `namespace`.
pub fn service_dns_names(name: &str, namespace: &str) -> Vec<String> {
    vec![
        name.to_owned(),
        format!("{name}.{namespace}"),
        format!("{name}.{namespace}.svc"),
        format!("{name}.{namespace}.svc.cluster.local"),
    ]
}

/// How long generated certificates are valid.
pub const VALIDITY: Duration = Duration::days(365);

/// Renew when a certificate expires within this.
pub const RENEW_BEFORE: Duration = Duration::days(30);

/// Generates a CA and a serving certificate for `dns_names`, valid for [`VALIDITY`].
pub fn generate(dns_names: &[String]) -> Result<CertBundle, CertError> {
    let now = OffsetDateTime::now_utc();
    let not_after = now + VALIDITY;
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mtp-webhook-ca");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "mtp");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - Duration::minutes(5);
    ca_params.not_after = not_after + Duration::days(1);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut params = CertificateParams::new(dns_names.to_vec())?;
    params.distinguished_name.push(
        DnType::CommonName,
        dns_names.first().map_or("mtp-webhook", String::as_str),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.not_before = now - Duration::minutes(5);
    params.not_after = not_after;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;
    Ok(CertBundle {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after,
    })
}

/// The three files of a certificate directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// `ca.crt`.
    pub ca: PathBuf,
    /// `tls.crt`.
    pub cert: PathBuf,
    /// `tls.key`.
    pub key: PathBuf,
}

impl CertPaths {
    /// The files in `dir`.
    pub fn in_dir(dir: &Path) -> CertPaths {
        CertPaths {
            ca: dir.join("ca.crt"),
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        }
    }
}

fn write_atomically(path: &Path, contents: &str, mode: u32) -> Result<(), CertError> {
    let io = |source| CertError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("cert")
    ));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io)?;
        file.write_all(contents.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// Writes the bundle into `paths` (the key mode 0600), each file atomically; the key and
/// certificate last, so a watcher never pairs a new certificate with an old key for long.
pub fn write(bundle: &CertBundle, paths: &CertPaths) -> Result<(), CertError> {
    if let Some(dir) = paths.cert.parent() {
        std::fs::create_dir_all(dir).map_err(|source| CertError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    write_atomically(&paths.ca, &bundle.ca_pem, 0o644)?;
    write_atomically(&paths.key, &bundle.key_pem, 0o600)?;
    write_atomically(&paths.cert, &bundle.cert_pem, 0o644)
}

/// Generates and writes a bundle unless `tls.crt` and `tls.key` are already present.
/// Returns whether it generated one.
pub fn ensure_self_signed(paths: &CertPaths, dns_names: &[String]) -> Result<bool, CertError> {
    if paths.cert.exists() && paths.key.exists() {
        return Ok(false);
    }
    write(&generate(dns_names)?, paths)?;
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generates_and_writes_with_a_private_key_mode() {
        let dir = std::env::temp_dir().join(format!("mtp-certs-{}", std::process::id()));
        let paths = CertPaths::in_dir(&dir);
        let names = service_dns_names("mtp-webhook", "mtp-system");
        assert_eq!(names[3], "mtp-webhook.mtp-system.svc.cluster.local");
        assert!(ensure_self_signed(&paths, &names).unwrap());
        assert!(
            !ensure_self_signed(&paths, &names).unwrap(),
            "present certificates are kept"
        );
        let mode = std::fs::metadata(&paths.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let cert = std::fs::read_to_string(&paths.cert).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(
            std::fs::read_to_string(&paths.key)
                .unwrap()
                .contains("PRIVATE KEY")
        );
        let bundle = generate(&names).unwrap();
        assert!(
            !format!("{bundle:?}").contains("PRIVATE"),
            "Debug never shows the key"
        );
        assert!(bundle.not_after > OffsetDateTime::now_utc() + Duration::days(360));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
