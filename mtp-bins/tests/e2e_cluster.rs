//! The end-to-end suite on a real cluster (docs/controller.md#end-to-end-on-a-real-cluster):
//! what the mocked-apiserver tests cannot show — the shipped RBAC, admission order (LimitRange
//! defaults, Pod Security, then mtp's webhooks) and the multi-tenancy benchmark checks.
//!
//! ```sh
//! MTP_E2E_KUBECONFIG=/tmp/kind.kubeconfig cargo test -p mtp-bins --test e2e_cluster -- --ignored --test-threads=1
//! ```
//!
//! The install is rendered by `mtpctl install` and server-side applied (no Deployments: the
//! controller and the webhook run here as child processes under their own ServiceAccounts'
//! tokens, and the webhook configurations point at the local webhook by `url`). The cluster-admin
//! kubeconfig is used for setup, assertions and impersonation only. Without
//! `MTP_E2E_KUBECONFIG` the test prints one line saying how to run it and passes.

#[path = "e2e_cluster/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use harness::binaries::{self, PLATFORM_NAMESPACE};
use harness::install::{self, FIELD_MANAGER};
use harness::process::{Proc, free_port};
use harness::refusal::{self, Refusal, RefusedBy};
use harness::wait::{self, Poll};
use harness::{Report, kubeconfig, say};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    LimitRange, Namespace, Pod, ResourceQuota, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Resource};
use mtp_core::diff::{Kind, ObjectKey, PlannedObject, is_subset, planned_objects};
use mtp_core::plan::TENANT_LABEL;
use mtp_core::{PlatformSettings, Tenant, TenantSpec, Tier, TierCatalogue, plan};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The name of both webhook configurations (as installed).
const CONFIGURATION_NAME: &str = "mtp";
const ADMIN_USER: &str = "alice@e2e.example";
const VIEWER_USER: &str = "viewer@e2e.example";
const OTHER_ADMIN_USER: &str = "bob@e2e.example";
/// Label on everything the suite creates, with the run's id.
const RUN_LABEL: &str = "e2e.mtp.dev/run";

const PROCESS_READY: Duration = Duration::from_secs(60);
const CRD_ESTABLISHED: Duration = Duration::from_secs(60);
const WEBHOOK_EFFECTIVE: Duration = Duration::from_secs(30);
const TENANT_READY: Duration = Duration::from_secs(120);
const REPAIRED: Duration = Duration::from_secs(60);
const SERVICE_ACCOUNT_CREATED: Duration = Duration::from_secs(60);
const NAMESPACES_DELETED: Duration = Duration::from_secs(180);
const TENANT_GONE: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a disposable cluster: set MTP_E2E_KUBECONFIG (docs/controller.md#end-to-end-on-a-real-cluster)"]
async fn real_cluster() {
    let Some(path) = harness::admin_kubeconfig_path() else {
        say(harness::SKIP_MESSAGE);
        return;
    };
    if let Err(message) = run(&path).await {
        panic!("{message}");
    }
}

/// Runs setup, the checks and the cleanup; `Err` holds everything a reader needs: the failed
/// checks, the setup error if any, and the stderr of the binaries.
async fn run(path: &Path) -> Result<(), String> {
    let mut suite = Suite::connect(path)
        .await
        .map_err(|e| format!("cannot use {}: {e:#}", path.display()))?;
    let mut report = Report::printing();
    let outcome = scenario(&mut suite, &mut report).await;
    suite.cleanup(&report).await;
    say(&report.summary());
    let mut problems: Vec<String> = report.failures().to_vec();
    if let Err(e) = outcome {
        problems.push(format!("the scenario stopped: {e:#}"));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "real-cluster suite (run {}): {}\n- {}",
        suite.run_id,
        report.summary(),
        problems.join("\n- ")
    );
    for proc in [&suite.webhook, &suite.controller].into_iter().flatten() {
        message.push('\n');
        message.push_str(&proc.report());
    }
    Err(message)
}

/// The ordered scenario: each step needs the ones before it.
async fn scenario(suite: &mut Suite, report: &mut Report) -> anyhow::Result<()> {
    suite.install(report).await?;
    suite.start_webhook(report).await?;
    suite.register_webhook(report).await?;
    suite.start_controller(report).await?;
    let tenants = suite.tenants_become_ready(report).await?;
    suite.drift_is_repaired(report, &tenants.own).await;
    suite.tenant_admin_is_contained(report, &tenants).await?;
    suite.tenant_label_cannot_be_spoofed(report, &tenants).await;
    suite.guardrails_are_enforced(report, &tenants).await;
    suite
        .deleting_tenants_removes_namespaces(report, &tenants)
        .await;
    suite.no_lockout_while_the_webhook_is_down(report).await;
    Ok(())
}

/// The suite's connection, names and child processes.
struct Suite {
    admin: Client,
    admin_kubeconfig: Kubeconfig,
    admin_dir: PathBuf,
    run_id: String,
    tmp: tempfile::TempDir,
    webhook_host: String,
    webhook_url: String,
    webhook: Option<Proc>,
    controller: Option<Proc>,
    controller_client: Option<Client>,
    registered: bool,
    created_tenants: Vec<String>,
    created_namespaces: Vec<String>,
}

/// The two Tenants of the run and their plans.
struct Tenants {
    own: TenantUnderTest,
    other: TenantUnderTest,
}

struct TenantUnderTest {
    name: String,
    namespaces: Vec<String>,
    planned: Vec<PlannedObject>,
}

impl TenantUnderTest {
    fn primary(&self) -> &str {
        self.namespaces.first().map_or("", String::as_str)
    }

    fn planned(&self, kind: Kind, namespace: &str) -> Option<&PlannedObject> {
        self.planned
            .iter()
            .find(|p| p.key.kind == kind && p.key.namespace.as_deref() == Some(namespace))
    }
}

fn api_error_text(e: &kube::Error) -> String {
    match refusal::of_error(e) {
        Some(r) => format!("{} {}", r.code, r.message),
        None => e.to_string(),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// A JSON rendering of a live object for messages, without the noise of managedFields.
fn shown(value: &Value) -> String {
    let mut v = value.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let text = v.to_string();
    match text.char_indices().nth(1500) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

async fn get_value<K>(api: Api<K>, name: &str) -> anyhow::Result<Option<Value>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Serialize,
{
    match api.get_opt(name).await? {
        Some(o) => Ok(Some(serde_json::to_value(o)?)),
        None => Ok(None),
    }
}

/// The live object for a plan key, as JSON (with apiVersion and kind), or `None` if absent.
async fn live(client: &Client, key: &ObjectKey) -> anyhow::Result<Option<Value>> {
    let c = client.clone();
    let ns = key.namespace.as_deref().unwrap_or_default();
    let name = key.name.as_str();
    // The controller's own mapping of the plan's kinds to their API resources.
    let resource = mtp_bins::controller::api_resource(key.kind);
    let api: Api<kube::api::DynamicObject> = if key.kind.cluster_scoped() {
        Api::all_with(c, &resource)
    } else {
        Api::namespaced_with(c, ns, &resource)
    };
    let value = get_value(api, name).await;
    value.with_context(|| format!("cannot read {key}"))
}

/// Whether the live object holds the plan's fields: `Ok(())`, or what differs.
async fn matches_plan(
    client: &Client,
    planned: &PlannedObject,
) -> anyhow::Result<Result<(), String>> {
    Ok(match live(client, &planned.key).await? {
        None => Err(format!(
            "expected {} to exist as planned; the cluster has no such object",
            planned.key
        )),
        Some(v) if is_subset(&planned.value, &v) => Ok(()),
        Some(v) => Err(format!(
            "{} differs from the plan: expected the fields {}; the cluster has {}",
            planned.key,
            shown(&planned.value),
            shown(&v)
        )),
    })
}

fn ready_condition(tenant: &Tenant) -> Result<(), String> {
    let Some(status) = &tenant.status else {
        return Err("no status yet".to_owned());
    };
    let generation = tenant.metadata.generation;
    let Some(ready) = status.conditions.iter().find(|c| c.type_ == "Ready") else {
        return Err(format!(
            "status without a Ready condition: {:?}",
            status.conditions
        ));
    };
    let describe = format!(
        "Ready={} reason={} message={:?} observedGeneration={:?} (generation {:?})",
        ready.status,
        ready.reason.as_deref().unwrap_or("-"),
        ready.message.as_deref().unwrap_or(""),
        status.observed_generation,
        generation
    );
    if ready.status == "True" && status.observed_generation == generation {
        Ok(())
    } else {
        Err(describe)
    }
}

/// A pod that passes the `restricted` Pod Security level and mtp's profile, with `change` applied.
fn pod(name: &str, change: impl FnOnce(&mut Value)) -> anyhow::Result<Pod> {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name },
        "spec": {
            "automountServiceAccountToken": false,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 65532,
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            "containers": [{
                "name": "app",
                "image": "registry.k8s.io/pause:3.10",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "runAsNonRoot": true,
                    "capabilities": { "drop": ["ALL"] },
                },
            }],
        },
    });
    change(&mut pod);
    serde_json::from_value(pod).context("the test pod does not deserialize")
}

