// The README is the crate's documentation, and its examples are doctests. They need the
// features they show, so with fewer features the crate has a short summary instead.
#![cfg_attr(
    all(feature = "oidc", feature = "axum", feature = "cli"),
    doc = include_str!("../README.md")
)]
#![cfg_attr(
    not(all(feature = "oidc", feature = "axum", feature = "cli")),
    doc = "Authentication (static API keys, OIDC JWTs), rate limiting and tower/axum layers, \
           usable without the rest of mtp. The README (the crate documentation with features \
           `oidc`, `axum` and `cli`) shows how to embed it."
)]

pub mod backoff;
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
