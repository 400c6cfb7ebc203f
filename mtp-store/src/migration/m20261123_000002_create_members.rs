//! Creates `members`, one row per tenant and user.

use sea_orm_migration::prelude::*;

use super::m20261123_000001_create_tenants::Tenants;

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Members {
    Table,
    TenantId,
    UserName,
    Role,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Members::Table)
                    .col(ColumnDef::new(Members::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Members::UserName).string_len(256).not_null())
                    .col(ColumnDef::new(Members::Role).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Members::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Members::TenantId)
                            .col(Members::UserName),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("members_tenant")
                            .from(Members::Table, Members::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Members::Table).to_owned())
            .await
    }
}
