//! The recording layer of the mocked apiservers: every request a `kube::Client` over a mock
//! sends is recorded, before the mock sees it, as the Kubernetes authorization checks it meets
//! (`mtp_bins::rbac::required_attributes`: verb, group, resource, subresource, namespace, name;
//! a server-side apply also as `create`, a binding write also as `bind`).
//!
//! `mock_client()` (and `mock_client_as`) record into [`recorded_by_mocks`] and answer like a
//! real apiserver running the shipped RBAC (`deploy/base`): a call the binary's ServiceAccount
//! may not make is answered 403 Forbidden, naming what is missing, and never reaches the test's
//! mock. `mock_client_recorded()` only records: `tests/rbac_shipped.rs` runs its flows with it
//! and then reports every refused call and every unused verb at once.

use std::sync::{Arc, LazyLock, Mutex};

use http::{Request, Response};
use kube::client::Body;
use mtp_bins::rbac::{
    Attributes, Decision, EscalationCheck, Policy, RbacError, ServiceAccount, binding_check,
    decide, decide_escalation, escalation_check, required_attributes,
};
use serde::Deserialize as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The platform namespace of the shipped base (its ServiceAccounts live there).
pub const PLATFORM_NAMESPACE: &str = "mtp-system";

/// Every object of the shipped Kustomize base (`deploy/base`, the files its kustomization lists).
pub fn shipped_objects() -> Vec<Value> {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/base");
    let kustomization = std::fs::read_to_string(base.join("kustomization.yaml")).unwrap();
    let files: Vec<&str> = kustomization
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .collect();
    assert!(
        !files.is_empty(),
        "deploy/base/kustomization.yaml lists no resources"
    );
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(base.join(file))
            .unwrap_or_else(|e| panic!("cannot read deploy/base/{file}: {e}"));
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("deploy/base/{file} is not YAML: {e}"));
            if !v.is_null() {
                out.push(v);
            }
        }
    }
    out
}

/// The shipped RBAC, read once per test binary.
static SHIPPED: LazyLock<Policy> =
    LazyLock::new(|| Policy::from_objects(&shipped_objects()).unwrap());

/// The 403 a real apiserver with the shipped RBAC would answer `recorded`, if it would.
fn refusal(sa: &ServiceAccount, recorded: &Recorded) -> Option<Value> {
    let request = &recorded.request;
    let checks = match &recorded.attributes {
        Ok(c) => c,
        Err(e) => return Some(forbidden(format!("{request}: {e}"))),
    };
    let grants = SHIPPED.grants_for(sa);
    if let Some(Err(missing)) = recorded
        .escalation
        .as_ref()
        .map(|c| decide_escalation(&grants, c))
    {
        let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
        return Some(forbidden(format!(
            "{request} is forbidden: User \"{sa}\" is attempting to grant RBAC permissions not \
             currently held: the shipped RBAC (deploy/base) lacks `escalate` on the role, or: {}",
            missing.join("; ")
        )));
    }
    checks.iter().find_map(|attrs| match decide(&grants, attrs) {
        Decision::Allowed(_) => None,
        Decision::Denied { consulted } => Some(forbidden(format!(
            "{} {:?} is forbidden: User \"{sa}\" cannot {} resource {:?} in API group {:?}{}: \
             the shipped RBAC (deploy/base) does not allow `{attrs}` for `{request}` (consulted: {})",
            attrs.combined_resource(),
            attrs.name,
            attrs.verb,
            attrs.combined_resource(),
            attrs.api_group,
            if attrs.namespace.is_empty() {
                String::new()
            } else {
                format!(" in the namespace {:?}", attrs.namespace)
            },
            consulted.join(", "),
        ))),
    })
}

fn forbidden(message: String) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403, "message": message})
}

/// One request as the mock received it, and the checks it needs.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `METHOD /path?query`, for messages.
    pub request: String,
    /// The authorization checks it meets, or why the path is not a resource request.
    pub attributes: Result<Vec<Attributes>, RbacError>,
    /// For a write of a Role or ClusterRole: `escalate`, or holding all it grants.
    pub escalation: Option<EscalationCheck>,
}

