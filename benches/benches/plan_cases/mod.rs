//! The tenant plan cases shared by the `core` (system allocator) and `core_mimalloc` benches.

use std::hint::black_box;

use criterion::Criterion;
use mtp_core::{Egress, PlatformSettings, Tenant, Tier, TierCatalogue, plan};

/// The plan cases, in a group named `group`.
pub fn bench_plan(c: &mut Criterion, group: &str) {
    let catalogue = TierCatalogue::default();
    let settings = PlatformSettings::default();
    let free = Tenant::test("hobby").with_admin("alice@example.com");
    let pro = Tenant::test("acme")
        .with_tier(Tier::Pro)
        .with_admin("alice@acme.io")
        .with_operator("ci-bot")
        .with_viewer("bob@acme.io")
        .with_namespace("ci");
    let mut enterprise = Tenant::test("megacorp")
        .with_tier(Tier::Enterprise)
        .with_egress(Egress::Internet)
        .with_quota("pods", "2000");
    for i in 0..4 {
        enterprise = enterprise.with_namespace(&format!("env{i}"));
    }
    let enterprise_1admin = enterprise.clone().with_admin("admin@megacorp.com");
    for i in 0..20 {
        enterprise = enterprise.with_admin(&format!("admin{i}@megacorp.com"));
    }

    let mut group = c.benchmark_group(group);
    group.bench_function("free_1ns", |b| {
        b.iter(|| plan(black_box(&free), &catalogue, &settings).unwrap())
    });
    group.bench_function("pro_2ns", |b| {
        b.iter(|| plan(black_box(&pro), &catalogue, &settings).unwrap())
    });
    group.bench_function("enterprise_5ns_1admin", |b| {
        b.iter(|| plan(black_box(&enterprise_1admin), &catalogue, &settings).unwrap())
    });
    group.bench_function("enterprise_5ns_20admins", |b| {
        b.iter(|| plan(black_box(&enterprise), &catalogue, &settings).unwrap())
    });
    group.bench_function("pro_2ns_to_yaml", |b| {
        b.iter(|| {
            plan(black_box(&pro), &catalogue, &settings)
                .unwrap()
                .to_yaml()
                .unwrap()
        })
    });
    group.finish();
}
