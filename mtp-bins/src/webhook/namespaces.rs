//! Keeps what the hooks know of the cluster in step with it, through kube watches: namespace →
//! tenant (namespaces that carry the `mtp.dev/tenant` label), tenant → guardrails (Tenants, with
//! the tier catalogue) and the hosts of every Ingress (for the cross-tenant hostname check).

use std::sync::Arc;

use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt as _};
use mtp_core::{Tenant, TierCatalogue};
use mtp_policy::admission::hooks::{
    GuardrailCache, NamespaceCache, TENANT_LABEL, TenantLookup as _,
};
use mtp_policy::guardrails::{Guardrails, HostIndex, HostOwner, Object, ingress_hosts};
use tokio::sync::watch as signal;
use tracing::{info, warn};

use super::serve::HookState;

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
    let (synced, _) = signal::channel(false);
    watch_signalling(client, cache, synced).await;
}

/// [`watch`], setting `synced` once the first list is in the cache.
pub async fn watch_signalling(
    client: Client,
    cache: Arc<NamespaceCache>,
    synced: signal::Sender<bool>,
) {
    let api: Api<Namespace> = Api::all(client);
    let config = watcher::Config::default().labels(TENANT_LABEL);
    let mut pending = Vec::new();
    run_watch(api, config, "namespace", |event| {
        let done = matches!(event, Event::InitDone);
        apply(&cache, &mut pending, event);
        if done {
            synced.send_replace(true);
        }
    })
    .await;
}

/// Watches `api` forever, retrying with backoff when the apiserver is away, and hands each event
/// to `fold`; `what` names the watch in the logs.
async fn run_watch<K>(
    api: Api<K>,
    config: watcher::Config,
    what: &'static str,
    mut fold: impl FnMut(Event<K>),
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => fold(event),
            Err(e) => warn!(error = %e, watch = what, "watch failed; retrying"),
        }
    }
}

/// Starts every watch the hooks need: namespaces, Tenants (their guardrails under
/// `catalogue`) and, once the namespaces are known, Ingresses (their hosts).
pub fn spawn_watches(client: Client, state: &HookState, catalogue: Arc<TierCatalogue>) {
    let (synced, mut namespaces_known) = signal::channel(false);
    tokio::spawn(watch_signalling(
        client.clone(),
        state.namespaces.clone(),
        synced,
    ));
    tokio::spawn(watch_tenants(
        client.clone(),
        catalogue,
        state.guardrails.clone(),
    ));
    let (namespaces, hosts) = (state.namespaces.clone(), state.hosts.clone());
    tokio::spawn(async move {
        // An Ingress is owned by its namespace's tenant: wait until namespaces resolve.
        if namespaces_known.wait_for(|known| *known).await.is_ok() {
            watch_ingresses(client, namespaces, hosts).await;
        }
    });
}

/// The compiled guardrails of `tenant`: its tier's from `catalogue` with its own
/// `spec.guardrails`; when its own do not compile, the tier's alone (logged).
pub fn tenant_guardrails(tenant: &Tenant, catalogue: &TierCatalogue) -> Arc<Guardrails> {
    let tier = catalogue.get(tenant.spec.tier);
    let (guardrails, errors) = tier.guardrails_for(tenant.spec.guardrails.as_ref());
    if let Some(first) = errors.first() {
        warn!(
            tenant = %tenant.name_any(),
            error = %first,
            errors = errors.len(),
            "the tenant's guardrails are invalid; its tier's apply"
        );
    }
    Arc::new(guardrails)
}

/// Folds one Tenant watch event into the guardrail cache; `pending` holds a relist.
pub fn apply_tenant(
    cache: &GuardrailCache,
    catalogue: &TierCatalogue,
    pending: &mut Vec<(String, Arc<Guardrails>)>,
    event: Event<Tenant>,
) {
    match event {
        Event::Init => pending.clear(),
        Event::InitApply(t) => pending.push((t.name_any(), tenant_guardrails(&t, catalogue))),
        Event::InitDone => {
            cache.replace_all(std::mem::take(pending));
            info!(tenants = cache.len(), "guardrail cache synced");
        }
        Event::Apply(t) => cache.set(&t.name_any(), tenant_guardrails(&t, catalogue)),
        Event::Delete(t) => cache.remove(&t.name_any()),
    }
}

/// Watches Tenants forever, keeping each one's compiled guardrails.
pub async fn watch_tenants(
    client: Client,
    catalogue: Arc<TierCatalogue>,
    cache: Arc<GuardrailCache>,
) {
    let api: Api<Tenant> = Api::all(client);
    let mut pending = Vec::new();
    run_watch(api, watcher::Config::default(), "tenant", |event| {
        apply_tenant(&cache, &catalogue, &mut pending, event);
    })
    .await;
}

/// The owner and hosts of an Ingress: its namespace's tenant (`""` outside tenant namespaces, so
/// that no tenant takes a host the platform or another team serves).
fn ingress_entry(ingress: &Ingress, namespaces: &NamespaceCache) -> (HostOwner, Vec<String>) {
    let namespace = ingress.namespace().unwrap_or_default();
    let owner = HostOwner {
        tenant: namespaces.tenant_of(&namespace).unwrap_or_default(),
        namespace,
        name: ingress.name_any(),
    };
    // The one reading of an Ingress's hosts, the guardrails' own.
    let hosts = serde_json::to_vec(ingress)
        .ok()
        .and_then(|bytes| {
            let object: Object<'_> = serde_json::from_slice(&bytes).ok()?;
            Some(
                ingress_hosts(&object)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            )
        })
        .unwrap_or_default();
    (owner, hosts)
}

