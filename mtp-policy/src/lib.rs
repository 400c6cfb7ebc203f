#![doc = include_str!("../README.md")]
//!
//! Modules:
//! - [`pod_security`]: the Pod Security Standards (`baseline`, `restricted`, version-aware) and the
//!   `mtp` platform profile, on pods, pod templates, workloads and AdmissionReviews.
//! - [`guardrails`]: per-tenant guardrails (registries, Service types, Ingress classes and
//!   hostnames, storage, priority and runtime classes, node placement, reserved metadata).
//! - [`admission`]: the `admission.k8s.io/v1` AdmissionReview view and response writer; with the
//!   feature `admission` (default), the admission-webhook framework and the hooks mtp ships.

#[macro_use]
mod de;
pub mod admission;
pub mod guardrails;
mod json;
pub mod pod_security;

/// The label that says which tenant a namespace (and what runs in it) belongs to.
pub const TENANT_LABEL: &str = "mtp.dev/tenant";
