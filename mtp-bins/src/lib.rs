//! Composition modules and thin binaries of mtp.
//!
//! Each binary's `main.rs` parses flags and calls into a module here, where the logic is tested.

pub mod apiserver;
pub mod mtpctl;
pub mod webhook;
