//! The `mtp-webhook` binary's commands.

pub mod certs;
pub mod check;
pub mod limit_ranger;
pub mod manage;
pub mod manifests;
pub mod metrics;
pub mod namespaces;
pub mod serve;
