//! The training set of the profile-guided build (`deploy/pgo/reviews/`, used by
//! `deploy/pgo/train.sh`): every file is an AdmissionReview that the hook its name gives
//! (`<hook>--<case>-allowed.json` or `-denied.json`) answers with that outcome, so the training
//! run exercises the paths the cluster exercises and not the error paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mtp_bins::webhook::serve::registry;
use mtp_policy::admission::hooks::NamespaceCache;
use serde_json::Value;
use tower::ServiceExt;

#[tokio::test]
async fn every_training_review_gets_the_answer_its_name_gives() {
    let registry = registry("mtp-system", Arc::new(NamespaceCache::default())).unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/pgo/reviews");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    let mut hooks_seen = std::collections::BTreeSet::new();
    for file in files {
        let name = file.file_stem().unwrap().to_str().unwrap().to_string();
        let (hook, case) = name.split_once("--").expect("<hook>--<case>.json");
        let allowed = if case.ends_with("-allowed") {
            true
        } else if case.ends_with("-denied") {
            false
        } else {
            panic!("{name}: the case must end in -allowed or -denied");
        };
        let webhook = registry
            .hooks()
            .iter()
            .find(|h| h.name() == format!("{hook}.mtp.dev"))
            .unwrap_or_else(|| panic!("{name}: no hook {hook}.mtp.dev"));
        // train.sh posts to mutate/<hook> for the mutating hook, validate/<hook> otherwise.
        let prefix = if hook == "tenant-labels" {
            "mutate"
        } else {
            "validate"
        };
        assert_eq!(webhook.path(), format!("/{prefix}/{hook}"), "{name}");
        hooks_seen.insert(hook.to_string());

        let body = std::fs::read(&file).unwrap();
        let review: Value = serde_json::from_slice(&body).unwrap();
        let response = registry
            .router()
            .oneshot(
                Request::builder()
                    .method(Method::POST)
                    .uri(format!("{}?timeout=10s", webhook.path()))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let answer: Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        assert_eq!(
            answer["response"]["uid"], review["request"]["uid"],
            "{name}: {answer}"
        );
        assert_eq!(answer["response"]["allowed"], allowed, "{name}: {answer}");
        if !allowed {
            assert_eq!(answer["response"]["status"]["code"], 403, "{name}");
        }
    }
    // The training covers each hook a workload's writes go through.
    for hook in ["pod-security", "tenant-labels", "protected-namespaces"] {
        assert!(hooks_seen.contains(hook), "no training review for {hook}");
    }
}
