//! The admission hot path of `mtp-policy::pod_security` on two real AdmissionReview captures of a
//! Pod CREATE (`mtp-policy/testdata/conformance/admissionreview/`): `kube-apiserver`
//! (`pods-create.kube-apiserver-v1.26.json`, 2.5 KB, compact JSON as the apiserver sends it, the
//! realistic input) and `kube-rs` (`pods-create.kube-rs.json`, 5 KB, pretty-printed). Per capture:
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
    let mut group = c.benchmark_group("pod_security");
    let mtp = Policy::new(Profile::Mtp);
    let restricted = Policy::new(Profile::Restricted);
    for (name, file) in CAPTURES {
        let body = capture(file);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("review/mtp/{name}"), |b| {
            b.iter(|| mtp.review_json(black_box(&body)).unwrap())
        });
        group.bench_function(format!("review/restricted/{name}"), |b| {
            b.iter(|| restricted.review_json(black_box(&body)).unwrap())
        });
        group.bench_function(format!("floor/ignored_any/{name}"), |b| {
            b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&body)).unwrap())
        });
        group.bench_function(format!("typed/k8s_openapi/{name}"), |b| {
            b.iter(|| serde_json::from_slice::<TypedReview>(black_box(&body)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
