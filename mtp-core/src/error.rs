//! Errors of mtp-core: [`Error`] for the domain (names, tiers, the plan) and [`StoreError`] for
//! the [`Store`](crate::Store) implementations.

use crate::builders::BuildError;

/// An error of the mtp domain: a bad name, a bad tier catalogue, a Tenant the plan cannot satisfy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field holds a value that is not allowed; `field` is its path (for example
    /// `spec.namespaces[2]` or `pro.quota.pods`).
    #[error("{field}: {message}")]
    Invalid {
        /// Where the bad value is.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The tier catalogue file does not parse.
    #[error("tier catalogue {origin}: {source}")]
    Catalogue {
        /// Where the catalogue came from (a file path, or `<inline>`).
        origin: String,
        /// The YAML error, with line and column.
        #[source]
        source: Box<serde_yaml::Error>,
    },
    /// The tier catalogue parses but a tier's settings are out of range (the source names the
    /// field and the range).
    #[error("tier catalogue {origin}: {source}")]
    CatalogueInvalid {
        /// Where the catalogue came from (a file path, or `<inline>`).
        origin: String,
        /// What is wrong, with the field.
        #[source]
        source: Box<Error>,
    },
    /// The tier catalogue file cannot be read.
    #[error("tier catalogue {origin}: cannot read: {source}")]
    CatalogueIo {
        /// The file path.
        origin: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A builder refused a parameter derived from the Tenant.
    #[error("{context}: {source}")]
    Build {
        /// Which object of the plan was being built.
        context: String,
        /// The builder's error, naming the parameter.
        #[source]
        source: BuildError,
    },
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The result type of mtp-core's domain functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation conflicted with the stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A live tenant already has this name.
    DuplicateName {
        /// The name.
        name: String,
    },
    /// The tenant changed since the caller read it (optimistic concurrency).
    StaleVersion {
        /// The version the caller expected.
        expected: i64,
        /// The version stored now.
        actual: i64,
    },
    /// One of the tenant's namespaces would belong to another live tenant too
    /// (see [`crate::naming::shared_namespaces`]).
    NamespaceTaken {
        /// The namespace.
        namespace: String,
        /// The live tenant that already has it.
        tenant: String,
    },
    /// The user is already a member of the tenant.
    DuplicateMember {
        /// The user.
        user: String,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conflict::DuplicateName { name } => write!(f, "a tenant named {name:?} already exists"),
            Conflict::StaleVersion { expected, actual } => write!(
                f,
                "the tenant was changed meanwhile: expected version {expected}, stored version is {actual}"
            ),
            Conflict::NamespaceTaken { namespace, tenant } => write!(
                f,
                "namespace {namespace:?} already belongs to tenant {tenant:?}: choose another name or suffix"
            ),
            Conflict::DuplicateMember { user } => {
                write!(f, "user {user:?} is already a member of the tenant")
            }
        }
    }
}

/// An error of a [`Store`](crate::Store): callers (the REST API) match on the variant to answer
/// 404, 409, 400 or 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The tenant, member or record does not exist (or the tenant is soft-deleted).
    #[error("{kind} {key} not found")]
    NotFound {
        /// What was looked for (`tenant`, `member`).
        kind: &'static str,
        /// The key that was looked for.
        key: String,
    },
    /// The write conflicts with the stored state.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The input is invalid; nothing was written.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The bad field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The database cannot be reached (connection refused or lost, pool timeout). Retrying later
    /// may succeed.
    #[error("store unavailable: {source}")]
    Unavailable {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other database error (a bug or a corrupted row), not worth retrying.
    #[error("store error: {source}")]
    Internal {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// A [`StoreError::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Whether this is [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    /// Whether this is [`StoreError::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }

    /// Whether this is [`StoreError::Unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}
