//! The plan cases of the `core` bench with mimalloc as the global allocator, as mtp's binaries
//! (`mtp-controller`, `mtpctl render`, ...) run them.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod plan_cases;

fn bench(c: &mut Criterion) {
    plan_cases::bench_plan(c, "plan_mimalloc");
}

criterion_group!(benches, bench);
criterion_main!(benches);
