//! PostgreSQL restarted mid-test: calls answer `Unavailable` while it is down, and the next call
//! after it is back works without restarting anything. Runs a throwaway server of its own
//! (initdb + pg_ctl in a temp dir, on a free port), never touching the shared one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mtp_core::{ListParams, NewTenant, Role, Store, TenantFields, Tier};
use mtp_store::SeaStore;

/// Finds a PostgreSQL binary (`initdb`, `pg_ctl`) on PATH or under /usr/lib/postgresql.
fn pg_bin(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    }) {
        return path;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("{name} not found: install PostgreSQL server binaries (.ci/install-deps)")
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command run as the `postgres` user when we are root (initdb refuses root).
fn as_pg_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway PostgreSQL server, stopped and removed on drop.
struct Server {
    dir: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let dir = common::temp_dir("pg");
        let data = dir.join("data");
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(&dir);
                    c
                },
                "chown",
            );
        }
        let mut initdb = as_pg_user(&pg_bin("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        run(initdb, "initdb");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Server { dir, data, port };
        server.pg_ctl_start();
        server
    }

    fn pg_ctl_start(&self) {
        let mut cmd = as_pg_user(&pg_bin("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
                self.port,
                self.dir.display()
            ))
            .args(["-w", "-t", "60", "start"]);
        run(cmd, "pg_ctl start");
    }

    fn pg_ctl_stop(&self) {
        let mut cmd = as_pg_user(&pg_bin("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "60", "stop"]);
        run(cmd, "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let mut cmd = as_pg_user(&pg_bin("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = cmd.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_is_unavailable_then_recovers() {
    let server = Server::start();
    let store = SeaStore::open(&server.url()).await.unwrap();
    let t = store
        .create_tenant(NewTenant {
            name: "acme".into(),
            fields: TenantFields::new("ACME", Tier::Pro, "ops@acme.io"),
        })
        .await
        .unwrap();
    store.add_member(t.id, "alice", Role::Admin).await.unwrap();

    server.pg_ctl_stop();
    let started = Instant::now();
    let err = store.get_tenant(t.id).await.unwrap_err();
    assert!(err.is_unavailable(), "get while down: {err:?}");
    let err = store
        .create_tenant(NewTenant {
            name: "beta".into(),
            fields: TenantFields::new("Beta", Tier::Free, "ops@beta.io"),
        })
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "create while down: {err:?}");
    let err = store
        .list_tenants(&ListParams::default())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "list while down: {err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "an outage must answer quickly, not hang"
    );

    server.pg_ctl_start();
    // The very next call works: the pool replaces its dead connections by itself.
    let back = store.get_tenant(t.id).await.unwrap();
    assert_eq!(back.name, "acme");
    assert_eq!(store.list_members(t.id).await.unwrap().len(), 1);
    let beta = store
        .create_tenant(NewTenant {
            name: "beta".into(),
            fields: TenantFields::new("Beta", Tier::Free, "ops@beta.io"),
        })
        .await
        .unwrap();
    assert_eq!(beta.version, 1);
    assert_eq!(
        store
            .list_tenants(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2,
        "nothing written while down"
    );
    store.close().await.unwrap();
}
