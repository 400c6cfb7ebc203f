//! sea-orm entities, one file each.

pub mod audit_log;
pub mod member;
pub mod prelude;
pub mod tenant;
