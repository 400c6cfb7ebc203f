//! Store → cluster sync with a real SQLite store (mtp-store) and a mocked apiserver: creates,
//! updates and deletes in the store lead to the right Tenant calls; an unreachable apiserver
//! followed by recovery loses nothing and duplicates nothing; a no-op round makes no call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{call, failure, mock_client};
use http::Method;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use mtp_bins::controller::sync::{STORE_ID_ANNOTATION, SyncReport, sync_once};
use mtp_core::{NewTenant, Role, Store, Tenant, TenantFields, Tier};
use mtp_store::SeaStore;
use serde_json::{Value, json};

const TENANTS: &str = "/apis/mtp.dev/v1alpha1/tenants";

async fn create(store: &SeaStore, name: &str, tier: Tier) -> mtp_core::TenantRecord {
    store
        .create_tenant(NewTenant {
            name: name.into(),
            fields: TenantFields::new(&format!("{name} Inc."), tier, "ops@example.com"),
        })
        .await
        .unwrap()
}

/// Puts an applied Tenant into the cache, as the controller's watch would.
fn observe(writer: &mut Writer<Tenant>, body: &Value) {
    let mut tenant: Tenant = serde_json::from_value(body.clone()).unwrap();
    tenant.metadata.resource_version = Some("1".into());
    writer.apply_watcher_event(&watcher::Event::Apply(tenant));
}

fn apply_call(name: &str) -> common::Call {
    call(Method::PATCH, &format!("{TENANTS}/{name}")).check(|query, body| {
        assert!(
            query.contains("fieldManager=mtp-controller-sync"),
            "{query}"
        );
        assert!(query.contains("force=true"), "{query}");
        assert_eq!(body["kind"], "Tenant");
        assert!(
            body.get("status").is_none(),
            "the sync never writes the status"
        );
        assert!(
            body["metadata"].get("uid").is_none(),
            "no uid from the store"
        );
    })
}

async fn sync_with_calls(
    store: &SeaStore,
    cache: &reflector::Store<Tenant>,
    calls: Vec<common::Call>,
) -> (SyncReport, Vec<Value>) {
    let (client, mut handle) = mock_client();
    let n = calls.len();
    let verifier = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for c in calls {
            let (method, path, status, reply) =
                (c.method.clone(), c.path.clone(), c.status, c.reply.clone());
            let (query, body, send) = common::next(&mut handle, &method, &path).await;
            (c.check)(&query, &body);
            common::respond(send, status, reply.as_ref().unwrap_or(&body));
            bodies.push(body);
        }
        bodies
    });
    // A call beyond the expected ones is never answered: the round would hang and fail here.
    let report = tokio::time::timeout(Duration::from_secs(10), sync_once(store, &client, cache))
        .await
        .expect("the sync made a call nobody expected")
        .unwrap();
    let bodies = verifier.await.unwrap();
    assert_eq!(bodies.len(), n);
    (report, bodies)
}

#[tokio::test]
async fn creates_updates_and_deletes_in_the_store_become_tenant_calls() {
    let store = SeaStore::open("sqlite::memory:").await.unwrap();
    let acme = create(&store, "acme", Tier::Pro).await;
    store
        .add_member(acme.id, "alice@acme.io", Role::Admin)
        .await
        .unwrap();
    store
        .add_member(acme.id, "victor@acme.io", Role::Viewer)
        .await
        .unwrap();
    let beta = create(&store, "beta", Tier::Free).await;
    let (cache, mut writer) = reflector::store::<Tenant>();
    // In the cluster: a Tenant whose store record is gone, and a hand-made one (no store id),
    // which is adopted into the store and then applied with its new store id.
    let mut old = Tenant::test("old");
    old.metadata.annotations = Some([(STORE_ID_ANNOTATION.to_owned(), uuid_str())].into());
    writer.apply_watcher_event(&watcher::Event::Apply(old));
    writer.apply_watcher_event(&watcher::Event::Apply(Tenant::test("handmade")));

    let acme_id = acme.id.to_string();
    let calls = vec![
        apply_call("acme").check(move |_, body| {
            assert_eq!(
                body["metadata"]["annotations"][STORE_ID_ANNOTATION],
                acme_id
            );
            assert_eq!(
                body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "mtp"
            );
            assert_eq!(body["spec"]["tier"], "pro");
            assert_eq!(body["spec"]["displayName"], "acme Inc.");
            assert_eq!(body["spec"]["admins"], json!(["alice@acme.io"]));
            assert_eq!(body["spec"]["viewers"], json!(["victor@acme.io"]));
        }),
        apply_call("beta"),
        apply_call("handmade").check(|_, body| {
            assert!(body["metadata"]["annotations"][STORE_ID_ANNOTATION].is_string());
            assert_eq!(body["spec"]["tier"], "free");
        }),
        call(Method::DELETE, &format!("{TENANTS}/old"))
            .reply(200, serde_json::to_value(Tenant::test("old")).unwrap()),
    ];
    let (report, bodies) = sync_with_calls(&store, &cache, calls).await;
    assert_eq!(report.adopted, ["handmade"]);
    assert_eq!(report.applied, ["acme", "beta", "handmade"]);
    assert_eq!(report.deleted, ["old"]);
    assert!(report.failed.is_empty());
    let handmade = store.get_tenant_by_name("handmade").await.unwrap();
    assert_eq!(
        bodies[2]["metadata"]["annotations"][STORE_ID_ANNOTATION],
        handmade.id.to_string()
    );
    // The watch sees the applied Tenants and the deletion.
    observe(&mut writer, &bodies[0]);
    observe(&mut writer, &bodies[1]);
    observe(&mut writer, &bodies[2]);
    writer.apply_watcher_event(&watcher::Event::Delete(Tenant::test("old")));

    // A round with nothing new makes no call.
    let (report, _) = sync_with_calls(&store, &cache, vec![]).await;
    assert_eq!(report.unchanged, 3);
    assert!(report.adopted.is_empty());
    assert!(report.applied.is_empty() && report.deleted.is_empty());

    // An update and a member removal in the store; a deletion.
    let mut fields = acme.fields.clone();
    fields.tier = Tier::Enterprise;
    store
        .update_tenant(acme.id, acme.version, fields)
        .await
        .unwrap();
    store
        .remove_member(acme.id, "victor@acme.io")
        .await
        .unwrap();
    store.delete_tenant(beta.id, beta.version).await.unwrap();
    let calls = vec![
        apply_call("acme").check(|_, body| {
            assert_eq!(body["spec"]["tier"], "enterprise");
            assert_eq!(body["spec"]["viewers"], json!([]));
        }),
        call(Method::DELETE, &format!("{TENANTS}/beta")).reply(
            404,
            failure(404, "NotFound", "tenants.mtp.dev \"beta\" not found"),
        ),
    ];
    let (report, _) = sync_with_calls(&store, &cache, calls).await;
    assert_eq!(report.applied, ["acme"]);
    assert_eq!(report.deleted, ["beta"], "already gone counts as deleted");
}

