//! `mtp-controller run`: flags, probes (`/healthz`, `/readyz`, `/metrics`), leader election, the
//! Tenant controller with watches on the objects it owns, and the store sync.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use futures_util::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, store::Writer};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use mtp_core::plan::TENANT_LABEL;
use mtp_core::{PlatformSettings, Store, Tenant, TierCatalogue};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::leader::{LeaderElector, LeaseConfig};
use super::reconcile::{error_policy, reconcile};
use super::{CacheWriters, Context, ControllerMetrics, InFlight, caches, sync};
use crate::runtime::{ProbeServer, ReadyFlag, probes};
use mtp_core::diff::{Kind, ObjectKey};

/// Flags of `mtp-controller run`; each also from an `MTP_*` variable.
#[derive(Clone, clap::Args)]
pub struct RunArgs {
    /// A kubeconfig file; in-cluster configuration (or $KUBECONFIG) when absent.
    #[arg(long, env = "MTP_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The store to sync into Tenant resources (`sqlite:///var/lib/mtp/mtp.db?mode=rwc`,
    /// `postgres://...`); no sync when absent.
    #[arg(long, env = "MTP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Run the store's migrations at start (the API server normally does).
    #[arg(long, env = "MTP_MIGRATE")]
    pub migrate: bool,
    /// A tier catalogue file overriding the built-in tiers.
    #[arg(long, env = "MTP_TIERS")]
    pub tiers: Option<PathBuf>,
    /// The namespace mtp runs in (the Lease lives there).
    #[arg(long, env = "MTP_PLATFORM_NAMESPACE", default_value = "mtp-system")]
    pub platform_namespace: String,
    /// Address of the plain-HTTP listener for `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, env = "MTP_PROBE_LISTEN", default_value = "0.0.0.0:8080")]
    pub probe_listen: SocketAddr,
    /// This replica's identity in the Lease (default: $POD_NAME, then $HOSTNAME).
    #[arg(long, env = "MTP_IDENTITY")]
    pub identity: Option<String>,
    /// The Lease's name.
    #[arg(long, env = "MTP_LEASE_NAME", default_value = "mtp-controller")]
    pub lease_name: String,
    /// Seconds a leader keeps the Lease without renewing it.
    #[arg(long, env = "MTP_LEASE_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=300))]
    pub lease_seconds: u64,
    /// Seconds between store sync rounds.
    #[arg(long, env = "MTP_SYNC_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub sync_seconds: u64,
    /// Seconds between reconciles of a healthy tenant.
    #[arg(long, env = "MTP_RESYNC_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=86400))]
    pub resync_seconds: u64,
    /// Tenants reconciled at the same time.
    #[arg(long, env = "MTP_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
}

impl Debug for RunArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may hold a password: never printed.
        f.debug_struct("RunArgs")
            .field("kubeconfig", &self.kubeconfig)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("tiers", &self.tiers)
            .field("platform_namespace", &self.platform_namespace)
            .field("probe_listen", &self.probe_listen)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Prints the CustomResourceDefinition of `Tenant` as YAML.
pub fn crd_yaml() -> anyhow::Result<String> {
    use kube::CustomResourceExt as _;
    Ok(serde_yaml::to_string(&Tenant::crd())?)
}

/// Why `/readyz` answers 503 until the controller serves.
pub const NOT_READY: &str = "the Lease cannot be read yet, or the caches are not synced";

/// The probe router: `/healthz` (alive), `/readyz` (`ready`), `/metrics` (the shared
/// [`crate::runtime::probes::router`]).
pub fn probe_router(ready: Arc<AtomicBool>, metrics: Arc<ControllerMetrics>) -> Router {
    probes::router(ReadyFlag::from_flag(ready, NOT_READY), metrics)
}

/// A client from `--kubeconfig`, or the in-cluster / `$KUBECONFIG` configuration.
pub async fn client(kubeconfig: Option<&PathBuf>) -> anyhow::Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read --kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("--kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no Kubernetes configuration: pass --kubeconfig, or run in a cluster")?,
    };
    Ok(Client::try_from(config)?)
}

/// The Tenant that controls `obj`, from its controller owner reference.
fn tenant_owner<K: Resource>(obj: &K) -> Option<ObjectRef<Tenant>> {
    obj.meta()
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| {
            o.controller == Some(true) && o.kind == "Tenant" && o.api_version == "mtp.dev/v1alpha1"
        })
        .map(|o| ObjectRef::new(&o.name))
}

