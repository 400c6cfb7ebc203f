//! Composition modules and thin binaries of mtp.
//!
//! Each binary's `main.rs` parses flags and calls into a module here, where the logic is tested.

pub mod apiserver;
pub mod controller;
pub mod install;
pub mod mtpctl;
pub mod rbac;
pub mod telemetry;
pub mod tls;
pub mod webhook;

/// Every mtp binary allocates with mimalloc: the tenant plan, the admission path and the API
/// build many small objects (Kubernetes objects are trees of owned strings), and mimalloc halves
/// the instructions the plan spends against glibc's allocator (see `benches/README.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
