//! `mtp-webhook serve`: the admission webhooks over HTTPS (rustls), certificates reloaded when they
//! change on disk, `/readyz` and `/metrics` on a plain-HTTP probe port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_server::tls_rustls::RustlsConfig;
use clap::Args;
use mtp_policy::admission::hooks::{
    DEFAULT_EXEMPT_GROUPS, DEFAULT_EXEMPT_USERS, NamespaceCache, service_account_user,
};
use mtp_policy::admission::{AdmissionUid, Outcome, Registry};
use tracing::{Instrument as _, debug, info};

use super::certs::{self, CertPaths};
use super::metrics::WebhookMetrics;
use crate::tls::{self, TlsFiles};

fn tls_files(paths: &CertPaths) -> TlsFiles {
    TlsFiles {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
    }
}

/// Flags of `mtp-webhook serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address of the HTTPS listener.
    #[arg(long, env = "MTP_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Directory holding `tls.crt` and `tls.key` (and `ca.crt`); reloaded when they change.
    #[arg(long, env = "MTP_CERT_DIR")]
    pub cert_dir: PathBuf,
    /// Generate a CA and a serving certificate into the cert dir when none is there.
    #[arg(long, env = "MTP_SELF_SIGNED")]
    pub self_signed: bool,
    /// DNS names of the generated certificate (repeat the flag; default: the Service names).
    #[arg(long = "dns-name", env = "MTP_DNS_NAMES", value_delimiter = ',')]
    pub dns_names: Vec<String>,
    /// Address of the plain-HTTP listener for `/readyz`, `/healthz` and `/metrics`.
    #[arg(long, env = "MTP_PROBE_LISTEN", default_value = "0.0.0.0:8080")]
    pub probe_listen: SocketAddr,
    /// The platform's namespace (excluded from tenant hooks, protected).
    #[arg(long, env = "MTP_PLATFORM_NAMESPACE", default_value = "mtp-system")]
    pub platform_namespace: String,
    /// The webhook Service's name (for the certificate's DNS names and `--manage`).
    #[arg(long, env = "MTP_SERVICE_NAME", default_value = "mtp-webhook")]
    pub service_name: String,
    /// In-cluster: ensure the TLS Secret, the Service and both webhook configurations (server-side
    /// apply), and rotate the certificate 30 days before it expires.
    #[arg(long, env = "MTP_MANAGE")]
    pub manage: bool,
    /// Watch namespaces through the Kubernetes API to resolve tenants (on by default with --manage).
    #[arg(long, env = "MTP_WATCH_NAMESPACES")]
    pub watch_namespaces: bool,
    /// How often to look for changed certificate files, in seconds.
    #[arg(long, env = "MTP_CERT_RELOAD_SECONDS", default_value_t = 5)]
    pub cert_reload_seconds: u64,
    /// Log every denied review at info (the checks that failed, the request id and uid);
    /// without it denials are logged at debug (the Kubernetes audit log and the
    /// `mtp_webhook_denials_total` metric record them either way).
    #[arg(long, env = "MTP_LOG_DENIALS")]
    pub log_denials: bool,
    /// Who the hooks let change what the platform owns.
    #[command(flatten)]
    pub hooks: HookArgs,
}

