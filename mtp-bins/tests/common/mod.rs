//! The mocked apiserver of the controller tests (the kube-rs controller pattern): a verifier that
//! asserts the method, path, query and body of each expected call, answers it, and fails if a
//! call never comes. Every call is recorded as the authorization checks it needs
//! ([`recorder`]), so `tests/rbac_shipped.rs` can hold it against the shipped RBAC.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod fake;
pub mod recorder;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response};
use kube::client::Body;
use kube::runtime::watcher;
use mtp_bins::controller::{CacheWriters, Caches, Context, ControllerMetrics, caches};
use mtp_core::{PlatformSettings, Tenant, TenantPlan, TierCatalogue, plan};
use serde_json::{Value, json};

/// The test side of the mocked apiserver.
pub type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// A client of mtp-controller over a mocked apiserver, and its handle: see [`mock_client_as`].
pub fn mock_client() -> (kube::Client, Handle) {
    mock_client_as(mtp_bins::install::CONTROLLER)
}

/// A client over a mocked apiserver, and its handle. Its calls are recorded into
/// [`recorder::recorded_by_mocks`], and a call the shipped RBAC does not allow the ServiceAccount
/// `service_account` (in `mtp-system`) is answered 403 Forbidden, as a real apiserver would,
/// without reaching the handle.
pub fn mock_client_as(service_account: &str) -> (kube::Client, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let sa = mtp_bins::rbac::ServiceAccount::new(recorder::PLATFORM_NAMESPACE, service_account);
    let client = recorder::recording_client(service, recorder::recorded_by_mocks(), Some(sa));
    (client, handle)
}

/// A client over a mocked apiserver, its handle, and the recording of its calls alone (they are
/// also recorded into [`recorder::recorded_by_mocks`]). Nothing is refused: the caller checks the
/// recording.
pub fn mock_client_recorded() -> (kube::Client, Handle, recorder::Recording) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let recording = recorder::Recording::default();
    let client = recorder::recording_client(service, recording.clone(), None);
    (client, handle, recording)
}

/// A reconcile context over a mocked apiserver, the writers of its caches, and the handle.
pub fn context() -> (Arc<Context>, CacheWriters, Handle) {
    let (client, handle) = mock_client();
    let (caches, writers): (Caches, CacheWriters) = caches();
    let ctx = Context::new(
        client,
        TierCatalogue::default(),
        PlatformSettings::default(),
        caches,
        Arc::new(ControllerMetrics::default()),
        Some("test".into()),
    );
    (Arc::new(ctx), writers, handle)
}

/// The plan of `tenant` with the built-in tiers and default settings.
pub fn plan_of(tenant: &Tenant) -> TenantPlan {
    plan(
        tenant,
        &TierCatalogue::default(),
        &PlatformSettings::default(),
    )
    .unwrap()
}

/// Puts the objects of `plan` into the caches, as the watches would after they were applied.
pub fn seed(writers: &mut CacheWriters, plan: &TenantPlan) {
    for mut o in plan.namespaces.clone() {
        o.metadata.resource_version = Some("7".into());
        writers
            .namespaces
            .apply_watcher_event(&watcher::Event::Apply(o));
    }
    for o in plan.role_bindings.clone() {
        writers
            .role_bindings
            .apply_watcher_event(&watcher::Event::Apply(o));
    }
    for o in plan.network_policies.clone() {
        writers
            .network_policies
            .apply_watcher_event(&watcher::Event::Apply(o));
    }
    for o in plan.limit_ranges.clone() {
        writers
            .limit_ranges
            .apply_watcher_event(&watcher::Event::Apply(o));
    }
    for o in plan.resource_quotas.clone() {
        writers
            .resource_quotas
            .apply_watcher_event(&watcher::Event::Apply(o));
    }
    for o in plan.cluster_roles.clone() {
        recorder::cluster_role_exists(&serde_json::to_value(&o).unwrap());
        writers
            .cluster_roles
            .apply_watcher_event(&watcher::Event::Apply(o));
    }
    for o in plan.cluster_role_bindings.clone() {
        writers
            .cluster_role_bindings
            .apply_watcher_event(&watcher::Event::Apply(o));
    }
}

/// Assertions on a call's query and body.
pub type Check = Box<dyn FnOnce(&str, &Value) + Send>;

/// One expected call.
pub struct Call {
    /// The method.
    pub method: Method,
    /// The path.
    pub path: String,
    /// The status to answer.
    pub status: u16,
    /// The body to answer (the request's body echoed when `None`).
    pub reply: Option<Value>,
    /// Assertions on the query and body.
    pub check: Check,
}

/// An expected call answered 200 with its own body.
pub fn call(method: Method, path: &str) -> Call {
    Call {
        method,
        path: path.to_owned(),
        status: 200,
        reply: None,
        check: Box::new(|_, _| {}),
    }
}

impl Call {
    /// Checks the query and body.
    pub fn check(mut self, f: impl FnOnce(&str, &Value) + Send + 'static) -> Self {
        self.check = Box::new(f);
        self
    }

    /// Answers `status` with `body`.
    pub fn reply(mut self, status: u16, body: Value) -> Self {
        self.status = status;
        self.reply = Some(body);
        self
    }
}

/// A Kubernetes `Status` failure.
pub fn failure(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code, "message": message})
}

/// Waits for the next call (5 s at most), checks method and path, returns query, body and the
/// responder.
pub async fn next(
    handle: &mut Handle,
    method: &Method,
    path: &str,
) -> (
    String,
    Value,
    tower_test::mock::SendResponse<Response<Body>>,
) {
    let (request, send) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
        .await
        .unwrap_or_else(|_| panic!("the call {method} {path} never came"))
        .expect("the client went away");
    assert_eq!(
        (request.method(), request.uri().path()),
        (method, path),
        "unexpected call {} {}",
        request.method(),
        request.uri()
    );
    let query = request.uri().query().unwrap_or_default().to_owned();
    let bytes = request.into_body().collect_bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (query, body, send)
}

/// Answers `status` with `body`.
pub fn respond(send: tower_test::mock::SendResponse<Response<Body>>, status: u16, body: &Value) {
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap(),
    );
}

/// Serves `calls` in order, asserting each.
pub async fn verify(handle: &mut Handle, calls: Vec<Call>) {
    for c in calls {
        let (query, body, send) = next(handle, &c.method, &c.path).await;
        (c.check)(&query, &body);
        // An echoed object gets a resourceVersion, as the apiserver's answer has one.
        let reply = c.reply.unwrap_or_else(|| {
            let mut body = body;
            if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.entry("resourceVersion")
                    .or_insert_with(|| json!("1000"));
            }
            body
        });
        respond(send, c.status, &reply);
    }
}

/// Asserts that a server-side apply with the controller's field manager, forced.
pub fn assert_apply(query: &str) {
    assert!(query.contains("fieldManager=mtp-controller"), "{query}");
    assert!(query.contains("force=true"), "{query}");
}
