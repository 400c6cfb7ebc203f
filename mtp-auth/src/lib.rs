//! Authentication (static API keys, OIDC JWTs), rate limiting and tower/axum layers, usable
//! without the rest of mtp.
//!
//! See the crate's README for how to embed it in a service.

pub mod backoff;
pub mod broker;
pub mod chain;
#[cfg(feature = "cli")]
pub mod cli;
mod error;
mod identity;
pub mod layer;
pub mod oidc;
pub mod ratelimit;
pub mod static_keys;
pub mod token;

pub use error::{Error, Rejection, Result};
pub use identity::{AuthMethod, Authenticator, Identity};
