//! Combining backends: [`Chain`] by credential shape, and the development-only [`NoAuth`].

use async_trait::async_trait;

use crate::error::{Error, Rejection, Result};
use crate::identity::{AuthMethod, Authenticator, Identity};

/// Whether `credential` looks like a compact JWT: three non-empty base64url segments.
///
/// ```
/// assert!(mtp_auth::chain::looks_like_jwt("eyJh.eyJz.c2ln"));
/// assert!(!mtp_auth::chain::looks_like_jwt("mtp_abc"));
/// ```
pub fn looks_like_jwt(credential: &str) -> bool {
    let mut n = 0;
    for seg in credential.split('.') {
        n += 1;
        if seg.is_empty()
            || !seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    n == 3
}

/// Routes a credential by its shape: a JWT to the token backend, anything else to the key
/// backend, so OIDC and static keys can be on at once.
pub struct Chain {
    jwt: Option<Box<dyn Authenticator>>,
    keys: Option<Box<dyn Authenticator>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("jwt", &self.jwt.is_some())
            .field("keys", &self.keys.is_some())
            .finish()
    }
}

impl Chain {
    /// A chain with the JWT backend and/or the static keys backend.
    pub fn new(jwt: Option<Box<dyn Authenticator>>, keys: Option<Box<dyn Authenticator>>) -> Self {
        Chain { jwt, keys }
    }
}

#[async_trait]
impl Authenticator for Chain {
    async fn authenticate(&self, credential: &str) -> Result<Identity> {
        let backend = if looks_like_jwt(credential) {
            &self.jwt
        } else {
            &self.keys
        };
        match backend {
            Some(b) => b.authenticate(credential).await,
            None => {
                let reason = Rejection::Malformed("no backend for this credential shape".into());
                tracing::debug!(%reason, "credential rejected");
                Err(Error::unauthenticated(reason))
            }
        }
    }
}

/// Accepts every request as one fixed identity. For local development only: building it logs
/// a loud warning.
#[derive(Debug)]
pub struct NoAuth {
    identity: Identity,
}

impl NoAuth {
    /// Every caller becomes `subject` with `groups`.
    pub fn new(subject: &str, groups: Vec<String>) -> Self {
        tracing::warn!(
            "AUTHENTICATION IS DISABLED (--auth-mode none): every request is accepted as `{subject}`. Never use this outside local development."
        );
        NoAuth {
            identity: Identity::new(subject, AuthMethod::Anonymous).with_groups(groups),
        }
    }
}

#[async_trait]
impl Authenticator for NoAuth {
    async fn authenticate(&self, _credential: &str) -> Result<Identity> {
        Ok(self.identity.clone())
    }
}
