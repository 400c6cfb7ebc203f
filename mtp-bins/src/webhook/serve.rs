//! `mtp-webhook serve`: the admission webhooks over HTTPS (rustls), certificates reloaded when they
//! change on disk, `/healthz`, `/readyz` and `/metrics` on a plain-HTTP probe port (the shared
//! `runtime::probes`). Only the hooks ([`registry`]) are compiled without the `webhook`
//! feature: `mtpctl install` generates their configurations.

#[cfg(feature = "webhook")]
use std::net::SocketAddr;
#[cfg(feature = "webhook")]
use std::path::PathBuf;
use std::sync::Arc;
#[cfg(feature = "webhook")]
use std::time::Duration;

#[cfg(feature = "webhook")]
use anyhow::Context as _;
#[cfg(feature = "webhook")]
use axum::Router;
#[cfg(feature = "webhook")]
use axum::http::{Extensions, StatusCode};
#[cfg(feature = "webhook")]
use axum::routing::get;
#[cfg(feature = "webhook")]
use axum_server::tls_rustls::RustlsConfig;
use clap::Args;
use mtp_policy::admission::Registry;
use mtp_policy::admission::hooks::{
    DEFAULT_EXEMPT_GROUPS, DEFAULT_EXEMPT_USERS, GuardrailCache, NamespaceCache,
    service_account_user,
};
#[cfg(feature = "webhook")]
use mtp_policy::admission::{AdmissionUid, Outcome};
use mtp_policy::guardrails::{Guardrails, HostIndex};
#[cfg(feature = "webhook")]
use tracing::{debug, info};

#[cfg(feature = "webhook")]
use super::certs::{self, CertPaths};
#[cfg(feature = "webhook")]
use super::metrics::WebhookMetrics;
#[cfg(feature = "webhook")]
use crate::runtime::{ProbeServer, ReadyFlag, RequestContext, probes, with_request_context};
#[cfg(feature = "webhook")]
use crate::tls::{self, TlsFiles};

#[cfg(feature = "webhook")]
fn tls_files(paths: &CertPaths) -> TlsFiles {
    TlsFiles {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
    }
}

/// Flags of `mtp-webhook serve`.
#[cfg(feature = "webhook")]
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
    /// A tier catalogue file overriding the built-in tiers (as `mtp-controller --tiers`): the
    /// tiers' guardrails, which a Tenant's `spec.guardrails` overrides.
    #[arg(long, env = "MTP_TIERS")]
    pub tiers: Option<PathBuf>,
    /// How often to look for changed certificate files, in seconds.
    #[arg(long, env = "MTP_CERT_RELOAD_SECONDS", default_value_t = 5)]
    pub cert_reload_seconds: u64,
    /// Seconds a client gets to finish a request head it has started; one trickling its
    /// headers is disconnected, so it holds no worker.
    #[arg(long, env = "MTP_HEADER_READ_TIMEOUT", default_value_t = tls::DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    pub header_read_timeout: u64,
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

#[cfg(feature = "webhook")]
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
#[cfg(feature = "webhook")]
pub struct Server {
    tls: std::net::TcpListener,
    probe: ProbeServer,
    config: RustlsConfig,
    router: Router,
    ready: ReadyFlag,
    paths: CertPaths,
    reload_every: Duration,
    header_read_timeout: Duration,
}

