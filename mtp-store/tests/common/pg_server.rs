//! A throwaway PostgreSQL server for fault tests (initdb + pg_ctl in a temp dir, on a free
//! port), never the shared one. Shared by mtp-store's and mtp-bins' tests (`#[path]` module).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// A throwaway PostgreSQL server (initdb + pg_ctl in a temp dir, on a free port), stopped and
/// removed on drop.
pub struct PgServer {
    dir: PathBuf,
    data: PathBuf,
    port: u16,
}

impl PgServer {
    pub fn start() -> PgServer {
        let dir = std::env::temp_dir().join(format!(
            "mtp-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
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
        let server = PgServer { dir, data, port };
        server.pg_ctl_start();
        server
    }

    pub fn pg_ctl_start(&self) {
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

    pub fn pg_ctl_stop(&self) {
        let mut cmd = as_pg_user(&pg_bin("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "60", "stop"]);
        run(cmd, "pg_ctl stop");
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut cmd = as_pg_user(&pg_bin("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = cmd.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