/// A change to the compliant test pod.
type PodChange = Box<dyn FnOnce(&mut Value)>;

fn dry_run() -> PostParams {
    PostParams {
        dry_run: true,
        field_manager: None,
    }
}

impl Suite {
    async fn connect(path: &Path) -> anyhow::Result<Suite> {
        let admin_kubeconfig = Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
        let config = kube::Config::from_custom_kubeconfig(
            admin_kubeconfig.clone(),
            &KubeConfigOptions::default(),
        )
        .await
        .context("cannot load the kubeconfig")?;
        let server = config.cluster_url.to_string();
        let admin = Client::try_from(config).context("cannot build a client")?;
        let version = admin
            .apiserver_version()
            .await
            .with_context(|| format!("cannot reach the apiserver at {server}"))?;
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let webhook_host = harness::webhook_host();
        say(&format!(
            "e2e run {run_id}: apiserver {server} ({}), webhook host {webhook_host}",
            version.git_version
        ));
        let admin_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let tmp = tempfile::Builder::new()
            .prefix(&format!("mtp-e2e-{run_id}-"))
            .tempdir()
            .context("cannot create a temporary directory")?;
        Ok(Suite {
            admin,
            admin_kubeconfig,
            admin_dir,
            run_id,
            tmp,
            webhook_host,
            webhook_url: String::new(),
            webhook: None,
            controller: None,
            controller_client: None,
            registered: false,
            created_tenants: Vec::new(),
            created_namespaces: Vec::new(),
        })
    }

    /// A client as `user` in `groups`, by impersonation through the admin kubeconfig.
    async fn impersonating(&self, user: &str, groups: &[&str]) -> anyhow::Result<Client> {
        let mut config = kube::Config::from_custom_kubeconfig(
            self.admin_kubeconfig.clone(),
            &KubeConfigOptions::default(),
        )
        .await?;
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups =
            Some(groups.iter().map(|g| (*g).to_owned()).collect());
        Ok(Client::try_from(config)?)
    }

    /// Step 1: The install, rendered by `mtpctl install`, server-side applied; the CRD Established.
    async fn install(&mut self, report: &mut Report) -> anyhow::Result<()> {
        let (apply, skipped) = install::split_install(install::render_install(PLATFORM_NAMESPACE)?);
        for object in &apply {
            install::apply(&self.admin, object).await?;
        }
        report.note(&format!(
            "applied {} objects of `mtpctl install` (field manager {FIELD_MANAGER}); not applied: {}",
            apply.len(),
            skipped.iter().map(install::describe).collect::<Vec<_>>().join(", ")
        ));
        let crds: Api<CustomResourceDefinition> = Api::all(self.admin.clone());
        wait::until(
            "CRD tenants.mtp.dev to be Established",
            CRD_ESTABLISHED,
            || {
                let crds = crds.clone();
                async move {
                    let crd = crds.get("tenants.mtp.dev").await?;
                    let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
                    Ok(
                        if conditions
                            .iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                        {
                            Poll::Ready(())
                        } else {
                            Poll::Pending(format!("conditions {conditions:?}"))
                        },
                    )
                }
            },
        )
        .await?;
        report.pass("install", "applied; CRD tenants.mtp.dev Established");
        Ok(())
    }

