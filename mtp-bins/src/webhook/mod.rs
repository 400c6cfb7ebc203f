//! The `mtp-webhook` binary's commands. With the `mtpctl` feature alone only what `mtpctl install`
//! generates from is compiled: the hooks ([`serve::registry`]) and their configurations
//! ([`manifests`]).

#[cfg(feature = "webhook")]
pub mod certs;
#[cfg(feature = "webhook")]
pub mod check;
#[cfg(feature = "webhook")]
pub mod limit_ranger;
#[cfg(feature = "webhook")]
pub mod manage;
pub mod manifests;
#[cfg(feature = "webhook")]
pub mod metrics;
#[cfg(feature = "webhook")]
pub mod namespaces;
pub mod serve;

/// The name of the webhook's TLS Secret.
pub const SECRET_NAME: &str = "mtp-webhook-tls";
