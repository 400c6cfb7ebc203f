//! `guardrails.mtp.dev` and `node-selector.mtp.dev` through the admission router (`oneshot`, no
//! sockets), on the compact kube-apiserver capture of a Pod CREATE and reviews of the other kinds
//! built on its envelope: allowed, denied and malformed requests, UPDATE semantics, the control
//! plane's identities, tenants not known yet, the patch applied, and one pass == `admit`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use mtp_policy::admission::hooks::{
    GuardrailCache, GuardrailsHook, NamespaceCache, NodeSelectorHook,
};
use mtp_policy::admission::{Registry, Target, Webhook, review_raw};
use mtp_policy::guardrails::{GuardrailSettings, Guardrails, HostIndex};
use serde_json::{Value, json};
use tower::ServiceExt;

fn capture() -> Value {
    let dir = match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/conformance"),
    };
    let bytes =
        std::fs::read(dir.join("admissionreview/pods-create.kube-apiserver-v1.26.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The capture (namespace `cap`, user `admin`) with another object.
fn review_of(resource: &str, group: &str, kind: &str, object: Value) -> Value {
    let mut review = capture();
    let request = &mut review["request"];
    request["kind"] = json!({"group": group, "version": "v1", "kind": kind});
    request["resource"] = json!({"group": group, "version": "v1", "resource": resource});
    request["object"] = object;
    review
}

fn compile(settings: Value) -> Arc<Guardrails> {
    let settings: GuardrailSettings = serde_json::from_value(settings).unwrap();
    Arc::new(Guardrails::compile(&settings).unwrap())
}

struct Setup {
    router: Router,
    guardrails: GuardrailsHook,
    node_selector: NodeSelectorHook,
}

fn setup() -> Setup {
    let namespaces = Arc::new(NamespaceCache::default());
    namespaces.set("cap", Some("acme"));
    namespaces.set("bank-prod", Some("bank"));
    let cache = Arc::new(GuardrailCache::default());
    cache.set(
        "acme",
        compile(json!({
            "allowedRegistries": ["docker.io/library", "ghcr.io/acme"],
            "allowedServiceTypes": ["LoadBalancer"],
            "allowedIngressHostnames": ["*.acme.example.com"],
            "allowedStorageClasses": ["fast"],
            "nodeSelector": {"pool": "acme"},
            "forbiddenLabels": ["mtp.dev/*"]
        })),
    );
    let hosts = Arc::new(HostIndex::default());
    hosts.set("bank", "bank-prod", "web", &["pay.acme.example.com"]);
    // Tenants not known yet get the strictest defaults: ClusterIP Services only.
    let fallback = compile(json!({"allowedServiceTypes": []}));
    let guardrails = GuardrailsHook::new(
        namespaces.clone(),
        cache.clone(),
        fallback.clone(),
        "mtp-system",
    )
    .with_hosts(hosts);
    let node_selector = NodeSelectorHook::new(namespaces, cache, fallback, "mtp-system");
    let registry = Registry::new([
        Arc::new(guardrails.clone()) as Arc<dyn Webhook>,
        Arc::new(node_selector.clone()),
    ])
    .unwrap();
    Setup {
        router: registry.router(),
        guardrails,
        node_selector,
    }
}

async fn post(router: &Router, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Posts a review to the guardrails hook; returns its `response`.
async fn validate(s: &Setup, review: &Value) -> Value {
    let (status, body) = post(
        &s.router,
        "/validate/guardrails",
        serde_json::to_vec(review).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"]["uid"], review["request"]["uid"]);
    body["response"].clone()
}

#[tokio::test]
async fn the_captured_pod_is_allowed_and_a_foreign_image_is_refused() {
    let s = setup();
    let r = validate(&s, &capture()).await;
    assert_eq!(r["allowed"], true, "{r}");
    let mut review = capture();
    review["request"]["object"]["spec"]["containers"][0]["image"] = json!("quay.io/evil/miner:1");
    let r = validate(&s, &review).await;
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["code"], 403);
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("tenant acme's guardrails refuse this object: container \"p\": image quay.io/evil/miner:1 (quay.io/evil/miner) is not from an allowed registry; allowed: docker.io/library/, ghcr.io/acme (allowedRegistries at spec.containers[0].image)"),
        "{message}"
    );
}

#[tokio::test]
async fn services_ingresses_and_claims() {
    let s = setup();
    let service = |spec: Value| {
        review_of(
            "services",
            "",
            "Service",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec}),
        )
    };
    assert_eq!(
        validate(&s, &service(json!({"type": "LoadBalancer"}))).await["allowed"],
        true
    );
    let r = validate(
        &s,
        &service(json!({"type": "NodePort", "externalIPs": ["203.0.113.9"]})),
    )
    .await;
    let message = r["status"]["message"].as_str().unwrap();
    assert!(message.contains("Service type NodePort is not allowed for tenant acme; allowed: ClusterIP, LoadBalancer (allowedServiceTypes at spec.type)"), "{message}");
    assert!(
        message.contains("(externalIPs at spec.externalIPs)"),
        "{message}"
    );

    let ingress = |host: &str| {
        review_of(
            "ingresses",
            "networking.k8s.io",
            "Ingress",
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
            "spec": {"rules": [{"host": host}]}}),
        )
    };
    assert_eq!(
        validate(&s, &ingress("shop.acme.example.com")).await["allowed"],
        true
    );
    let r = validate(&s, &ingress("pay.acme.example.com")).await;
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("host pay.acme.example.com is already served by another tenant's Ingress"),
        "{message}"
    );
    assert!(
        !message.contains("bank"),
        "the other tenant is not named: {message}"
    );
    let r = validate(&s, &ingress("shop.example.org")).await;
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("allowedIngressHostnames")
    );

    let claim = |class: Value| {
        review_of(
            "persistentvolumeclaims",
            "",
            "PersistentVolumeClaim",
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"storageClassName": class}}),
        )
    };
    assert_eq!(validate(&s, &claim(json!("fast"))).await["allowed"], true);
    assert_eq!(validate(&s, &claim(json!("slow"))).await["allowed"], false);
}

