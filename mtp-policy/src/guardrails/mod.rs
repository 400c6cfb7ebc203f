//! Per-tenant guardrails: the matching building blocks.
//!
//! - [`image`]: container image references normalised as Docker and containerd do, and
//!   allowed-registry patterns.
//! - [`host`]: Ingress hostnames, allowed-hostname patterns, and the cross-tenant host index.

pub mod host;
pub mod image;

pub use host::{HostError, HostIndex, HostOwner, HostPattern, hosts_overlap};
pub use image::{ImageRef, ImageRefError, RegistryPattern};
