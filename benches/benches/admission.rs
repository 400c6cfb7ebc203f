//! The admission webhook router of `mtp-policy::admission`, without sockets: one `oneshot` call per
//! iteration through axum, as `mtp-webhook serve` answers it behind TLS, on two captures of a Pod
//! CREATE (both denials): `kube-apiserver` (2.5 KB, compact JSON as the apiserver sends it, the
//! realistic input) and `kube-rs` (5 KB, pretty-printed).
//!
//! - `router/pod-security/<capture>`: body in, AdmissionReview response bytes out (what the server
//!   pays per request beyond TLS and HTTP framing);
//! - `hook/pod-security/<capture>`: the hook's `review` (one pass) and the response bytes, no axum;
//! - `hook/raw-default/<capture>`: the framework's default path (`review_raw`: the view with the
//!   objects kept raw, then `admit`, which reads the object) and the response bytes;
//! - `router/healthz-like`: an axum route answering a static body, the cost of the router alone.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::BodyExt;
use mtp_policy::admission::hooks::PodSecurityHook;
use mtp_policy::admission::{Registry, Webhook, review_raw};
use tower::ServiceExt;

/// The captures, by short name.
const CAPTURES: [(&str, &str); 2] = [
    ("kube-apiserver", "pods-create.kube-apiserver-v1.26.json"),
    ("kube-rs", "pods-create.kube-rs.json"),
];

fn capture(file: &str) -> Vec<u8> {
    let dir = match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mtp-policy/testdata/conformance")
        }
    };
    std::fs::read(dir.join("admissionreview").join(file)).expect("read the AdmissionReview capture")
}

fn bench(c: &mut Criterion) {
    let pod_security = PodSecurityHook::new("mtp-system");
    let hook: std::sync::Arc<dyn Webhook> = std::sync::Arc::new(pod_security.clone());
    let registry = Registry::new([hook]).expect("registry");
    let router = registry.router();
    let healthz: Router = Router::new().route("/healthz", get(|| async { "ok" }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("admission");
    for (name, file) in CAPTURES {
        let body = axum::body::Bytes::from(capture(file));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("router/pod-security/{name}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let request = Request::post("/validate/pod-security")
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body.clone()))
                        .unwrap();
                    let response = router.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    black_box(response.into_body().collect().await.unwrap().to_bytes())
                })
            })
        });
        group.bench_function(format!("hook/pod-security/{name}"), |b| {
            b.iter(|| {
                let reviewed = pod_security.review(black_box(&body)).unwrap();
                black_box(reviewed.response.to_review_bytes(&reviewed.uid))
            })
        });
        group.bench_function(format!("hook/raw-default/{name}"), |b| {
            b.iter(|| {
                let reviewed = review_raw(&pod_security, black_box(&body)).unwrap();
                black_box(reviewed.response.to_review_bytes(&reviewed.uid))
            })
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("router/healthz-like", |b| {
        b.iter(|| {
            rt.block_on(async {
                let request = Request::get("/healthz").body(Body::empty()).unwrap();
                let response = healthz.clone().oneshot(request).await.unwrap();
                black_box(response.into_body().collect().await.unwrap().to_bytes())
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