/// Folds one Ingress watch event into the host index; `pending` holds a relist.
pub fn apply_ingress(
    hosts: &HostIndex,
    namespaces: &NamespaceCache,
    pending: &mut Vec<(HostOwner, Vec<String>)>,
    event: Event<Ingress>,
) {
    match event {
        Event::Init => pending.clear(),
        Event::InitApply(i) => pending.push(ingress_entry(&i, namespaces)),
        Event::InitDone => {
            hosts.replace_all(std::mem::take(pending));
            info!(ingresses = hosts.len(), "ingress host index synced");
        }
        Event::Apply(i) => {
            let (owner, list) = ingress_entry(&i, namespaces);
            let list: Vec<&str> = list.iter().map(String::as_str).collect();
            hosts.set(&owner.tenant, &owner.namespace, &owner.name, &list);
        }
        Event::Delete(i) => hosts.remove(&i.namespace().unwrap_or_default(), &i.name_any()),
    }
}

/// Watches every Ingress forever, keeping the host index.
pub async fn watch_ingresses(
    client: Client,
    namespaces: Arc<NamespaceCache>,
    hosts: Arc<HostIndex>,
) {
    let api: Api<Ingress> = Api::all(client);
    let mut pending = Vec::new();
    run_watch(api, watcher::Config::default(), "ingress", |event| {
        apply_ingress(&hosts, &namespaces, &mut pending, event);
    })
    .await;
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

    fn tenant(name: &str, tier: mtp_core::Tier, guardrails: Option<&str>) -> Tenant {
        let mut t = Tenant::test(name).with_tier(tier);
        if let Some(g) = guardrails {
            t.spec.guardrails = Some(serde_json::from_str(g).unwrap());
        }
        t
    }

    #[test]
    fn tenants_give_their_tiers_guardrails_with_their_own() {
        use mtp_core::Tier;
        use mtp_policy::admission::hooks::GuardrailLookup;
        let catalogue = TierCatalogue::default();
        let cache = GuardrailCache::default();
        let mut pending = Vec::new();
        apply_tenant(&cache, &catalogue, &mut pending, Event::Init);
        apply_tenant(
            &cache,
            &catalogue,
            &mut pending,
            Event::InitApply(tenant("acme", Tier::Pro, None)),
        );
        assert!(cache.is_empty(), "a relist in progress changes nothing");
        apply_tenant(&cache, &catalogue, &mut pending, Event::InitDone);
        let acme = cache.guardrails_of("acme").unwrap();
        assert!(acme.allows_service_type("LoadBalancer"), "pro's default");
        apply_tenant(
            &cache,
            &catalogue,
            &mut pending,
            Event::Apply(tenant(
                "acme",
                Tier::Pro,
                Some(r#"{"allowedServiceTypes": []}"#),
            )),
        );
        assert!(
            !cache
                .guardrails_of("acme")
                .unwrap()
                .allows_service_type("LoadBalancer")
        );
        // Invalid own settings: the tier's apply (the controller reports the spec as invalid).
        apply_tenant(
            &cache,
            &catalogue,
            &mut pending,
            Event::Apply(tenant(
                "acme",
                Tier::Pro,
                Some(r#"{"allowedServiceTypes": [], "forbiddenLabels": ["*"]}"#),
            )),
        );
        assert!(
            cache
                .guardrails_of("acme")
                .unwrap()
                .allows_service_type("LoadBalancer")
        );
        apply_tenant(
            &cache,
            &catalogue,
            &mut pending,
            Event::Delete(tenant("acme", Tier::Pro, None)),
        );
        assert!(cache.guardrails_of("acme").is_none());
    }

    fn ingress(namespace: &str, name: &str, hosts: &[&str]) -> Ingress {
        let rules: Vec<serde_json::Value> = hosts
            .iter()
            .map(|h| serde_json::json!({"host": h}))
            .collect();
        serde_json::from_value(
            serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"rules": rules}}),
        )
        .unwrap()
    }

    #[test]
    fn ingresses_are_owned_by_their_namespaces_tenant_or_by_nobody() {
        let namespaces = NamespaceCache::default();
        namespaces.set("bank-prod", Some("bank"));
        let hosts = HostIndex::default();
        let mut pending = Vec::new();
        apply_ingress(&hosts, &namespaces, &mut pending, Event::Init);
        apply_ingress(
            &hosts,
            &namespaces,
            &mut pending,
            Event::InitApply(ingress("bank-prod", "web", &["pay.example.com"])),
        );
        apply_ingress(
            &hosts,
            &namespaces,
            &mut pending,
            Event::InitApply(ingress("platform", "grafana", &["grafana.example.com"])),
        );
        apply_ingress(&hosts, &namespaces, &mut pending, Event::InitDone);
        assert!(hosts.conflict("acme", "pay.example.com").is_some());
        assert!(
            hosts.conflict("bank", "pay.example.com").is_none(),
            "its own"
        );
        assert!(
            hosts.conflict("acme", "grafana.example.com").is_some(),
            "a host outside tenant namespaces is nobody's to take"
        );
        apply_ingress(
            &hosts,
            &namespaces,
            &mut pending,
            Event::Apply(ingress("bank-prod", "web", &["pay2.example.com"])),
        );
        assert!(
            hosts.conflict("acme", "pay.example.com").is_none(),
            "the host moved"
        );
        apply_ingress(
            &hosts,
            &namespaces,
            &mut pending,
            Event::Delete(ingress("bank-prod", "web", &[])),
        );
        assert!(hosts.conflict("acme", "pay2.example.com").is_none());
    }
}
