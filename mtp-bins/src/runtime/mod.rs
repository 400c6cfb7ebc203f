//! What every mtp server shares, in one place:
//!
//! - [`probes`]: the probe and metrics server (`/healthz`, `/readyz`, `/metrics` in the
//!   OpenMetrics text format), used by the controller and the webhook on `--probe-listen` and by
//!   the API server on its API port;
//! - [`request`]: the request-context layer of every HTTP server (request id, span, trace
//!   continuation, panics answered with 500);
//! - [`signal`]: SIGTERM/SIGINT for a graceful shutdown;
//! - [`Backoff`]: the one retry-delay policy (from `mtp-auth`, which the token broker uses too).

pub mod probes;
pub mod request;
pub mod signal;

pub use mtp_auth::backoff::Backoff;
pub use probes::{Metrics, ProbeServer, Readiness, ReadyFlag};
pub use request::{RequestContext, RequestId, with_request_context};
pub use signal::shutdown_signal;

/// What can go wrong starting the shared runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A listener cannot be bound (in use, not an address of this host, not permitted).
    #[error("cannot listen on {addr} (given by {flag})")]
    Bind {
        /// The flag that gave the address (`--probe-listen`), so the user knows what to change.
        flag: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
