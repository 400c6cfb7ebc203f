//! PostgreSQL stopped during a request stream: the API answers 503 problems (never 500, never a
//! hang), writes nothing partial, and recovers without a restart when the database returns.
//! Runs its own throwaway PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_common;

use std::time::{Duration, Instant};

use apiserver_common::{PgServer, Server, TempDir, call};
use reqwest::Method;
use serde_json::json;

async fn create(c: &reqwest::Client, s: &Server, key: &str, name: &str) -> u16 {
    let r = call(
        c,
        Method::POST,
        &s.url("/api/v1/tenants"),
        key,
        Some((
            "application/json",
            json!({"name": name, "tier": "free", "ownerEmail": "o@x.io", "admins": ["alice"]}),
        )),
        None,
    )
    .await;
    if r.status == 503 {
        assert_eq!(
            r.body["type"], "https://mtp.dev/problems/unavailable",
            "{:?}",
            r
        );
    }
    assert!(
        [201, 503].contains(&r.status),
        "create {name} while the database comes and goes: {:?}",
        r
    );
    r.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_without_partial_writes_then_recovers() {
    let pg = PgServer::start();
    let dir = TempDir::new("fault");
    let url = pg.url();
    let s = Server::start(
        dir.path(),
        &[
            "--database-url",
            &url,
            "--rate-limit-rps",
            "10000",
            "--rate-limit-burst",
            "10000",
        ],
    );
    let key = s.first_key.clone().unwrap();
    let c = reqwest::Client::new();
    let mut created = Vec::new();
    let mut refused = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("t{n}")
    };
    for _ in 0..10 {
        let name = next();
        assert_eq!(create(&c, &s, &key, &name).await, 201);
        created.push(name);
    }

    pg.pg_ctl_stop();
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(2) {
        let name = next();
        let t = Instant::now();
        match create(&c, &s, &key, &name).await {
            201 => created.push(name),
            _ => refused.push(name),
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "an outage answers, it does not hang"
        );
        let g = call(
            &c,
            Method::GET,
            &s.url("/api/v1/tenants/t1"),
            &key,
            None,
            None,
        )
        .await;
        assert_eq!(g.status, 503, "{:?}", g);
    }
    assert!(!refused.is_empty(), "requests during the outage get 503");
    let ready = reqwest::get(s.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let health = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "liveness does not depend on the database"
    );

    pg.pg_ctl_start();
    // Recovery without restarting the API.
    let back = Instant::now();
    loop {
        let name = next();
        match create(&c, &s, &key, &name).await {
            201 => {
                created.push(name);
                break;
            }
            _ => refused.push(name),
        }
        assert!(back.elapsed() < Duration::from_secs(30), "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = reqwest::get(s.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    // Exactly the acknowledged tenants exist, each with its members and its audit record.
    for name in &created {
        let g = call(
            &c,
            Method::GET,
            &s.url(&format!("/api/v1/tenants/{name}")),
            &key,
            None,
            None,
        )
        .await;
        assert_eq!(g.status, 200, "{name}");
        assert_eq!(g.body["admins"], json!(["alice"]), "{name}");
        let a = call(
            &c,
            Method::GET,
            &s.url(&format!("/api/v1/tenants/{name}/audit")),
            &key,
            None,
            None,
        )
        .await;
        let ok = a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "tenant.create" && r["outcome"] == "success")
            .count();
        assert_eq!(ok, 1, "{name}: {}", a.body);
    }
    for name in &refused {
        let g = call(
            &c,
            Method::GET,
            &s.url(&format!("/api/v1/tenants/{name}")),
            &key,
            None,
            None,
        )
        .await;
        assert_eq!(g.status, 404, "{name} was refused with 503 but exists");
    }
    let l = call(
        &c,
        Method::GET,
        &s.url("/api/v1/tenants?limit=1000"),
        &key,
        None,
        None,
    )
    .await;
    assert_eq!(l.body["items"].as_array().unwrap().len(), created.len());
    s.stop();
}