    /// A kubeconfig for `service_account` of the platform namespace, with a 1 h token from the
    /// TokenRequest API.
    async fn service_account_kubeconfig(&self, service_account: &str) -> anyhow::Result<PathBuf> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.admin.clone(), PLATFORM_NAMESPACE);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(3600),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let answer = accounts
            .create_token_request(service_account, &PostParams::default(), &request)
            .await
            .with_context(|| {
                format!("cannot request a token for ServiceAccount {PLATFORM_NAMESPACE}/{service_account}")
            })?;
        let token = answer
            .status
            .and_then(|s| s.token)
            .filter(|t| !t.is_empty())
            .with_context(|| format!("the TokenRequest for {service_account} returned no token"))?;
        let user = format!("system:serviceaccount:{PLATFORM_NAMESPACE}:{service_account}");
        let kc =
            kubeconfig::token_kubeconfig(&self.admin_kubeconfig, &self.admin_dir, &user, &token)?;
        let path = self
            .tmp
            .path()
            .join(format!("{service_account}.kubeconfig"));
        kubeconfig::write(&kc, &path)?;
        Ok(path)
    }

    fn webhook_url_and_listen(&self) -> anyhow::Result<(String, std::net::SocketAddr)> {
        let ip = install::webhook_listen_ip(&self.webhook_host);
        let port = free_port(ip)?;
        Ok((
            install::webhook_url(&self.webhook_host, port),
            std::net::SocketAddr::new(ip, port),
        ))
    }

    /// Step 2: `mtp-webhook serve` here, under the mtp-webhook ServiceAccount's token.
    async fn start_webhook(&mut self, report: &mut Report) -> anyhow::Result<()> {
        let kubeconfig = self.service_account_kubeconfig("mtp-webhook").await?;
        let (url, listen) = self.webhook_url_and_listen()?;
        let probe = free_port("127.0.0.1".parse()?)?;
        let cert_dir = self.tmp.path().join("certs");
        let command =
            binaries::webhook_command(&kubeconfig, &cert_dir, &self.webhook_host, listen, probe);
        let mut proc = Proc::spawn("mtp-webhook", command)?;
        let ready = binaries::wait_ready(&mut proc, probe, PROCESS_READY).await;
        self.webhook = Some(proc);
        ready?;
        report.note(&format!("mtp-webhook serves {url} (listening on {listen})"));
        self.webhook_url = url;
        Ok(())
    }
}

/// What a check that expects a refusal reports: who refused it, or what was expected instead.
fn refused<T>(result: Result<T, kube::Error>, accepted: &[RefusedBy]) -> Result<String, String> {
    refusal::expect_refused(result, accepted)
        .map(|r| r.to_string())
        .map_err(|why| {
            let from = accepted
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or ");
            format!("expected a 403 from {from}; {why}")
        })
}

fn allowed<T>(what: &str, result: Result<T, kube::Error>) -> Result<String, String> {
    match result {
        Ok(_) => Ok(format!("{what}: allowed")),
        Err(e) => Err(format!(
            "expected {what} to be allowed; the cluster answered {}",
            api_error_text(&e)
        )),
    }
}

fn namespace_object(name: &str, run_id: &str, tenant: Option<&str>) -> Namespace {
    let mut labels = BTreeMap::from([(RUN_LABEL.to_owned(), run_id.to_owned())]);
    if let Some(t) = tenant {
        labels.insert(TENANT_LABEL.to_owned(), t.to_owned());
    }
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.to_owned());
    ns.metadata.labels = Some(labels);
    ns
}

fn merge(value: Value) -> Patch<Value> {
    Patch::Merge(value)
}

impl Suite {
    fn namespace_labels_hook() -> RefusedBy {
        RefusedBy::Webhook("namespace-labels.mtp.dev".to_owned())
    }

    /// Step 3: Both webhook configurations from `mtp-webhook manifests --url` applied over the
    /// installed ones; in effect once a labelled namespace (dry run) is refused by the webhook.
    async fn register_webhook(&mut self, report: &mut Report) -> anyhow::Result<()> {
        let ca = self.tmp.path().join("certs").join("ca.crt");
        let configurations =
            install::render_url_configurations(&self.webhook_url, &ca, PLATFORM_NAMESPACE)?;
        // Set first: a partial registration is removed by the cleanup too.
        self.registered = true;
        for configuration in &configurations {
            install::apply(&self.admin, configuration).await?;
        }
        let namespaces: Api<Namespace> = Api::all(self.admin.clone());
        let gate = namespace_object(
            &format!("e2e-gate-{}", self.run_id),
            &self.run_id,
            Some("e2e-nobody"),
        );
        let url = self.webhook_url.clone();
        let what = format!("the apiserver to call the webhook at {url}");
        let refusal: Refusal = wait::until(&what, WEBHOOK_EFFECTIVE, || {
            let namespaces = namespaces.clone();
            let gate = gate.clone();
            let url = url.clone();
            async move {
                let e = match namespaces.create(&dry_run(), &gate).await {
                    Ok(_) => {
                        return Ok(Poll::Pending(
                            "a namespace labelled mtp.dev/tenant was admitted (configuration not in effect yet)".to_owned(),
                        ));
                    }
                    Err(e) => e,
                };
                match refusal::of_error(&e) {
                    Some(r) if r.by == Self::namespace_labels_hook() => Ok(Poll::Ready(r)),
                    Some(r) if matches!(r.by, RefusedBy::WebhookUnreachable(_)) => Ok(Poll::Pending(format!(
                        "the apiserver cannot call the webhook at {url}: {}; if the apiserver does not run on this machine, set {} to an address of this machine it can reach",
                        r.message,
                        harness::WEBHOOK_HOST_ENV
                    ))),
                    Some(r) => Ok(Poll::Pending(r.to_string())),
                    None => Err(anyhow::Error::new(e).context("cannot create a namespace (dry run)")),
                }
            }
        })
        .await?;
        report.pass(
            "webhook registered",
            &format!(
                "ValidatingWebhookConfiguration and MutatingWebhookConfiguration {CONFIGURATION_NAME} call {url}; a labelled namespace is {refusal}"
            ),
        );
        Ok(())
    }

    /// Step 4: `mtp-controller run` here, under the mtp-controller ServiceAccount's token.
    async fn start_controller(&mut self, report: &mut Report) -> anyhow::Result<()> {
        let kubeconfig = self.service_account_kubeconfig("mtp-controller").await?;
        let probe = free_port("127.0.0.1".parse()?)?;
        let identity = format!("e2e-{}", self.run_id);
        let command = binaries::controller_command(&kubeconfig, probe, &identity);
        let mut proc = Proc::spawn("mtp-controller", command)?;
        let ready = binaries::wait_ready(&mut proc, probe, PROCESS_READY).await;
        self.controller = Some(proc);
        ready?;
        let config = kube::Config::from_custom_kubeconfig(
            Kubeconfig::read_from(&kubeconfig)?,
            &KubeConfigOptions::default(),
        )
        .await?;
        self.controller_client = Some(Client::try_from(config)?);
        report.note("mtp-controller is ready (probe /readyz)");
        Ok(())
    }