#[tokio::test]
async fn an_update_is_refused_only_for_what_it_adds() {
    let s = setup();
    let old = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"type": "NodePort"}});
    let mut review = review_of("services", "", "Service", old.clone());
    review["request"]["operation"] = json!("UPDATE");
    review["request"]["oldObject"] = old;
    review["request"]["object"]["metadata"]["labels"] = json!({"app": "web"});
    assert_eq!(
        validate(&s, &review).await["allowed"],
        true,
        "a NodePort from before the rule"
    );
    review["request"]["object"]["spec"]["externalIPs"] = json!(["203.0.113.9"]);
    let r = validate(&s, &review).await;
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("externalIPs") && !message.contains("NodePort"),
        "{message}"
    );
}

#[tokio::test]
async fn reserved_labels_bind_people_not_the_control_plane() {
    let s = setup();
    let mut review = capture();
    review["request"]["object"]["metadata"]["labels"]["mtp.dev/owner"] = json!("me");
    let r = validate(&s, &review).await;
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("forbiddenLabels"),
        "{r}"
    );
    review["request"]["userInfo"] = json!({"username": "system:serviceaccount:kube-system:statefulset-controller", "groups": ["system:serviceaccounts"]});
    assert_eq!(validate(&s, &review).await["allowed"], true);
    // Its own tenant label is always allowed (tenant-labels.mtp.dev sets it).
    let mut review = capture();
    review["request"]["object"]["metadata"]["labels"]["mtp.dev/tenant"] = json!("acme");
    assert_eq!(validate(&s, &review).await["allowed"], true);
}

#[tokio::test]
async fn a_tenant_not_known_yet_gets_the_fallback_with_a_warning() {
    let s = setup();
    let mut review = review_of(
        "services",
        "",
        "Service",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"}}),
    );
    review["request"]["namespace"] = json!("new-team");
    let r = validate(&s, &review).await;
    assert_eq!(
        r["allowed"], false,
        "the fallback allows ClusterIP only: {r}"
    );
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("\"new-team\" is not known as a tenant namespace yet"),
        "{r}"
    );
}

#[tokio::test]
async fn malformed_requests_are_refused_not_panicked_on() {
    let s = setup();
    for object in [
        json!("a string"),
        json!({"kind": 7}),
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": "x"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deploymnet"}),
    ] {
        let mut review = capture();
        review["request"]["object"] = object.clone();
        let r = validate(&s, &review).await;
        assert_eq!(r["allowed"], false, "{object}: {r}");
        assert_eq!(r["status"]["code"], 400, "{object}: {r}");
    }
    for body in [b"{".to_vec(), b"[]".to_vec(), b"{\"request\": 1}".to_vec()] {
        let (status, problem) = post(&s.router, "/validate/guardrails", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert!(problem["detail"].is_string(), "{problem}");
    }
}

