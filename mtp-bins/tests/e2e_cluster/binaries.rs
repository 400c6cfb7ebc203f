//! The command lines the suite runs `mtp-webhook serve` and `mtp-controller run` with, and the
//! wait for their `/readyz`. The tests here run the real binaries with these exact commands
//! against an unreachable apiserver, which both tolerate at start.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::bail;

use super::process::Proc;
use super::wait::{self, Poll};

/// The platform namespace of the install the suite applies.
pub const PLATFORM_NAMESPACE: &str = "mtp-system";

/// `binary` with `KUBECONFIG` set and none of the caller's `MTP_*` settings.
pub fn command(binary: &str, kubeconfig: &Path) -> Command {
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("MTP_") {
            command.env_remove(&key);
        }
    }
    command
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "info");
    command
}

/// `mtp-webhook serve` with a self-signed certificate for `host` (and localhost) in `cert_dir`,
/// HTTPS on `listen`, probes on 127.0.0.1:`probe`, the namespace watch on. `serve` has no
/// `--kubeconfig`: it reads `KUBECONFIG` (kube's default configuration).
pub fn webhook_command(
    kubeconfig: &Path,
    cert_dir: &Path,
    host: &str,
    listen: SocketAddr,
    probe: u16,
) -> Command {
    let mut c = command(env!("CARGO_BIN_EXE_mtp-webhook"), kubeconfig);
    c.arg("serve")
        .arg("--self-signed")
        .arg("--cert-dir")
        .arg(cert_dir)
        .args(["--dns-name", host, "--dns-name", "localhost"])
        .args(["--listen", &listen.to_string()])
        .args(["--probe-listen", &format!("127.0.0.1:{probe}")])
        .args(["--platform-namespace", PLATFORM_NAMESPACE])
        .args(["--watch-namespaces", "--log-denials"]);
    c
}

/// `mtp-controller run` with its own kubeconfig, probes on 127.0.0.1:`probe`, and `identity` in
/// the Lease.
pub fn controller_command(kubeconfig: &Path, probe: u16, identity: &str) -> Command {
    let mut c = command(env!("CARGO_BIN_EXE_mtp-controller"), kubeconfig);
    c.arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--platform-namespace", PLATFORM_NAMESPACE])
        .args(["--probe-listen", &format!("127.0.0.1:{probe}")])
        .args(["--identity", identity]);
    c
}

/// Waits until `GET http://127.0.0.1:probe/readyz` answers 200; fails at once if the process
/// exits, and after `timeout` with the last answer.
pub async fn wait_ready(proc: &mut Proc, probe: u16, timeout: Duration) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{probe}/readyz");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let what = format!("{} to be ready ({url})", proc.name());
    wait::until(&what, timeout, || {
        let exited = proc.exited();
        let name = proc.name().to_owned();
        let request = http.get(&url).send();
        async move {
            if let Some(status) = exited {
                bail!("{name} exited before it was ready: {status}");
            }
            Ok(match request.await {
                Ok(r) if r.status().is_success() => Poll::Ready(()),
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    Poll::Pending(format!("{status} {}", body.trim()))
                }
                Err(e) => Poll::Pending(e.to_string()),
            })
        }
    })
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::harness::kubeconfig;
    use crate::harness::process::free_port;
    use kube::config::Kubeconfig;

    /// A kubeconfig whose apiserver refuses connections.
    fn unreachable_kubeconfig(dir: &Path) -> std::path::PathBuf {
        let admin = Kubeconfig::from_yaml(
            "current-context: c\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: admin}}]\n",
        )
        .unwrap();
        let k =
            kubeconfig::token_kubeconfig(&admin, dir, "system:serviceaccount:mtp-system:x", "t")
                .unwrap();
        let path = dir.join("sa.kubeconfig");
        kubeconfig::write(&k, &path).unwrap();
        path
    }

    /// The apiserver's view: the webhook URL the suite registers verifies against the CA the
    /// webhook wrote, for an IP host (an IP SAN) and for localhost.
    #[tokio::test]
    async fn the_webhook_starts_with_the_suites_flags_and_its_certificate_fits_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = unreachable_kubeconfig(dir.path());
        let cert_dir = dir.path().join("certs");
        let host = "127.0.0.1";
        let ip = crate::harness::install::webhook_listen_ip(host);
        let port = free_port(ip).unwrap();
        let probe = free_port(ip).unwrap();
        let command = webhook_command(
            &kubeconfig,
            &cert_dir,
            host,
            SocketAddr::new(ip, port),
            probe,
        );
        let mut proc = Proc::spawn("mtp-webhook", command).unwrap();
        if let Err(e) = wait_ready(&mut proc, probe, Duration::from_secs(30)).await {
            panic!("{e:#}\n{}", proc.report());
        }
        let ca = std::fs::read(cert_dir.join("ca.crt")).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        for base in [
            crate::harness::install::webhook_url(host, port),
            format!("https://localhost:{port}"),
        ] {
            let answer = http.get(format!("{base}/healthz")).send().await;
            let answer = answer.unwrap_or_else(|e| panic!("{base}: {e:?}\n{}", proc.report()));
            assert_eq!(answer.status(), 200, "{base}");
        }
        let how = proc.stop(Duration::from_secs(10));
        assert!(
            how.starts_with("exited after SIGTERM"),
            "{how}\n{}",
            proc.report()
        );
    }

    #[tokio::test]
    async fn the_controller_starts_with_the_suites_flags() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = unreachable_kubeconfig(dir.path());
        let probe = free_port("127.0.0.1".parse().unwrap()).unwrap();
        let command = controller_command(&kubeconfig, probe, "e2e-flags");
        let mut proc = Proc::spawn("mtp-controller", command).unwrap();
        if let Err(e) = wait_ready(&mut proc, probe, Duration::from_secs(30)).await {
            panic!("{e:#}\n{}", proc.report());
        }
        assert!(proc.exited().is_none(), "{}", proc.report());
        proc.stop(Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_process_that_exits_is_reported_at_once_with_its_status() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo 'error: bad flag' >&2; exit 2"]);
        let mut proc = Proc::spawn("broken", c).unwrap();
        let probe = free_port("127.0.0.1".parse().unwrap()).unwrap();
        let err = wait_ready(&mut proc, probe, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("broken exited before it was ready: exit status: 2"),
            "{err}"
        );
    }
}
