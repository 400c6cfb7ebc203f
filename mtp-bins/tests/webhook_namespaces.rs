//! The namespace → tenant cache fed by a kube watch, against a mocked apiserver: the initial list
//! fills it, a watch event updates it, and only tenant namespaces are asked for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use kube::client::Body;
use mtp_bins::webhook::namespaces;
use mtp_policy::admission::hooks::{NamespaceCache, TenantLookup};
use serde_json::json;

fn namespace(name: &str, tenant: &str, rv: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "resourceVersion": rv, "labels": {"mtp.dev/tenant": tenant, "kubernetes.io/metadata.name": name}}})
}

async fn eventually(cache: &NamespaceCache, namespace: &str, tenant: Option<&str>) {
    for _ in 0..100 {
        if cache.tenant_of(namespace).as_deref() == tenant {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{namespace} never mapped to {tenant:?}");
}

#[tokio::test]
async fn list_then_watch_events_fill_the_cache() {
    let (client, mut handle) = common::mock_client_as(mtp_bins::install::WEBHOOK);
    let cache = Arc::new(NamespaceCache::default());
    let watch = tokio::spawn(namespaces::watch(client, Arc::clone(&cache)));

    let (request, send) = handle.next_request().await.unwrap();
    assert_eq!(request.uri().path(), "/api/v1/namespaces");
    let query = request.uri().query().unwrap_or_default().to_owned();
    assert!(
        query.contains("labelSelector=mtp.dev%2Ftenant"),
        "only tenant namespaces: {query}"
    );
    assert!(!query.contains("watch=true"), "a list first: {query}");
    let list = json!({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {"resourceVersion": "10"},
                      "items": [namespace("tenant-shop", "shop", "9")]});
    send.send_response(
        Response::builder()
            .body(Body::from(serde_json::to_vec(&list).unwrap()))
            .unwrap(),
    );
    eventually(&cache, "tenant-shop", Some("shop")).await;

    let (request, send) = handle.next_request().await.unwrap();
    let query = request.uri().query().unwrap_or_default().to_owned();
    assert!(
        query.contains("watch=true") && query.contains("resourceVersion=10"),
        "{query}"
    );
    let events = [
        json!({"type": "ADDED", "object": namespace("tenant-bank", "bank", "11")}),
        json!({"type": "DELETED", "object": namespace("tenant-shop", "shop", "12")}),
    ];
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    send.send_response(
        Response::builder()
            .body(Body::from(body.into_bytes()))
            .unwrap(),
    );
    eventually(&cache, "tenant-bank", Some("bank")).await;
    eventually(&cache, "tenant-shop", None).await;
    assert_eq!(cache.len(), 1);
    watch.abort();
}
