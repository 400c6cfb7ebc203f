//! The `tenants` table: one row per tenant, soft-deleted rows kept.

use sea_orm::entity::prelude::*;

/// A row of `tenants`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// The tenant id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The name, unique among live rows (partial unique index).
    pub name: String,
    /// The display name.
    pub display_name: String,
    /// `free`, `pro` or `enterprise`.
    pub tier: String,
    /// The owner's e-mail.
    pub owner_email: String,
    /// `none`, `internet`, or NULL for the tier's default.
    pub egress: Option<String>,
    /// Extra namespace suffixes, a JSON array.
    pub namespaces: String,
    /// Quota overrides, a JSON object, or NULL.
    pub quota: Option<String>,
    /// The version for optimistic concurrency.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
    /// Soft-delete time.
    pub deleted_at: Option<DateTimeUtc>,
}

/// No relations are navigated from tenants.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
