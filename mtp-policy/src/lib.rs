#![doc = include_str!("../README.md")]
//!
//! Modules:
//! - [`pod_security`]: the Pod Security Standards (`baseline`, `restricted`, version-aware) and the
//!   `mtp` platform profile, on pods, pod templates, workloads and AdmissionReviews.

#[macro_use]
mod de;
#[cfg(feature = "admission")]
pub mod admission;
pub mod pod_security;