/// The requests of one client, in order.
#[derive(Debug, Clone, Default)]
pub struct Recording(Arc<Mutex<Vec<Recorded>>>);

impl Recording {
    /// Every request recorded so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn push(&self, r: Recorded) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }
}

static ALL: LazyLock<Recording> = LazyLock::new(Recording::default);

/// The ClusterRoles written through any recording client, or that a test says exist, by name
/// (their objects): a binding to one is judged as the apiserver does, by `bind` or by the
/// writer holding all it grants.
static ROLES: LazyLock<Mutex<std::collections::HashMap<String, Value>>> =
    LazyLock::new(Mutex::default);

/// Tells the recorder that the ClusterRole `role` (an object with `metadata.name` and `rules`)
/// exists in the cluster, as a test that seeds the caches with it means.
pub fn cluster_role_exists(role: &Value) {
    if let Some(name) = role["metadata"]["name"].as_str() {
        let mut roles = ROLES.lock().unwrap_or_else(|e| e.into_inner());
        roles.insert(name.to_owned(), role.clone());
    }
}

/// Everything the clients of [`super::mock_client`] sent in this test binary.
pub fn recorded_by_mocks() -> Recording {
    ALL.clone()
}

/// Records `request` (with its body, read in full) into `recording`; returns the record.
fn record(recording: &Recording, parts: &http::request::Parts, body: &[u8]) -> Recorded {
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let query = parts.uri.query();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let mut attributes = required_attributes(method, path, query, content_type, json.as_ref());
    let mut escalation = attributes
        .as_ref()
        .ok()
        .and_then(|a| a.first())
        .and_then(|a| escalation_check(a, json.as_ref()));
    if let (Some(check), Some(body)) = (&escalation, &json)
        && check.escalate.resource == "clusterroles"
    {
        // Remembered so that a binding to it can be judged as the apiserver does.
        let mut roles = ROLES.lock().unwrap_or_else(|e| e.into_inner());
        roles.insert(check.escalate.name.clone(), body.clone());
    }
    // A binding to a ClusterRole whose rules are known: `bind`, or holding all it grants.
    if let Ok(attrs) = &mut attributes
        && let Some(i) = attrs
            .iter()
            .position(|a| a.verb == "bind" && a.resource == "clusterroles")
    {
        let roles = ROLES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(check) = roles
            .get(&attrs[i].name)
            .and_then(|role| binding_check(&attrs[i], role))
        {
            attrs.remove(i);
            escalation = Some(check);
        }
    }
    let recorded = Recorded {
        request: format!("{method} {}", parts.uri),
        attributes,
        escalation,
    };
    recording.push(recorded.clone());
    recorded
}

/// A client whose requests are recorded into `recording` and then handed to `mock`; with
/// `enforce`, a request the shipped RBAC refuses to that ServiceAccount is answered 403 instead.
pub fn recording_client(
    mock: tower_test::mock::Mock<Request<Body>, Response<Body>>,
    recording: Recording,
    enforce: Option<ServiceAccount>,
) -> kube::Client {
    let service = tower::service_fn(move |request: Request<Body>| {
        let mock = mock.clone();
        let recording = recording.clone();
        let enforce = enforce.clone();
        async move {
            let (parts, body) = request.into_parts();
            let bytes = body
                .collect_bytes()
                .await
                .map_err(|e| -> tower::BoxError { Box::new(e) })?;
            let recorded = record(&recording, &parts, &bytes);
            if !std::ptr::eq(Arc::as_ptr(&recording.0), Arc::as_ptr(&ALL.0)) {
                record(&ALL, &parts, &bytes);
            }
            if let Some(status) = enforce.as_ref().and_then(|sa| refusal(sa, &recorded)) {
                eprintln!("mocked apiserver: 403 {}", status["message"]);
                return Ok(Response::builder()
                    .status(403)
                    .body(Body::from(serde_json::to_vec(&status)?))?);
            }
            let request = Request::from_parts(parts, Body::from(bytes.to_vec()));
            mock.oneshot(request).await
        }
    });
    kube::Client::new(service, "default")
}
