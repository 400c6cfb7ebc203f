//! Creates `tenants`, with a name unique among live (not soft-deleted) rows.

use sea_orm_migration::prelude::*;

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Tenants {
    Table,
    Id,
    Name,
    DisplayName,
    Tier,
    OwnerEmail,
    Egress,
    Namespaces,
    Quota,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(ColumnDef::new(Tenants::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tenants::Name).string_len(63).not_null())
                    .col(
                        ColumnDef::new(Tenants::DisplayName)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Tenants::Tier).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Tenants::OwnerEmail)
                            .string_len(254)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Tenants::Egress).string_len(16).null())
                    .col(ColumnDef::new(Tenants::Namespaces).text().not_null())
                    .col(ColumnDef::new(Tenants::Quota).text().null())
                    .col(ColumnDef::new(Tenants::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Tenants::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::DeletedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // A partial unique index (SQLite and PostgreSQL both have them): the name of a
        // soft-deleted tenant can be taken again.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX tenants_live_name ON tenants (name) WHERE deleted_at IS NULL",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tenants_tier_name")
                    .table(Tenants::Table)
                    .col(Tenants::Tier)
                    .col(Tenants::Name)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tenants::Table).to_owned())
            .await
    }
}
