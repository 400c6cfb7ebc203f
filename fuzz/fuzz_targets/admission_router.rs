//! The admission router with every hook mtp ships: any body to any hook path, with or without
//! the JSON content type, gets a well-formed AdmissionReview response (200, the request's uid
//! echoed) or a problem+json 4xx; never a panic, a 5xx or a hang (libFuzzer's `-timeout`).
#![no_main]

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use mtp_policy::admission::hooks::{
    ManagedObjectsHook, NamespaceCache, NamespaceLabelsHook, PodSecurityHook,
    ProtectedNamespacesHook, TenantLabelsHook, TenantOwnershipHook,
};
use mtp_policy::admission::{Registry, Webhook};
use serde_json::Value;
use tower::ServiceExt;

struct App {
    router: axum::Router,
    paths: Vec<String>,
    runtime: tokio::runtime::Runtime,
}

static APP: LazyLock<App> = LazyLock::new(|| {
    let cache = Arc::new(NamespaceCache::default());
    cache.set("colin-coder", Some("colin"));
    let hooks: Vec<Arc<dyn Webhook>> = vec![
        Arc::new(PodSecurityHook::new("mtp-system")),
        Arc::new(TenantLabelsHook::new(cache, "mtp-system")),
        Arc::new(ProtectedNamespacesHook::new("mtp-system")),
        Arc::new(NamespaceLabelsHook::new("mtp-system")),
        Arc::new(ManagedObjectsHook::new("mtp-system")),
        Arc::new(TenantOwnershipHook::new("mtp-system")),
    ];
    let paths = hooks.iter().map(|h| h.path().to_owned()).collect();
    let registry = Registry::new(hooks).expect("the shipped hooks register");
    App {
        router: registry.router(),
        paths,
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let app = &*APP;
    let path = &app.paths[usize::from(selector) % app.paths.len()];
    let json_type = selector & 0x80 == 0;
    let mut request = Request::builder().method(Method::POST).uri(path.as_str());
    if json_type {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return;
    };
    let (status, content_type, bytes) = app.runtime.block_on(async {
        let response = app.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.into_body().collect().await.expect("a body").to_bytes();
        (status, content_type, bytes)
    });
    let answer: Value = serde_json::from_slice(&bytes).expect("every answer is JSON");
    if status == StatusCode::OK {
        assert!(json_type, "200 to a body that was not application/json");
        assert_eq!(content_type, "application/json");
        assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(answer["kind"], "AdmissionReview");
        let response = &answer["response"];
        assert!(response["allowed"].is_boolean(), "{answer}");
        let sent: Value = serde_json::from_slice(body).expect("a 200 answers only a JSON body");
        assert_eq!(response["uid"], sent["request"]["uid"], "the uid is not echoed");
    } else {
        assert!(status.is_client_error(), "{status} {answer}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(answer["status"], status.as_u16());
        assert!(answer["detail"].is_string(), "{answer}");
    }
});
