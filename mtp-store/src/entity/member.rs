//! The `members` table: a user's role in a tenant, unique per tenant and user.

use sea_orm::entity::prelude::*;

/// A row of `members`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    /// The tenant (foreign key to `tenants.id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The user as the IdP names them.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_name: String,
    /// `admin`, `operator` or `viewer`.
    pub role: String,
    /// When the member was added.
    pub created_at: DateTimeUtc,
}

/// No relations are navigated from members.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
