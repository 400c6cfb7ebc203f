//! What mtp-controller computes per Tenant on a reconcile: the plan, its objects as JSON, the
//! cached objects as JSON, and the diff (mtp-core's public API). A no-op resync of 1,000 tenants
//! costs 1,000 of these.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mtp_core::diff::{diff, planned_objects};
use mtp_core::{Egress, PlatformSettings, Tenant, Tier, TierCatalogue, plan};
use serde_json::json;

fn bench_plan_and_diff(c: &mut Criterion) {
    let catalogue = TierCatalogue::default();
    let settings = PlatformSettings::default();
    let free = Tenant::test("hobby").with_admin("alice@example.com");
    let mut enterprise = Tenant::test("megacorp")
        .with_tier(Tier::Enterprise)
        .with_egress(Egress::Internet)
        .with_admin("admin@megacorp.com");
    for i in 0..4 {
        enterprise = enterprise.with_namespace(&format!("env{i}"));
    }

    let mut group = c.benchmark_group("controller");
    for (name, tenant) in [("free_1ns", &free), ("enterprise_5ns", &enterprise)] {
        // The cluster as the watches cache it: the plan plus what the apiserver adds.
        let cached = plan(tenant, &catalogue, &settings).unwrap();
        let mut drifted = cached.clone();
        drifted.role_bindings[0].subjects = None;
        group.bench_function(format!("plan_diff_noop_{name}"), |b| {
            b.iter(|| {
                let p = plan(black_box(tenant), &catalogue, &settings).unwrap();
                let planned = planned_objects(&p).unwrap();
                let mut observed = cached.to_values().unwrap();
                for o in &mut observed {
                    o["metadata"]["resourceVersion"] = json!("12345");
                }
                let d = diff(&planned, &observed);
                assert!(d.is_empty());
                d
            })
        });
        group.bench_function(format!("plan_diff_drift_{name}"), |b| {
            b.iter(|| {
                let p = plan(black_box(tenant), &catalogue, &settings).unwrap();
                let planned = planned_objects(&p).unwrap();
                let observed = drifted.to_values().unwrap();
                let d = diff(&planned, &observed);
                assert_eq!(d.apply.len(), 1);
                d
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_plan_and_diff);
criterion_main!(benches);
