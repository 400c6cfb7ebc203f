//! How database errors map onto [`StoreError`].
//!
//! A lost or refused connection, a pool timeout, a server shutting down or a busy SQLite file is
//! [`StoreError::Unavailable`] (worth retrying); a unique violation is turned into the matching
//! [`StoreError::Conflict`] by the caller; everything else is [`StoreError::Internal`].

use mtp_core::StoreError;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// The result type of mtp-store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Whether `err` is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether `err` is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    )
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL: class 08 connection exceptions, 57P01-57P03 shutdown / cannot connect
            // now, class 53 insufficient resources. SQLite: 5 BUSY, 6 LOCKED (and extended codes).
            code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || code == "5"
                || code == "6"
                || code
                    .parse::<u32>()
                    .is_ok_and(|c| c & 0xff == 5 || c & 0xff == 6)
        }),
        _ => false,
    }
}

fn runtime_unavailable(err: &RuntimeErr) -> bool {
    match err {
        RuntimeErr::SqlxError(e) => sqlx_unavailable(e),
        RuntimeErr::Internal(_) => false,
    }
}

/// Maps a database error that is not a constraint violation.
pub(crate) fn map_db(err: DbErr) -> StoreError {
    let unavailable = match &err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(e) => runtime_unavailable(e) || matches!(e, RuntimeErr::Internal(_)),
        DbErr::Exec(e) | DbErr::Query(e) => runtime_unavailable(e),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable {
            source: Box::new(err),
        }
    } else {
        StoreError::Internal {
            source: Box::new(err),
        }
    }
}

/// A stored value that does not parse (a corrupted row).
pub(crate) fn corrupt(column: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal {
        source: format!("corrupt value in column {column}: {detail}").into(),
    }
}
