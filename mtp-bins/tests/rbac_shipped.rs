//! The RBAC `mtpctl install` ships (the Kustomize base in `deploy/base`) against every call the
//! binaries make to Kubernetes, as the mocked apiservers record them (`common::recorder`).
//!
//! Each binary's flows run once against a fake apiserver that answers whatever is asked:
//! - mtp-controller: the whole `run_with` path (Lease get/create/renew/release, the list and
//!   watch of Tenants and of the five owned kinds, reconciles that add the finalizer, apply a
//!   new tenant's plan, prune what an older plan left, fail and publish a Warning Event twice
//!   (create, then a series patch), delete a deleted tenant's namespaces or keep them, write
//!   status; the store sync with a real SQLite `SeaStore` that applies a new Tenant and deletes
//!   an orphan);
//! - mtp-webhook: `serve --manage` on first start (Secret, Service, both configurations) and the
//!   namespace watch;
//! - mtp-apiserver: the status read of a Tenant.
//!
//! Every recorded call must be allowed by the rules bound to that binary's ServiceAccount, and
//! every verb the rules grant must be used by some call (or be listed in [`UNUSED_ALLOWED`]
//! with the reason). A new call without its verb fails here naming the call and the roles
//! consulted; a verb nothing uses fails here too. Writes of RoleBindings also need `bind` on the
//! role they reference, writes of Roles and ClusterRoles `escalate` or every permission they
//! grant, as the apiserver checks them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use clap::Parser;
use common::recorder::{PLATFORM_NAMESPACE, Recorded, shipped_objects};
use common::{Handle, failure, mock_client_recorded, plan_of, respond};
use mtp_bins::controller::run::{Parts, RunArgs, run_with};
use mtp_bins::controller::sync::STORE_ID_ANNOTATION;
use mtp_bins::controller::{ControllerMetrics, FINALIZER, RETAIN_ANNOTATION};
use mtp_bins::install::{APISERVER, CONTROLLER, WEBHOOK};
use mtp_bins::rbac::{Attributes, Decision, Policy, ServiceAccount, unused_permissions};
use mtp_core::{NewTenant, PlatformSettings, Store, Tenant, TenantFields, Tier, TierCatalogue};
use serde_json::{Value, json};

/// Permissions the shipped rules may grant although no mocked flow uses them: (ServiceAccount,
/// verb, resource, why). Keep it short; each entry is a call the mocks cannot reach.
const UNUSED_ALLOWED: &[(&str, &str, &str, &str)] = &[];

// ---------------------------------------------------------------------------------------------
// The shipped RBAC

fn service_account(name: &str) -> ServiceAccount {
    ServiceAccount::new(PLATFORM_NAMESPACE, name)
}

/// The calls a ServiceAccount's rules refuse, each as a message naming the call, the check and
/// the roles consulted.
fn denials(policy: &Policy, sa: &ServiceAccount, calls: &[Recorded]) -> Vec<String> {
    let grants = policy.grants_for(sa);
    let mut out = Vec::new();
    for call in calls {
        let attributes = match &call.attributes {
            Ok(a) => a,
            Err(e) => {
                out.push(format!("{sa}: {} cannot be authorized: {e}", call.request));
                continue;
            }
        };
        if let Some(check) = &call.escalation
            && let Err(missing) = mtp_bins::rbac::decide_escalation(&grants, check)
        {
            // A role (or binding) write that grants what the writer does not hold: each
            // permission missing, with the roles consulted for it.
            for attrs in missing {
                let consulted = match mtp_bins::rbac::decide(&grants, &attrs) {
                    Decision::Denied { consulted } => consulted.join(", "),
                    Decision::Allowed(_) => String::new(),
                };
                out.push(format!(
                    "{sa}: `{}` grants what the writer does not hold: needs `{attrs}` (or `{}`), \
                     which no shipped rule allows (consulted: {consulted})",
                    call.request, check.escalate,
                ));
            }
        }
        for attrs in attributes {
            if let Decision::Denied { consulted } = mtp_bins::rbac::decide(&grants, attrs) {
                out.push(format!(
                    "{sa}: `{}` needs `{attrs}`, which no shipped rule allows (consulted: {}). \
                     Grant it in mtp-bins/src/install/objects.rs, regenerate deploy/base \
                     (`{}`) and say which call needs it in docs/install.md",
                    call.request,
                    if consulted.is_empty() {
                        "no role is bound to it".to_owned()
                    } else {
                        consulted.join(", ")
                    },
                    mtp_bins::install::REGENERATE,
                ));
            }
        }
    }
    out
}

