//! Server-side apply of a plan's objects (field manager `mtp-controller`, force).

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Client};
use mtp_core::diff::{ObjectKey, PlannedObject};

use super::{Error, FIELD_MANAGER, Result, api_resource};

/// The `Api` of the object `key` names.
pub fn dynamic_api(client: &Client, key: &ObjectKey) -> Api<DynamicObject> {
    let resource = api_resource(key.kind);
    match &key.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Applies one object with server-side apply, forcing ownership of its fields.
pub async fn apply_object(client: &Client, object: &PlannedObject) -> Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    dynamic_api(client, &object.key)
        .patch(&object.key.name, &params, &Patch::Apply(&object.value))
        .await
        .map_err(Error::kube(format!("apply {}", object.key)))?;
    Ok(())
}

/// Applies the objects of `objects` at `indices`, in order (namespaces first, as the plan lists
/// them); stops at the first failure and returns how many were applied.
pub async fn apply_all(
    client: &Client,
    objects: &[PlannedObject],
    indices: &[usize],
) -> Result<usize> {
    let mut n = 0;
    for &i in indices {
        if let Some(object) = objects.get(i) {
            apply_object(client, object).await?;
            n += 1;
        }
    }
    Ok(n)
}
