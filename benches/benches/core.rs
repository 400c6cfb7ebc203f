//! Computing one tenant's plan (target: ≤ 50 µs), through mtp-core's public API, with the
//! system allocator (glibc malloc): what a program embedding mtp-core pays. `core_mimalloc` runs
//! the same cases with the allocator mtp's binaries use.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};

mod plan_cases;

fn bench(c: &mut Criterion) {
    plan_cases::bench_plan(c, "plan");
}

criterion_group!(benches, bench);
criterion_main!(benches);
