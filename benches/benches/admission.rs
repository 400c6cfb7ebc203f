//! The admission webhook router of `mtp-policy::admission`, without sockets: one `oneshot` call per
//! iteration through axum with the kube-rs AdmissionReview capture (5 KB, a denial), as
//! `mtp-webhook serve` answers it behind TLS.
//!
//! - `router/pod-security`: body in, AdmissionReview response bytes out (what the server pays per
//!   request beyond TLS and HTTP framing);
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
use mtp_policy::admission::{Registry, Webhook};
use tower::ServiceExt;

fn capture() -> Vec<u8> {
    let dir = match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mtp-policy/testdata/conformance")
        }
    };
    std::fs::read(dir.join("admissionreview/pods-create.kube-rs.json"))
        .expect("read the AdmissionReview capture")
}

fn bench(c: &mut Criterion) {
    let body = axum::body::Bytes::from(capture());
    let hook: std::sync::Arc<dyn Webhook> = std::sync::Arc::new(PodSecurityHook::new("mtp-system"));
    let registry = Registry::new([hook]).expect("registry");
    let router = registry.router();
    let healthz: Router = Router::new().route("/healthz", get(|| async { "ok" }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("admission");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("router/pod-security", |b| {
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