/// Watches the objects of kind `K` labelled `mtp.dev/tenant` into `writer`, and sends the owning
/// Tenant of every object changed or deleted to `tx` (a deleted namespace is re-created within
/// seconds).
async fn watch_owned<K>(
    api: Api<K>,
    writer: Writer<K>,
    tx: mpsc::UnboundedSender<ObjectRef<Tenant>>,
    in_flight: Arc<InFlight>,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let config = watcher::Config::default()
        .labels(TENANT_LABEL)
        .any_semantic();
    // managedFields are dropped before caching: they are most of an object's size and the diff
    // never reads them (steady-state memory).
    let stream = reflector(
        writer,
        watcher(api, config).modify(|obj| obj.managed_fields_mut().clear()),
    )
    .default_backoff()
    .touched_objects();
    futures_util::pin_mut!(stream);
    let kind = Kind::ALL.into_iter().find(|k| k.as_str() == K::kind(&()));
    while let Some(item) = stream.next().await {
        match item {
            Ok(obj) => {
                if let Some(kind) = kind
                    && let Some(name) = obj.meta().name.clone()
                {
                    let key = ObjectKey {
                        kind,
                        namespace: obj.meta().namespace.clone(),
                        name,
                    };
                    // Events come in resourceVersion order: this one ends a pending write of
                    // ours at or before it (a deletion included).
                    in_flight.observed(&key, obj.meta().resource_version.as_deref());
                }
                if let Some(owner) = tenant_owner(&obj)
                    && tx.send(owner).is_err()
                {
                    return;
                }
            }
            Err(e) => warn!(kind = %K::kind(&()), error = %e, "watch failed; retrying"),
        }
    }
}

fn spawn_watches(
    client: &Client,
    writers: CacheWriters,
    tx: mpsc::UnboundedSender<ObjectRef<Tenant>>,
    in_flight: &Arc<InFlight>,
) {
    tokio::spawn(watch_owned(
        Api::<Namespace>::all(client.clone()),
        writers.namespaces,
        tx.clone(),
        in_flight.clone(),
    ));
    tokio::spawn(watch_owned(
        Api::<RoleBinding>::all(client.clone()),
        writers.role_bindings,
        tx.clone(),
        in_flight.clone(),
    ));
    tokio::spawn(watch_owned(
        Api::<NetworkPolicy>::all(client.clone()),
        writers.network_policies,
        tx.clone(),
        in_flight.clone(),
    ));
    tokio::spawn(watch_owned(
        Api::<LimitRange>::all(client.clone()),
        writers.limit_ranges,
        tx.clone(),
        in_flight.clone(),
    ));
    tokio::spawn(watch_owned(
        Api::<ResourceQuota>::all(client.clone()),
        writers.resource_quotas,
        tx.clone(),
        in_flight.clone(),
    ));
    tokio::spawn(watch_owned(
        Api::<ClusterRole>::all(client.clone()),
        writers.cluster_roles,
        tx.clone(),
        in_flight.clone(),
    ));
    tokio::spawn(watch_owned(
        Api::<ClusterRoleBinding>::all(client.clone()),
        writers.cluster_role_bindings,
        tx,
        in_flight.clone(),
    ));
}

