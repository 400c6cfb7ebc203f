//! Per-tenant guardrails: the matching building blocks.
//!
//! - [`image`]: container image references normalised as Docker and containerd do, and
//!   allowed-registry patterns.

pub mod image;

pub use image::{ImageRef, ImageRefError, RegistryPattern};
