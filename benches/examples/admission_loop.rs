//! Runs one admission path N times on an AdmissionReview capture (the kube-rs one unless a third
//! argument names another file of `testdata/conformance/admissionreview`), for instruction counts
//! that do not depend on what else the machine is doing:
//!
//! ```sh
//! cargo build --release -p mtp-benches --example admission_loop
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/admission_loop review 20000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/admission_loop \
//!     review 20000 pods-create.kube-apiserver-v1.26.json
//! ```
//!
//! Modes: `floor` (serde IgnoredAny), `review` (the whole mtp-profile evaluation), `typed`
//! (k8s-openapi types), `hook` (the pod-security webhook's `review`, response bytes included),
//! `raw` (the framework's default `review_raw` path with the same hook), `router` (one axum `oneshot` call through the admission router per iteration), `none` (read
//! the file only, to subtract).
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Pod;
use mtp_policy::admission::Webhook;
use mtp_policy::admission::hooks::PodSecurityHook;
use mtp_policy::admission::{Registry, review_raw};
use mtp_policy::pod_security::{Policy, Profile};
use serde::Deserialize;
use tower::ServiceExt;

#[derive(Deserialize)]
#[allow(dead_code)]
struct TypedReview {
    request: TypedRequest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct TypedRequest {
    uid: String,
    object: Option<Pod>,
    old_object: Option<Pod>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("review");
    let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let dir = std::env::var_os("MTP_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mtp-policy/testdata/conformance")
        });
    let file = args
        .get(3)
        .map_or("pods-create.kube-rs.json", String::as_str);
    let Ok(body) = std::fs::read(dir.join("admissionreview").join(file)) else {
        eprintln!("cannot read the capture under {}", dir.display());
        return ExitCode::FAILURE;
    };
    let policy = Policy::new(Profile::Mtp);
    let hook = PodSecurityHook::new("mtp-system");
    let router = match Registry::new([Arc::new(hook.clone()) as Arc<dyn Webhook>]) {
        Ok(registry) => registry.router(),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        eprintln!("cannot start a tokio runtime");
        return ExitCode::FAILURE;
    };
    let bytes = axum::body::Bytes::from(body.clone());
    let mut ok = 0usize;
    for _ in 0..n {
        let body = black_box(&body[..]);
        ok += match mode {
            "floor" => serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok(),
            "review" => policy.review_json(body).is_ok(),
            "typed" => serde_json::from_slice::<TypedReview>(body).is_ok(),
            "hook" => hook
                .review(body)
                .map(|r| r.response.to_review_bytes(&r.uid))
                .is_ok(),
            "raw" => review_raw(&hook, body)
                .map(|r| r.response.to_review_bytes(&r.uid))
                .is_ok(),
            "router" => rt.block_on(async {
                let Ok(request) = axum::http::Request::post("/validate/pod-security")
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(bytes.clone()))
                else {
                    return false;
                };
                match router.clone().oneshot(request).await {
                    Ok(response) => response.into_body().collect().await.is_ok(),
                    Err(_) => false,
                }
            }),
            _ => true,
        } as usize;
    }
    println!("{mode}: {ok}/{n} ok");
    ExitCode::SUCCESS
}
