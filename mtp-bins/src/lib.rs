//! Composition modules and thin binaries of mtp.
//!
//! Each binary's `main.rs` parses flags and calls into a module here, where the logic is tested.
//! Each binary has a cargo feature (`mtpctl`, `apiserver`, `controller`, `webhook`,
//! `token-broker`; all by default) that compiles the modules it uses and nothing else.

#[cfg(feature = "apiserver")]
pub mod apiserver;
#[cfg(feature = "controller")]
pub mod controller;
#[cfg(feature = "mtpctl")]
pub mod install;
#[cfg(feature = "mtpctl")]
pub mod mtpctl;
pub mod rbac;
#[cfg(feature = "runtime")]
pub mod runtime;
#[cfg(feature = "runtime")]
pub mod telemetry;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(any(feature = "webhook", feature = "mtpctl"))]
pub mod webhook;

/// The uid given to a Tenant read from a file without `metadata.uid` (owner references need
/// one; the cluster assigns the real uid): by `mtpctl render` and `mtp-webhook check`.
pub const PLACEHOLDER_UID: &str = "00000000-0000-0000-0000-000000000000";

/// The Secret (created by the operator, optional) with the API server's static keys file under
/// key `api-keys` (`<key-id>:<sha256-hex>[:<group>,...]` per line): written by
/// `mtpctl install admin-key`, mounted by the `mtp-apiserver` Deployment, named in the API
/// server's error when it cannot create a keys file.
pub const API_KEYS_SECRET: &str = "mtp-api-keys";

/// Every mtp binary allocates with mimalloc: the tenant plan, the admission path and the API
/// build many small objects (Kubernetes objects are trees of owned strings), and mimalloc halves
/// the instructions the plan spends against glibc's allocator (see `benches/README.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
