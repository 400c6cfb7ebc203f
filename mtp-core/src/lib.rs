#![doc = include_str!("../README.md")]
//!
//! Pure types and functions, no I/O: the plan is computed offline, the [`Store`] trait is
//! implemented by `mtp-store`.
//!
//! ```
//! use mtp_core::{plan, PlatformSettings, Tenant, TierCatalogue};
//! let tenant = Tenant::test("acme").with_admin("alice@acme.io");
//! let objects = plan(&tenant, &TierCatalogue::default(), &PlatformSettings::default())?;
//! assert_eq!(objects.namespaces.len(), 1);
//! # Ok::<(), mtp_core::Error>(())
//! ```

#[cfg(feature = "api")]
pub mod api;
pub mod authz;
pub mod builders;
pub mod diff;
pub mod error;
pub mod naming;
pub mod plan;
pub mod rules;
pub mod store;
pub mod tenant;
pub mod tier;

pub use error::{Conflict, Error, Result, StoreError};
pub use plan::{PlatformSettings, TenantPlan, plan};
pub use store::{
    AuditRecord, ListParams, Member, NewAuditRecord, NewMember, NewTenant, Page, Role, Store,
    TenantFields, TenantRecord,
};
pub use tenant::{Egress, Tenant, TenantCondition, TenantSpec, TenantStatus, Tier};
pub use tier::{LimitDefaults, PodSecurityLevel, TierCatalogue, TierSpec};