    fn tenant_object(
        &self,
        name: &str,
        tier: Tier,
        admins: &[&str],
        viewers: &[&str],
        extra: &[&str],
    ) -> Tenant {
        let to_vec = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let mut tenant = Tenant::new(
            name,
            TenantSpec {
                display_name: format!("e2e {name}"),
                tier,
                owner_email: "owner@e2e.example".to_owned(),
                admins: to_vec(admins),
                operators: Vec::new(),
                viewers: to_vec(viewers),
                admin_groups: Vec::new(),
                operator_groups: Vec::new(),
                viewer_groups: Vec::new(),
                egress: None,
                namespaces: to_vec(extra),
                quota: None,
                guardrails: None,
            },
        );
        tenant.metadata.labels = Some(BTreeMap::from([(
            RUN_LABEL.to_owned(),
            self.run_id.clone(),
        )]));
        tenant
    }

    /// Waits for a Tenant to be Ready for its generation and checks every object of its plan
    /// against the cluster.
    async fn ready_tenant(
        &self,
        report: &mut Report,
        name: &str,
    ) -> anyhow::Result<TenantUnderTest> {
        let tenants: Api<Tenant> = Api::all(self.admin.clone());
        let what = format!("Tenant {name} to be Ready");
        let live = wait::until(&what, TENANT_READY, || {
            let tenants = tenants.clone();
            async move {
                let t = tenants.get(name).await?;
                Ok(match ready_condition(&t) {
                    Ok(()) => Poll::Ready(t),
                    Err(seen) => Poll::Pending(seen),
                })
            }
        })
        .await?;
        let plan = plan(
            &live,
            &TierCatalogue::default(),
            &PlatformSettings::default(),
        )
        .with_context(|| format!("the plan of the live Tenant {name}"))?;
        let planned = planned_objects(&plan)?;
        let namespaces: Vec<String> = plan
            .namespace_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut problems = Vec::new();
        for p in &planned {
            if let Err(why) = matches_plan(&self.admin, p).await? {
                problems.push(why);
            }
        }
        let status_namespaces = live
            .status
            .as_ref()
            .map(|s| s.namespaces.clone())
            .unwrap_or_default();
        if status_namespaces != namespaces {
            problems.push(format!(
                "status.namespaces: expected {namespaces:?}, the Tenant says {status_namespaces:?}"
            ));
        }
        let kinds: Vec<String> = planned.iter().map(|p| p.key.to_string()).collect();
        report.check(
            &format!("Tenant {name} becomes Ready with its objects"),
            if problems.is_empty() {
                Ok(format!(
                    "Ready; {} objects match the plan: {}",
                    planned.len(),
                    kinds.join(", ")
                ))
            } else {
                Err(problems.join("; "))
            },
        );
        Ok(TenantUnderTest {
            name: name.to_owned(),
            namespaces,
            planned,
        })
    }

    /// Step 5: A pro Tenant (one extra namespace, an admin and a viewer) and a free one become Ready
    /// with their namespaces, RoleBindings, NetworkPolicy, LimitRange and ResourceQuota.
    async fn tenants_become_ready(&mut self, report: &mut Report) -> anyhow::Result<Tenants> {
        let own_name = format!("e2e-{}", self.run_id);
        let other_name = format!("e2e-{}-b", self.run_id);
        let own = self.tenant_object(
            &own_name,
            Tier::Pro,
            &[ADMIN_USER],
            &[VIEWER_USER],
            &["extra"],
        );
        let other = self.tenant_object(&other_name, Tier::Free, &[OTHER_ADMIN_USER], &[], &[]);
        let tenants: Api<Tenant> = Api::all(self.admin.clone());
        for tenant in [&own, &other] {
            let name = tenant.metadata.name.clone().unwrap_or_default();
            self.created_tenants.push(name.clone());
            tenants
                .create(&PostParams::default(), tenant)
                .await
                .with_context(|| format!("cannot create Tenant {name}"))?;
        }
        let own = self.ready_tenant(report, &own_name).await?;
        let other = self.ready_tenant(report, &other_name).await?;
        Ok(Tenants { own, other })
    }

    /// Step 6: Drift: a deleted NetworkPolicy comes back, an edited LimitRange is restored.
    async fn drift_is_repaired(&self, report: &mut Report, tenant: &TenantUnderTest) {
        let ns = tenant.primary();
        let outcome = self.deleted_network_policy_comes_back(tenant, ns).await;
        report.check(
            "a deleted managed NetworkPolicy comes back",
            outcome.map_err(|e| format!("{e:#}")),
        );
        let outcome = self.edited_limit_range_is_restored(tenant, ns).await;
        report.check(
            "an edited LimitRange is restored",
            outcome.map_err(|e| format!("{e:#}")),
        );
    }

    async fn deleted_network_policy_comes_back(
        &self,
        tenant: &TenantUnderTest,
        ns: &str,
    ) -> anyhow::Result<String> {
        let planned = tenant
            .planned(Kind::NetworkPolicy, ns)
            .context("the plan has no NetworkPolicy")?
            .clone();
        let policies: Api<NetworkPolicy> = Api::namespaced(self.admin.clone(), ns);
        let name = planned.key.name.clone();
        let old_uid = policies.get(&name).await?.metadata.uid;
        policies.delete(&name, &DeleteParams::default()).await?;
        let what = format!("NetworkPolicy {ns}/{name} to be re-created as planned");
        let new_uid = wait::until(&what, REPAIRED, || {
            let policies = policies.clone();
            let planned = planned.clone();
            let name = name.clone();
            let old_uid = old_uid.clone();
            async move {
                Ok(match policies.get_opt(&name).await? {
                    None => Poll::Pending("absent".to_owned()),
                    Some(p) if p.metadata.uid == old_uid => {
                        Poll::Pending("the deleted object is still there".to_owned())
                    }
                    Some(p) => {
                        let uid = p.metadata.uid.clone();
                        let v = serde_json::to_value(p)?;
                        if is_subset(&planned.value, &v) {
                            Poll::Ready(uid)
                        } else {
                            Poll::Pending(format!("re-created but not as planned: {}", shown(&v)))
                        }
                    }
                })
            }
        })
        .await?;
        Ok(format!(
            "deleted {ns}/{name} (uid {}) as cluster-admin; re-created as planned (uid {})",
            old_uid.unwrap_or_default(),
            new_uid.unwrap_or_default()
        ))
    }

