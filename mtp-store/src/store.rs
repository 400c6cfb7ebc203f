//! [`SeaStore`]: the [`Store`] on a sea-orm connection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mtp_core::store::{tenant_cursor, validate_member_user, validate_members};
use mtp_core::{
    AuditRecord, Conflict, Egress, ListParams, Member, NewAuditRecord, NewMember, NewTenant, Page,
    Role, Store, StoreError, TenantFields, TenantRecord, Tier,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;

use crate::entity::{audit_log, member, tenant};
use crate::error::{Result, corrupt, is_foreign_key_violation, is_unique_violation, map_db};
use crate::migration::Migrator;

/// How long SQLite waits for a lock before answering busy (then `Unavailable`).
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The most tenant ids [`Store::list_members_of`] takes at once (a page of tenants).
pub const MAX_IDS: usize = mtp_core::store::MAX_PAGE_SIZE as usize;
/// How long a call waits for a pooled connection before answering `Unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The [`Store`] on SQLite or PostgreSQL through sea-orm.
#[derive(Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    /// SQLite takes one writer at a time: the store's own writers queue here, in turn, rather
    /// than in SQLite's busy handler, which sleeps (1, 2, 5, 10… ms) between tries. `None` on
    /// PostgreSQL, whose writers do not block each other.
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// The store's turn to write, held until the transaction ends.
type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

/// Shows the backend only: connection details (the URL may hold a password) never appear.
impl std::fmt::Debug for SeaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaStore")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

fn is_sqlite_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl SeaStore {
    /// Connects to `url` without migrating: `sqlite::memory:`, `sqlite://<path>?mode=rwc` (WAL
    /// journal, a busy timeout of [`SQLITE_BUSY_TIMEOUT`], foreign keys on) or
    /// `postgres://user@host:port/db`. The URL never appears in errors (it may hold a password).
    pub async fn connect(url: &str) -> Result<Self> {
        let mut opts = ConnectOptions::new(url.to_string());
        opts.sqlx_logging(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_timeout(ACQUIRE_TIMEOUT);
        if url.starts_with("sqlite:") {
            // An embedded database has no network to lose: pinging before each use only costs.
            opts.test_before_acquire(false);
            if is_sqlite_memory(url) {
                // Each connection to `:memory:` is its own database: keep exactly one, forever.
                opts.max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            } else {
                opts.max_connections(8);
            }
            let wal = !is_sqlite_memory(url);
            opts.map_sqlx_sqlite_opts(move |o| {
                let o = o.busy_timeout(SQLITE_BUSY_TIMEOUT).foreign_keys(true);
                if wal {
                    // WAL with synchronous=NORMAL: durable on commit except on power loss, never corrupt.
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                } else {
                    o
                }
            });
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            opts.max_connections(16).min_connections(0);
        } else {
            return Err(StoreError::invalid(
                "url",
                "unsupported database URL: use sqlite://<path>?mode=rwc, sqlite::memory: or postgres://…",
            ));
        }
        let db = Database::connect(opts).await.map_err(|e| match e {
            sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(msg)) => StoreError::Invalid {
                field: "url".into(),
                message: format!("cannot use the database URL: {msg}"),
            },
            other => map_db(other),
        })?;
        let write_turn = (db.get_database_backend() == DbBackend::Sqlite)
            .then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(SeaStore { db, write_turn })
    }

    /// Waits for the store's turn to write (SQLite), at most [`ACQUIRE_TIMEOUT`].
    async fn write_turn(&self) -> Result<WriteTurn> {
        let Some(turn) = &self.write_turn else {
            return Ok(None);
        };
        match tokio::time::timeout(ACQUIRE_TIMEOUT, Arc::clone(turn).lock_owned()).await {
            Ok(guard) => Ok(Some(guard)),
            Err(_) => Err(StoreError::Unavailable {
                source: "the database is busy: no turn to write within the timeout".into(),
            }),
        }
    }

    /// Begins a write transaction in the store's turn (keep the turn until it ends).
    async fn begin_write(&self) -> Result<(WriteTurn, DatabaseTransaction)> {
        let turn = self.write_turn().await?;
        let txn = self.db.begin().await.map_err(map_db)?;
        Ok((turn, txn))
    }

    /// Connects and runs the migrations: what the binaries do at start.
    pub async fn open(url: &str) -> Result<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Runs the pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None).await.map_err(map_db)
    }

    /// The underlying connection (for health checks or extra queries).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<()> {
        self.db.close().await.map_err(map_db)
    }
}

