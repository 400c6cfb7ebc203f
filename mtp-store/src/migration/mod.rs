//! Schema migrations, run by [`Migrator`] (the binaries at start, the tests too).

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_tenants;
mod m20261123_000002_create_members;
mod m20261123_000003_create_audit_log;

/// Runs the migrations in order: `Migrator::up(&db, None).await`.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tenants::Migration),
            Box::new(m20261123_000002_create_members::Migration),
            Box::new(m20261123_000003_create_audit_log::Migration),
        ]
    }
}
