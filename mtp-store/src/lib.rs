// The README is the crate's documentation; its examples are doctests.
#![doc = include_str!("../README.md")]

pub mod cache;
pub mod entity;
pub mod error;
pub mod migration;
mod store;

pub use cache::{CacheStats, CachedStore};
pub use error::Result;
pub use migration::Migrator;
pub use store::{SQLITE_BUSY_TIMEOUT, SeaStore};
