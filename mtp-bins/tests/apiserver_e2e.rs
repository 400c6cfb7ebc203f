//! End to end over real sockets: the `mtp-apiserver` binary on SQLite and on PostgreSQL, restarted
//! between steps; first-start key generation; SIGHUP reload of the keys file; SIGTERM exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_common;

use std::time::Duration;

use apiserver_common::{PgDatabase, Server, TempDir, call, postgres_base};
use reqwest::Method;
use serde_json::json;

const LIMITS: [&str; 4] = ["--rate-limit-rps", "1000", "--rate-limit-burst", "1000"];

fn start(dir: &TempDir, db: &str) -> Server {
    let mut args = vec!["--database-url", db];
    args.extend(LIMITS);
    Server::start(dir.path(), &args)
}

/// The whole flow, restarting the server between steps; nothing may be lost.
async fn flow(db: &str) {
    let dir = TempDir::new("e2e");
    let c = reqwest::Client::new();
    let s = start(&dir, db);
    let key = s.first_key.clone().expect("a first start prints the key");
    let keys = std::fs::read_to_string(dir.path().join("mtp-api-keys")).unwrap();
    assert!(!keys.contains(&key), "only the hash is stored");
    let w = call(&c, Method::GET, &s.url("/api/v1/whoami"), &key, None, None).await;
    assert_eq!(w.body["platformAdmin"], true, "{:?}", w);

    let r = call(
        &c,
        Method::POST,
        &s.url("/api/v1/tenants"),
        &key,
        Some((
            "application/json",
            json!({"name": "acme", "tier": "pro", "ownerEmail": "ops@acme.io", "admins": ["alice"]}),
        )),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r);
    for name in ["beta", "gamma"] {
        let r = call(
            &c,
            Method::POST,
            &s.url("/api/v1/tenants"),
            &key,
            Some((
                "application/json",
                json!({"name": name, "tier": "free", "ownerEmail": "o@x.io"}),
            )),
            None,
        )
        .await;
        assert_eq!(r.status, 201);
    }
    s.stop();

    // Restart: no new key, everything still there.
    let s = start(&dir, db);
    assert!(s.first_key.is_none(), "the key is generated only once");
    let l = call(
        &c,
        Method::GET,
        &s.url("/api/v1/tenants?limit=2"),
        &key,
        None,
        None,
    )
    .await;
    assert_eq!(l.body["items"].as_array().unwrap().len(), 2);
    let cont = l.body["continue"].as_str().unwrap().to_string();
    let g = call(
        &c,
        Method::GET,
        &s.url("/api/v1/tenants/acme"),
        &key,
        None,
        None,
    )
    .await;
    assert_eq!(g.status, 200);
    assert_eq!(g.etag.as_deref(), Some("\"1\""));
    assert_eq!(g.body["admins"], json!(["alice"]));
    let mut body = g.body.clone();
    body["displayName"] = json!("ACME Inc");
    let u = call(
        &c,
        Method::PUT,
        &s.url("/api/v1/tenants/acme"),
        &key,
        Some(("application/json", body.clone())),
        Some("\"1\""),
    )
    .await;
    assert_eq!(u.status, 200, "{:?}", u);
    assert_eq!(u.etag.as_deref(), Some("\"2\""));
    let stale = call(
        &c,
        Method::PUT,
        &s.url("/api/v1/tenants/acme"),
        &key,
        Some(("application/json", body)),
        Some("\"1\""),
    )
    .await;
    assert_eq!(stale.status, 409);
    s.stop();

    let s = start(&dir, db);
    // The cursor of the previous process still works.
    let l2 = call(
        &c,
        Method::GET,
        &s.url(&format!("/api/v1/tenants?limit=2&continue={cont}")),
        &key,
        None,
        None,
    )
    .await;
    assert_eq!(l2.body["items"][0]["name"], "gamma");
    let p = call(
        &c,
        Method::PATCH,
        &s.url("/api/v1/tenants/acme"),
        &key,
        Some((
            "application/merge-patch+json",
            json!({"egress": "internet"}),
        )),
        Some("\"2\""),
    )
    .await;
    assert_eq!(p.status, 200, "{:?}", p);
    assert_eq!(p.body["displayName"], "ACME Inc");
    let m = call(
        &c,
        Method::POST,
        &s.url("/api/v1/tenants/acme/members"),
        &key,
        Some((
            "application/json",
            json!({"userId": "bob", "role": "viewer"}),
        )),
        None,
    )
    .await;
    assert_eq!(m.status, 201);
    s.stop();

    let s = start(&dir, db);
    let g = call(
        &c,
        Method::GET,
        &s.url("/api/v1/tenants/acme"),
        &key,
        None,
        None,
    )
    .await;
    assert_eq!(g.body["egress"], "internet");
    assert_eq!(g.body["viewers"], json!(["bob"]));
    assert_eq!(g.body["version"], 4);
    let d = call(
        &c,
        Method::DELETE,
        &s.url("/api/v1/tenants/acme/members/bob"),
        &key,
        None,
        None,
    )
    .await;
    assert_eq!(d.status, 204);
    let a = call(
        &c,
        Method::GET,
        &s.url("/api/v1/tenants/acme/audit"),
        &key,
        None,
        None,
    )
    .await;
    let actions: Vec<&str> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "tenant.update",
            "tenant.update",
            "tenant.update",
            "member.add",
            "member.remove"
        ]
    );
    let d = call(
        &c,
        Method::DELETE,
        &s.url("/api/v1/tenants/acme"),
        &key,
        None,
        None,
    )
    .await;
    assert_eq!(d.status, 204);
    s.stop();

    let s = start(&dir, db);
    let g = call(
        &c,
        Method::GET,
        &s.url("/api/v1/tenants/acme"),
        &key,
        None,
        None,
    )
    .await;
    assert_eq!(g.status, 404);
    let l = call(&c, Method::GET, &s.url("/api/v1/tenants"), &key, None, None).await;
    assert_eq!(l.body["items"].as_array().unwrap().len(), 2);
    let ready = reqwest::get(s.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_flow_survives_restarts() {
    let dir = TempDir::new("sqlite");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("mtp.db").display());
    flow(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_flow_survives_restarts() {
    let db = PgDatabase::create(&postgres_base()).await;
    flow(&db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_start_on_sqlite_and_sighup_reloads_keys() {
    let dir = TempDir::new("defaults");
    // No --database-url, no keys file: mtp.db and mtp-api-keys in the working directory.
    let s = Server::start(dir.path(), &[]);
    let key = s.first_key.clone().unwrap();
    assert!(dir.path().join("mtp.db").exists());
    let c = reqwest::Client::new();
    let w = call(&c, Method::GET, &s.url("/api/v1/whoami"), &key, None, None).await;
    assert_eq!(w.body["user"], "apikey:platform-admin");
    assert_eq!(w.body["groups"], json!(["mtp:platform-admins"]));
    let second = "second-secret-key";
    let line = format!("ops:{}:team\n", mtp_auth::static_keys::hash_key(second));
    let path = dir.path().join("mtp-api-keys");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&line);
    std::fs::write(&path, text).unwrap();
    s.signal("HUP");
    let mut ok = false;
    for _ in 0..40 {
        let w = call(
            &c,
            Method::GET,
            &s.url("/api/v1/whoami"),
            second,
            None,
            None,
        )
        .await;
        if w.status == 200 {
            assert_eq!(w.body["user"], "apikey:ops");
            assert_eq!(w.body["platformAdmin"], false);
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the new key works after SIGHUP");
    // A broken file keeps the previous keys.
    std::fs::write(&path, "garbage\n").unwrap();
    s.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let w = call(&c, Method::GET, &s.url("/api/v1/whoami"), &key, None, None).await;
    assert_eq!(w.status, 200);
    s.stop();
}

#[test]
fn an_address_in_use_names_the_flag() {
    let dir = TempDir::new("inuse");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mtp-apiserver"))
        .current_dir(dir.path())
        .args(["--listen", &addr, "--database-url", "sqlite::memory:"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr} (given by --listen)"))
            && err.contains("in use"),
        "{err}"
    );
}

#[test]
fn bad_flags_and_config_files_are_clear_errors() {
    let dir = TempDir::new("cfg");
    let bin = env!("CARGO_BIN_EXE_mtp-apiserver");
    let out = std::process::Command::new(bin)
        .current_dir(dir.path())
        .args(["--listen", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    let cfg = dir.path().join("api.yaml");
    std::fs::write(&cfg, "listen: 127.0.0.1:0\nlisten-port: 9\n").unwrap();
    let out = std::process::Command::new(bin)
        .current_dir(dir.path())
        .args(["--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("api.yaml") && err.contains("listen-port"),
        "{err}"
    );
    // A database URL with a password that cannot be reached: the password is never printed.
    let out = std::process::Command::new(bin)
        .current_dir(dir.path())
        .args([
            "--database-url",
            "postgres://mtp:hunter2-secret@127.0.0.1:1/mtp",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("cannot open the database"), "{all}");
    assert!(!all.contains("hunter2-secret"), "{all}");
}