/// The permissions a ServiceAccount's rules grant that no call uses (less the allowlist).
fn unused(policy: &Policy, sa: &ServiceAccount, calls: &[Recorded]) -> Vec<String> {
    let grants = policy.grants_for(sa);
    let mut used: Vec<Attributes> = calls
        .iter()
        .filter_map(|c| c.attributes.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    // A role write uses `escalate`, or the permissions it grants that the writer holds.
    for check in calls.iter().filter_map(|c| c.escalation.as_ref()) {
        used.extend(mtp_bins::rbac::decide_escalation(&grants, check).unwrap_or_default());
    }
    unused_permissions(&grants, &used)
        .into_iter()
        .filter(|p| {
            !UNUSED_ALLOWED.iter().any(|(who, verb, resource, _)| {
                *who == sa.name && *verb == p.verb && *resource == p.resource
            })
        })
        .map(|p| {
            format!(
                "{sa}: {p} is used by no recorded call; remove it (or allowlist it with the reason)"
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The fake apiserver

#[derive(Default)]
struct Cluster {
    lease: Option<Value>,
    /// Tenants by name (the answer to their list, patches and deletes).
    tenants: BTreeMap<String, Value>,
    /// List answers by collection path.
    lists: BTreeMap<String, Vec<Value>>,
    /// `METHOD path` of every call but the watches.
    log: Vec<String>,
    /// Open watches, held so the connections stay open.
    watches: Vec<tower_test::mock::SendResponse<http::Response<kube::client::Body>>>,
}

fn list_of(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
}

fn status_success() -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "status": "Success", "code": 200, "metadata": {}})
}

/// Answers every call the way an apiserver that holds `cluster` would: lists from `lists` (empty
/// when absent), watches held open, the Lease kept, Tenants answered with the stored Tenant,
/// other gets not found, other writes echoed, deletes succeed. `fail` answers 500 to the calls
/// whose `METHOD path` it matches.
fn serve(mut handle: Handle, cluster: Arc<Mutex<Cluster>>, fail: fn(&str) -> bool) {
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let attrs =
                mtp_bins::rbac::request_attributes(method.as_str(), &path, request.uri().query())
                    .unwrap_or_else(|e| panic!("{e}"));
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let mut c = cluster.lock().unwrap();
            if attrs.verb == "watch" {
                c.watches.push(send);
                continue;
            }
            let call = format!("{method} {path}");
            c.log.push(call.clone());
            let stored_tenant = (attrs.resource == "tenants")
                .then(|| c.tenants.get(&attrs.name).cloned())
                .flatten();
            let (status, reply) = if fail(&call) {
                (
                    500,
                    failure(500, "InternalError", "etcdserver: request timed out"),
                )
            } else if attrs.resource == "leases" {
                match attrs.verb.as_str() {
                    "get" => match &c.lease {
                        Some(l) => (200, l.clone()),
                        None => (404, failure(404, "NotFound", "leases not found")),
                    },
                    verb => {
                        let mut l = body.clone();
                        l["metadata"]["resourceVersion"] = json!(c.log.len().to_string());
                        c.lease = Some(l.clone());
                        (if verb == "create" { 201 } else { 200 }, l)
                    }
                }
            } else if attrs.verb == "list" && attrs.resource == "tenants" {
                (200, list_of(c.tenants.values().cloned().collect()))
            } else if attrs.verb == "list" {
                (
                    200,
                    list_of(c.lists.get(&path).cloned().unwrap_or_default()),
                )
            } else if attrs.verb == "get" {
                match stored_tenant {
                    Some(t) => (200, t),
                    None => (
                        404,
                        failure(404, "NotFound", &format!("{} not found", attrs.resource)),
                    ),
                }
            } else if attrs.verb == "delete" {
                (200, status_success())
            } else if let Some(t) = stored_tenant {
                (200, t)
            } else {
                (if attrs.verb == "create" { 201 } else { 200 }, body)
            };
            drop(c);
            respond(send, status, &reply);
        }
    });
}