/// An edit made behind the store's back: what it changes, and how.
type Edit = (&'static str, fn(&mut Value));

/// What `tenant-ownership.mtp.dev` lets through while the webhook is down (it fails open) is put
/// back by the next round: a changed spec, a changed store id, a removed managed-by label.
#[tokio::test]
async fn edits_of_a_stored_tenant_are_reverted() {
    let store = SeaStore::open("sqlite::memory:").await.unwrap();
    create(&store, "acme", Tier::Pro).await;
    let (cache, mut writer) = reflector::store::<Tenant>();
    let (_, bodies) = sync_with_calls(&store, &cache, vec![apply_call("acme")]).await;
    let applied = bodies[0].clone();
    let edits: [Edit; 3] = [
        ("spec", |t| t["spec"]["tier"] = json!("enterprise")),
        ("store id", |t| {
            t["metadata"]["annotations"][STORE_ID_ANNOTATION] = json!(uuid_str());
        }),
        ("label", |t| t["metadata"]["labels"] = json!({})),
    ];
    for (what, edit) in edits {
        let mut edited = applied.clone();
        edit(&mut edited);
        observe(&mut writer, &edited);
        let check = applied.clone();
        let call = apply_call("acme").check(move |_, body| {
            assert_eq!(body["metadata"], check["metadata"]);
            assert_eq!(body["spec"], check["spec"]);
        });
        let (report, _) = sync_with_calls(&store, &cache, vec![call]).await;
        assert_eq!(report.applied, ["acme"], "{what}");
        observe(&mut writer, &applied);
        let (report, _) = sync_with_calls(&store, &cache, vec![]).await;
        assert_eq!(report.unchanged, 1, "{what}");
    }
}

fn uuid_str() -> String {
    "7d7c3f62-0000-4000-8000-000000000001".to_owned()
}

#[tokio::test]
async fn an_unreachable_apiserver_then_recovery_loses_and_duplicates_nothing() {
    let store = SeaStore::open("sqlite::memory:").await.unwrap();
    let (cache, mut writer) = reflector::store::<Tenant>();
    create(&store, "acme", Tier::Free).await;

    // The apiserver is unreachable: the connection is gone.
    let (down, handle) = mock_client();
    drop(handle);
    create(&store, "gamma", Tier::Pro).await;
    let report = sync_once(&store, &down, &cache).await.unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(
        report
            .failed
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["acme", "gamma"]
    );

    // It answers, but with errors (overloaded).
    let calls = vec![
        call(Method::PATCH, &format!("{TENANTS}/acme")).reply(
            503,
            failure(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
        ),
        call(Method::PATCH, &format!("{TENANTS}/gamma")).reply(
            503,
            failure(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
        ),
    ];
    let (report, _) = sync_with_calls(&store, &cache, calls).await;
    assert_eq!(report.failed.len(), 2);
    assert!(
        report.failed[0].1.contains("unable to handle the request"),
        "{:?}",
        report.failed
    );

    // Recovered: each tenant is applied exactly once, by name (no create, so no duplicate).
    let (report, bodies) = sync_with_calls(
        &store,
        &cache,
        vec![apply_call("acme"), apply_call("gamma")],
    )
    .await;
    assert_eq!(report.applied, ["acme", "gamma"]);
    assert!(report.failed.is_empty());
    for body in &bodies {
        observe(&mut writer, body);
    }
    let (report, _) = sync_with_calls(&store, &cache, vec![]).await;
    assert_eq!(report.unchanged, 2, "nothing applied twice");
}

#[tokio::test]
async fn an_unreadable_store_writes_nothing() {
    let store = SeaStore::open("sqlite::memory:").await.unwrap();
    create(&store, "acme", Tier::Free).await;
    let (cache, mut writer) = reflector::store::<Tenant>();
    let mut old = Tenant::test("old");
    old.metadata.annotations = Some([(STORE_ID_ANNOTATION.to_owned(), uuid_str())].into());
    writer.apply_watcher_event(&watcher::Event::Apply(old));
    let (client, _handle) = mock_client();
    store.clone().close().await.unwrap();
    // The store is closed: the round fails before any call (no Tenant is deleted for an empty
    // answer); any call would hang, since nobody answers.
    let err = tokio::time::timeout(Duration::from_secs(5), sync_once(&store, &client, &cache))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().starts_with("cannot read the store"),
        "{err}"
    );
}
