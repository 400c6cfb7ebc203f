//! The embedded store: a SQLite file in a temporary directory, migrated on open, one tenant
//! created (with its first member and audit record) and read back.
//!
//! `cargo run -p mtp-store --example embedded [-- <database file>]`

use mtp_core::{ListParams, NewAuditRecord, NewMember, NewTenant, Role, Store, TenantFields, Tier};
use mtp_store::SeaStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let path = match std::env::args_os().nth(1) {
        Some(p) => std::path::PathBuf::from(p),
        None => tmp.path().join("mtp.db"),
    };
    // `mode=rwc` creates the file; `open` runs the migrations, as the binaries do at start.
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = SeaStore::open(&url).await?;

    // Every write goes with its audit record, in one transaction (what the API server does).
    let audit = NewAuditRecord {
        actor: "example".into(),
        action: "tenant.create".into(),
        target: "tenant/acme".into(),
        outcome: "success".into(),
        request_id: None,
    };
    store
        .create_tenant_audited(
            NewTenant {
                name: "acme".into(),
                fields: TenantFields::new("ACME", Tier::Pro, "ops@acme.io"),
            },
            vec![NewMember::new("alice@acme.io", Role::Admin)],
            audit,
        )
        .await?;

    let page = store.list_tenants(&ListParams::default()).await?;
    for t in &page.items {
        let members = store.list_members(t.id).await?;
        println!(
            "tenant {} ({}), version {}, {} member(s), in {}",
            t.name,
            t.id,
            t.version,
            members.len(),
            path.display()
        );
    }
    store.close().await?;
    Ok(())
}