/// Waits (30 s at most) until `cluster` has seen every call in `wanted`.
async fn wait_for(cluster: &Arc<Mutex<Cluster>>, wanted: &[&str]) {
    let missing = || {
        let c = cluster.lock().unwrap();
        wanted
            .iter()
            .filter(|w| !c.log.iter().any(|l| l.starts_with(**w)))
            .map(|w| (*w).to_owned())
            .collect::<Vec<_>>()
    };
    for _ in 0..1500 {
        if missing().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the flow never made {:?}; calls seen: {:#?}",
        missing(),
        cluster.lock().unwrap().log
    );
}

// ---------------------------------------------------------------------------------------------
// The flows

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
}

fn tenant(name: &str, uid: u8) -> Tenant {
    let mut t = Tenant::test(name).with_admin(&format!("alice@{name}.io"));
    t.metadata.uid = Some(format!("00000000-0000-0000-0000-0000000000{uid:02}"));
    t.metadata.resource_version = Some("5".into());
    t.metadata.generation = Some(1);
    t
}

fn deleted(mut t: Tenant) -> Tenant {
    t.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    t.metadata.finalizers = Some(vec![FINALIZER.into()]);
    t
}

fn renamed<T: serde::Serialize>(object: &T, name: &str) -> Value {
    let mut v = serde_json::to_value(object).unwrap();
    v["metadata"]["name"] = json!(name);
    v["metadata"]["resourceVersion"] = json!("3");
    v
}

fn value<T: serde::Serialize>(object: &T) -> Value {
    let mut v = serde_json::to_value(object).unwrap();
    v["metadata"]["resourceVersion"] = json!("3");
    v
}