/// The identities the hooks treat as the platform's: flags of `mtp-webhook serve`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct HookArgs {
    /// The platform controller's ServiceAccount, as NAMESPACE:NAME: the only one who sets a
    /// namespace's tenant label, changes the platform's objects in tenant namespaces and a
    /// store-owned Tenant (default: PLATFORM-NAMESPACE:mtp-controller).
    #[arg(
        long,
        env = "MTP_CONTROLLER_SERVICE_ACCOUNT",
        value_name = "NAMESPACE:NAME",
        value_parser = parse_service_account
    )]
    pub controller_service_account: Option<ServiceAccount>,
    /// A user who may change or delete the platform's objects in tenant namespaces
    /// (managed-objects.mtp.dev), besides the controller; repeat the flag. Replaces the
    /// defaults (the namespace controller, the garbage collector and the controller manager,
    /// which delete a namespace's objects and a deleted Tenant's): list them again to keep them.
    #[arg(
        long = "managed-objects-exempt-user",
        env = "MTP_MANAGED_OBJECTS_EXEMPT_USERS",
        value_name = "USER",
        value_delimiter = ',',
        default_values = DEFAULT_EXEMPT_USERS
    )]
    pub exempt_users: Vec<String>,
    /// A group whose members may change or delete the platform's objects in tenant namespaces;
    /// repeat the flag. Replaces the default (system:masters).
    #[arg(
        long = "managed-objects-exempt-group",
        env = "MTP_MANAGED_OBJECTS_EXEMPT_GROUPS",
        value_name = "GROUP",
        value_delimiter = ',',
        default_values = DEFAULT_EXEMPT_GROUPS
    )]
    pub exempt_groups: Vec<String>,
}

impl Default for HookArgs {
    /// The same as the flags' defaults.
    fn default() -> HookArgs {
        HookArgs {
            controller_service_account: None,
            exempt_users: DEFAULT_EXEMPT_USERS.map(str::to_owned).to_vec(),
            exempt_groups: DEFAULT_EXEMPT_GROUPS.map(str::to_owned).to_vec(),
        }
    }
}

/// A ServiceAccount, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ServiceAccount {
    /// Its user name, `system:serviceaccount:<namespace>:<name>`.
    pub fn username(&self) -> String {
        service_account_user(&self.namespace, &self.name)
    }
}

