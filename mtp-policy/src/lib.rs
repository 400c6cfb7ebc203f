#![doc = include_str!("../README.md")]
//!
//! Modules:
//! - [`pod_security`]: the Pod Security Standards (`baseline`, `restricted`, version-aware) and the
//!   `mtp` platform profile, on pods, pod templates, workloads and AdmissionReviews.
//! - [`admission`]: the admission-webhook framework and the hooks mtp ships (feature `admission`).
//! - [`builders`]: NetworkPolicy, LimitRange, ResourceQuota and RoleBindings of a tenant namespace.

#[macro_use]
mod de;
#[cfg(feature = "admission")]
pub mod admission;
pub mod builders;
mod json;
pub mod pod_security;
