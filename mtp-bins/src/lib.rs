//! Composition modules and thin binaries of mtp.