/// Parses `NAMESPACE:NAME` (a DNS label and a DNS subdomain, as Kubernetes names them).
pub fn parse_service_account(value: &str) -> Result<ServiceAccount, String> {
    let usage = || {
        format!(
            "{value:?} is not NAMESPACE:NAME (a ServiceAccount, e.g. mtp-system:mtp-controller)"
        )
    };
    let (namespace, name) = value.split_once(':').ok_or_else(usage)?;
    let label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    let subdomain = |s: &str| s.len() <= 253 && s.split('.').all(label);
    if !label(namespace) || !subdomain(name) {
        return Err(usage());
    }
    Ok(ServiceAccount {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

impl ServeArgs {
    /// The certificate's DNS names: as given, else the Service's names.
    pub fn dns_names(&self) -> Vec<String> {
        if self.dns_names.is_empty() {
            certs::service_dns_names(&self.service_name, &self.platform_namespace)
        } else {
            self.dns_names.clone()
        }
    }
}

/// A server bound to its addresses, not yet serving.
pub struct Server {
    tls: std::net::TcpListener,
    probe: tokio::net::TcpListener,
    config: RustlsConfig,
    router: Router,
    probe_router: Router,
    ready: Arc<AtomicBool>,
    paths: CertPaths,
    reload_every: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("tls", &self.tls.local_addr().ok())
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct ProbeState {
    ready: Arc<AtomicBool>,
    metrics: Arc<WebhookMetrics>,
}

async fn readyz(State(state): State<ProbeState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the TLS listener is not serving yet\n",
        )
    }
}

async fn metrics_text(State(state): State<ProbeState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

/// The webhook router (every hook, plus `GET /healthz`), reporting to `metrics`; every request
/// runs in a span with its request id ([`admission_context`]); denials are logged at info when
/// `log_denials`, else at debug.
pub fn app(registry: &Registry, metrics: Arc<WebhookMetrics>, log_denials: bool) -> Router {
    registry
        .router_with_observer(metrics)
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(axum::middleware::from_fn_with_state(
            LogDenials(log_denials),
            admission_context,
        ))
}

/// Whether [`admission_context`] logs denials at info (else at debug).
#[derive(Debug, Clone, Copy)]
pub struct LogDenials(pub bool);

/// A span around each request, carrying its request id (the caller's `x-request-id` when sane,
/// else a new UUID, echoed in the response) into every log line, and, once the hook has read
/// it, the AdmissionReview's `request.uid` (`uid`). One line per answered review: refused
/// requests at info, denials at info with `--log-denials` (else debug), allowed reviews at debug. The span is error-level so that it is
/// enabled whenever any line is logged; when traces are exported it is the server span, a child
/// of the caller's `traceparent` (the Kubernetes apiserver sends one when its tracing is on).
pub async fn admission_context(
    State(LogDenials(log_denials)): State<LogDenials>,
    req: Request,
    next: Next,
) -> Response {
    let id = crate::telemetry::request_id(req.headers());
    // The OpenTelemetry fields only when spans are exported: every field of an enabled span is
    // formatted for the log lines, on every request.
    let span = if crate::telemetry::exporting() {
        tracing::error_span!(
            "admission",
            method = %req.method(),
            path = %req.uri().path(),
            request_id = %id,
            uid = tracing::field::Empty,
            otel.name = %format_args!("{} {}", req.method(), req.uri().path()),
            otel.kind = "server",
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        )
    } else {
        tracing::error_span!(
            "admission",
            method = %req.method(),
            path = %req.uri().path(),
            request_id = %id,
            uid = tracing::field::Empty,
        )
    };
    crate::telemetry::continue_trace(&span, req.headers());
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    span.record("http.response.status_code", status);
    if resp.status().is_server_error() {
        span.record("otel.status_code", "error");
    }
    if let Some(uid) = resp.extensions().get::<AdmissionUid>() {
        span.record("uid", uid.0.as_str());
    }
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| match resp.extensions().get::<Outcome>() {
        Some(Outcome::Denied(checks)) if log_denials => {
            info!(
                status,
                outcome = "denied",
                ?checks,
                elapsed_us,
                "admission review answered"
            );
        }
        Some(Outcome::Denied(checks)) => {
            debug!(
                status,
                outcome = "denied",
                ?checks,
                elapsed_us,
                "admission review answered"
            );
        }
        Some(Outcome::Rejected(_)) => {
            info!(
                status,
                outcome = "rejected",
                elapsed_us,
                "admission request refused"
            );
        }
        Some(outcome) => {
            debug!(status, ?outcome, elapsed_us, "admission review answered");
        }
        None => debug!(status, elapsed_us, "request answered"),
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut()
            .insert(crate::telemetry::REQUEST_ID_HEADER, v);
    }
    resp
}

impl Server {
    /// Prepares certificates (generating them with `--self-signed`), binds both listeners.
    pub async fn bind(args: &ServeArgs, registry: &Registry) -> anyhow::Result<Server> {
        // Only one TLS provider is compiled in, but be explicit; an error means one is installed.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let paths = CertPaths::in_dir(&args.cert_dir);
        if args.self_signed && certs::ensure_self_signed(&paths, &args.dns_names())? {
            info!(dir = %args.cert_dir.display(), "generated a CA and a serving certificate");
        }
        if !paths.cert.exists() || !paths.key.exists() {
            anyhow::bail!(
                "no tls.crt and tls.key in {}: mount a certificate there, or pass --self-signed (or --manage in a cluster)",
                args.cert_dir.display()
            );
        }
        let config = tls::load(&tls_files(&paths)).with_context(|| {
            format!(
                "cannot load the certificate from {}",
                args.cert_dir.display()
            )
        })?;
        let metrics = Arc::new(WebhookMetrics::default());
        let ready = Arc::new(AtomicBool::new(false));
        let tls = std::net::TcpListener::bind(args.listen)
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tls.set_nonblocking(true)?;
        let probe = tokio::net::TcpListener::bind(args.probe_listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.probe_listen))?;
        let probe_router = Router::new()
            .route("/readyz", get(readyz))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/metrics", get(metrics_text))
            .with_state(ProbeState {
                ready: Arc::clone(&ready),
                metrics: Arc::clone(&metrics),
            });
        Ok(Server {
            tls,
            probe,
            config,
            router: app(registry, metrics, args.log_denials),
            probe_router,
            ready,
            paths,
            reload_every: Duration::from_secs(args.cert_reload_seconds.max(1)),
        })
    }

    /// The HTTPS address.
    pub fn tls_addr(&self) -> std::io::Result<SocketAddr> {
        self.tls.local_addr()
    }

    /// The probe address.
    pub fn probe_addr(&self) -> std::io::Result<SocketAddr> {
        self.probe.local_addr()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests (up to 10 s).
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let handle = axum_server::Handle::new();
        let reload = tls::spawn_watch(
            self.config.clone(),
            tls_files(&self.paths),
            self.reload_every,
        );
        let probe_router = self.probe_router;
        let probe = self.probe;
        let probe_task = tokio::spawn(async move { axum::serve(probe, probe_router).await });
        let ready = Arc::clone(&self.ready);
        let watch = handle.clone();
        tokio::spawn(async move {
            if let Some(addr) = watch.listening().await {
                info!(%addr, "serving admission webhooks over TLS");
                ready.store(true, Ordering::Release);
            }
        });
        let stop = handle.clone();
        let ready = Arc::clone(&self.ready);
        tokio::spawn(async move {
            shutdown.await;
            info!("shutting down: draining in-flight requests");
            ready.store(false, Ordering::Release);
            stop.graceful_shutdown(Some(Duration::from_secs(10)));
        });
        let served = axum_server::from_tcp_rustls(self.tls, self.config)?
            .handle(handle)
            .serve(self.router.into_make_service())
            .await;
        reload.abort();
        probe_task.abort();
        served.context("the TLS server failed")
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
///
/// The handlers are installed when this is called, not when the future is first polled: a
/// signal arriving in between (say, right after a "listening" line) would otherwise get the
/// default action and kill the process without draining. Call it inside a tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let install = |kind: SignalKind, name: &'static str| {
        signal(kind)
            .inspect_err(|e| tracing::error!(error = %e, "cannot listen for {name}"))
            .ok()
    };
    let term = install(SignalKind::terminate(), "SIGTERM");
    let int = install(SignalKind::interrupt(), "SIGINT");
    async move {
        async fn recv(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = recv(term) => {},
            () = recv(int) => {},
        }
    }
}

/// The hooks mtp ships, for a platform in `platform_namespace`, with the default identities.
pub fn registry(
    platform_namespace: &str,
    namespaces: Arc<NamespaceCache>,
) -> Result<Registry, mtp_policy::admission::RegistryError> {
    registry_with(platform_namespace, &HookArgs::default(), namespaces)
}

/// The hooks mtp ships, for a platform in `platform_namespace`, with the identities of `hooks`.
/// The identities change the answers only, never the webhook configurations.
pub fn registry_with(
    platform_namespace: &str,
    hooks: &HookArgs,
    namespaces: Arc<NamespaceCache>,
) -> Result<Registry, mtp_policy::admission::RegistryError> {
    use mtp_policy::admission::Webhook;
    use mtp_policy::admission::hooks::{
        ManagedObjectsHook, NamespaceLabelsHook, PodSecurityHook, ProtectedNamespacesHook,
        TenantLabelsHook, TenantOwnershipHook, controller_user,
    };
    let controller = hooks.controller_service_account.as_ref().map_or_else(
        || controller_user(platform_namespace),
        ServiceAccount::username,
    );
    Registry::new([
        Arc::new(PodSecurityHook::new(platform_namespace)) as Arc<dyn Webhook>,
        Arc::new(TenantLabelsHook::new(namespaces, platform_namespace)),
        Arc::new(
            ProtectedNamespacesHook::new(platform_namespace).with_controller(controller.clone()),
        ),
        Arc::new(NamespaceLabelsHook::new(platform_namespace).with_controller(controller.clone())),
        Arc::new(
            ManagedObjectsHook::new(platform_namespace)
                .with_controller(controller.clone())
                .with_exempt_users(hooks.exempt_users.clone())
                .with_exempt_groups(hooks.exempt_groups.clone()),
        ),
        Arc::new(TenantOwnershipHook::new(platform_namespace).with_controller(controller)),
    ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;
    use mtp_policy::admission::AdmissionReview;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        hooks: HookArgs,
    }

    #[test]
    fn hook_flags_default_to_the_platform_identities() {
        let parsed = Cli::try_parse_from(["x"]).unwrap().hooks;
        assert_eq!(parsed, HookArgs::default());
        let parsed = Cli::try_parse_from([
            "x",
            "--controller-service-account",
            "platform:reconciler",
            "--managed-objects-exempt-user",
            "ops-bot",
            "--managed-objects-exempt-user",
            "system:serviceaccount:kube-system:namespace-controller",
            "--managed-objects-exempt-group=platform-admins,system:masters",
        ])
        .unwrap()
        .hooks;
        assert_eq!(
            parsed.controller_service_account.unwrap().username(),
            "system:serviceaccount:platform:reconciler"
        );
        assert_eq!(
            parsed.exempt_users,
            [
                "ops-bot",
                "system:serviceaccount:kube-system:namespace-controller"
            ]
        );
        assert_eq!(parsed.exempt_groups, ["platform-admins", "system:masters"]);
        for bad in ["mtp-controller", ":x", "x:", "Mtp:x", "a:b:c", "a_b:c"] {
            let err = Cli::try_parse_from(["x", "--controller-service-account", bad]).unwrap_err();
            assert!(
                err.to_string().contains("is not NAMESPACE:NAME"),
                "{bad}: {err}"
            );
        }
    }

    fn delete_by(user: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "u",
                "kind": {"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "RoleBinding"},
                "resource": {"group": "rbac.authorization.k8s.io", "version": "v1", "resource": "rolebindings"},
                "namespace": "tenant-acme",
                "name": "tenant-admins",
                "operation": "DELETE",
                "userInfo": {"username": user},
                "oldObject": {"metadata": {"labels": {"app.kubernetes.io/managed-by": "mtp", "mtp.dev/tenant": "acme"}}},
            }
        }))
        .unwrap()
    }

    #[test]
    fn the_registry_takes_the_identities_from_the_flags() {
        let hooks = Cli::try_parse_from([
            "x",
            "--controller-service-account=platform:reconciler",
            "--managed-objects-exempt-user=ops-bot",
        ])
        .unwrap()
        .hooks;
        let registry = registry_with("mtp-system", &hooks, Arc::default()).unwrap();
        let managed = registry
            .hooks()
            .iter()
            .find(|h| h.name() == "managed-objects.mtp.dev")
            .unwrap();
        for (user, allowed) in [
            ("system:serviceaccount:platform:reconciler", true),
            ("ops-bot", true),
            ("system:serviceaccount:mtp-system:mtp-controller", false),
            (
                "system:serviceaccount:kube-system:namespace-controller",
                false,
            ),
        ] {
            let body = delete_by(user);
            let review: AdmissionReview<'_> = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                managed.admit(review.request().unwrap()).allowed,
                allowed,
                "{user}"
            );
        }
        // The defaults: the platform namespace's mtp-controller and the namespace controller.
        let defaults = super::registry("mtp-system", Arc::default()).unwrap();
        let managed = &defaults.hooks()[4];
        for user in [
            "system:serviceaccount:mtp-system:mtp-controller",
            "system:serviceaccount:kube-system:namespace-controller",
        ] {
            let body = delete_by(user);
            let review: AdmissionReview<'_> = serde_json::from_slice(&body).unwrap();
            assert!(managed.admit(review.request().unwrap()).allowed, "{user}");
        }
    }
}
