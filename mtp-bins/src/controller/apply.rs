//! Server-side apply of a plan's objects (field manager `mtp-controller`, force).

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Client};
use mtp_core::diff::{ObjectKey, PlannedObject};

use super::{Error, FIELD_MANAGER, InFlight, Result, api_resource, value_hash};

/// The `Api` of the object `key` names.
pub fn dynamic_api(client: &Client, key: &ObjectKey) -> Api<DynamicObject> {
    let resource = api_resource(key.kind);
    match &key.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Applies one object with server-side apply, forcing ownership of its fields; returns the
/// resourceVersion the apiserver answered.
pub async fn apply_object(client: &Client, object: &PlannedObject) -> Result<Option<String>> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = dynamic_api(client, &object.key)
        .patch(&object.key.name, &params, &Patch::Apply(&object.value))
        .await
        .map_err(Error::kube(format!("apply {}", object.key)))?;
    Ok(applied.metadata.resource_version)
}

/// How many objects of one tenant are applied at the same time.
pub const APPLY_CONCURRENCY: usize = 8;

/// Applies the objects of `objects` at `indices`: the namespaces first (everything else lives in
/// them), then the namespaced objects, which are independent of each other, up to
/// [`APPLY_CONCURRENCY`] at a time. Every object of a wave is attempted; the first failure (in
/// plan order) is returned after the wave, and the next wave is not started. Objects already
/// applied stay applied: a retry finds them current. Returns how many were applied.
pub async fn apply_all(
    client: &Client,
    objects: &[PlannedObject],
    indices: &[usize],
    in_flight: &InFlight,
) -> Result<usize> {
    use futures_util::StreamExt as _;
    let (namespaces, namespaced): (Vec<&PlannedObject>, Vec<&PlannedObject>) = indices
        .iter()
        .filter_map(|&i| objects.get(i))
        .partition(|o| o.key.namespace.is_none());
    let mut n = 0;
    for wave in [namespaces, namespaced] {
        // The futures are made first: a closure inside the stream would make the reconcile's
        // future generic over the objects' lifetimes, which `tokio::spawn` cannot take.
        let applies: Vec<_> = wave.iter().map(|o| apply_object(client, o)).collect();
        let results: Vec<Result<Option<String>>> = futures_util::stream::iter(applies)
            .buffered(APPLY_CONCURRENCY)
            .collect()
            .await;
        let mut first_error = None;
        for (object, result) in wave.iter().zip(results) {
            match result {
                Ok(Some(rv)) => {
                    in_flight.wrote(&object.key, value_hash(&object.value), rv);
                    n += 1;
                }
                Ok(None) => n += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    Ok(n)
}
