//! Shared by the apiserver tests over real sockets: run the `mtp-apiserver` binary, talk to it,
//! make PostgreSQL databases.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

/// A unique temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

/// A new unique directory (not removed by itself).
pub fn temp_path(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mtp-api-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl TempDir {
    pub fn new(tag: &str) -> Self {
        TempDir(temp_path(tag))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `mtp-apiserver`.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// The key printed on a first start, if this start printed one.
    pub first_key: Option<String>,
    pub stdout: mpsc::Receiver<String>,
    /// The log lines on stderr, when [`Server::start_with`] captured them.
    pub stderr: Option<mpsc::Receiver<String>>,
}

/// Sends every line of `from` to a channel (from a thread).
pub fn lines(from: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Server {
    /// Starts the binary in `dir` with `args` and waits until it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        Server::start_with(dir, args, &[("RUST_LOG", "warn")], false)
    }

    /// Starts the binary in `dir` with `args` and `env`, capturing stderr when `capture_logs`.
    pub fn start_with(
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        capture_logs: bool,
    ) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mtp-apiserver"))
            .current_dir(dir)
            .args(["--listen", "127.0.0.1:0", "--cluster-status", "off"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if capture_logs {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap();
        let rx = lines(child.stdout.take().unwrap());
        let stderr = child.stderr.take().map(lines);
        // Owned by the Server from here on: killed and waited for on drop, panics included.
        let mut server = Server {
            child,
            base: String::new(),
            first_key: None,
            stdout: rx,
            stderr,
        };
        loop {
            let line = server
                .stdout
                .recv_timeout(Duration::from_secs(60))
                .expect("mtp-apiserver did not start listening");
            let t = line.trim();
            if t.starts_with("mtp_") {
                server.first_key = Some(t.to_string());
            }
            if let Some(addr) = t.strip_prefix("mtp-apiserver listening on ") {
                server.base = addr.to_string();
                return server;
            }
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// SIGTERM and wait: the exit status must be success.
    pub fn stop(mut self) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit status {status}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status, ETag and JSON body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Value,
}

/// Sends a request with a bearer key and an optional JSON body.
pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<(&str, Value)>,
    if_match: Option<&str>,
) -> Resp {
    let mut b = client.request(method, url).bearer_auth(key);
    if let Some((ct, v)) = body {
        b = b.header("content-type", ct).body(v.to_string());
    }
    if let Some(m) = if_match {
        b = b.header("if-match", m);
    }
    let r = b.send().await.unwrap();
    let status = r.status().as_u16();
    let etag = r
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Resp { status, etag, body }
}

/// The PostgreSQL server of the tests (without database); `MTP_TEST_POSTGRES_URL` overrides.
pub fn postgres_base() -> String {
    std::env::var("MTP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// A fresh database on the shared PostgreSQL, dropped on drop.
pub struct PgDatabase {
    pub name: String,
    pub base: String,
}

impl PgDatabase {
    pub async fn create(base: &str) -> PgDatabase {
        let name = format!("test_api_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(format!("{base}/postgres"))
            .await
            .expect("PostgreSQL must run (see README.md)");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let _ = admin.close().await;
        PgDatabase {
            name,
            base: base.to_string(),
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let base = self.base.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = Database::connect(format!("{base}/postgres")).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

#[path = "../../../mtp-store/tests/common/pg_server.rs"]
mod pg_server;
#[allow(unused_imports)] // used by the fault tests only
pub use pg_server::PgServer;