fn record_from(row: tenant::Model) -> Result<TenantRecord> {
    let tier: Tier = row
        .tier
        .parse()
        .map_err(|e: mtp_core::Error| corrupt("tenants.tier", e))?;
    let egress = row
        .egress
        .as_deref()
        .map(str::parse::<Egress>)
        .transpose()
        .map_err(|e| corrupt("tenants.egress", e))?;
    let namespaces: Vec<String> =
        serde_json::from_str(&row.namespaces).map_err(|e| corrupt("tenants.namespaces", e))?;
    let quota: Option<BTreeMap<String, String>> = row
        .quota
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt("tenants.quota", e))?;
    Ok(TenantRecord {
        id: row.id,
        name: row.name,
        fields: TenantFields {
            display_name: row.display_name,
            tier,
            owner_email: row.owner_email,
            egress,
            namespaces,
            quota,
        },
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
    })
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal {
        source: Box::new(e),
    })
}

fn member_from(row: member::Model) -> Result<Member> {
    Ok(Member {
        tenant_id: row.tenant_id,
        role: row
            .role
            .parse()
            .map_err(|e: StoreError| corrupt("members.role", e))?,
        user: row.user_name,
        created_at: row.created_at,
    })
}

fn tenant_not_found(key: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        kind: "tenant",
        key: key.to_string(),
    }
}

fn live() -> Condition {
    Condition::all().add(tenant::Column::DeletedAt.is_null())
}

/// Commits `txn` when `result` is a success, rolls it back otherwise.
async fn finish<T>(txn: DatabaseTransaction, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            txn.commit().await.map_err(map_db)?;
            Ok(value)
        }
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

fn tenant_row(id: Uuid, new: &NewTenant) -> Result<tenant::ActiveModel> {
    let now = Utc::now();
    Ok(tenant::ActiveModel {
        id: Set(id),
        name: Set(new.name.clone()),
        display_name: Set(new.fields.display_name.clone()),
        tier: Set(new.fields.tier.as_str().to_string()),
        owner_email: Set(new.fields.owner_email.clone()),
        egress: Set(new.fields.egress.map(|e| e.as_str().to_string())),
        namespaces: Set(json(&new.fields.namespaces)?),
        quota: Set(new.fields.quota.as_ref().map(json).transpose()?),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    })
}

fn member_row(tenant_id: Uuid, user: &str, role: Role, at: DateTime<Utc>) -> member::ActiveModel {
    member::ActiveModel {
        tenant_id: Set(tenant_id),
        user_name: Set(user.to_string()),
        role: Set(role.as_str().to_string()),
        created_at: Set(at),
    }
}

fn audit_row(record: &NewAuditRecord, at: DateTime<Utc>) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        actor: Set(record.actor.clone()),
        action: Set(record.action.clone()),
        target: Set(record.target.clone()),
        outcome: Set(record.outcome.clone()),
        at: Set(at),
        request_id: Set(record.request_id.clone()),
        ..Default::default()
    }
}

async fn insert_audit<C: ConnectionTrait>(conn: &C, record: NewAuditRecord) -> Result<AuditRecord> {
    let at = Utc::now();
    let inserted = audit_log::Entity::insert(audit_row(&record, at))
        .exec(conn)
        .await
        .map_err(map_db)?;
    Ok(AuditRecord {
        id: inserted.last_insert_id,
        actor: record.actor,
        action: record.action,
        target: record.target,
        outcome: record.outcome,
        at,
        request_id: record.request_id,
    })
}

/// The inserts of a new tenant, its members and its audit record as one SQLite statement list
/// (sqlx binds the values across the statements in order), and the members as stored.
fn created_rows(
    tenant_id: Uuid,
    row: &tenant::ActiveModel,
    members: &[NewMember],
    audit: &NewAuditRecord,
) -> (Statement, Vec<Member>) {
    let now = Utc::now();
    let mut parts = vec![tenant::Entity::insert(row.clone()).build(DbBackend::Sqlite)];
    if !members.is_empty() {
        let rows = members
            .iter()
            .map(|m| member_row(tenant_id, &m.user, m.role, now));
        parts.push(member::Entity::insert_many(rows).build(DbBackend::Sqlite));
    }
    parts.push(audit_log::Entity::insert(audit_row(audit, now)).build(DbBackend::Sqlite));
    let mut sql = String::new();
    let mut values = Vec::new();
    for part in parts {
        sql.push_str(&part.sql);
        sql.push_str(";\n");
        values.extend(part.values.map(|v| v.0).unwrap_or_default());
    }
    let mut stored: Vec<Member> = members
        .iter()
        .map(|m| Member {
            tenant_id,
            user: m.user.clone(),
            role: m.role,
            created_at: now,
        })
        .collect();
    stored.sort_by(|a, b| a.user.cmp(&b.user));
    (
        Statement::from_sql_and_values(DbBackend::Sqlite, sql, values),
        stored,
    )
}

