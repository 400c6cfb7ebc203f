//! The training set of the profile-guided build (`deploy/pgo/reviews/`, used by
//! `deploy/pgo/train.sh`): every file is an AdmissionReview that the hook at its directory
//! (`<hook path>/<case>-allowed.json` or `-denied.json`) answers with that outcome, so the
//! training run exercises the paths the cluster exercises and not the error paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mtp_bins::webhook::serve::{HookState, registry};
use serde_json::Value;
use tower::ServiceExt;

/// The `.json` files two directories below `root` (`validate/pod-security/x.json`), sorted.
fn reviews(root: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for kind in std::fs::read_dir(root).unwrap() {
        for hook in std::fs::read_dir(kind.unwrap().path()).unwrap() {
            for file in std::fs::read_dir(hook.unwrap().path()).unwrap() {
                files.push(file.unwrap().path());
            }
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn every_training_review_gets_the_answer_its_name_gives() {
    let registry = registry("mtp-system", &HookState::default()).unwrap();
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/pgo/reviews"
    ));
    let files = reviews(root);
    assert!(files.len() >= 6, "{files:?}");
    let mut hooks_seen = std::collections::BTreeSet::new();
    for file in files {
        let name = file.strip_prefix(root).unwrap().display().to_string();
        assert_eq!(file.extension().unwrap(), "json", "{name}");
        let case = file.file_stem().unwrap().to_str().unwrap();
        let allowed = if case.ends_with("-allowed") {
            true
        } else if case.ends_with("-denied") {
            false
        } else {
            panic!("{name}: the case must end in -allowed or -denied");
        };
        // train.sh posts each file to the path of its directory.
        let path = format!(
            "/{}",
            file.parent().unwrap().strip_prefix(root).unwrap().display()
        );
        let webhook = registry
            .hooks()
            .iter()
            .find(|h| h.path() == path)
            .unwrap_or_else(|| panic!("{name}: no hook serves {path}"));
        hooks_seen.insert(webhook.name().to_string());

        let body = std::fs::read(&file).unwrap();
        let review: Value = serde_json::from_slice(&body).unwrap();
        let response = registry
            .router()
            .oneshot(
                Request::builder()
                    .method(Method::POST)
                    .uri(format!("{path}?timeout=10s"))
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
    for hook in [
        "pod-security.mtp.dev",
        "tenant-labels.mtp.dev",
        "protected-namespaces.mtp.dev",
    ] {
        assert!(hooks_seen.contains(hook), "no training review for {hook}");
    }
}