/// The controller's whole `run_with` path; returns its calls.
async fn controller_calls() -> Vec<Recorded> {
    let (client, handle, recording) = mock_client_recorded();
    let cluster = Arc::new(Mutex::new(Cluster::default()));

    // acme: new, with objects an older plan left behind (one of each kind, and a namespace).
    let acme = tenant("acme", 1);
    let acme_plan = plan_of(&acme);
    // gone: deleted, its namespace is deleted; kept: deleted, its namespace is kept.
    let gone = deleted(tenant("gone", 2));
    let mut kept = deleted(tenant("kept", 3));
    kept.metadata.annotations = Some([(RETAIN_ANNOTATION.to_owned(), "true".to_owned())].into());
    // flaky: the apiserver fails its NetworkPolicy: status, an Event, a retry, the Event again.
    let flaky = tenant("flaky", 4);
    // orphan: came from the store, whose record is gone: the sync deletes it.
    let mut orphan = tenant("orphan", 5);
    orphan.metadata.annotations = Some(
        [(
            STORE_ID_ANNOTATION.to_owned(),
            "9b2e4f1a-0000-4000-8000-000000000001".to_owned(),
        )]
        .into(),
    );
    orphan.metadata.finalizers = Some(vec![FINALIZER.into()]);
    {
        let mut c = cluster.lock().unwrap();
        for t in [&acme, &gone, &kept, &flaky, &orphan] {
            c.tenants.insert(
                t.metadata.name.clone().unwrap(),
                serde_json::to_value(t).unwrap(),
            );
        }
        let mut namespaces = vec![renamed(&acme_plan.namespaces[0], "tenant-acme-old")];
        namespaces.extend(plan_of(&gone).namespaces.iter().map(value));
        namespaces.extend(plan_of(&kept).namespaces.iter().map(value));
        c.lists.insert("/api/v1/namespaces".into(), namespaces);
        c.lists.insert(
            "/apis/rbac.authorization.k8s.io/v1/rolebindings".into(),
            vec![renamed(&acme_plan.role_bindings[0], "tenant-old")],
        );
        c.lists.insert(
            "/apis/networking.k8s.io/v1/networkpolicies".into(),
            vec![renamed(&acme_plan.network_policies[0], "old-isolation")],
        );
        c.lists.insert(
            "/api/v1/limitranges".into(),
            vec![renamed(&acme_plan.limit_ranges[0], "old-defaults")],
        );
        c.lists.insert(
            "/api/v1/resourcequotas".into(),
            vec![renamed(&acme_plan.resource_quotas[0], "old-quota")],
        );
    }
    serve(handle, cluster.clone(), |call| {
        call.starts_with("PATCH /apis/networking.k8s.io/v1/namespaces/tenant-flaky/")
    });

    // The store: a real SQLite database holding one tenant the cluster does not have yet.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mtp.db?mode=rwc", dir.path().display());
    let store = mtp_store::SeaStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
        .create_tenant(NewTenant {
            name: "shop".into(),
            fields: TenantFields::new("Shop Inc.", Tier::Pro, "ops@shop.io"),
        })
        .await
        .unwrap();

    let args = Cli::parse_from([
        "mtp-controller",
        "--identity",
        "replica-1",
        "--lease-seconds",
        "3",
        "--sync-seconds",
        "1",
    ])
    .run;
    let parts = Parts {
        client,
        catalogue: TierCatalogue::default(),
        settings: PlatformSettings::default(),
        store: Some(Arc::new(store) as Arc<dyn Store>),
        metrics: Arc::new(ControllerMetrics::default()),
        ready: Arc::new(AtomicBool::new(false)),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(async move {
        run_with(parts, &args, async move {
            let _ = stop_rx.await;
        })
        .await
    });
    let lease = "/apis/coordination.k8s.io/v1/namespaces/mtp-system/leases";
    wait_for(
        &cluster,
        &[
            &format!("POST {lease}"),
            // A renewal (every second with a 3 s Lease).
            &format!("PUT {lease}/mtp-controller"),
            "PATCH /apis/mtp.dev/v1alpha1/tenants/acme/status",
            "DELETE /api/v1/namespaces/tenant-acme-old",
            "DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-old",
            "DELETE /apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/old-isolation",
            "DELETE /api/v1/namespaces/tenant-acme/limitranges/old-defaults",
            "DELETE /api/v1/namespaces/tenant-acme/resourcequotas/old-quota",
            "DELETE /api/v1/namespaces/tenant-gone",
            "PATCH /apis/mtp.dev/v1alpha1/tenants/gone",
            "PATCH /api/v1/namespaces/tenant-kept",
            "PATCH /apis/mtp.dev/v1alpha1/tenants/kept",
            "POST /apis/events.k8s.io/v1/namespaces/default/events",
            // The repeat of the Warning is a patch of the first Event (a series).
            "PATCH /apis/events.k8s.io/v1/namespaces/default/events/",
            "PATCH /apis/mtp.dev/v1alpha1/tenants/shop",
            "DELETE /apis/mtp.dev/v1alpha1/tenants/orphan",
        ],
    )
    .await;
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), runner)
        .await
        .expect("the controller did not stop")
        .unwrap()
        .unwrap();
    let release = cluster.lock().unwrap().lease.clone().unwrap();
    assert!(
        release["spec"].get("holderIdentity").is_none(),
        "the Lease is released on shutdown: {release}"
    );
    drop(dir);
    recording.calls()
}

/// `mtp-webhook serve --manage` on first start, and its watches (namespaces, Tenants, then
/// Ingresses); returns their calls.
async fn webhook_calls() -> Vec<Recorded> {
    use mtp_bins::webhook::serve::{HookState, ServeArgs, registry};

    let dir = tempfile::tempdir().unwrap();
    let args = ServeArgs {
        listen: "0.0.0.0:8443".parse().unwrap(),
        cert_dir: dir.path().to_owned(),
        self_signed: false,
        dns_names: vec![],
        probe_listen: "0.0.0.0:8080".parse().unwrap(),
        platform_namespace: PLATFORM_NAMESPACE.into(),
        service_name: WEBHOOK.into(),
        manage: true,
        watch_namespaces: true,
        tiers: None,
        cert_reload_seconds: 5,
        header_read_timeout: 10,
        log_denials: false,
        hooks: mtp_bins::webhook::serve::HookArgs::default(),
    };
    let (client, handle, recording) = mock_client_recorded();
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    serve(handle, cluster.clone(), |_| false);
    let state = HookState::default();
    let registry = registry(PLATFORM_NAMESPACE, &state).unwrap();
    // The first start: no Secret yet, so everything is applied (created).
    mtp_bins::webhook::manage::ensure(&client, &args, &registry)
        .await
        .unwrap();
    mtp_bins::webhook::namespaces::spawn_watches(
        client,
        &state,
        Arc::new(mtp_core::TierCatalogue::default()),
    );
    wait_for(
        &cluster,
        &[
            "GET /api/v1/namespaces",
            "GET /apis/mtp.dev/v1alpha1/tenants",
            "GET /apis/networking.k8s.io/v1/ingresses",
        ],
    )
    .await;
    // Each list is followed by its watch (held open by the fake).
    for _ in 0..250 {
        if cluster.lock().unwrap().watches.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        cluster.lock().unwrap().watches.len(),
        3,
        "namespaces, Tenants and Ingresses are watched"
    );
    recording.calls()
}

