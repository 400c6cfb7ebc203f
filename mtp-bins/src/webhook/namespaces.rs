//! Keeps the namespace → tenant cache of the `tenant-labels` hook in step with the cluster: a kube
//! watch on namespaces that carry the `mtp.dev/tenant` label.

use std::sync::Arc;

use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt as _};
use mtp_policy::admission::hooks::{NamespaceCache, TENANT_LABEL};
use tracing::{info, warn};

fn entry(ns: &Namespace) -> Option<(String, String)> {
    let tenant = ns.labels().get(TENANT_LABEL)?;
    Some((ns.name_any(), tenant.clone()))
}

/// Folds one watch event into the cache; `pending` holds a relist in progress.
pub fn apply(cache: &NamespaceCache, pending: &mut Vec<(String, String)>, event: Event<Namespace>) {
    match event {
        Event::Init => pending.clear(),
        Event::InitApply(ns) => pending.extend(entry(&ns)),
        Event::InitDone => {
            cache.replace_all(std::mem::take(pending));
            info!(tenant_namespaces = cache.len(), "namespace cache synced");
        }
        Event::Apply(ns) => cache.set(&ns.name_any(), entry(&ns).as_ref().map(|(_, t)| t.as_str())),
        Event::Delete(ns) => cache.set(&ns.name_any(), None),
    }
}

/// Watches tenant namespaces forever, retrying with backoff when the apiserver is away.
pub async fn watch(client: Client, cache: Arc<NamespaceCache>) {
    let api: Api<Namespace> = Api::all(client);
    let config = watcher::Config::default().labels(TENANT_LABEL);
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut pending = Vec::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => apply(&cache, &mut pending, event),
            Err(e) => warn!(error = %e, "namespace watch failed; retrying"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mtp_policy::admission::hooks::TenantLookup;

    fn ns(name: &str, tenant: Option<&str>) -> Namespace {
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.to_owned());
        if let Some(t) = tenant {
            ns.metadata.labels = Some([(TENANT_LABEL.to_owned(), t.to_owned())].into());
        }
        ns
    }

    #[test]
    fn relists_and_events_keep_the_cache_exact() {
        let cache = NamespaceCache::default();
        cache.set("stale", Some("gone"));
        let mut pending = Vec::new();
        apply(&cache, &mut pending, Event::Init);
        apply(
            &cache,
            &mut pending,
            Event::InitApply(ns("tenant-shop", Some("shop"))),
        );
        assert_eq!(
            cache.tenant_of("stale").as_deref(),
            Some("gone"),
            "a relist in progress changes nothing"
        );
        apply(&cache, &mut pending, Event::InitDone);
        assert_eq!(
            cache.tenant_of("stale"),
            None,
            "the relist replaces everything"
        );
        assert_eq!(cache.tenant_of("tenant-shop").as_deref(), Some("shop"));
        apply(
            &cache,
            &mut pending,
            Event::Apply(ns("tenant-bank", Some("bank"))),
        );
        assert_eq!(cache.tenant_of("tenant-bank").as_deref(), Some("bank"));
        apply(&cache, &mut pending, Event::Apply(ns("tenant-bank", None)));
        assert_eq!(
            cache.tenant_of("tenant-bank"),
            None,
            "a removed label removes the entry"
        );
        apply(
            &cache,
            &mut pending,
            Event::Delete(ns("tenant-shop", Some("shop"))),
        );
        assert!(cache.is_empty());
    }
}
