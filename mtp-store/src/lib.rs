//! The `mtp_core::Store` implemented on sea-orm: SQLite (the embedded default) and PostgreSQL.
