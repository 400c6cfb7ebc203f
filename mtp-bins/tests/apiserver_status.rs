//! Tenant status read from the cluster's Tenant resources, against a mocked apiserver
//! (`common::mock_client_as`, which refuses what the shipped RBAC refuses): ready, not yet created
//! (pending), unreadable (unknown). The API only reads: every call it makes is a GET.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::body::Body as AxumBody;
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use mtp_auth::chain::NoAuth;
use mtp_bins::apiserver::status::KubeStatus;
use mtp_bins::apiserver::{ApiState, app};
use mtp_core::{NewAuditRecord, NewTenant, Store, TenantFields, Tier};
use mtp_store::SeaStore;
use serde_json::{Value, json};
use tower::ServiceExt;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

async fn answer(handle: &mut Handle, status: u16, body: Value) {
    let (request, send) =
        tokio::time::timeout(std::time::Duration::from_secs(5), handle.next_request())
            .await
            .expect("the status call never came")
            .expect("the client went away");
    assert_eq!(request.method(), Method::GET, "the API never writes");
    assert_eq!(request.uri().path(), "/apis/mtp.dev/v1alpha1/tenants/acme");
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap(),
    );
}

fn tenant(status: Value) -> Value {
    json!({
        "apiVersion": "mtp.dev/v1alpha1", "kind": "Tenant",
        "metadata": {"name": "acme"},
        "spec": {"displayName": "acme", "tier": "pro", "ownerEmail": "o@x.io"},
        "status": status,
    })
}

#[tokio::test]
async fn status_comes_from_the_tenant_resource() {
    let store = Arc::new(SeaStore::open("sqlite::memory:").await.unwrap());
    store
        .create_tenant_audited(
            NewTenant {
                name: "acme".into(),
                fields: TenantFields::new("acme", Tier::Pro, "o@x.io"),
            },
            vec![],
            NewAuditRecord {
                actor: "t".into(),
                action: "tenant.create".into(),
                target: "tenant/acme".into(),
                outcome: "success".into(),
                request_id: None,
            },
        )
        .await
        .unwrap();
    let (client, mut handle) = common::mock_client_as(mtp_bins::install::APISERVER);
    let mut state = ApiState::new(
        store,
        Arc::new(NoAuth::new("dev", vec!["mtp:platform-admins".into()])),
    );
    state.status = Arc::new(KubeStatus::new(client));
    let router = app(state);
    let get = || {
        let router = router.clone();
        tokio::spawn(async move {
            let resp = router
                .oneshot(
                    Request::get("/api/v1/tenants/acme")
                        .header("authorization", "Bearer x")
                        .body(AxumBody::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()["status"].clone()
        })
    };

    let call = get();
    answer(
        &mut handle,
        200,
        tenant(
            json!({"conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled",
                       "message": "all objects applied"}],
                      "namespaces": ["tenant-acme"]}),
        ),
    )
    .await;
    let s = call.await.unwrap();
    assert_eq!(s["state"], "ready");
    assert_eq!(s["namespaces"], json!(["tenant-acme"]));
    assert_eq!(s["conditions"][0]["reason"], "Reconciled");

    let call = get();
    answer(
        &mut handle,
        404,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
               "code": 404, "message": "tenants.mtp.dev \"acme\" not found"}),
    )
    .await;
    assert_eq!(call.await.unwrap()["state"], "pending");

    let call = get();
    answer(
        &mut handle,
        500,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500,
               "message": "etcd is down"}),
    )
    .await;
    let s = call.await.unwrap();
    assert_eq!(s["state"], "unknown");
    assert!(
        !s.to_string().contains("etcd"),
        "cluster errors are not shown: {s}"
    );
}
