//! The `mtp-webhook` binary's commands.

pub mod check;