/// The API server's status read of a Tenant; returns its calls.
async fn apiserver_calls() -> Vec<Recorded> {
    use mtp_bins::apiserver::status::{KubeStatus, StatusSource as _};

    let (client, handle, recording) = mock_client_recorded();
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    cluster.lock().unwrap().tenants.insert(
        "acme".into(),
        serde_json::to_value(tenant("acme", 1)).unwrap(),
    );
    serve(handle, cluster, |_| false);
    let view = KubeStatus::new(client).status("acme").await;
    assert_eq!(view.state, "pending", "the Tenant was read: {view:?}");
    recording.calls()
}

/// The calls of every binary, by ServiceAccount name; the flows run once per test binary.
static CALLS: LazyLock<BTreeMap<&'static str, Vec<Recorded>>> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        BTreeMap::from([
            (CONTROLLER, controller_calls().await),
            (WEBHOOK, webhook_calls().await),
            (APISERVER, apiserver_calls().await),
        ])
    })
});

fn check_all(policy: &Policy) -> (Vec<String>, Vec<String>) {
    let mut denied = Vec::new();
    let mut unused_ = Vec::new();
    for (name, calls) in CALLS.iter() {
        let sa = service_account(name);
        denied.extend(denials(policy, &sa, calls));
        unused_.extend(unused(policy, &sa, calls));
    }
    (denied, unused_)
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn the_shipped_rbac_allows_every_recorded_call_and_grants_nothing_unused() {
    for (name, calls) in CALLS.iter() {
        assert!(!calls.is_empty(), "{name}: no call was recorded");
    }
    let policy = Policy::from_objects(&shipped_objects()).unwrap();
    let (denied, unused) = check_all(&policy);
    assert!(
        denied.is_empty() && unused.is_empty(),
        "calls the shipped RBAC refuses:\n{}\n\npermissions no call uses:\n{}",
        denied.join("\n"),
        unused.join("\n"),
    );
}

#[test]
fn dropping_any_shipped_verb_refuses_a_recorded_call() {
    let objects = shipped_objects();
    let mut checked = 0;
    for (i, object) in objects.iter().enumerate() {
        if !matches!(object["kind"].as_str(), Some("Role" | "ClusterRole")) {
            continue;
        }
        // As the denials name it: ClusterRole/NAME or Role/NAMESPACE/NAME.
        let role = match object["metadata"]["namespace"].as_str() {
            Some(ns) => format!("Role/{ns}/{}", object["metadata"]["name"].as_str().unwrap()),
            None => format!(
                "ClusterRole/{}",
                object["metadata"]["name"].as_str().unwrap()
            ),
        };
        let rules = object["rules"].as_array().cloned().unwrap_or_default();
        for (r, rule) in rules.iter().enumerate() {
            for verb in rule["verbs"].as_array().unwrap() {
                let verb = verb.as_str().unwrap();
                let allowed = UNUSED_ALLOWED.iter().any(|(_, v, res, _)| {
                    *v == verb
                        && rule["resources"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|x| x == res)
                });
                if allowed {
                    continue;
                }
                let mut mutated = objects.clone();
                let verbs = mutated[i]["rules"][r]["verbs"].as_array_mut().unwrap();
                verbs.retain(|v| v != verb);
                let policy = Policy::from_objects(&mutated).unwrap();
                let (denied, _) = check_all(&policy);
                // A call refused for want of exactly this verb (not one refused anyway).
                let needs = format!("needs `{verb} ");
                assert!(
                    denied.iter().any(|d| d.contains(&needs)),
                    "{role} rules[{r}] without `{verb}` still allows every recorded call that \
                     needs it: the verb is redundant (refused: {denied:#?})"
                );
                assert!(
                    denied
                        .iter()
                        .filter(|d| d.contains(&needs))
                        .any(|d| d.contains("consulted: ") && d.contains(&role)),
                    "the refusal names the role consulted, {role}: {denied:#?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} verbs were checked");
}

#[test]
fn a_call_without_its_rule_is_refused_with_the_call_and_the_roles_named() {
    let policy = Policy::from_objects(&shipped_objects()).unwrap();
    let call = Recorded {
        escalation: None,
        request: "PATCH /apis/storage.k8s.io/v1/storageclasses/tenant-acme".into(),
        attributes: mtp_bins::rbac::required_attributes(
            "PATCH",
            "/apis/storage.k8s.io/v1/storageclasses/tenant-acme",
            Some("fieldManager=mtp-controller&force=true"),
            Some("application/apply-patch+yaml"),
            None,
        ),
    };
    let denied = denials(&policy, &service_account(CONTROLLER), &[call]);
    assert_eq!(denied.len(), 2, "patch and create: {denied:#?}");
    assert!(
        denied[1].contains(
            "needs `create storageclasses (group storage.k8s.io) name \"tenant-acme\" cluster-wide`"
        ),
        "{}",
        denied[1]
    );
    assert!(
        denied[1].contains("ClusterRole/mtp-controller (via ClusterRoleBinding/mtp-controller)")
            && denied[1].contains(
                "Role/mtp-system/mtp-controller (via RoleBinding/mtp-system/mtp-controller)"
            ),
        "{}",
        denied[1]
    );
}

#[tokio::test]
async fn the_ordinary_mocks_refuse_what_the_shipped_rbac_refuses() {
    use k8s_openapi::api::core::v1::Secret;

    let (client, mut handle) = common::mock_client_as(WEBHOOK);
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client, PLATFORM_NAMESPACE);
    // Only its own Secret: any other is refused before it reaches the mock.
    let err = secrets.get("mtp-database").await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err}")
    };
    assert_eq!(status.code, 403);
    assert!(
        status
            .message
            .contains("system:serviceaccount:mtp-system:mtp-webhook")
            && status.message.contains("cannot get resource \"secrets\"")
            && status.message.contains("Role/mtp-system/mtp-webhook"),
        "{}",
        status.message
    );
    // Its own Secret is allowed through to the mock.
    let answer = tokio::spawn(async move {
        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(
            request.uri().path(),
            "/api/v1/namespaces/mtp-system/secrets/mtp-webhook-tls"
        );
        respond(
            send,
            404,
            &failure(404, "NotFound", "secrets \"mtp-webhook-tls\" not found"),
        );
    });
    assert!(secrets.get_opt("mtp-webhook-tls").await.unwrap().is_none());
    answer.await.unwrap();
}

#[test]
fn writing_a_role_that_grants_what_the_writer_lacks_is_refused() {
    let policy = Policy::from_objects(&shipped_objects()).unwrap();
    let body = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "tenant-acme"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    let path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/tenant-acme";
    let attributes = mtp_bins::rbac::required_attributes(
        "PATCH",
        path,
        None,
        Some("application/apply-patch+yaml"),
        Some(&body),
    );
    let escalation =
        mtp_bins::rbac::escalation_check(&attributes.as_ref().unwrap()[0], Some(&body));
    let call = Recorded {
        request: format!("PATCH {path}"),
        attributes,
        escalation,
    };
    let denied = denials(&policy, &service_account(CONTROLLER), &[call]);
    // The controller may write ClusterRoles (each tenant's reader role), but not one granting
    // what it does not hold itself.
    assert_eq!(denied.len(), 1, "{denied:#?}");
    assert!(
        denied[0].contains("grants what the writer does not hold: needs `get pods (group core) cluster-wide` (or `escalate clusterroles (group rbac.authorization.k8s.io) name \"tenant-acme\" cluster-wide`)"),
        "{denied:#?}"
    );
}