async fn insert_members<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    members: &[NewMember],
) -> Result<Vec<Member>> {
    let now = Utc::now();
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let row = member_row(tenant_id, &m.user, m.role, now);
        match member::Entity::insert(row)
            .exec_without_returning(conn)
            .await
        {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(Conflict::DuplicateMember {
                    user: m.user.clone(),
                }));
            }
            Err(e) if is_foreign_key_violation(&e) => return Err(tenant_not_found(tenant_id)),
            Err(e) => return Err(map_db(e)),
        }
        out.push(Member {
            tenant_id,
            user: m.user.clone(),
            role: m.role,
            created_at: now,
        });
    }
    out.sort_by(|a, b| a.user.cmp(&b.user));
    Ok(out)
}

async fn members_on<C: ConnectionTrait>(conn: &C, tenant_id: Uuid) -> Result<Vec<Member>> {
    member::Entity::find()
        .filter(member::Column::TenantId.eq(tenant_id))
        .order_by_asc(member::Column::UserName)
        .all(conn)
        .await
        .map_err(map_db)?
        .into_iter()
        .map(member_from)
        .collect()
}

/// Sets the stored fields of a tenant (not its name, members or version) on an update.
fn set_fields(
    update: sea_orm::UpdateMany<tenant::Entity>,
    fields: &TenantFields,
    namespaces: String,
    quota: Option<String>,
) -> sea_orm::UpdateMany<tenant::Entity> {
    update
        .col_expr(
            tenant::Column::DisplayName,
            Expr::value(fields.display_name.clone()),
        )
        .col_expr(tenant::Column::Tier, Expr::value(fields.tier.as_str()))
        .col_expr(
            tenant::Column::OwnerEmail,
            Expr::value(fields.owner_email.clone()),
        )
        .col_expr(
            tenant::Column::Egress,
            Expr::value(fields.egress.map(|e| e.as_str().to_string())),
        )
        .col_expr(tenant::Column::Namespaces, Expr::value(namespaces))
        .col_expr(tenant::Column::Quota, Expr::value(quota))
}

