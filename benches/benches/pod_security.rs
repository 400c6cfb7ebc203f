//! The admission hot path of `mtp-policy::pod_security` on a real AdmissionReview capture
//! (`mtp-policy/testdata/conformance/admissionreview/pods-create.kube-rs.json`, 5 KB):
//!
//! - `review/mtp`: the whole evaluation (parse, check at profile mtp, build the response);
//! - `floor/ignored_any`: serde merely validating the same bytes, the floor for any parser;
//! - `typed/k8s_openapi`: deserializing the review into k8s-openapi types, which is what a
//!   webhook built on the full `Pod` type pays before it checks anything.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use k8s_openapi::api::authentication::v1::UserInfo;
use k8s_openapi::api::core::v1::Pod;
use mtp_policy::pod_security::{Policy, Profile};
use serde::Deserialize;

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

/// An AdmissionReview with the object typed as k8s-openapi's `Pod`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct TypedReview {
    api_version: String,
    kind: String,
    request: TypedRequest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct TypedRequest {
    uid: String,
    operation: String,
    namespace: Option<String>,
    name: Option<String>,
    user_info: UserInfo,
    object: Option<Pod>,
    old_object: Option<Pod>,
    dry_run: Option<bool>,
}

fn bench(c: &mut Criterion) {
    let body = capture();
    let mut group = c.benchmark_group("pod_security");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let mtp = Policy::new(Profile::Mtp);
    let restricted = Policy::new(Profile::Restricted);
    group.bench_function("review/mtp", |b| {
        b.iter(|| mtp.review_json(black_box(&body)).unwrap())
    });
    group.bench_function("review/restricted", |b| {
        b.iter(|| restricted.review_json(black_box(&body)).unwrap())
    });
    group.bench_function("floor/ignored_any", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&body)).unwrap())
    });
    group.bench_function("typed/k8s_openapi", |b| {
        b.iter(|| serde_json::from_slice::<TypedReview>(black_box(&body)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
