//! Computes one tenant's plan N times, for instruction counts and profiles that do not depend on
//! what else the machine is doing:
//!
//! ```sh
//! cargo build --release -p mtp-benches --example plan_loop
//! valgrind --tool=callgrind target/release/examples/plan_loop enterprise20 2000
//! ```
//!
//! Modes: `free` (1 namespace, 1 admin), `enterprise1` (5 namespaces, 1 admin), `enterprise20`
//! (5 namespaces, 20 admins), `none` (build the tenants only, to subtract).
#![allow(missing_docs)]

use std::hint::black_box;

use std::process::ExitCode;

use mtp_core::{Egress, PlatformSettings, Tenant, Tier, TierCatalogue, plan};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("enterprise20");
    let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let catalogue = TierCatalogue::default();
    let settings = PlatformSettings::default();
    let free = Tenant::test("hobby").with_admin("alice@example.com");
    let mut enterprise = Tenant::test("megacorp")
        .with_tier(Tier::Enterprise)
        .with_egress(Egress::Internet)
        .with_quota("pods", "2000");
    for i in 0..4 {
        enterprise = enterprise.with_namespace(&format!("env{i}"));
    }
    let enterprise1 = enterprise.clone().with_admin("admin@megacorp.com");
    for i in 0..20 {
        enterprise = enterprise.with_admin(&format!("admin{i}@megacorp.com"));
    }
    let tenant = match mode {
        "free" => &free,
        "enterprise1" => &enterprise1,
        "enterprise20" => &enterprise,
        _ => {
            println!("{mode}: nothing planned");
            return ExitCode::SUCCESS;
        }
    };
    let mut objects = 0usize;
    for _ in 0..n {
        match plan(black_box(tenant), &catalogue, &settings) {
            Ok(plan) => objects += plan.namespace_names().len(),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{mode}: {n} plans, {objects} namespaces");
    ExitCode::SUCCESS
}
