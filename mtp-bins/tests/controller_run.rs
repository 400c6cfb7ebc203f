//! The whole `run` wiring against a mocked apiserver: the replica takes the Lease, lists and
//! watches the Tenants and the five owned kinds, reconciles the Tenant it finds (finalizer, the
//! plan's objects, status), and on shutdown releases the Lease.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use common::{failure, mock_client, respond};
use http::Method;
use mtp_bins::controller::ControllerMetrics;
use mtp_bins::controller::run::{Parts, RunArgs, run_with};
use mtp_core::{PlatformSettings, Tenant, TierCatalogue};
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Default)]
struct Apiserver {
    lease: Option<Value>,
    /// Every write: method and path.
    writes: Vec<(Method, String, Value)>,
    /// Open watches (held so the connections stay open), by path.
    watches: Vec<(
        String,
        tower_test::mock::SendResponse<http::Response<kube::client::Body>>,
    )>,
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": format!("{kind}List"), "metadata": {"resourceVersion": "1"}, "items": items})
}

#[tokio::test]
async fn the_leader_reconciles_what_it_finds_and_releases_the_lease_on_shutdown() {
    let (client, mut handle) = mock_client();
    let tenant = {
        let mut t = Tenant::test("acme").with_admin("alice@acme.io");
        t.metadata.resource_version = Some("5".into());
        t.metadata.generation = Some(1);
        serde_json::to_value(t).unwrap()
    };
    let state = Arc::new(Mutex::new(Apiserver::default()));
    let server_state = state.clone();
    let tenant_json = tenant.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let query = request.uri().query().unwrap_or_default().to_owned();
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            let mut s = server_state.lock().unwrap();
            if method == Method::GET && query.contains("watch=true") {
                s.watches.push((path, send));
                continue;
            }
            let lease_path = "/apis/coordination.k8s.io/v1/namespaces/mtp-system/leases";
            let (status, reply) = match (method.clone(), path.as_str()) {
                (Method::GET, p) if p == format!("{lease_path}/mtp-controller") => match &s.lease {
                    Some(l) => (200, l.clone()),
                    None => (404, failure(404, "NotFound", "not found")),
                },
                (Method::POST, p) if p == lease_path => {
                    let mut l = body.clone();
                    l["metadata"]["resourceVersion"] = json!("1");
                    s.lease = Some(l.clone());
                    (201, l)
                }
                (Method::PUT, _) => {
                    let mut l = body.clone();
                    l["metadata"]["resourceVersion"] = json!("2");
                    s.lease = Some(l.clone());
                    s.writes.push((method.clone(), path.clone(), body.clone()));
                    (200, l)
                }
                (Method::GET, "/apis/mtp.dev/v1alpha1/tenants") => {
                    (200, list("Tenant", vec![tenant_json.clone()]))
                }
                (Method::GET, p) => {
                    assert!(
                        query.contains("labelSelector=mtp.dev%2Ftenant"),
                        "{p}?{query}"
                    );
                    (200, list("Object", vec![]))
                }
                (Method::PATCH, p) if p.starts_with("/apis/mtp.dev/") => {
                    s.writes.push((method.clone(), path.clone(), body.clone()));
                    (200, tenant_json.clone())
                }
                (Method::PATCH, _) | (Method::POST, _) => {
                    s.writes.push((method.clone(), path.clone(), body.clone()));
                    (200, body.clone())
                }
                _ => panic!("unexpected call {method} {path}?{query}"),
            };
            drop(s);
            respond(send, status, &reply);
        }
    });

    let args = Cli::parse_from(["mtp-controller", "--identity", "replica-1"]).run;
    let parts = Parts {
        client,
        catalogue: TierCatalogue::default(),
        settings: PlatformSettings::default(),
        store: None,
        metrics: Arc::new(ControllerMetrics::default()),
        ready: Arc::new(AtomicBool::new(false)),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let metrics = parts.metrics.clone();
    let runner = tokio::spawn(async move {
        run_with(parts, &args, async move {
            let _ = stop_rx.await;
        })
        .await
    });

    // Wait until the status is written: the last step of the reconcile.
    let status_path = "/apis/mtp.dev/v1alpha1/tenants/acme/status";
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if state
                .lock()
                .unwrap()
                .writes
                .iter()
                .any(|(_, p, _)| p == status_path)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the Tenant was never reconciled");
    assert!(metrics.encode().contains("mtp_controller_leader 1"));

    // A hand edit of the namespace (its Pod Security label removed) arrives on the watch: the
    // tenant is reconciled again and the namespace re-applied.
    let applies_of_ns = |s: &Apiserver| {
        s.writes
            .iter()
            .filter(|(m, p, _)| m == Method::PATCH && p == "/api/v1/namespaces/tenant-acme")
            .count()
    };
    let namespace_watch = {
        let mut s = state.lock().unwrap();
        assert_eq!(applies_of_ns(&s), 1);
        let i = s
            .watches
            .iter()
            .position(|(p, _)| p == "/api/v1/namespaces")
            .expect("namespaces are watched");
        s.watches.remove(i).1
    };
    let edited = json!({"type": "MODIFIED", "object": {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "tenant-acme", "resourceVersion": "9",
            "labels": {"mtp.dev/tenant": "acme", "app.kubernetes.io/managed-by": "mtp"},
            "ownerReferences": [{"apiVersion": "mtp.dev/v1alpha1", "kind": "Tenant", "name": "acme",
                "uid": "00000000-0000-0000-0000-000000000001", "controller": true, "blockOwnerDeletion": true}]}}});
    namespace_watch.send_response(
        http::Response::builder()
            .status(200)
            .body(kube::client::Body::from(format!("{edited}\n").into_bytes()))
            .unwrap(),
    );
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if applies_of_ns(&state.lock().unwrap()) == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the edited namespace was not repaired");
    {
        let s = state.lock().unwrap();
        let (_, _, body) = s
            .writes
            .iter()
            .rev()
            .find(|(_, p, _)| p == "/api/v1/namespaces/tenant-acme")
            .unwrap();
        assert_eq!(
            body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "restricted"
        );
    }

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), runner)
        .await
        .expect("the controller did not stop")
        .unwrap()
        .unwrap();

    let s = state.lock().unwrap();
    let paths: Vec<String> = s
        .writes
        .iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert_eq!(
        paths[..11],
        [
            "PATCH /apis/mtp.dev/v1alpha1/tenants/acme",
            "PATCH /api/v1/namespaces/tenant-acme",
            "PATCH /apis/rbac.authorization.k8s.io/v1/clusterroles/mtp-tenant-acme",
            "PATCH /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/mtp-tenant-acme",
            "PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-admins",
            "PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-operators",
            "PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-viewers",
            "PATCH /apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/tenant-isolation",
            "PATCH /api/v1/namespaces/tenant-acme/limitranges/tenant-defaults",
            "PATCH /api/v1/namespaces/tenant-acme/resourcequotas/tenant-quota",
            "PATCH /apis/mtp.dev/v1alpha1/tenants/acme/status",
        ]
    );
    assert_eq!(
        paths.last().unwrap(),
        "PUT /apis/coordination.k8s.io/v1/namespaces/mtp-system/leases/mtp-controller"
    );
    let release = &s.writes.last().unwrap().2;
    assert!(
        release["spec"].get("holderIdentity").is_none(),
        "the Lease is released on shutdown: {release}"
    );
    assert!(
        !s.watches.is_empty(),
        "the owned kinds and the Tenants are watched"
    );
}
