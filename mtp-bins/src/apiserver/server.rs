//! Running the API: open the store (migrations), build the authenticator (generating the
//! platform-admin key on a first start), serve until SIGTERM/SIGINT (draining in-flight
//! requests), reload the keys file on SIGHUP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mtp_auth::layer::TrustedProxies;
use mtp_store::{CachedStore, SeaStore};
use tokio::net::TcpListener;

use super::config::{self, ApiArgs, ClusterStatus};
use super::status::{KubeStatus, NoCluster, StatusSource};
use super::{ApiState, app};

/// What [`prepare`] built: the state and, on a first start, the generated key.
#[derive(Debug)]
pub struct Prepared {
    /// The router's state.
    pub state: ApiState,
    /// The static keys to reload on SIGHUP.
    pub keys: Option<Arc<mtp_auth::static_keys::StaticKeys>>,
    /// The key generated on a first start (print it once).
    pub first_key: Option<config::FirstKey>,
}

/// Opens the store and builds everything the router needs.
pub async fn prepare(args: &ApiArgs) -> anyhow::Result<Prepared> {
    let store = SeaStore::open(args.database_url.expose())
        .await
        .context("cannot open the database (the URL is not shown)")?;
    let mut first_key = None;
    if matches!(
        args.auth.auth_mode,
        mtp_auth::cli::AuthMode::StaticKeys | mtp_auth::cli::AuthMode::Chain
    ) {
        first_key = config::ensure_keys_file(&args.keys_file(), &args.platform_admin_group)?;
    }
    let authn = config::authenticator(args)?;
    if matches!(args.auth.auth_mode, mtp_auth::cli::AuthMode::None) {
        tracing::warn!(
            "--auth-mode none: every request is the platform admin \"dev\"; local development only"
        );
    }
    let ttl = args.read_cache_ttl();
    let store: Arc<dyn mtp_core::Store> = if ttl.is_zero() {
        Arc::new(store)
    } else {
        Arc::new(CachedStore::new(store, ttl))
    };
    let mut state = ApiState::new(store, authn.auth);
    state.identity_limiter = Some(args.auth.rate_limiter()?);
    state.ip_limiter = config::ip_limiter(args)?;
    state.trusted_proxies = TrustedProxies::parse(&args.trusted_proxies)?;
    state.platform_admin_group = args.platform_admin_group.clone();
    state.auth_config = args.auth_config();
    state.request_timeout = Duration::from_secs(args.request_timeout.max(1));
    state.status = cluster_status(args.cluster_status).await;
    Ok(Prepared {
        state,
        keys: authn.keys,
        first_key,
    })
}

async fn cluster_status(mode: ClusterStatus) -> Arc<dyn StatusSource> {
    if mode == ClusterStatus::Off {
        return Arc::new(NoCluster);
    }
    match kube::Config::infer().await {
        Ok(config) => match kube::Client::try_from(config) {
            Ok(client) => {
                tracing::info!("tenant status is read from the cluster");
                Arc::new(KubeStatus::new(client))
            }
            Err(e) => {
                tracing::warn!(error = %e, "no usable cluster config: tenant status is unknown");
                Arc::new(NoCluster)
            }
        },
        Err(_) => {
            tracing::info!("no kubeconfig or in-cluster config: tenant status is unknown");
            Arc::new(NoCluster)
        }
    }
}

/// Waits for SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    crate::webhook::serve::shutdown_signal().await
}

/// Reloads `keys` on every SIGHUP (a bad file keeps the previous keys).
pub fn spawn_sighup_reload(keys: Arc<mtp_auth::static_keys::StaticKeys>) {
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::error!("cannot listen for SIGHUP: the keys file is not reloaded on signal");
            return;
        };
        while hup.recv().await.is_some() {
            match keys.reload() {
                Ok(n) => tracing::info!(keys = n, "SIGHUP: API keys reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: the keys file is invalid; keeping the previous keys")
                }
            }
        }
    });
}

/// Serves `prepared` on `listener` until `shutdown` completes, then drains in-flight requests
/// for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    prepared: Prepared,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()> {
    if let Some(keys) = prepared.keys.clone() {
        spawn_sighup_reload(keys);
    }
    let router = app(prepared.state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        r = &mut server => return r.context("server error"),
        _ = rx => {}
    }
    match tokio::time::timeout(drain, server).await {
        Ok(r) => r.context("server error"),
        Err(_) => {
            tracing::warn!("drain timeout: exiting with requests still in flight");
            Ok(())
        }
    }
}

/// The whole binary: prepare, print the first key once, bind, serve until SIGTERM.
pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let prepared = prepare(&args).await?;
    if let Some(first) = &prepared.first_key {
        println!(
            "First start: generated the platform-admin API key (key id {}, group {}).\n\
             Its hash is stored in {}; the secret is shown this once:\n\n    {}\n\n\
             Use it as: curl -H 'Authorization: Bearer <key>' http://{}/api/v1/whoami",
            config::FIRST_KEY_ID,
            args.platform_admin_group,
            first.path.display(),
            first.secret.expose(),
            args.listen,
        );
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("mtp-apiserver listening on http://{addr}");
    tracing::info!(%addr, "listening");
    serve(
        listener,
        prepared,
        shutdown_signal(),
        Duration::from_secs(args.drain_timeout),
    )
    .await
}
