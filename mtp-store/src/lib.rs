//! The `mtp_core::Store` implemented on sea-orm: SQLite (the embedded default) and PostgreSQL.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mtp_core::StoreError> {
//! use mtp_core::{NewTenant, Store, TenantFields, Tier};
//! use mtp_store::SeaStore;
//!
//! // Connects and runs the migrations; a file is `sqlite:///var/lib/mtp/mtp.db?mode=rwc`.
//! let store = SeaStore::open("sqlite::memory:").await?;
//! let created = store
//!     .create_tenant(NewTenant {
//!         name: "acme".into(),
//!         fields: TenantFields::new("ACME", Tier::Pro, "ops@acme.io"),
//!     })
//!     .await?;
//! assert_eq!(store.get_tenant_by_name("acme").await?.id, created.id);
//! # Ok(())
//! # }
//! ```

pub mod cache;
pub mod entity;
pub mod error;
pub mod migration;
mod store;

pub use cache::{CacheStats, CachedStore};
pub use error::Result;
pub use migration::Migrator;
pub use store::{SQLITE_BUSY_TIMEOUT, SeaStore};
