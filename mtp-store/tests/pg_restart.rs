//! PostgreSQL restarted mid-test: calls answer `Unavailable` while it is down, and the next call
//! after it is back works without restarting anything. Runs a throwaway server of its own
//! (initdb + pg_ctl in a temp dir, on a free port), never touching the shared one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/pg_server.rs"]
mod pg_server;

use std::time::{Duration, Instant};

use mtp_core::{ListParams, NewTenant, Role, Store, TenantFields, Tier};
use mtp_store::SeaStore;
use pg_server::PgServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_is_unavailable_then_recovers() {
    let server = PgServer::start();
    let store = SeaStore::open(&server.url()).await.unwrap();
    let t = store
        .create_tenant(NewTenant {
            name: "acme".into(),
            fields: TenantFields::new("ACME", Tier::Pro, "ops@acme.io"),
        })
        .await
        .unwrap();
    store.add_member(t.id, "alice", Role::Admin).await.unwrap();

    server.pg_ctl_stop();
    let started = Instant::now();
    let err = store.get_tenant(t.id).await.unwrap_err();
    assert!(err.is_unavailable(), "get while down: {err:?}");
    let err = store
        .create_tenant(NewTenant {
            name: "beta".into(),
            fields: TenantFields::new("Beta", Tier::Free, "ops@beta.io"),
        })
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "create while down: {err:?}");
    let err = store
        .list_tenants(&ListParams::default())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "list while down: {err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "an outage must answer quickly, not hang"
    );

    server.pg_ctl_start();
    // The very next call works: the pool replaces its dead connections by itself.
    let back = store.get_tenant(t.id).await.unwrap();
    assert_eq!(back.name, "acme");
    assert_eq!(store.list_members(t.id).await.unwrap().len(), 1);
    let beta = store
        .create_tenant(NewTenant {
            name: "beta".into(),
            fields: TenantFields::new("Beta", Tier::Free, "ops@beta.io"),
        })
        .await
        .unwrap();
    assert_eq!(beta.version, 1);
    assert_eq!(
        store
            .list_tenants(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2,
        "nothing written while down"
    );
    store.close().await.unwrap();
}
