//! Per-tenant guardrails: the matching building blocks.
//!
//! - [`image`]: container image references normalised as Docker and containerd do, and
//!   allowed-registry patterns.
//! - [`host`]: Ingress hostnames, allowed-hostname patterns, and the cross-tenant host index.
//! - [`keys`]: patterns of label and annotation keys a tenant may not set.

pub mod host;
pub mod image;
pub mod keys;

pub use host::{HostError, HostIndex, HostOwner, HostPattern, hosts_overlap};
pub use image::{ImageRef, ImageRefError, RegistryPattern};
pub use keys::{KeyPattern, KeyPatternError};