/// Bumps the version of a live tenant (only if it is `expected`, when given), applying `set`
/// in the same statement, and answers the new record. Writing first keeps SQLite transactions
/// from having to upgrade a read lock.
async fn bump_on<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    expected: Option<i64>,
    set: impl FnOnce(sea_orm::UpdateMany<tenant::Entity>) -> sea_orm::UpdateMany<tenant::Entity>,
) -> Result<TenantRecord> {
    let mut update = tenant::Entity::update_many()
        .col_expr(
            tenant::Column::Version,
            Expr::col(tenant::Column::Version).add(1),
        )
        .col_expr(tenant::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(tenant::Column::Id.eq(id))
        .filter(live());
    if let Some(v) = expected {
        update = update.filter(tenant::Column::Version.eq(v));
    }
    let result = set(update).exec(conn).await.map_err(map_db)?;
    let current = tenant::Entity::find_by_id(id)
        .filter(live())
        .one(conn)
        .await
        .map_err(map_db)?;
    match (result.rows_affected, current) {
        (0, None) => Err(tenant_not_found(id)),
        (0, Some(row)) => Err(StoreError::Conflict(Conflict::StaleVersion {
            expected: expected.unwrap_or(row.version),
            actual: row.version,
        })),
        (_, Some(row)) => record_from(row),
        (_, None) => Err(tenant_not_found(id)),
    }
}

/// The live tenants whose namespaces can collide with tenant `name`'s: those whose name is a
/// hyphen-prefix of `name`, or has `name-` as a prefix (see [`SeaStore::check_namespaces_on`]).
fn neighbours(
    backend: DbBackend,
    name: &str,
    except: Option<Uuid>,
) -> sea_orm::Select<tenant::Entity> {
    let prefixes: Vec<String> = mtp_core::naming::hyphen_prefixes(name)
        .into_iter()
        .map(str::to_string)
        .collect();
    // Names that start with `name-`: on SQLite (binary collation) as a range the name index
    // answers, `name-` < n < `name.` ('.' follows '-'); PostgreSQL's collation may not
    // order bytes, so there it is a LIKE (names hold no LIKE wildcards). Each branch of the
    // OR carries the live condition, so SQLite searches the partial index twice instead of
    // scanning it.
    let longer = if backend == DbBackend::Sqlite {
        Condition::all()
            .add(live())
            .add(tenant::Column::Name.gt(format!("{name}-")))
            .add(tenant::Column::Name.lt(format!("{name}.")))
    } else {
        Condition::all()
            .add(live())
            .add(tenant::Column::Name.like(format!("{name}-%")))
    };
    let mut query = tenant::Entity::find().filter(
        Condition::any()
            .add(
                Condition::all()
                    .add(live())
                    .add(tenant::Column::Name.is_in(prefixes)),
            )
            .add(longer),
    );
    if let Some(id) = except {
        query = query.filter(tenant::Column::Id.ne(id));
    }
    query
}

impl SeaStore {
    /// Refuses namespaces another live tenant already has (`tenant-a-b` is tenant `a`'s extra
    /// namespace `b` and tenant `a-b`'s primary one). Only tenants whose name is a hyphen-prefix
    /// of `name`, or has `name` as one, can collide, so only those are read.
    async fn check_namespaces(
        &self,
        name: &str,
        suffixes: &[String],
        except: Option<Uuid>,
    ) -> Result<()> {
        Self::check_namespaces_on(&self.db, name, suffixes, except).await
    }

    async fn check_namespaces_on<C: ConnectionTrait>(
        conn: &C,
        name: &str,
        suffixes: &[String],
        except: Option<Uuid>,
    ) -> Result<()> {
        let query = neighbours(conn.get_database_backend(), name, except);
        for row in query.all(conn).await.map_err(map_db)? {
            let other = record_from(row)?;
            if let Some(namespace) = mtp_core::naming::shared_namespaces(
                name,
                suffixes,
                &other.name,
                &other.fields.namespaces,
            )
            .into_iter()
            .next()
            {
                return Err(StoreError::Conflict(Conflict::NamespaceTaken {
                    namespace,
                    tenant: other.name,
                }));
            }
        }
        Ok(())
    }

    /// A page of live tenants, by name, with an extra condition.
    async fn list_tenants_where(
        &self,
        params: &ListParams,
        extra: Option<Condition>,
    ) -> Result<Page<TenantRecord>> {
        params.validate()?;
        let cursor = params.tenant_cursor()?;
        let mut query = tenant::Entity::find().filter(live());
        if let Some(extra) = extra {
            query = query.filter(extra);
        }
        if let Some(tier) = params.tier {
            query = query.filter(tenant::Column::Tier.eq(tier.as_str()));
        }
        if let Some((name, id)) = cursor {
            query = query.filter(
                Condition::any()
                    .add(tenant::Column::Name.gt(name.clone()))
                    .add(
                        Condition::all()
                            .add(tenant::Column::Name.eq(name))
                            .add(tenant::Column::Id.gt(id)),
                    ),
            );
        }
        let rows = query
            .order_by_asc(tenant::Column::Name)
            .order_by_asc(tenant::Column::Id)
            .limit(u64::from(params.limit) + 1)
            .all(&self.db)
            .await
            .map_err(map_db)?;
        let more = rows.len() > params.limit as usize;
        let mut items = rows
            .into_iter()
            .take(params.limit as usize)
            .map(record_from)
            .collect::<Result<Vec<_>>>()?;
        items.shrink_to_fit();
        let next_cursor = if more {
            items.last().map(tenant_cursor)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// A page of audit records with an extra condition.
    async fn list_audit_where(
        &self,
        params: &ListParams,
        extra: Option<Condition>,
    ) -> Result<Page<AuditRecord>> {
        params.validate()?;
        let mut query = audit_log::Entity::find();
        if let Some(extra) = extra {
            query = query.filter(extra);
        }
        if let Some(after) = params.audit_cursor()? {
            query = query.filter(audit_log::Column::Id.gt(after));
        }
        if let Some(target) = &params.target {
            query = query.filter(audit_log::Column::Target.eq(target.as_str()));
        }
        let rows = query
            .order_by_asc(audit_log::Column::Id)
            .limit(u64::from(params.limit) + 1)
            .all(&self.db)
            .await
            .map_err(map_db)?;
        let more = rows.len() > params.limit as usize;
        let items: Vec<AuditRecord> = rows
            .into_iter()
            .take(params.limit as usize)
            .map(|r| AuditRecord {
                id: r.id,
                actor: r.actor,
                action: r.action,
                target: r.target,
                outcome: r.outcome,
                at: r.at,
                request_id: r.request_id,
            })
            .collect();
        let next_cursor = if more {
            items.last().map(|r| r.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn live_tenant<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<TenantRecord> {
        let row = tenant::Entity::find_by_id(id)
            .filter(live())
            .one(conn)
            .await
            .map_err(map_db)?
            .ok_or_else(|| tenant_not_found(id))?;
        record_from(row)
    }

    /// Runs a versioned write (`update` or soft delete) and tells NotFound and stale versions
    /// apart when no row matched.
    async fn versioned_write(
        &self,
        id: Uuid,
        expected_version: i64,
        set: impl FnOnce(sea_orm::UpdateMany<tenant::Entity>) -> sea_orm::UpdateMany<tenant::Entity>,
    ) -> Result<Option<TenantRecord>> {
        let (_turn, txn) = self.begin_write().await?;
        let update = tenant::Entity::update_many()
            .col_expr(tenant::Column::Version, Expr::value(expected_version + 1))
            .col_expr(tenant::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(tenant::Column::Id.eq(id))
            .filter(tenant::Column::Version.eq(expected_version))
            .filter(live());
        let result = set(update).exec(&txn).await;
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(map_db(e));
            }
        };
        if result.rows_affected == 0 {
            let current = tenant::Entity::find_by_id(id)
                .filter(live())
                .one(&txn)
                .await
                .map_err(map_db)?;
            let _ = txn.rollback().await;
            return Err(match current {
                None => tenant_not_found(id),
                Some(row) => StoreError::Conflict(Conflict::StaleVersion {
                    expected: expected_version,
                    actual: row.version,
                }),
            });
        }
        let row = tenant::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(map_db)?;
        txn.commit().await.map_err(map_db)?;
        row.map(record_from).transpose()
    }
}

impl SeaStore {
    /// Creates a tenant (version 1) without members or audit record (tests, tools); the API
    /// uses [`Store::create_tenant_audited`]. [`StoreError::Conflict`](mtp_core::StoreError) if a live tenant has the name.
    #[tracing::instrument(name = "store.create_tenant", skip_all, fields(otel.kind = "client", tenant = %new.name))]
    pub async fn create_tenant(&self, new: NewTenant) -> Result<TenantRecord> {
        new.validate()?;
        self.check_namespaces(&new.name, &new.fields.namespaces, None)
            .await?;
        let row = tenant_row(Uuid::new_v4(), &new)?;
        let model = tenant::Entity::insert(row.clone())
            .exec_without_returning(&self.db)
            .await;
        match model {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(Conflict::DuplicateName {
                    name: new.name,
                }));
            }
            Err(e) => return Err(map_db(e)),
        }
        let model = tenant::Model::try_from(row).map_err(map_db)?;
        record_from(model)
    }

    /// Replaces the fields if the stored version is `expected_version`, and bumps the version
    /// (no audit record; the API uses [`Store::replace_tenant_audited`]).
    #[tracing::instrument(name = "store.update_tenant", skip_all, fields(otel.kind = "client", tenant_id = %id))]
    pub async fn update_tenant(
        &self,
        id: Uuid,
        expected_version: i64,
        fields: TenantFields,
    ) -> Result<TenantRecord> {
        fields.validate()?;
        let current = Self::live_tenant(&self.db, id).await?;
        self.check_namespaces(&current.name, &fields.namespaces, Some(id))
            .await?;
        let namespaces = json(&fields.namespaces)?;
        let quota = fields.quota.as_ref().map(json).transpose()?;
        let record = self
            .versioned_write(id, expected_version, |u| {
                set_fields(u, &fields, namespaces, quota)
            })
            .await?;
        record.ok_or_else(|| tenant_not_found(id))
    }

    /// Soft-deletes the tenant if the stored version is `expected_version` (no audit record; the
    /// API uses [`Store::delete_tenant_audited`]).
    #[tracing::instrument(name = "store.delete_tenant", skip_all, fields(otel.kind = "client", tenant_id = %id))]
    pub async fn delete_tenant(&self, id: Uuid, expected_version: i64) -> Result<()> {
        self.versioned_write(id, expected_version, |u| {
            u.col_expr(tenant::Column::DeletedAt, Expr::value(Some(Utc::now())))
        })
        .await?;
        Ok(())
    }

    /// Adds a member (no audit record, no version bump; the API uses
    /// [`Store::add_member_audited`]).
    #[tracing::instrument(name = "store.add_member", skip_all, fields(otel.kind = "client", tenant_id = %tenant_id))]
    pub async fn add_member(&self, tenant_id: Uuid, user: &str, role: Role) -> Result<Member> {
        validate_member_user(user)?;
        Self::live_tenant(&self.db, tenant_id).await?;
        let row = member_row(tenant_id, user, role, Utc::now());
        match member::Entity::insert(row.clone())
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(Conflict::DuplicateMember {
                    user: user.to_string(),
                }));
            }
            Err(e) if is_foreign_key_violation(&e) => return Err(tenant_not_found(tenant_id)),
            Err(e) => return Err(map_db(e)),
        }
        member_from(member::Model::try_from(row).map_err(map_db)?)
    }

    /// Removes a member (no audit record, no version bump; the API uses
    /// [`Store::remove_member_audited`]).
    #[tracing::instrument(name = "store.remove_member", skip_all, fields(otel.kind = "client", tenant_id = %tenant_id))]
    pub async fn remove_member(&self, tenant_id: Uuid, user: &str) -> Result<()> {
        validate_member_user(user)?;
        Self::live_tenant(&self.db, tenant_id).await?;
        let result = member::Entity::delete_many()
            .filter(member::Column::TenantId.eq(tenant_id))
            .filter(member::Column::UserName.eq(user))
            .exec(&self.db)
            .await
            .map_err(map_db)?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound {
                kind: "member",
                key: format!("{user:?} of tenant {tenant_id}"),
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for SeaStore {
    #[tracing::instrument(name = "store.get_tenant", skip_all, fields(otel.kind = "client", tenant_id = %id))]
    async fn get_tenant(&self, id: Uuid) -> Result<TenantRecord> {
        Self::live_tenant(&self.db, id).await
    }

    #[tracing::instrument(name = "store.get_tenant_by_name", skip_all, fields(otel.kind = "client", tenant = %name))]
    async fn get_tenant_by_name(&self, name: &str) -> Result<TenantRecord> {
        mtp_core::naming::validate_tenant_name(name).map_err(|e| match e {
            mtp_core::Error::Invalid { field, message } => StoreError::Invalid { field, message },
            other => StoreError::invalid("name", other.to_string()),
        })?;
        let row = tenant::Entity::find()
            .filter(tenant::Column::Name.eq(name))
            .filter(live())
            .one(&self.db)
            .await
            .map_err(map_db)?
            .ok_or_else(|| tenant_not_found(name))?;
        record_from(row)
    }

    #[tracing::instrument(name = "store.list_tenants", skip_all, fields(otel.kind = "client"))]
    async fn list_tenants(&self, params: &ListParams) -> Result<Page<TenantRecord>> {
        self.list_tenants_where(params, None).await
    }

    #[tracing::instrument(name = "store.list_members", skip_all, fields(otel.kind = "client", tenant_id = %tenant_id))]
    async fn list_members(&self, tenant_id: Uuid) -> Result<Vec<Member>> {
        Self::live_tenant(&self.db, tenant_id).await?;
        member::Entity::find()
            .filter(member::Column::TenantId.eq(tenant_id))
            .order_by_asc(member::Column::UserName)
            .all(&self.db)
            .await
            .map_err(map_db)?
            .into_iter()
            .map(member_from)
            .collect()
    }

    #[tracing::instrument(name = "store.append_audit", skip_all, fields(otel.kind = "client"))]
    async fn append_audit(&self, record: NewAuditRecord) -> Result<AuditRecord> {
        record.validate()?;
        let _turn = self.write_turn().await?;
        insert_audit(&self.db, record).await
    }

    #[tracing::instrument(name = "store.list_audit", skip_all, fields(otel.kind = "client"))]
    async fn list_audit(&self, params: &ListParams) -> Result<Page<AuditRecord>> {
        self.list_audit_where(params, None).await
    }

    #[tracing::instrument(name = "store.create_tenant_audited", skip_all, fields(otel.kind = "client", tenant = %new.name))]
    async fn create_tenant_audited(
        &self,
        new: NewTenant,
        members: Vec<NewMember>,
        audit: NewAuditRecord,
    ) -> Result<(TenantRecord, Vec<Member>)> {
        new.validate()?;
        validate_members(&members)?;
        audit.validate()?;
        let id = Uuid::new_v4();
        let row = tenant_row(id, &new)?;
        let (_turn, txn) = self.begin_write().await?;
        let result = async {
            let duplicate = || {
                StoreError::Conflict(Conflict::DuplicateName {
                    name: new.name.clone(),
                })
            };
            let members = if txn.get_database_backend() == DbBackend::Sqlite {
                // SQLite: the tenant, its members and the audit record in one statement list,
                // one trip to the database's worker thread instead of 2 + members while the
                // store holds its turn to write. The members are distinct (validated) and the
                // tenant is new, so a unique violation can only be the tenant's name.
                let (statement, members) = created_rows(id, &row, &members, &audit);
                match txn.execute_raw(statement).await {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Err(duplicate()),
                    Err(e) => return Err(map_db(e)),
                }
                Self::check_namespaces_on(&txn, &new.name, &new.fields.namespaces, Some(id))
                    .await?;
                members
            } else {
                match tenant::Entity::insert(row.clone())
                    .exec_without_returning(&txn)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Err(duplicate()),
                    Err(e) => return Err(map_db(e)),
                }
                Self::check_namespaces_on(&txn, &new.name, &new.fields.namespaces, Some(id))
                    .await?;
                let members = insert_members(&txn, id, &members).await?;
                insert_audit(&txn, audit).await?;
                members
            };
            let record = record_from(tenant::Model::try_from(row).map_err(map_db)?)?;
            Ok((record, members))
        }
        .await;
        finish(txn, result).await
    }

    #[tracing::instrument(name = "store.replace_tenant_audited", skip_all, fields(otel.kind = "client", tenant_id = %id))]
    async fn replace_tenant_audited(
        &self,
        id: Uuid,
        expected_version: i64,
        fields: TenantFields,
        members: Option<Vec<NewMember>>,
        audit: NewAuditRecord,
    ) -> Result<(TenantRecord, Vec<Member>)> {
        fields.validate()?;
        if let Some(m) = &members {
            validate_members(m)?;
        }
        audit.validate()?;
        let namespaces = json(&fields.namespaces)?;
        let quota = fields.quota.as_ref().map(json).transpose()?;
        let (_turn, txn) = self.begin_write().await?;
        let result = async {
            let record = bump_on(&txn, id, Some(expected_version), |u| {
                set_fields(u, &fields, namespaces, quota)
            })
            .await?;
            Self::check_namespaces_on(&txn, &record.name, &record.fields.namespaces, Some(id))
                .await?;
            let members = match members {
                Some(members) => {
                    member::Entity::delete_many()
                        .filter(member::Column::TenantId.eq(id))
                        .exec(&txn)
                        .await
                        .map_err(map_db)?;
                    insert_members(&txn, id, &members).await?
                }
                None => members_on(&txn, id).await?,
            };
            insert_audit(&txn, audit).await?;
            Ok((record, members))
        }
        .await;
        finish(txn, result).await
    }

    #[tracing::instrument(name = "store.delete_tenant_audited", skip_all, fields(otel.kind = "client", tenant_id = %id))]
    async fn delete_tenant_audited(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        audit: NewAuditRecord,
    ) -> Result<()> {
        audit.validate()?;
        let (_turn, txn) = self.begin_write().await?;
        let result = async {
            let now = Utc::now();
            let update = {
                let mut u = tenant::Entity::update_many()
                    .col_expr(
                        tenant::Column::Version,
                        Expr::col(tenant::Column::Version).add(1),
                    )
                    .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
                    .col_expr(tenant::Column::DeletedAt, Expr::value(Some(now)))
                    .filter(tenant::Column::Id.eq(id))
                    .filter(live());
                if let Some(v) = expected_version {
                    u = u.filter(tenant::Column::Version.eq(v));
                }
                u
            };
            let done = update.exec(&txn).await.map_err(map_db)?;
            if done.rows_affected == 0 {
                let current = tenant::Entity::find_by_id(id)
                    .filter(live())
                    .one(&txn)
                    .await
                    .map_err(map_db)?;
                return Err(match current {
                    None => tenant_not_found(id),
                    Some(row) => StoreError::Conflict(Conflict::StaleVersion {
                        expected: expected_version.unwrap_or(row.version),
                        actual: row.version,
                    }),
                });
            }
            insert_audit(&txn, audit).await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    #[tracing::instrument(name = "store.add_member_audited", skip_all, fields(otel.kind = "client", tenant_id = %tenant_id))]
    async fn add_member_audited(
        &self,
        tenant_id: Uuid,
        new: NewMember,
        audit: NewAuditRecord,
    ) -> Result<(Member, TenantRecord)> {
        validate_member_user(&new.user)?;
        audit.validate()?;
        let (_turn, txn) = self.begin_write().await?;
        let result = async {
            let record = bump_on(&txn, tenant_id, None, |u| u).await?;
            let mut added = insert_members(&txn, tenant_id, std::slice::from_ref(&new)).await?;
            let member = added.pop().ok_or_else(|| StoreError::Internal {
                source: "member insert returned nothing".into(),
            })?;
            insert_audit(&txn, audit).await?;
            Ok((member, record))
        }
        .await;
        finish(txn, result).await
    }

    #[tracing::instrument(name = "store.remove_member_audited", skip_all, fields(otel.kind = "client", tenant_id = %tenant_id))]
    async fn remove_member_audited(
        &self,
        tenant_id: Uuid,
        user: &str,
        audit: NewAuditRecord,
    ) -> Result<TenantRecord> {
        validate_member_user(user)?;
        audit.validate()?;
        let (_turn, txn) = self.begin_write().await?;
        let result = async {
            let record = bump_on(&txn, tenant_id, None, |u| u).await?;
            let done = member::Entity::delete_many()
                .filter(member::Column::TenantId.eq(tenant_id))
                .filter(member::Column::UserName.eq(user))
                .exec(&txn)
                .await
                .map_err(map_db)?;
            if done.rows_affected == 0 {
                return Err(StoreError::NotFound {
                    kind: "member",
                    key: format!("{user:?}"),
                });
            }
            insert_audit(&txn, audit).await?;
            Ok(record)
        }
        .await;
        finish(txn, result).await
    }

    #[tracing::instrument(name = "store.list_tenants_of_user", skip_all, fields(otel.kind = "client"))]
    async fn list_tenants_of_user(
        &self,
        user: &str,
        params: &ListParams,
    ) -> Result<Page<TenantRecord>> {
        validate_member_user(user)?;
        let of_user = Query::select()
            .column(member::Column::TenantId)
            .from(member::Entity)
            .and_where(member::Column::UserName.eq(user))
            .to_owned();
        self.list_tenants_where(
            params,
            Some(Condition::all().add(tenant::Column::Id.in_subquery(of_user))),
        )
        .await
    }

    #[tracing::instrument(name = "store.list_tenant_audit", skip_all, fields(otel.kind = "client", tenant = %name))]
    async fn list_tenant_audit(
        &self,
        name: &str,
        params: &ListParams,
    ) -> Result<Page<AuditRecord>> {
        mtp_core::naming::validate_tenant_name(name).map_err(|e| match e {
            mtp_core::Error::Invalid { field, message } => StoreError::Invalid { field, message },
            other => StoreError::invalid("name", other.to_string()),
        })?;
        // A tenant name is a DNS-1123 label: no LIKE wildcards in it.
        let target = format!("tenant/{name}");
        self.list_audit_where(
            params,
            Some(
                Condition::any()
                    .add(audit_log::Column::Target.eq(target.as_str()))
                    .add(audit_log::Column::Target.like(format!("{target}/%"))),
            ),
        )
        .await
    }

    #[tracing::instrument(name = "store.list_members_of", skip_all, fields(otel.kind = "client"))]
    async fn list_members_of(&self, tenant_ids: &[Uuid]) -> Result<Vec<Member>> {
        if tenant_ids.is_empty() {
            return Ok(Vec::new());
        }
        if tenant_ids.len() > MAX_IDS {
            return Err(StoreError::invalid(
                "tenantIds",
                format!("{} ids; at most {MAX_IDS}", tenant_ids.len()),
            ));
        }
        member::Entity::find()
            .filter(member::Column::TenantId.is_in(tenant_ids.iter().copied()))
            .order_by_asc(member::Column::TenantId)
            .order_by_asc(member::Column::UserName)
            .all(&self.db)
            .await
            .map_err(map_db)?
            .into_iter()
            .map(member_from)
            .collect()
    }

    #[tracing::instrument(name = "store.member_role", skip_all, fields(otel.kind = "client"))]
    async fn member_role(&self, tenant_id: Uuid, user: &str) -> Result<Option<Role>> {
        validate_member_user(user)?;
        let row = member::Entity::find_by_id((tenant_id, user.to_string()))
            .one(&self.db)
            .await
            .map_err(map_db)?;
        row.map(|r| member_from(r).map(|m| m.role)).transpose()
    }

    #[tracing::instrument(name = "store.ping", skip_all, fields(otel.kind = "client"))]
    async fn ping(&self) -> Result<()> {
        self.db.ping().await.map_err(map_db)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The namespace check runs on every create and rename: on SQLite it must search the name
    /// index, never scan the table (a scan made creates slower as tenants accumulate).
    #[tokio::test]
    async fn the_namespace_check_searches_the_name_index_on_sqlite() {
        let store = SeaStore::open("sqlite::memory:").await.unwrap();
        for except in [None, Some(Uuid::new_v4())] {
            let select = neighbours(DbBackend::Sqlite, "acme-prod", except);
            let built = select.build(DbBackend::Sqlite);
            let plan = store
                .db
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    format!("EXPLAIN QUERY PLAN {}", built.sql),
                    built.values.map(|v| v.0).unwrap_or_default(),
                ))
                .await
                .unwrap();
            let details: Vec<String> = plan
                .iter()
                .map(|row| row.try_get::<String>("", "detail").unwrap())
                .collect();
            assert!(
                details.iter().all(|d| !d.starts_with("SCAN")),
                "{details:?}"
            );
            assert!(
                details.iter().any(|d| d.contains("tenants_live_name")),
                "{details:?}"
            );
        }
    }
}
