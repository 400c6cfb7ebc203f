//! The `audit_log` table: append-only records of who did what.

use sea_orm::entity::prelude::*;

/// A row of `audit_log`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Increasing id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Who acted.
    pub actor: String,
    /// What they did.
    pub action: String,
    /// On what.
    pub target: String,
    /// The outcome.
    pub outcome: String,
    /// When.
    pub at: DateTimeUtc,
    /// The request id.
    pub request_id: Option<String>,
}

/// No relations are navigated from audit records.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
