#![doc = include_str!("../README.md")]
//!
//! Modules:
//! - [`pod_security`]: the Pod Security Standards (`baseline`, `restricted`, version-aware) and the
//!   `mtp` platform profile, on pods, pod templates, workloads and AdmissionReviews.

pub mod pod_security;