    async fn edited_limit_range_is_restored(
        &self,
        tenant: &TenantUnderTest,
        ns: &str,
    ) -> anyhow::Result<String> {
        let planned = tenant
            .planned(Kind::LimitRange, ns)
            .context("the plan has no LimitRange")?
            .clone();
        let ranges: Api<LimitRange> = Api::namespaced(self.admin.clone(), ns);
        let name = planned.key.name.clone();
        let edit = json!({"spec": {"limits": [{"type": "Container", "default": {"cpu": "3", "memory": "3Gi"}}]}});
        let edited = ranges
            .patch(&name, &PatchParams::default(), &merge(edit))
            .await?;
        let edited = serde_json::to_value(edited)?;
        if is_subset(&planned.value, &edited) {
            bail!("the edit did not change {ns}/{name}: {}", shown(&edited));
        }
        let what = format!("LimitRange {ns}/{name} to be restored to the plan");
        wait::until(&what, REPAIRED, || {
            let planned = planned.clone();
            async move {
                Ok(match matches_plan(&self.admin, &planned).await? {
                    Ok(()) => Poll::Ready(()),
                    Err(why) => Poll::Pending(why),
                })
            }
        })
        .await?;
        Ok(format!(
            "edited {ns}/{name} as cluster-admin (default cpu 3); restored to the plan"
        ))
    }
}

