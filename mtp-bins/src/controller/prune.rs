//! Deletion of a tenant's objects that its plan no longer holds (a namespace removed from
//! `spec.namespaces`, a stale binding), and of its namespaces when the Tenant goes.

use kube::Client;
use kube::api::DeleteParams;
use mtp_core::diff::ObjectKey;

use super::apply::dynamic_api;
use super::{Error, Result};

/// Deletes the object `key` names; an object already gone is fine.
pub async fn delete_object(client: &Client, key: &ObjectKey) -> Result<()> {
    match dynamic_api(client, key)
        .delete(&key.name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(Error::kube(format!("delete {key}"))(e)),
    }
}

/// Deletes `keys` in order; stops at the first failure.
pub async fn delete_all(client: &Client, keys: &[ObjectKey]) -> Result<()> {
    for key in keys {
        delete_object(client, key).await?;
    }
    Ok(())
}
