//! Who the caller is, and the trait every backend implements.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::error::Result;

/// How an [`Identity`] was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// A static API key, with its key id.
    StaticKey {
        /// The key id from the keys file.
        key_id: String,
    },
    /// An OIDC (or SPIFFE JWT-SVID) token from this issuer.
    Oidc {
        /// The token's issuer.
        issuer: String,
    },
    /// The `none` backend (local development only).
    Anonymous,
}

impl AuthMethod {
    /// A short name of the method for logs and span attributes: `static_key`, `oidc`,
    /// `anonymous`.
    ///
    /// ```
    /// assert_eq!(mtp_auth::AuthMethod::Anonymous.kind(), "anonymous");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            AuthMethod::StaticKey { .. } => "static_key",
            AuthMethod::Oidc { .. } => "oidc",
            AuthMethod::Anonymous => "anonymous",
        }
    }
}

/// An authenticated caller.
///
/// ```
/// use mtp_auth::{AuthMethod, Identity};
/// let id = Identity::new("alice", AuthMethod::Anonymous).with_groups(vec!["dev".into()]);
/// assert_eq!(id.username, "alice");
/// assert_eq!(id.groups, ["dev"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Stable subject (`sub`, or `apikey:<key-id>`).
    pub subject: String,
    /// Display/authorization name (with its configured prefix).
    pub username: String,
    /// The tenant, when the credential names one.
    pub tenant: Option<String>,
    /// Groups (with their configured prefix).
    pub groups: Vec<String>,
    /// How the caller was authenticated.
    pub method: AuthMethod,
    /// When the credential stops being valid (`None`: never, e.g. static keys).
    pub expires_at: Option<SystemTime>,
}

impl Identity {
    /// An identity whose username is its subject, no tenant, no groups, no expiry.
    pub fn new(subject: impl Into<String>, method: AuthMethod) -> Self {
        let subject = subject.into();
        Identity {
            username: subject.clone(),
            subject,
            tenant: None,
            groups: Vec::new(),
            method,
            expires_at: None,
        }
    }

    /// Sets the groups.
    pub fn with_groups(mut self, groups: Vec<String>) -> Self {
        self.groups = groups;
        self
    }

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}

/// A backend that turns a presented credential into an [`Identity`].
///
/// Every failure is [`crate::Error::Unauthenticated`], whose `Display` says nothing about the
/// reason; backends log the reason at debug level, never with the credential.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Authenticates `credential` (the bearer token or API key, without the `Bearer ` prefix).
    async fn authenticate(&self, credential: &str) -> Result<Identity>;
}

#[async_trait]
impl<T: Authenticator + ?Sized> Authenticator for std::sync::Arc<T> {
    async fn authenticate(&self, credential: &str) -> Result<Identity> {
        (**self).authenticate(credential).await
    }
}

#[async_trait]
impl<T: Authenticator + ?Sized> Authenticator for Box<T> {
    async fn authenticate(&self, credential: &str) -> Result<Identity> {
        (**self).authenticate(credential).await
    }
}
