//! Criterion benchmarks of mtp hot paths; see `benches/README.md` for the numbers.