impl Suite {
    /// Step 7: Multi-tenancy benchmark (MTB) level-1 checks for the namespace-per-tenant model, as
    /// the tenant admin (impersonated).
    async fn tenant_admin_is_contained(
        &self,
        report: &mut Report,
        tenants: &Tenants,
    ) -> anyhow::Result<()> {
        let alice = self
            .impersonating(ADMIN_USER, &["system:authenticated"])
            .await
            .context("cannot build a client impersonating the tenant admin")?;
        let own = tenants.own.primary();
        let other = tenants.other.primary();
        let rbac = [RefusedBy::Rbac];
        let managed = [
            RefusedBy::Rbac,
            RefusedBy::Webhook("managed-objects.mtp.dev".to_owned()),
        ];
        let pod_security = [
            RefusedBy::PodSecurity,
            RefusedBy::Webhook("pod-security.mtp.dev".to_owned()),
        ];

        // The control: the impersonated admin does work in its own namespace.
        report.check(
            &format!("tenant admin lists pods in its namespace {own}"),
            allowed(
                "list pods",
                Api::<Pod>::namespaced(alice.clone(), own)
                    .list(&ListParams::default())
                    .await,
            ),
        );

        // One source of truth, readable by its members: the admin gets its own Tenant (the
        // plan's mtp-tenant-<name> ClusterRole), and not the other tenant's.
        report.check(
            &format!("tenant admin gets its own Tenant {}", tenants.own.name),
            allowed(
                "get tenant",
                Api::<Tenant>::all(alice.clone())
                    .get(&tenants.own.name)
                    .await,
            ),
        );
        report.check(
            &format!("tenant admin gets the other Tenant {}", tenants.other.name),
            refused(
                Api::<Tenant>::all(alice.clone())
                    .get(&tenants.other.name)
                    .await,
                &rbac,
            ),
        );

        // MTB block-access-to-cluster-resources.
        report.check(
            "MTB block access to cluster resources: tenant admin lists nodes",
            refused(
                Api::<k8s_openapi::api::core::v1::Node>::all(alice.clone())
                    .list(&ListParams::default())
                    .await,
                &rbac,
            ),
        );
        report.check(
            "MTB block access to cluster resources: tenant admin lists namespaces",
            refused(
                Api::<Namespace>::all(alice.clone())
                    .list(&ListParams::default())
                    .await,
                &rbac,
            ),
        );

        // MTB block-modification-of-resource-quotas (and LimitRanges).
        let quotas: Api<ResourceQuota> = Api::namespaced(alice.clone(), own);
        let extra_quota: ResourceQuota = serde_json::from_value(json!({
            "metadata": {"name": "e2e-more"}, "spec": {"hard": {"pods": "1000"}}
        }))?;
        report.check(
            "MTB block modification of resource quotas: create a ResourceQuota",
            refused(
                quotas.create(&PostParams::default(), &extra_quota).await,
                &managed,
            ),
        );
        report.check(
            "MTB block modification of resource quotas: edit tenant-quota",
            refused(
                quotas
                    .patch(
                        "tenant-quota",
                        &PatchParams::default(),
                        &merge(json!({"spec": {"hard": {"pods": "100000"}}})),
                    )
                    .await,
                &managed,
            ),
        );
        report.check(
            "MTB block modification of resource quotas: delete tenant-quota",
            refused(
                quotas
                    .delete("tenant-quota", &DeleteParams::default())
                    .await,
                &managed,
            ),
        );
        let ranges: Api<LimitRange> = Api::namespaced(alice.clone(), own);
        let extra_range: LimitRange = serde_json::from_value(json!({
            "metadata": {"name": "e2e-more"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "64"}}]}
        }))?;
        report.check(
            "MTB block modification of limit ranges: create a LimitRange",
            refused(
                ranges.create(&PostParams::default(), &extra_range).await,
                &managed,
            ),
        );
        report.check(
            "MTB block modification of limit ranges: edit tenant-defaults",
            refused(
                ranges.patch("tenant-defaults", &PatchParams::default(), &merge(json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "64"}}]}}))).await,
                &managed,
            ),
        );
        report.check(
            "MTB block modification of limit ranges: delete tenant-defaults",
            refused(
                ranges
                    .delete("tenant-defaults", &DeleteParams::default())
                    .await,
                &managed,
            ),
        );

        // The managed NetworkPolicy is the tenant's isolation: the admin role may write
        // NetworkPolicies, so only mtp's managed-objects webhook can refuse this.
        let policies: Api<NetworkPolicy> = Api::namespaced(alice.clone(), own);
        report.check(
            "tenant admin cannot edit the tenant-isolation NetworkPolicy",
            refused(
                policies
                    .patch(
                        "tenant-isolation",
                        &PatchParams::default(),
                        &merge(json!({"spec": {"ingress": [{}]}})),
                    )
                    .await,
                &managed,
            ),
        );
        report.check(
            "tenant admin cannot delete the tenant-isolation NetworkPolicy",
            refused(
                policies
                    .delete("tenant-isolation", &DeleteParams::default())
                    .await,
                &managed,
            ),
        );
        // MTB create-network-policies / delete-network-policies: its own policies it may manage.
        let own_policy: NetworkPolicy = serde_json::from_value(json!({
            "metadata": {"name": format!("e2e-own-{}", self.run_id)},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}
        }))?;
        let own_policy_name = own_policy.metadata.name.clone().unwrap_or_default();
        let created = allowed(
            &format!("create NetworkPolicy {own}/{own_policy_name}"),
            policies.create(&PostParams::default(), &own_policy).await,
        );
        let outcome = match created {
            Ok(c) => allowed(
                &format!("{c}; delete it"),
                policies
                    .delete(&own_policy_name, &DeleteParams::default())
                    .await,
            ),
            Err(e) => Err(e),
        };
        report.check(
            "MTB tenant admin creates and deletes its own NetworkPolicy",
            outcome,
        );

        // MTB block-access-to-other-tenant-resources.
        report.check(
            &format!("MTB no access to another tenant: list pods in {other}"),
            refused(
                Api::<Pod>::namespaced(alice.clone(), other)
                    .list(&ListParams::default())
                    .await,
                &rbac,
            ),
        );
        report.check(
            &format!("MTB no access to another tenant: list secrets in {other}"),
            refused(
                Api::<Secret>::namespaced(alice.clone(), other)
                    .list(&ListParams::default())
                    .await,
                &rbac,
            ),
        );
        report.check(
            &format!("MTB no access to another tenant: create a pod in {other} (dry run)"),
            refused(
                Api::<Pod>::namespaced(alice.clone(), other)
                    .create(&dry_run(), &pod("e2e-intruder", |_| {})?)
                    .await,
                &rbac,
            ),
        );

        // Pods: admission needs the namespace's `default` ServiceAccount (kube-controller-manager).
        let accounts: Api<ServiceAccount> = Api::namespaced(self.admin.clone(), own);
        let sa_ready = wait::until(
            &format!("ServiceAccount {own}/default (made by kube-controller-manager)"),
            SERVICE_ACCOUNT_CREATED,
            || {
                let accounts = accounts.clone();
                async move {
                    Ok(match accounts.get_opt("default").await? {
                        Some(_) => Poll::Ready(()),
                        None => Poll::Pending("absent".to_owned()),
                    })
                }
            },
        )
        .await;
        if let Err(e) = sa_ready {
            report.fail("MTB pod checks", &format!("{e:#}; the pod checks need it"));
            return Ok(());
        }
        let pods: Api<Pod> = Api::namespaced(alice.clone(), own);
        // The control, and admission order: LimitRange defaults fill the limits before Pod
        // Security and mtp's pod-security webhook (which requires limits) look at the pod.
        let outcome = match pods
            .create(&dry_run(), &pod("e2e-compliant", |_| {})?)
            .await
        {
            Ok(p) => {
                let limits = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.resources.as_ref())
                    .and_then(|r| r.limits.clone());
                match limits {
                    Some(l) if l.contains_key("cpu") && l.contains_key("memory") => Ok(format!(
                        "admitted (dry run) with limits {:?} from LimitRange tenant-defaults",
                        l.iter()
                            .map(|(k, v)| format!("{k}={}", v.0))
                            .collect::<Vec<_>>()
                    )),
                    other => Err(format!(
                        "expected the admitted pod to carry cpu and memory limits from the LimitRange; it has {other:?}"
                    )),
                }
            }
            Err(e) => Err(format!(
                "expected a restricted-compliant pod without resources to be admitted (dry run) with the LimitRange's defaults; the cluster answered {}",
                api_error_text(&e)
            )),
        };
        report.check(
            "a compliant pod is admitted, limits defaulted by the LimitRange",
            outcome,
        );
        let unsafe_pods: [(&str, PodChange); 5] = [
            (
                "privileged",
                Box::new(|p: &mut Value| {
                    let sc = &mut p["spec"]["containers"][0]["securityContext"];
                    sc["privileged"] = json!(true);
                    // privileged with allowPrivilegeEscalation=false is invalid before admission.
                    if let Some(o) = sc.as_object_mut() {
                        o.remove("allowPrivilegeEscalation");
                    }
                }),
            ),
            (
                "hostNetwork",
                Box::new(|p: &mut Value| p["spec"]["hostNetwork"] = json!(true)),
            ),
            (
                "hostPID",
                Box::new(|p: &mut Value| p["spec"]["hostPID"] = json!(true)),
            ),
            (
                "hostIPC",
                Box::new(|p: &mut Value| p["spec"]["hostIPC"] = json!(true)),
            ),
            (
                "hostPath",
                Box::new(|p: &mut Value| {
                    p["spec"]["volumes"] = json!([{"name": "host", "hostPath": {"path": "/etc"}}]);
                    p["spec"]["containers"][0]["volumeMounts"] =
                        json!([{"name": "host", "mountPath": "/host", "readOnly": true}]);
                }),
            ),
        ];
        for (what, change) in unsafe_pods {
            let name = format!("e2e-{}", what.to_lowercase());
            report.check(
                &format!("MTB block {what} pods (dry run in {own})"),
                refused(
                    pods.create(&dry_run(), &pod(&name, change)?).await,
                    &pod_security,
                ),
            );
        }
        Ok(())
    }

    /// Step 8: Only the controller sets a namespace's tenant label.
    /// The tenant's guardrails through the real apiserver (dry runs, as the tenant admin): a
    /// Service with `externalIPs` is refused by `guardrails.mtp.dev` and a ClusterIP one is
    /// allowed; once the Tenant's `spec.guardrails` name a registry and a nodeSelector (the
    /// webhook learns it through its watch of Tenants), a pod from another registry is refused
    /// and an allowed pod comes back with the nodeSelector `node-selector.mtp.dev` added.
    async fn guardrails_are_enforced(&mut self, report: &mut Report, tenants: &Tenants) {
        if let Err(e) = self.guardrail_checks(report, tenants).await {
            report.fail("the tenant's guardrails are enforced", &format!("{e:#}"));
        }
    }

    async fn guardrail_checks(
        &mut self,
        report: &mut Report,
        tenants: &Tenants,
    ) -> anyhow::Result<()> {
        let alice = self
            .impersonating(ADMIN_USER, &["system:authenticated"])
            .await?;
        let namespace = tenants.own.primary().to_owned();
        let hook = RefusedBy::Webhook("guardrails.mtp.dev".to_owned());
        let services: Api<Service> = Api::namespaced(alice.clone(), &namespace);
        let service = |name: &str, spec: Value| -> anyhow::Result<Service> {
            serde_json::from_value(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name}, "spec": spec}))
            .context("the test Service does not deserialize")
        };
        let external = service(
            "e2e-external-ips",
            json!({"ports": [{"port": 80}], "externalIPs": ["203.0.113.10"]}),
        )?;
        report.check(
            "tenant admin cannot create a Service with externalIPs (CVE-2020-8554)",
            refused(
                services.create(&dry_run(), &external).await,
                std::slice::from_ref(&hook),
            ),
        );
        let plain = service("e2e-cluster-ip", json!({"ports": [{"port": 80}]}))?;
        report.check(
            "tenant admin creates a ClusterIP Service",
            allowed("create", services.create(&dry_run(), &plain).await),
        );

        // The platform admin gives the tenant a registry list and a node pool.
        let tenants_api: Api<Tenant> = Api::all(self.admin.clone());
        tenants_api
            .patch(
                &tenants.own.name,
                &PatchParams::default(),
                &merge(json!({"spec": {"guardrails": {
                    "allowedRegistries": ["registry.k8s.io"],
                    "nodeSelector": {"e2e-pool": "own"},
                }}})),
            )
            .await
            .context("cannot set the Tenant's spec.guardrails")?;
        let pods: Api<Pod> = Api::namespaced(alice, &namespace);
        let foreign = pod("e2e-foreign-image", |p| {
            p["spec"]["containers"][0]["image"] = json!("quay.io/someone/app:1");
        })?;
        let refusal = wait::until(
            "the webhook to apply the Tenant's new guardrails",
            WEBHOOK_EFFECTIVE,
            || {
                let (pods, foreign) = (pods.clone(), foreign.clone());
                async move {
                    Ok(match pods.create(&dry_run(), &foreign).await {
                        Ok(_) => Poll::Pending("the foreign image is still allowed".to_owned()),
                        Err(e) => Poll::Ready(Err::<Pod, _>(e)),
                    })
                }
            },
        )
        .await?;
        report.check(
            "a pod from a registry the tenant may not use is refused",
            refused(refusal, &[hook]).and_then(|r| {
                if r.contains("allowedRegistries") {
                    Ok(r)
                } else {
                    Err(format!("the refusal does not name allowedRegistries: {r}"))
                }
            }),
        );
        let allowed_pod = pod("e2e-allowed-image", |_| {})?;
        let created = pods.create(&dry_run(), &allowed_pod).await;
        report.check(
            "an allowed pod gets the tenant's nodeSelector",
            match created {
                Ok(p) => {
                    let selector = p.spec.and_then(|s| s.node_selector).unwrap_or_default();
                    if selector.get("e2e-pool").map(String::as_str) == Some("own") {
                        Ok(format!("nodeSelector {selector:?}"))
                    } else {
                        Err(format!("the pod came back with nodeSelector {selector:?}"))
                    }
                }
                Err(e) => Err(format!(
                    "expected the pod to be allowed; the cluster answered {}",
                    api_error_text(&e)
                )),
            },
        );
        Ok(())
    }

    async fn tenant_label_cannot_be_spoofed(&mut self, report: &mut Report, tenants: &Tenants) {
        if let Err(e) = self.label_checks(report, tenants).await {
            report.fail("the tenant label cannot be spoofed", &format!("{e:#}"));
        }
    }

    async fn label_checks(&mut self, report: &mut Report, tenants: &Tenants) -> anyhow::Result<()> {
        let alice = self
            .impersonating(ADMIN_USER, &["system:authenticated"])
            .await?;
        let hook = Self::namespace_labels_hook();
        let as_alice: Api<Namespace> = Api::all(alice);
        let as_admin: Api<Namespace> = Api::all(self.admin.clone());
        let other = tenants.other.name.as_str();
        let own = tenants.own.name.as_str();

        let spoof = format!("e2e-spoof-{}", self.run_id);
        self.created_namespaces.push(spoof.clone());
        report.check(
            &format!("tenant admin cannot create a namespace labelled {TENANT_LABEL}={other}"),
            refused(
                as_alice
                    .create(
                        &PostParams::default(),
                        &namespace_object(&spoof, &self.run_id, Some(other)),
                    )
                    .await,
                &[RefusedBy::Rbac, hook.clone()],
            ),
        );
        let extra = tenants
            .own
            .namespaces
            .get(1)
            .cloned()
            .unwrap_or_else(|| tenants.own.primary().to_owned());
        report.check(
            &format!("tenant admin cannot relabel its namespace {extra} to {TENANT_LABEL}={other}"),
            refused(
                as_alice
                    .patch(
                        &extra,
                        &PatchParams::default(),
                        &merge(json!({"metadata": {"labels": {TENANT_LABEL: other}}})),
                    )
                    .await,
                &[RefusedBy::Rbac, hook.clone()],
            ),
        );

        let plain = format!("e2e-plain-{}", self.run_id);
        self.created_namespaces.push(plain.clone());
        let created = as_admin
            .create(
                &PostParams::default(),
                &namespace_object(&plain, &self.run_id, None),
            )
            .await;
        report.check(
            &format!("cluster-admin creates a namespace {plain} without a tenant label"),
            allowed("create", created),
        );
        report.check(
            &format!("cluster-admin cannot label namespace {plain} {TENANT_LABEL}={own}"),
            refused(
                as_admin
                    .patch(
                        &plain,
                        &PatchParams::default(),
                        &merge(json!({"metadata": {"labels": {TENANT_LABEL: own}}})),
                    )
                    .await,
                std::slice::from_ref(&hook),
            ),
        );
        let labelled = format!("e2e-labelled-{}", self.run_id);
        report.check(
            &format!(
                "cluster-admin cannot create a namespace labelled {TENANT_LABEL}={own} (dry run)"
            ),
            refused(
                as_admin
                    .create(
                        &dry_run(),
                        &namespace_object(&labelled, &self.run_id, Some(own)),
                    )
                    .await,
                std::slice::from_ref(&hook),
            ),
        );
        let controller = self
            .controller_client
            .clone()
            .context("the controller's client is missing")?;
        let as_controller: Api<Namespace> = Api::all(controller);
        let params = PatchParams {
            dry_run: true,
            ..PatchParams::default()
        };
        report.check(
            &format!("the controller's ServiceAccount may label namespace {plain} (dry run)"),
            allowed(
                &format!("label {TENANT_LABEL}={own} as system:serviceaccount:{PLATFORM_NAMESPACE}:mtp-controller"),
                as_controller.patch(&plain, &params, &merge(json!({"metadata": {"labels": {TENANT_LABEL: own}}}))).await,
            ),
        );
        Ok(())
    }

    /// Step 9: Deleting a Tenant removes its namespaces (gone, or Terminating: finalizing a namespace
    /// is kube-controller-manager's job) and then the Tenant itself (finalizer released).
    async fn deleting_tenants_removes_namespaces(&self, report: &mut Report, tenants: &Tenants) {
        for tenant in [&tenants.own, &tenants.other] {
            let outcome = self.delete_tenant(tenant).await;
            report.check(
                &format!("deleting Tenant {} removes its namespaces", tenant.name),
                outcome.map_err(|e| format!("{e:#}")),
            );
        }
    }

    async fn delete_tenant(&self, tenant: &TenantUnderTest) -> anyhow::Result<String> {
        let api: Api<Tenant> = Api::all(self.admin.clone());
        api.delete(&tenant.name, &DeleteParams::default())
            .await
            .with_context(|| format!("cannot delete Tenant {}", tenant.name))?;
        let namespaces: Api<Namespace> = Api::all(self.admin.clone());
        let what = format!(
            "namespaces {:?} to be gone or Terminating",
            tenant.namespaces
        );
        let states = wait::until(&what, NAMESPACES_DELETED, || {
            let namespaces = namespaces.clone();
            async move {
                let mut states = Vec::new();
                for name in &tenant.namespaces {
                    match namespaces.get_opt(name).await? {
                        None => states.push(format!("{name} gone")),
                        Some(ns) => match ns.metadata.deletion_timestamp {
                            Some(t) => states
                                .push(format!("{name} Terminating (deletionTimestamp {})", t.0)),
                            None => {
                                return Ok(Poll::Pending(format!(
                                    "{name} exists without a deletionTimestamp"
                                )));
                            }
                        },
                    }
                }
                Ok(Poll::Ready(states))
            }
        })
        .await?;
        let what = format!("Tenant {} to be gone (finalizer released)", tenant.name);
        wait::until(&what, TENANT_GONE, || {
            let api = api.clone();
            async move {
                Ok(match api.get_opt(&tenant.name).await? {
                    None => Poll::Ready(()),
                    Some(t) => Poll::Pending(format!(
                        "still there, finalizers {:?}",
                        t.metadata.finalizers
                    )),
                })
            }
        })
        .await?;
        Ok(format!("Tenant gone; {}", states.join(", ")))
    }

    /// Step 10: With the webhook stopped, a namespace without a tenant label can still be created
    /// (no lockout), and one with the label still cannot.
    async fn no_lockout_while_the_webhook_is_down(&mut self, report: &mut Report) {
        let how = match self.webhook.as_mut() {
            Some(w) => w.stop(STOP_GRACE),
            None => "was not running".to_owned(),
        };
        report.note(&format!("mtp-webhook stopped: {how}"));
        let namespaces: Api<Namespace> = Api::all(self.admin.clone());
        let probe = format!("e2e-probe-{}", self.run_id);
        self.created_namespaces.push(probe.clone());
        let outcome = match namespaces
            .create(
                &PostParams::default(),
                &namespace_object(&probe, &self.run_id, None),
            )
            .await
        {
            Ok(_) => match namespaces.delete(&probe, &DeleteParams::default()).await {
                Ok(_) => Ok(format!(
                    "created namespace {probe} as cluster-admin and deleted it again"
                )),
                Err(e) => Ok(format!(
                    "created namespace {probe} as cluster-admin (deleting it: {})",
                    api_error_text(&e)
                )),
            },
            Err(e) => Err(format!(
                "expected namespace {probe} (no tenant label) to be created while the webhook is down; the cluster answered {}",
                api_error_text(&e)
            )),
        };
        report.check(
            "no lockout: a plain namespace is created while the webhook is down",
            outcome,
        );
        let labelled = format!("e2e-labelled-{}", self.run_id);
        let outcome = match namespaces
            .create(
                &dry_run(),
                &namespace_object(&labelled, &self.run_id, Some("e2e-nobody")),
            )
            .await
        {
            Ok(_) => Err(format!(
                "expected a namespace labelled {TENANT_LABEL} to be refused while namespace-labels.mtp.dev is down (it fails closed); the cluster accepted it (dry run)"
            )),
            Err(e) => match refusal::of_error(&e) {
                Some(r)
                    if r.by
                        == RefusedBy::WebhookUnreachable("namespace-labels.mtp.dev".to_owned()) =>
                {
                    Ok(format!("refused ({}: {})", r.code, r.message))
                }
                _ => Err(format!(
                    "expected the apiserver to refuse because it cannot call namespace-labels.mtp.dev; it answered {}",
                    api_error_text(&e)
                )),
            },
        };
        report.check(
            "the tenant label stays protected while the webhook is down",
            outcome,
        );
    }

    /// Best effort, also after a failure: the webhook configurations (they point at this run's
    /// webhook), the Tenants (while the controller still runs, so their finalizers are
    /// released), the namespaces the suite made, then the processes.
    async fn cleanup(&mut self, report: &Report) {
        report.note("cleanup");
        if self.registered {
            let v: Api<ValidatingWebhookConfiguration> = Api::all(self.admin.clone());
            let m: Api<MutatingWebhookConfiguration> = Api::all(self.admin.clone());
            for (kind, result) in [
                (
                    "ValidatingWebhookConfiguration",
                    v.delete(CONFIGURATION_NAME, &DeleteParams::default())
                        .await
                        .map(|_| ()),
                ),
                (
                    "MutatingWebhookConfiguration",
                    m.delete(CONFIGURATION_NAME, &DeleteParams::default())
                        .await
                        .map(|_| ()),
                ),
            ] {
                match result {
                    Ok(()) => report.note(&format!("deleted {kind} {CONFIGURATION_NAME}")),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => report.note(&format!(
                        "could not delete {kind} {CONFIGURATION_NAME}: {}",
                        api_error_text(&e)
                    )),
                }
            }
        }
        let tenants: Api<Tenant> = Api::all(self.admin.clone());
        for name in &self.created_tenants {
            match tenants.delete(name, &DeleteParams::default()).await {
                Ok(_) => report.note(&format!("deleting Tenant {name}")),
                Err(e) if is_not_found(&e) => {}
                Err(e) => report.note(&format!(
                    "could not delete Tenant {name}: {}",
                    api_error_text(&e)
                )),
            }
        }
        let names = self.created_tenants.clone();
        let gone = wait::until("the suite's Tenants to be gone", TENANT_GONE, || {
            let tenants = tenants.clone();
            let names = names.clone();
            async move {
                let mut left = Vec::new();
                for name in &names {
                    if tenants.get_opt(name).await?.is_some() {
                        left.push(name.clone());
                    }
                }
                Ok(if left.is_empty() {
                    Poll::Ready(())
                } else {
                    Poll::Pending(format!("{left:?} still there"))
                })
            }
        })
        .await;
        if let Err(e) = gone {
            report.note(&format!(
                "{e:#}; remove them with `kubectl delete tenant <name>` while a controller runs, or \
                 `kubectl patch tenant <name> --type merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'`"
            ));
        }
        let namespaces: Api<Namespace> = Api::all(self.admin.clone());
        for name in &self.created_namespaces {
            match namespaces.delete(name, &DeleteParams::default()).await {
                Ok(_) => report.note(&format!("deleting namespace {name}")),
                Err(e) if is_not_found(&e) => {}
                Err(e) => report.note(&format!(
                    "could not delete namespace {name}: {}",
                    api_error_text(&e)
                )),
            }
        }
        for proc in [self.controller.as_mut(), self.webhook.as_mut()]
            .into_iter()
            .flatten()
        {
            let how = proc.stop(STOP_GRACE);
            report.note(&format!("{}: {how}", proc.name()));
        }
    }
}
