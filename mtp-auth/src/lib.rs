//! Authentication (static API keys, OIDC JWTs), rate limiting and tower/axum layers, usable
//! without the rest of mtp.
//!
//! See the crate's README for how to embed it in a service.

#[cfg(feature = "broker")]
pub mod broker;
pub mod chain;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(any(feature = "oidc", feature = "broker"))]
mod discovery;
mod error;
mod identity;
#[cfg(feature = "axum")]
pub mod layer;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod ratelimit;
pub mod static_keys;
#[cfg(any(feature = "oidc", feature = "broker"))]
mod strict;
pub mod token;

pub use error::{Error, Rejection, Result};
pub use identity::{AuthMethod, Authenticator, Identity};
