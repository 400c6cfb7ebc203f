//! The whole `mtp-controller run` path (`run_with`: Lease, watches, the Tenant controller, the
//! store sync) against a stateful fake apiserver (`common::fake`): a tenant written to the store
//! reaches the cluster within the sync period; a failing tenant backs off whatever triggers it;
//! a cold start of many Tenants writes each object once, and an idle minute writes nothing but
//! the Lease.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Parser;
use common::fake::{Fake, Recorded};
use http::Method;
use mtp_bins::controller::ControllerMetrics;
use mtp_bins::controller::run::{Parts, RunArgs, run_with};
use mtp_core::{
    NewTenant, PlatformSettings, Role, Store, Tenant, TenantFields, Tier, TierCatalogue,
};
use serde_json::{Value, json};

const TENANTS: &str = "/apis/mtp.dev/v1alpha1/tenants";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/mtp-system/leases";

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
}

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    metrics: Arc<ControllerMetrics>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the controller did not stop")
            .unwrap()
            .unwrap();
    }
}

fn start(client: kube::Client, store: Option<Arc<dyn Store>>, flags: &[&str]) -> Running {
    let mut argv = vec!["mtp-controller", "--identity", "replica-1"];
    argv.extend_from_slice(flags);
    let args = Cli::parse_from(argv).run;
    let metrics = Arc::new(ControllerMetrics::default());
    let parts = Parts {
        client,
        catalogue: TierCatalogue::default(),
        settings: PlatformSettings::default(),
        store,
        metrics: metrics.clone(),
        ready: Arc::new(AtomicBool::new(false)),
    };
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run_with(parts, &args, async move {
            let _ = rx.await;
        })
        .await
    });
    Running {
        stop,
        task,
        metrics,
    }
}

async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(within, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} did not happen within {within:?}"));
}