fn receiver_stream<T: Send + 'static>(
    rx: mpsc::UnboundedReceiver<T>,
) -> impl Stream<Item = T> + Send {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

/// What of a Tenant triggers a reconcile: its identity (uid: a re-created Tenant starts anew),
/// its spec (generation) and its deletion. Status, finalizers, labels and annotations do not.
pub fn tenant_trigger(tenant: &Tenant) -> Option<u64> {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tenant.metadata.uid.hash(&mut h);
    tenant.metadata.generation.hash(&mut h);
    tenant.metadata.deletion_timestamp.is_some().hash(&mut h);
    Some(h.finish())
}

/// Runs the controller until SIGTERM (then releases the Lease) or until leadership is lost (an
/// error: the process exits and restarts as a standby).
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let client = client(args.kubeconfig.as_ref()).await?;
    let catalogue = match &args.tiers {
        Some(path) => TierCatalogue::from_file(path)?,
        None => TierCatalogue::default(),
    };
    let settings = PlatformSettings {
        platform_namespace: args.platform_namespace.clone(),
        ..PlatformSettings::default()
    };
    let store: Option<Arc<dyn Store>> = match &args.database_url {
        Some(url) => {
            let store = mtp_store::SeaStore::connect(url).await?;
            if args.migrate {
                store.migrate().await?;
            }
            Some(Arc::new(store))
        }
        None => None,
    };
    let metrics = Arc::new(ControllerMetrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    ProbeServer::bind(
        "--probe-listen",
        args.probe_listen,
        probe_router(ready.clone(), metrics.clone()),
    )
    .await?
    .spawn();
    let parts = Parts {
        client,
        catalogue,
        settings,
        store,
        metrics,
        ready,
    };
    run_with(parts, &args, crate::runtime::shutdown_signal()).await
}

/// What [`run_with`] runs on: built by [`run`] from the flags, or by a test.
pub struct Parts {
    /// The Kubernetes client.
    pub client: Client,
    /// The tier catalogue.
    pub catalogue: TierCatalogue,
    /// The platform settings.
    pub settings: PlatformSettings,
    /// The store to sync, if any.
    pub store: Option<Arc<dyn Store>>,
    /// The metrics.
    pub metrics: Arc<ControllerMetrics>,
    /// Set once this replica serves (leader or standby).
    pub ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("settings", &self.settings)
            .field("store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

/// Waits for the Lease, then runs the watches, the reconciler and the store sync until
/// `shutdown` resolves (then releases the Lease) or leadership is lost (an error).
pub async fn run_with(
    parts: Parts,
    args: &RunArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Parts {
        client,
        catalogue,
        settings,
        store,
        metrics,
        ready,
    } = parts;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("POD_NAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("mtp-controller-{}", std::process::id()));
    let elector = LeaderElector::new(
        client.clone(),
        LeaseConfig {
            namespace: args.platform_namespace.clone(),
            name: args.lease_name.clone(),
            identity: identity.clone(),
            duration: Duration::from_secs(args.lease_seconds),
        },
    );
    // A standby is ready (it serves probes and waits its turn).
    ready.store(true, Ordering::Release);
    info!(%identity, "waiting for the Lease");
    tokio::select! {
        () = elector.acquire(Duration::from_secs(2)) => {},
        () = stopped(stop_rx.clone()) => return Ok(()),
    }
    metrics.set_leader(true);

    let (caches, writers) = caches();
    let (tx, rx) = mpsc::unbounded_channel();
    spawn_watches(&client, writers, tx, &caches.in_flight);
    let mut ctx = Context::new(
        client.clone(),
        catalogue,
        settings,
        caches.clone(),
        metrics.clone(),
        Some(identity),
    );
    ctx.resync = Duration::from_secs(args.resync_seconds);
    ctx.store = store.clone();
    let ctx = Arc::new(ctx);
    tokio::select! {
        r = caches.wait_until_ready() => r.context("the watches stopped")?,
        () = stopped(stop_rx.clone()) => {
            release(&elector).await;
            return Ok(());
        }
    }
    info!("caches synced; reconciling");

    // The Tenants: one watch feeds the controller's cache and queue. Only what a reconcile acts
    // on triggers one (uid, generation, deletion; see `tenant_trigger`): the status this
    // controller writes, a finalizer or a label are not triggers, so a status write cannot
    // start the next attempt of a failing tenant. The end of the first list is signalled on
    // `listed` for the store sync (a second waiter on the cache's own readiness would never be
    // woken: that future wakes only its last poller).
    let (tenants, tenant_writer) = reflector::store::<Tenant>();
    let (listed_tx, listed_rx) = watch::channel(false);
    let tenant_events = reflector(
        tenant_writer,
        watcher(
            Api::<Tenant>::all(client.clone()),
            watcher::Config::default().any_semantic(),
        )
        .modify(|t| t.managed_fields_mut().clear()),
    )
    .default_backoff()
    .inspect(move |event| {
        if matches!(event, Ok(watcher::Event::InitDone)) {
            listed_tx.send_replace(true);
        }
    })
    .applied_objects()
    .predicate_filter(tenant_trigger, Default::default());
    let controller = Controller::for_stream(tenant_events, tenants.clone())
        .with_config(ControllerConfig::default().concurrency(args.concurrency))
        .reconcile_on(receiver_stream(rx))
        .graceful_shutdown_on(stopped(stop_rx.clone()));
    if let Some(store) = store {
        let client = client.clone();
        let metrics = metrics.clone();
        let interval = Duration::from_secs(args.sync_seconds);
        let mut listed = listed_rx;
        tokio::spawn(async move {
            if listed.wait_for(|l| *l).await.is_ok() {
                info!(every = ?interval, "store sync running");
                sync::run_forever(store, client, tenants, interval, metrics).await;
            }
        });
    }
    let controller = controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile error");
            }
        });
    let lost = tokio::select! {
        () = controller => false,
        () = elector.renew_until_lost() => true,
    };
    metrics.set_leader(false);
    if lost {
        anyhow::bail!("leadership lost: exiting so that a fresh start waits for the Lease");
    }
    release(&elector).await;
    Ok(())
}

async fn release(elector: &LeaderElector) {
    if let Err(e) = elector.release().await {
        warn!(error = %e, "cannot release the Lease; another replica takes over once it expires");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use tower::ServiceExt as _;

    #[test]
    fn owned_objects_map_to_their_tenant() {
        let mut ns = Namespace::default();
        assert_eq!(tenant_owner(&ns), None);
        let owner = |kind: &str, controller| OwnerReference {
            api_version: "mtp.dev/v1alpha1".into(),
            kind: kind.into(),
            name: "acme".into(),
            uid: "u".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        };
        ns.metadata.owner_references =
            Some(vec![owner("Deployment", true), owner("Tenant", false)]);
        assert_eq!(
            tenant_owner(&ns),
            None,
            "only a controller reference to a Tenant"
        );
        ns.metadata.owner_references = Some(vec![owner("Tenant", true)]);
        assert_eq!(tenant_owner(&ns), Some(ObjectRef::new("acme")));
    }

    #[tokio::test]
    async fn probes_answer() {
        let ready = Arc::new(AtomicBool::new(false));
        let metrics = Arc::new(ControllerMetrics::default());
        metrics.set_leader(true);
        let app = probe_router(ready.clone(), metrics);
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let r = app.clone().oneshot(get("/healthz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = app.clone().oneshot(get("/readyz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        ready.store(true, Ordering::Release);
        let r = app.clone().oneshot(get("/readyz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = app.oneshot(get("/metrics")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("mtp_controller_leader 1"));
    }
}