#[cfg(feature = "webhook")]
impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("tls", &self.tls.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// The webhook router (every hook, plus `GET /healthz`), reporting to `metrics`, inside the
/// request context ([`crate::runtime::request`]): every request runs in an `admission` span
/// with its request id and, once the hook has read it, the AdmissionReview's `request.uid`
/// (`uid`). One line per answered review: refused requests at info, denials at info when
/// `log_denials` (else debug), allowed reviews at debug.
#[cfg(feature = "webhook")]
pub fn app(registry: &Registry, metrics: Arc<WebhookMetrics>, log_denials: bool) -> Router {
    let router = registry
        .router_with_observer(metrics)
        .route("/healthz", get(probes::healthz));
    with_request_context(
        router,
        RequestContext::admission(move |span, status, extensions, elapsed_us| {
            answered(log_denials, span, status, extensions, elapsed_us);
        }),
    )
}

/// Records the review's uid in the request's span and logs the answer by its outcome.
#[cfg(feature = "webhook")]
fn answered(
    log_denials: bool,
    span: &tracing::Span,
    status: StatusCode,
    extensions: &Extensions,
    elapsed_us: u64,
) {
    if let Some(uid) = extensions.get::<AdmissionUid>() {
        span.record("uid", uid.0.as_str());
    }
    let status = status.as_u16();
    match extensions.get::<Outcome>() {
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
    }
}

#[cfg(feature = "webhook")]
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
        let ready = ReadyFlag::new("the TLS listener is not serving yet");
        let tls = std::net::TcpListener::bind(args.listen)
            .with_context(|| format!("cannot listen on {} (given by --listen)", args.listen))?;
        tls.set_nonblocking(true)?;
        let probe = ProbeServer::bind(
            "--probe-listen",
            args.probe_listen,
            probes::router(ready.clone(), Arc::clone(&metrics)),
        )
        .await?;
        Ok(Server {
            tls,
            probe,
            config,
            router: app(registry, metrics, args.log_denials),
            ready,
            paths,
            reload_every: Duration::from_secs(args.cert_reload_seconds.max(1)),
            header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
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
        let probe_task = self.probe.spawn();
        let ready = self.ready.clone();
        let watch = handle.clone();
        tokio::spawn(async move {
            if let Some(addr) = watch.listening().await {
                info!(%addr, "serving admission webhooks over TLS");
                ready.set(true);
            }
        });
        let stop = handle.clone();
        let ready = self.ready.clone();
        tokio::spawn(async move {
            shutdown.await;
            info!("shutting down: draining in-flight requests");
            ready.set(false);
            stop.graceful_shutdown(Some(Duration::from_secs(10)));
        });
        let mut server = axum_server::from_tcp_rustls(self.tls, self.config)?.handle(handle);
        tls::limit_header_reads(&mut server, self.header_read_timeout);
        let served = server.serve(self.router.into_make_service()).await;
        reload.abort();
        probe_task.abort();
        served.context("the TLS server failed")
    }
}

/// What the hooks know of the cluster: namespace → tenant, tenant → guardrails, and the hosts of
/// every tenant's Ingresses, fed by watches (`--watch-namespaces`, `--manage`) or by tests.
#[derive(Debug, Clone)]
pub struct HookState {
    /// Which tenant each namespace belongs to.
    pub namespaces: Arc<NamespaceCache>,
    /// Each tenant's compiled guardrails (its tier's with its own).
    pub guardrails: Arc<GuardrailCache>,
    /// The hosts of every tenant's Ingresses.
    pub hosts: Arc<HostIndex>,
    /// The guardrails applied while a tenant's are not known: the free tier's, the strictest.
    pub fallback: Arc<Guardrails>,
}

impl Default for HookState {
    /// Empty caches; the built-in free tier's guardrails as the fallback.
    fn default() -> HookState {
        HookState::with_fallback(&mtp_core::TierCatalogue::default())
    }
}

impl HookState {
    /// Empty caches, with the free tier of `catalogue` as the fallback.
    pub fn with_fallback(catalogue: &mtp_core::TierCatalogue) -> HookState {
        let (fallback, _) = catalogue.get(mtp_core::Tier::Free).guardrails_for(None);
        HookState {
            namespaces: Arc::default(),
            guardrails: Arc::default(),
            hosts: Arc::default(),
            fallback: Arc::new(fallback),
        }
    }
}

/// The hooks mtp ships, for a platform in `platform_namespace`, with the default identities.
pub fn registry(
    platform_namespace: &str,
    state: &HookState,
) -> Result<Registry, mtp_policy::admission::RegistryError> {
    registry_with(platform_namespace, &HookArgs::default(), state)
}

/// The hooks mtp ships, for a platform in `platform_namespace`, with the identities of `hooks`.
/// The identities change the answers only, never the webhook configurations.
pub fn registry_with(
    platform_namespace: &str,
    hooks: &HookArgs,
    state: &HookState,
) -> Result<Registry, mtp_policy::admission::RegistryError> {
    use mtp_policy::admission::Webhook;
    use mtp_policy::admission::hooks::{
        GuardrailsHook, ManagedObjectsHook, NamespaceLabelsHook, NodeSelectorHook, PodSecurityHook,
        ProtectedNamespacesHook, TenantLabelsHook, TenantOwnershipHook, controller_user,
    };
    let controller = hooks.controller_service_account.as_ref().map_or_else(
        || controller_user(platform_namespace),
        ServiceAccount::username,
    );
    Registry::new([
        Arc::new(PodSecurityHook::new(platform_namespace)) as Arc<dyn Webhook>,
        Arc::new(TenantLabelsHook::new(
            state.namespaces.clone(),
            platform_namespace,
        )),
        Arc::new(
            GuardrailsHook::new(
                state.namespaces.clone(),
                state.guardrails.clone(),
                state.fallback.clone(),
                platform_namespace,
            )
            .with_hosts(state.hosts.clone()),
        ),
        Arc::new(NodeSelectorHook::new(
            state.namespaces.clone(),
            state.guardrails.clone(),
            state.fallback.clone(),
            platform_namespace,
        )),
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
        let registry = registry_with("mtp-system", &hooks, &HookState::default()).unwrap();
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
        let defaults = super::registry("mtp-system", &HookState::default()).unwrap();
        let managed = defaults
            .hooks()
            .iter()
            .find(|h| h.name() == "managed-objects.mtp.dev")
            .unwrap();
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
