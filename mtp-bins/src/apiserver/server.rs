//! Running the API: open the store (migrations), build the authenticator (generating the
//! platform-admin key on a first start), serve plain HTTP or HTTPS (certificate reloaded when
//! its files change) until SIGTERM/SIGINT (draining in-flight requests for at most
//! `--drain-timeout`), reload the keys file on SIGHUP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use mtp_auth::layer::TrustedProxies;
use mtp_store::{CachedStore, SeaStore};
use tokio::net::TcpListener;

use super::config::{self, ApiArgs, ClusterStatus};
use super::status::{KubeStatus, NoCluster, StatusSource};
use super::{ApiState, app};
use crate::tls::{self, TlsError, TlsFiles};

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
    let limiters = config::limiters(args)?;
    for (name, redis) in limiters.redis {
        state
            .metrics
            .add_redis_fallbacks(name, move || redis.fallback_count());
    }
    state.identity_limiter = Some(limiters.identity);
    state.ip_limiter = limiters.ip;
    state.trusted_proxies = TrustedProxies::parse(&args.trusted_proxies)?;
    state.platform_admin_group = args.platform_admin_group.clone();
    state.auth_config = args.auth_config();
    state.request_timeout = Duration::from_secs(args.request_timeout.max(1));
    state.header_read_timeout = Duration::from_secs(args.header_read_timeout.max(1));
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

/// Reloads `keys` on every SIGHUP (a bad file keeps the previous keys). The handler is
/// installed before this returns, so a SIGHUP right after it never kills the process.
pub fn spawn_sighup_reload(keys: Arc<mtp_auth::static_keys::StaticKeys>) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hup) => hup,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP: the keys file is not reloaded on signal");
            return;
        }
    };
    tokio::spawn(async move {
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

/// HTTPS for [`serve`]: the loaded certificate, swapped when its files change.
#[derive(Clone)]
pub struct Tls {
    /// The certificate and key files.
    pub files: TlsFiles,
    /// What the listener serves (swapped on reload).
    pub config: RustlsConfig,
    /// How often the files are looked at.
    pub reload_every: Duration,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("files", &self.files)
            .field("reload_every", &self.reload_every)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads `files` (an error names the file that is missing, unreadable or not valid PEM, or
    /// says the key does not belong to the certificate).
    pub fn load(files: TlsFiles, reload_every: Duration) -> Result<Tls, TlsError> {
        Ok(Tls {
            config: tls::load(&files)?,
            files,
            reload_every,
        })
    }
}

/// Serves `prepared` on `listener` (HTTPS with `tls`, else plain HTTP) until `shutdown`
/// completes. Then the listener is closed (new connections are refused), idle connections are
/// closed, and in-flight requests get `drain` to finish; connections still busy after that are
/// closed and this returns anyway. (SIGHUP is [`run`]'s business: [`spawn_sighup_reload`].)
pub async fn serve(
    listener: TcpListener,
    prepared: Prepared,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()> {
    let header_read_timeout = prepared.state.header_read_timeout;
    let make_service = app(prepared.state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stop = handle.clone();
    // Connections still open at the drain deadline (0: all drained in time). The deadline is
    // kept here, not by axum-server, so whether it was hit is known for certain: counting
    // connections after the server returned raced with the closing of the cut ones.
    let cut = Arc::new(AtomicUsize::new(0));
    let cut_at_deadline = Arc::clone(&cut);
    let signal = tokio::spawn(async move {
        shutdown.await;
        tracing::info!(
            drain_seconds = drain.as_secs_f64(),
            "shutting down: refusing new connections, draining in-flight requests"
        );
        stop.graceful_shutdown(None);
        let deadline = tokio::time::Instant::now() + drain;
        loop {
            let open = stop.connection_count();
            if open == 0 {
                return;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                cut_at_deadline.store(open, Ordering::SeqCst);
                stop.shutdown();
                return;
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(10))).await;
        }
    });
    let mut server = axum_server::Server::from_listener(listener).handle(handle.clone());
    tls::limit_header_reads(&mut server, header_read_timeout);
    let served = match tls {
        None => {
            server
                .acceptor(NoDelayAcceptor::new())
                .serve(make_service)
                .await
        }
        Some(tls) => {
            let reload = tls::spawn_watch(tls.config.clone(), tls.files, tls.reload_every);
            let served = server
                .acceptor(RustlsAcceptor::new(tls.config).acceptor(NoDelayAcceptor::new()))
                .serve(make_service)
                .await;
            reload.abort();
            served
        }
    };
    signal.abort();
    served.context("server error")?;
    let cut = cut.load(Ordering::SeqCst);
    if cut > 0 {
        tracing::warn!(
            connections = cut,
            "drain timeout: closed connections with requests still in flight"
        );
    } else {
        tracing::info!("drained; exiting");
    }
    Ok(())
}

/// The whole binary: load the TLS files, prepare, print the first key once, bind, serve until
/// SIGTERM.
pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    // Before anything is created on disk: a bad certificate must not leave a fresh keys file.
    let tls = args
        .tls_files()
        .map(|files| Tls::load(files, Duration::from_secs(args.cert_reload_seconds.max(1))))
        .transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let prepared = prepare(&args).await?;
    // Signal handlers before the "listening" line: whoever reads it may signal at once.
    let shutdown = crate::runtime::shutdown_signal();
    if let Some(keys) = prepared.keys.clone() {
        spawn_sighup_reload(keys);
    }
    if let Some(first) = &prepared.first_key {
        println!(
            "First start: generated the platform-admin API key (key id {}, group {}).\n\
             Its hash is stored in {}; the secret is shown this once:\n\n    {}\n\n\
             Use it as: curl -H 'Authorization: Bearer <key>' {scheme}://{}/api/v1/whoami",
            config::FIRST_KEY_ID,
            args.platform_admin_group,
            first.path.display(),
            first.secret.expose(),
            args.listen,
        );
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (given by --listen)", args.listen))?;
    let addr = listener.local_addr()?;
    println!("mtp-apiserver listening on {scheme}://{addr}");
    tracing::info!(%addr, tls = tls.is_some(), "listening");
    serve(
        listener,
        prepared,
        tls,
        shutdown,
        Duration::from_secs(args.drain_timeout),
    )
    .await
}
