//! The entities under short names.

pub use super::audit_log::Entity as AuditLog;
pub use super::member::Entity as Member;
pub use super::tenant::Entity as Tenant;
