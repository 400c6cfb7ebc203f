//! Test fixtures: a fresh, migrated store per test on SQLite (memory or file) or on the local
//! PostgreSQL (its own database `test_<random>`, dropped afterwards, even when the test fails).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;

use mtp_store::SeaStore;
use sea_orm::{ConnectionTrait, Database};

/// The PostgreSQL server of the tests (without database); `MTP_TEST_POSTGRES_URL` overrides.
pub fn postgres_base() -> String {
    std::env::var("MTP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// What to remove when the fixture goes away.
pub enum Cleanup {
    /// Nothing (in-memory SQLite).
    Nothing,
    /// A temporary directory.
    Dir(PathBuf),
    /// A PostgreSQL database.
    PgDatabase(String),
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Nothing => {}
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PgDatabase(name) => {
                let name = name.clone();
                // Drop may run inside the test's runtime: use a thread with its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        let admin = Database::connect(format!("{}/test", postgres_base()))
                            .await
                            .unwrap();
                        admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await
                            .unwrap();
                        let _ = admin.close().await;
                    });
                })
                .join();
            }
        }
    }
}

/// A migrated store and what to clean up after it.
pub struct Fixture {
    /// The store.
    pub store: SeaStore,
    /// Dropped after the store.
    pub cleanup: Cleanup,
}

/// A unique temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mtp-store-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// In-memory SQLite.
pub async fn sqlite_memory() -> Fixture {
    Fixture {
        store: SeaStore::open("sqlite::memory:").await.unwrap(),
        cleanup: Cleanup::Nothing,
    }
}

/// SQLite on a file in a fresh directory.
pub async fn sqlite_file() -> Fixture {
    let dir = temp_dir("sqlite");
    let url = format!("sqlite://{}?mode=rwc", dir.join("mtp.db").display());
    Fixture {
        store: SeaStore::open(&url).await.unwrap(),
        cleanup: Cleanup::Dir(dir),
    }
}

/// A fresh database on the local PostgreSQL. Fails (never skips) when the server is missing.
pub async fn postgres() -> Fixture {
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(format!("{}/test", postgres_base()))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (see README.md)");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let _ = admin.close().await;
    let cleanup = Cleanup::PgDatabase(name.clone());
    let store = SeaStore::open(&format!("{}/{name}", postgres_base()))
        .await
        .unwrap();
    Fixture { store, cleanup }
}