fn apply_patch(object: &Value, response: &Value) -> Value {
    let Some(patch) = response["patch"].as_str() else {
        return object.clone();
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut object = object.clone();
    json_patch::patch(&mut object, &patch).unwrap();
    object
}

#[tokio::test]
async fn the_node_selector_is_added_to_new_pods_and_contradictions_are_left_to_refuse() {
    let s = setup();
    let review = capture();
    let (status, body) = post(
        &s.router,
        "/mutate/node-selector",
        serde_json::to_vec(&review).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let pod = apply_patch(&review["request"]["object"], &body["response"]);
    assert_eq!(pod["spec"]["nodeSelector"], json!({"pool": "acme"}));
    // Merged into an existing selector.
    let mut review = capture();
    review["request"]["object"]["spec"]["nodeSelector"] = json!({"zone": "a"});
    let (_, body) = post(
        &s.router,
        "/mutate/node-selector",
        serde_json::to_vec(&review).unwrap(),
    )
    .await;
    let pod = apply_patch(&review["request"]["object"], &body["response"]);
    assert_eq!(
        pod["spec"]["nodeSelector"],
        json!({"zone": "a", "pool": "acme"})
    );
    // A contradiction is not patched over; the validating hook refuses it.
    let mut review = capture();
    review["request"]["object"]["spec"]["nodeSelector"] = json!({"pool": "shared"});
    let (_, body) = post(
        &s.router,
        "/mutate/node-selector",
        serde_json::to_vec(&review).unwrap(),
    )
    .await;
    assert!(body["response"]["patch"].is_null(), "{body}");
    let r = validate(&s, &review).await;
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("nodeSelector pool=shared contradicts the tenant's pool=acme"),
        "{r}"
    );
}

#[test]
fn one_pass_answers_exactly_as_admit() {
    let s = setup();
    let base = capture();
    let mut variants = vec![base.clone()];
    let mut update = base.clone();
    update["request"]["operation"] = json!("UPDATE");
    update["request"]["oldObject"] = update["request"]["object"].clone();
    update["request"]["object"]["spec"]["containers"][0]["image"] = json!("quay.io/x/y");
    variants.push(update);
    for object in [
        json!(null),
        json!("a string"),
        json!({"kind": 7}),
        json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": 3}}),
    ] {
        let mut rv = base.clone();
        rv["request"]["object"] = object;
        variants.push(rv);
    }
    let mut bodies: Vec<Vec<u8>> = variants
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect();
    bodies.extend([b"{".to_vec(), b"[]".to_vec(), b"{\"request\": 1}".to_vec()]);
    for body in &bodies {
        assert_eq!(
            s.guardrails.review(body),
            review_raw(&s.guardrails, body),
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(
            s.node_selector.review(body),
            review_raw(&s.node_selector, body),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn configurations_select_tenant_namespaces_and_fail_closed() {
    let s = setup();
    let registry = Registry::new([
        Arc::new(s.guardrails) as Arc<dyn Webhook>,
        Arc::new(s.node_selector),
    ])
    .unwrap();
    let target = Target::service("mtp-system", "mtp-webhook");
    let validating = serde_json::to_value(registry.validating_configuration(&target)).unwrap();
    let mutating = serde_json::to_value(registry.mutating_configuration(&target)).unwrap();
    let hook = &validating["webhooks"][0];
    assert_eq!(hook["name"], "guardrails.mtp.dev");
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(
        hook["namespaceSelector"]["matchExpressions"][0],
        json!({"key": "mtp.dev/tenant", "operator": "Exists"})
    );
    let resources: Vec<&str> = hook["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["resources"].as_array().unwrap())
        .map(|r| r.as_str().unwrap())
        .collect();
    for r in [
        "pods",
        "services",
        "persistentvolumeclaims",
        "ingresses",
        "deployments",
        "cronjobs",
    ] {
        assert!(resources.contains(&r), "{r}: {resources:?}");
    }
    let hook = &mutating["webhooks"][0];
    assert_eq!(hook["name"], "node-selector.mtp.dev");
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(
        hook["rules"],
        json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["*"], "resources": ["pods"], "scope": "*"}])
    );
    let docs = registry.docs();
    assert_eq!(docs[0].checks.len(), 13, "every guardrail is listed");
    assert!(docs[0].checks.iter().any(|c| c.id == "externalIPs"));
}
