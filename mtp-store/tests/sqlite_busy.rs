//! A SQLite file locked by another writer: a write waits for the busy timeout, then answers
//! `StoreError::Unavailable` (worth retrying, a 503 at the API) with nothing written; once the
//! lock is gone the same call succeeds without reconnecting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use mtp_core::{NewTenant, Store, StoreError, TenantFields, Tier};
use mtp_store::{SQLITE_BUSY_TIMEOUT, SeaStore};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};

fn acme() -> NewTenant {
    NewTenant {
        name: "acme".into(),
        fields: TenantFields::new("ACME", Tier::Pro, "ops@acme.io"),
    }
}

#[tokio::test]
async fn busy_sqlite_is_unavailable_then_recovers() {
    let dir = common::temp_dir("busy");
    let url = format!("sqlite://{}?mode=rwc", dir.join("mtp.db").display());
    let store = SeaStore::open(&url).await.unwrap();

    // Another process (here: another connection) holds the write lock.
    let other = Database::connect(&url).await.unwrap();
    let tx = other.begin().await.unwrap();
    tx.execute_unprepared("CREATE TABLE held_lock (x INTEGER)")
        .await
        .unwrap();

    let started = Instant::now();
    let err = store.create_tenant(acme()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Unavailable { .. }),
        "a busy database is Unavailable, got {err:?}"
    );
    assert!(
        started.elapsed() >= SQLITE_BUSY_TIMEOUT.mul_f32(0.9),
        "waited for the busy timeout first ({:?})",
        started.elapsed()
    );
    // Nothing was written: reads still work (WAL) and see no tenant.
    assert!(matches!(
        store.get_tenant_by_name("acme").await,
        Err(StoreError::NotFound { .. })
    ));

    tx.rollback().await.unwrap();
    let created = store.create_tenant(acme()).await.unwrap();
    assert_eq!(created.name, "acme");
    assert_eq!(
        store.get_tenant_by_name("acme").await.unwrap().id,
        created.id
    );
    drop(store);
    let _ = other.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
