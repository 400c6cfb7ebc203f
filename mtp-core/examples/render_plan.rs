//! mtp-core embedded: a Tenant's plan rendered offline, the exact objects a controller applies
//! for it (what `mtpctl render` prints), without a cluster.
//!
//! ```text
//! cargo run -p mtp-core --example render_plan -- [name] [free|pro|enterprise] [tiers.yaml]
//! ```

use mtp_core::{Egress, PlatformSettings, Tenant, Tier, TierCatalogue, plan};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "acme".to_owned());
    let tier = match args.next().as_deref() {
        None | Some("pro") => Tier::Pro,
        Some("free") => Tier::Free,
        Some("enterprise") => Tier::Enterprise,
        Some(other) => {
            return Err(format!("unknown tier {other:?}: free, pro or enterprise").into());
        }
    };
    let catalogue = match args.next() {
        Some(path) => TierCatalogue::from_file(std::path::Path::new(&path))?,
        None => TierCatalogue::default(),
    };
    // A Tenant as the REST API or the apiserver would give it.
    let tenant = Tenant::test(&name)
        .with_tier(tier)
        .with_admin(&format!("admin@{name}.example"))
        .with_namespace("ci")
        .with_egress(Egress::Internet);
    let objects = plan(&tenant, &catalogue, &PlatformSettings::default())?;
    eprintln!(
        "tenant {name}: {} namespaces, {} objects in all",
        objects.namespaces.len(),
        mtp_core::diff::planned_objects(&objects)?.len()
    );
    print!("{}", objects.to_yaml()?);
    Ok(())
}
