//! schemathesis (PyPI, installed by `.ci/install-deps`) against the running binary's
//! `/openapi.json` with a platform-admin key, every check on: no 5xx, no response that breaks
//! the schema, every schema-valid request accepted and every schema-invalid one refused (so the
//! document states what the server enforces), and the stateful phase, which follows the links
//! from the create operations to the operations on what they created.
//! Bounded: a few examples per operation, one worker, a time budget.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_common;

use std::process::Command;
use std::time::{Duration, Instant};

use apiserver_common::{Server, TempDir, call};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_and_no_schema_violations() {
    let dir = TempDir::new("st");
    let s = Server::start(
        dir.path(),
        &[
            "--rate-limit-rps",
            "100000",
            "--rate-limit-burst",
            "100000",
            "--rate-limit-ip-rps",
            "0",
        ],
    );
    let key = s.first_key.clone().unwrap();
    let c = reqwest::Client::new();
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
    assert_eq!(r.status, 201);
    let doc: serde_json::Value = reqwest::get(s.url("/openapi.json"))
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");

    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let url = s.url("/openapi.json");
        let base = s.base.clone();
        let dir = dir.path().to_path_buf();
        move || {
            Command::new("timeout")
                .current_dir(&dir)
                .args(["120", "schemathesis", "run", &url])
                .args(["--url", &base])
                .args(["-H", &format!("Authorization: Bearer {key}")])
                .args(["--checks", "all"])
                .args(["--max-examples", "8", "--workers", "1", "--no-color"])
                .args(["--phases", "examples,coverage,fuzzing,stateful"])
                .args(["--generation-database", "none", "--request-timeout", "10"])
                .output()
                .expect("schemathesis must be installed (.ci/install-deps)")
        }
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis failed:\n{text}");
    assert!(
        text.contains("Tested: 15") && text.contains(" passed"),
        "every operation is exercised:\n{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "bounded run:\n{text}"
    );
    // The server is still healthy afterwards.
    let h = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(h.status(), 200);
    s.stop();
}