fn ready(tenant: &Value) -> bool {
    tenant["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// The tenant a write is about: from the path (`tenants/NAME`, `namespaces/tenant-NAME...`).
fn tenant_of(r: &Recorded) -> Option<String> {
    if let Some(rest) = r.path.strip_prefix(&format!("{TENANTS}/")) {
        return rest.split('/').next().map(str::to_owned);
    }
    let t = common::fake::parse(&r.path)?;
    if t.resource.starts_with("clusterrole") {
        return t.name?.strip_prefix("mtp-tenant-").map(str::to_owned);
    }
    let ns = if t.resource == "namespaces" {
        t.name?
    } else {
        t.namespace?
    };
    ns.strip_prefix("tenant-")
        .map(|n| n.split('-').next().unwrap_or(n).to_owned())
}

fn tenant_json(name: &str) -> Value {
    let t = Tenant::test(name).with_admin(&format!("admin@{name}.io"));
    let mut v = serde_json::to_value(t).unwrap();
    v["metadata"].as_object_mut().unwrap().remove("uid");
    v
}

/// A migrated SQLite store in a file (the controller's `--database-url` path), and its folder.
async fn sqlite_store() -> (tempfile::TempDir, Arc<mtp_store::SeaStore>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("mtp.db").display());
    let store = mtp_store::SeaStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (dir, Arc::new(store))
}

#[tokio::test]
async fn a_tenant_created_in_the_store_reaches_the_cluster_within_the_sync_period() {
    let (fake, client) = Fake::start();
    let (_dir, store) = sqlite_store().await;
    let running = start(
        client,
        Some(store.clone() as Arc<dyn Store>),
        &["--sync-seconds", "1"],
    );

    // Written to the store after the controller started, as the API server does.
    until("the first sync round", Duration::from_secs(10), || {
        running
            .metrics
            .encode()
            .contains(r#"mtp_controller_store_syncs_total{result="success"}"#)
    })
    .await;
    let record = store
        .create_tenant(NewTenant {
            name: "acme".into(),
            fields: TenantFields::new("ACME", Tier::Free, "ops@acme.io"),
        })
        .await
        .unwrap();
    store
        .add_member(record.id, "alice@acme.io", Role::Admin)
        .await
        .unwrap();

    until(
        "the Tenant applied from the store",
        Duration::from_secs(5),
        || fake.get(&format!("{TENANTS}/acme")).is_some(),
    )
    .await;
    let tenant = fake.get(&format!("{TENANTS}/acme")).unwrap();
    assert_eq!(
        tenant["metadata"]["annotations"]["mtp.dev/store-id"],
        record.id.to_string()
    );
    assert_eq!(tenant["spec"]["admins"], json!(["alice@acme.io"]));
    // ... and reconciled into its namespace and objects, Ready.
    until("the Tenant Ready", Duration::from_secs(10), || {
        fake.get(&format!("{TENANTS}/acme"))
            .is_some_and(|t| ready(&t))
    })
    .await;
    assert!(fake.get("/api/v1/namespaces/tenant-acme").is_some());
    let rb = fake
        .get("/apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-admins")
        .expect("the admins' RoleBinding");
    assert_eq!(rb["subjects"][0]["name"], "alice@acme.io");
    let apply = fake
        .log()
        .into_iter()
        .find(|r| r.method == Method::PATCH && r.path == format!("{TENANTS}/acme"))
        .unwrap();
    assert!(
        apply.query.contains("fieldManager=mtp-controller-sync"),
        "{}",
        apply.query
    );
    let metrics = running.metrics.encode();
    assert!(
        metrics.contains(r#"mtp_controller_store_sync_writes_total{outcome="apply"} 1"#),
        "{metrics}"
    );

    // A managed object deleted by someone comes back at once (its write is not "in flight").
    let np = "/apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/tenant-isolation";
    let uid = fake.get(np).unwrap()["metadata"]["uid"].clone();
    fake.delete(np);
    until("the NetworkPolicy back", Duration::from_secs(5), || {
        fake.get(np).is_some_and(|p| p["metadata"]["uid"] != uid)
    })
    .await;

    // Deleted in the store: the Tenant goes, and with it (finalizer) its namespace.
    let record = store.get_tenant_by_name("acme").await.unwrap();
    store
        .delete_tenant(record.id, record.version)
        .await
        .unwrap();
    until("the Tenant deleted", Duration::from_secs(10), || {
        fake.get(&format!("{TENANTS}/acme")).is_none()
    })
    .await;
    assert!(fake.get("/api/v1/namespaces/tenant-acme").is_none());
    running.stop().await;
}

#[tokio::test]
async fn a_failing_tenant_backs_off_whatever_triggers_it() {
    let (fake, client) = Fake::start();
    fake.put(&format!("{TENANTS}/acme"), tenant_json("acme"));
    let np = "/apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/tenant-isolation";
    fake.fail(move |m, p| (m == Method::PATCH && p == np).then_some((500, "InternalError")));
    let running = start(client, None, &[]);
    let attempts = |fake: &Fake| {
        fake.log()
            .iter()
            .filter(|r| r.method == Method::PATCH && r.path == np)
            .count()
    };
    until("the first attempt", Duration::from_secs(10), || {
        attempts(&fake) == 1
    })
    .await;
    let first = tokio::time::Instant::now();
    until("the failure in the status", Duration::from_secs(5), || {
        fake.get(&format!("{TENANTS}/acme"))
            .is_some_and(|t| t["status"]["conditions"][0]["status"] == "False")
    })
    .await;
    let status = fake.get(&format!("{TENANTS}/acme")).unwrap();
    let message = status["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("tenant-isolation"), "{message}");
    assert!(
        !message.contains("retrying in"),
        "no countdown in the status: {message}"
    );

    // Twenty watch events of the tenant's objects (someone relabels its namespace) and of the
    // Tenant itself (status-only writes): none of them is an attempt, and none steps the backoff.
    for i in 0..20 {
        let mut ns = fake.get("/api/v1/namespaces/tenant-acme").unwrap();
        ns["metadata"]["labels"]["touched"] = json!(i.to_string());
        fake.put("/api/v1/namespaces/tenant-acme", ns);
        let mut t = fake.get(&format!("{TENANTS}/acme")).unwrap();
        t["status"]["touched"] = json!(i);
        fake.put(&format!("{TENANTS}/acme"), t);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    until("the second attempt", Duration::from_secs(3), || {
        attempts(&fake) == 2
    })
    .await;
    assert!(
        first.elapsed() <= Duration::from_millis(2500),
        "the next attempt is at most 2 s after the first failure, events or not: {:?}",
        first.elapsed()
    );
    // 1 s, 2 s, 4 s, 8 s: attempts at about 0, 1, 3, 7 s of failure.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(first.elapsed())).await;
    let n = attempts(&fake);
    assert!((3..6).contains(&n), "{n} attempts in 10 s of failure");

    // Fixed: the next attempt succeeds and the tenant is Ready; the backoff starts over.
    fake.heal();
    until(
        "the Tenant Ready after the fix",
        Duration::from_secs(10),
        || {
            fake.get(&format!("{TENANTS}/acme"))
                .is_some_and(|t| ready(&t))
        },
    )
    .await;
    running.stop().await;
}

#[tokio::test]
async fn a_cold_start_writes_each_object_once_and_an_idle_period_writes_only_the_lease() {
    // MTP_SCALE_TENANTS=1000 for the figures in benches/README.md.
    let n: usize = std::env::var("MTP_SCALE_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let (fake, client) = Fake::start();
    for i in 0..n {
        let name = format!("t{i:04}");
        fake.put(&format!("{TENANTS}/{name}"), tenant_json(&name));
    }
    let started = tokio::time::Instant::now();
    let running = start(client, None, &["--concurrency", "16"]);
    until("every Tenant Ready", Duration::from_secs(300), || {
        let all = fake.all("tenants");
        all.len() == n && all.iter().all(ready)
    })
    .await;
    let cold_start = started.elapsed();
    // Settle: the watch events of the last writes arrive and their reconciles run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = fake.log();
    let mut per_tenant: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in log.iter().filter(|r| r.is_write()) {
        if r.path.starts_with(LEASES) || r.path.contains("/events") {
            continue;
        }
        let tenant = tenant_of(r)
            .unwrap_or_else(|| panic!("a write outside any tenant: {} {}", r.method, r.path));
        let what = format!(
            "{} {}",
            r.method,
            common::fake::parse(&r.path).unwrap().resource
        );
        *per_tenant
            .entry(tenant)
            .or_default()
            .entry(what)
            .or_default() += 1;
    }
    assert_eq!(per_tenant.len(), n);
    // One finalizer patch, each object applied once, one status write.
    let expected: BTreeMap<String, usize> = [
        ("PATCH tenants", 2), // the finalizer, the status
        ("PATCH namespaces", 1),
        ("PATCH clusterroles", 1),
        ("PATCH clusterrolebindings", 1),
        ("PATCH rolebindings", 3),
        ("PATCH networkpolicies", 1),
        ("PATCH limitranges", 1),
        ("PATCH resourcequotas", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (tenant, writes) in &per_tenant {
        assert_eq!(writes, &expected, "writes for tenant {tenant}");
    }
    eprintln!(
        "cold start of {n} tenants over the fake apiserver: {cold_start:?}, {} writes",
        per_tenant.values().flat_map(|w| w.values()).sum::<usize>()
    );

    // An idle period: nothing but the Lease is written.
    let before = fake.log().len();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let idle: Vec<String> = fake.log()[before..]
        .iter()
        .filter(|r| r.is_write() && !r.path.starts_with(LEASES))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(idle.is_empty(), "writes while idle: {idle:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_tenant_created_with_kubectl_is_adopted_into_the_store() {
    let (fake, client) = Fake::start();
    let (_dir, store) = sqlite_store().await;
    // Applied with kubectl before the controller ran: no store id.
    let mut globex = tenant_json("globex");
    globex["spec"]["viewers"] = json!(["vera@globex.io"]);
    fake.put(&format!("{TENANTS}/globex"), globex);
    let running = start(
        client,
        Some(store.clone() as Arc<dyn Store>),
        &["--sync-seconds", "1"],
    );

    until("the Tenant adopted", Duration::from_secs(10), || {
        fake.get(&format!("{TENANTS}/globex")).is_some_and(|t| {
            t["metadata"]["annotations"]
                .get("mtp.dev/store-id")
                .is_some()
        })
    })
    .await;
    // One list: the store (so the API and mtpctl) has it, with its members and where it came from.
    let record = store.get_tenant_by_name("globex").await.unwrap();
    let tenant = fake.get(&format!("{TENANTS}/globex")).unwrap();
    assert_eq!(
        tenant["metadata"]["annotations"]["mtp.dev/store-id"],
        record.id.to_string()
    );
    assert_eq!(
        tenant["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "mtp"
    );
    let members = store.list_members(record.id).await.unwrap();
    let users: Vec<(String, Role)> = members.iter().map(|m| (m.user.clone(), m.role)).collect();
    assert_eq!(
        users,
        [
            ("admin@globex.io".to_owned(), Role::Admin),
            ("vera@globex.io".to_owned(), Role::Viewer)
        ]
    );
    let audit = store
        .list_tenant_audit("globex", &mtp_core::ListParams::default())
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(audit.items[0].action, "tenant.adopt");
    assert_eq!(audit.items[0].actor, "system:mtp-controller");
    assert!(
        running
            .metrics
            .encode()
            .contains(r#"mtp_controller_store_sync_writes_total{outcome="adopt"} 1"#)
    );

    // An edit made in the cluster behind the API's back (the webhook down) is put back.
    let mut edited = fake.get(&format!("{TENANTS}/globex")).unwrap();
    edited["spec"]["tier"] = json!("enterprise");
    fake.put(&format!("{TENANTS}/globex"), edited);
    until("the store's spec put back", Duration::from_secs(5), || {
        fake.get(&format!("{TENANTS}/globex"))
            .is_some_and(|t| t["spec"]["tier"] == "free")
    })
    .await;
    assert_eq!(store.get_tenant_by_name("globex").await.unwrap().version, 1);

    // Deleted with kubectl: the deletion is reflected into the store (so the Tenant is not
    // applied again), audited, and the Tenant goes with its namespace.
    until("the namespace of globex", Duration::from_secs(10), || {
        fake.get("/api/v1/namespaces/tenant-globex").is_some()
    })
    .await;
    fake.delete(&format!("{TENANTS}/globex"));
    until("the Tenant gone", Duration::from_secs(10), || {
        fake.get(&format!("{TENANTS}/globex")).is_none()
    })
    .await;
    let gone = store.get_tenant_by_name("globex").await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert!(fake.get("/api/v1/namespaces/tenant-globex").is_none());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        fake.get(&format!("{TENANTS}/globex")).is_none(),
        "not re-created from the store"
    );
    let audit = store
        .list_tenant_audit("globex", &mtp_core::ListParams::default())
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["tenant.adopt", "tenant.delete"]);
    assert!(
        running
            .metrics
            .encode()
            .contains(r#"mtp_controller_store_sync_writes_total{outcome="store_delete"} 1"#)
    );
    running.stop().await;
}
