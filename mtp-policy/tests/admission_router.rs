//! The admission router with the hooks mtp ships, called with `oneshot` (no sockets): every
//! AdmissionReview capture of the conformance data, every bad input, duplicates, the generated
//! configurations and docs, and the mutating hook's patch applied to the object.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use mtp_policy::admission::hooks::{
    ManagedObjectsHook, NamespaceCache, NamespaceLabelsHook, PodSecurityHook,
    ProtectedNamespacesHook, TenantLabelsHook, TenantOwnershipHook,
};
use mtp_policy::admission::{Observer, Outcome, Registry, RegistryError, Target, Webhook};
use serde_json::{Value, json};
use tower::ServiceExt;

fn review_path(name: &str) -> PathBuf {
    let dir = match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/conformance"),
    };
    dir.join("admissionreview").join(name)
}

fn review(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(review_path(name)).unwrap()).unwrap()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Outcome)>>);

impl Observer for Recorder {
    fn observe(&self, hook: &str, outcome: &Outcome, _: Duration) {
        self.0
            .lock()
            .unwrap()
            .push((hook.to_owned(), outcome.clone()));
    }
}

fn registry(cache: Arc<NamespaceCache>) -> Registry {
    Registry::new([
        Arc::new(PodSecurityHook::new("mtp-system")) as Arc<dyn Webhook>,
        Arc::new(TenantLabelsHook::new(cache, "mtp-system")),
        Arc::new(ProtectedNamespacesHook::new("mtp-system")),
        Arc::new(NamespaceLabelsHook::new("mtp-system")),
        Arc::new(ManagedObjectsHook::new("mtp-system")),
        Arc::new(TenantOwnershipHook::new("mtp-system")),
    ])
    .unwrap()
}

fn app() -> (Router, Arc<Recorder>) {
    let cache = Arc::new(NamespaceCache::default());
    cache.set("colin-coder", Some("colin"));
    let recorder = Arc::new(Recorder::default());
    (
        registry(cache).router_with_observer(recorder.clone()),
        recorder,
    )
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, String, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let ct = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, ct, value)
}

async fn post(app: &Router, path: &str, review: &Value) -> Value {
    let (status, ct, value) = call(
        app,
        Method::POST,
        path,
        Some("application/json"),
        serde_json::to_vec(review).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{value}");
    assert_eq!(ct, "application/json");
    assert_eq!(value["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(value["kind"], "AdmissionReview");
    assert_eq!(
        value["response"]["uid"], review["request"]["uid"],
        "the uid is echoed"
    );
    value["response"].clone()
}

#[tokio::test]
async fn pod_security_on_every_pod_capture() {
    let (app, recorder) = app();
    let r = post(
        &app,
        "/validate/pod-security",
        &review("pods-create.kube-rs.json"),
    )
    .await;
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["code"], 403);
    assert_eq!(r["status"]["reason"], "Forbidden");
    let message = r["status"]["message"].as_str().unwrap();
    for expected in [
        "must set resources.limits.cpu",
        "must set resources.limits.memory",
        "must set a securityContext",
    ] {
        assert!(message.contains(expected), "{message}");
    }
    let r = post(
        &app,
        "/validate/pod-security",
        &review("pods-create-privileged-ephemeral.kubewarden.json"),
    )
    .await;
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("ephemeralContainers[0].securityContext")
    );
    for name in [
        "pods-ephemeralcontainers-update.synthetic.json",
        "pods-ephemeralcontainers-update-privileged.synthetic.json",
    ] {
        let r = post(&app, "/validate/pod-security", &review(name)).await;
        assert_eq!(r["allowed"], false, "{name}");
    }
    let r = post(
        &app,
        "/validate/pod-security",
        &review("pods-ephemeralcontainers-update-privileged.synthetic.json"),
    )
    .await;
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("must not set securityContext.privileged=true")
    );
    let r = post(
        &app,
        "/validate/pod-security",
        &review("pods-delete.kubewarden.json"),
    )
    .await;
    assert_eq!(r["allowed"], true);
    assert!(r.get("status").is_none());
    let outcomes = recorder.0.lock().unwrap().clone();
    assert_eq!(outcomes.len(), 6);
    assert!(
        matches!(&outcomes[0].1, Outcome::Denied(checks) if checks.contains(&"limits".to_owned()))
    );
    assert_eq!(
        outcomes[5],
        ("pod-security.mtp.dev".to_owned(), Outcome::Allowed)
    );
}

#[tokio::test]
async fn namespace_captures() {
    let (app, _) = app();
    // alice creates an ordinary namespace: allowed by both namespace hooks.
    let ns = review("namespaces-create-psa-labels.kubewarden.json");
    assert_eq!(
        post(&app, "/validate/protected-namespaces", &ns).await["allowed"],
        true
    );
    assert_eq!(
        post(&app, "/validate/namespace-labels", &ns).await["allowed"],
        true
    );
    // ...but not with a tenant label.
    let mut spoofed = ns.clone();
    spoofed["request"]["object"]["metadata"]["labels"]["mtp.dev/tenant"] = json!("bank");
    let r = post(&app, "/validate/namespace-labels", &spoofed).await;
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("only the platform"),
        "{r}"
    );
    // The platform's service account may.
    spoofed["request"]["userInfo"]["username"] =
        json!("system:serviceaccount:mtp-system:mtp-controller");
    assert_eq!(
        post(&app, "/validate/namespace-labels", &spoofed).await["allowed"],
        true
    );
    // Deleting an ordinary namespace as cluster admin: allowed.
    let delete = review("namespaces-delete.synthetic.json");
    assert_eq!(
        post(&app, "/validate/protected-namespaces", &delete).await["allowed"],
        true
    );
    // Deleting kube-system as alice: refused; as system:masters: allowed.
    let mut delete_system = delete.clone();
    delete_system["request"]["name"] = json!("kube-system");
    delete_system["request"]["namespace"] = json!("kube-system");
    assert_eq!(
        post(&app, "/validate/protected-namespaces", &delete_system).await["allowed"],
        true
    );
    delete_system["request"]["userInfo"] =
        json!({"username": "alice", "groups": ["system:authenticated"]});
    let r = post(&app, "/validate/protected-namespaces", &delete_system).await;
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("delete the protected namespace \"kube-system\""),
        "{r}"
    );
}

#[tokio::test]
async fn objects_in_protected_namespaces() {
    let (app, _) = app();
    let mut create = review("pods-create.kube-rs.json");
    create["request"]["namespace"] = json!("mtp-system");
    create["request"]["userInfo"] =
        json!({"username": "mallory", "groups": ["system:authenticated"]});
    let r = post(&app, "/validate/protected-namespaces", &create).await;
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("create pods \"echo-pod\" in the protected namespace \"mtp-system\""),
        "{r}"
    );
    for (user, groups) in [
        (
            "system:serviceaccount:mtp-system:mtp-controller",
            vec![
                "system:serviceaccounts",
                "system:serviceaccounts:mtp-system",
            ],
        ),
        ("system:node:n1", vec!["system:nodes"]),
        ("admin", vec!["system:masters"]),
        ("system:kube-scheduler", vec!["system:authenticated"]),
    ] {
        create["request"]["userInfo"] = json!({"username": user, "groups": groups});
        assert_eq!(
            post(&app, "/validate/protected-namespaces", &create).await["allowed"],
            true,
            "{user}"
        );
    }
    // A tenant namespace is not protected.
    create["request"]["namespace"] = json!("tenant-shop");
    create["request"]["userInfo"] = json!({"username": "mallory", "groups": []});
    assert_eq!(
        post(&app, "/validate/protected-namespaces", &create).await["allowed"],
        true
    );
}

#[tokio::test]
async fn pod_updates_are_checked_only_when_containers_or_images_change() {
    let (app, _) = app();
    let mut update = review("pods-create.kube-rs.json");
    update["request"]["operation"] = json!("UPDATE");
    update["request"]["oldObject"] = update["request"]["object"].clone();
    update["request"]["object"]["metadata"]["labels"]["extra"] = json!("label");
    assert_eq!(
        post(&app, "/validate/pod-security", &update).await["allowed"],
        true,
        "a label change is not re-checked"
    );
    update["request"]["object"]["spec"]["containers"][0]["image"] = json!("jmalloc/echo-server:v2");
    assert_eq!(
        post(&app, "/validate/pod-security", &update).await["allowed"],
        false,
        "an image change is"
    );
}

#[tokio::test]
async fn workload_templates_are_checked() {
    let (app, _) = app();
    let mut rv = review("pods-create.kube-rs.json");
    let pod = rv["request"]["object"].clone();
    rv["request"]["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
    rv["request"]["resource"] =
        json!({"group": "apps", "version": "v1", "resource": "deployments"});
    rv["request"]["object"] = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"metadata": pod["metadata"], "spec": pod["spec"]}}});
    let r = post(&app, "/validate/pod-security", &rv).await;
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("spec.template.spec.containers[0].resources.limits.cpu")
    );
}

fn apply_patch(object: &Value, response: &Value) -> Value {
    assert_eq!(response["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut object = object.clone();
    json_patch::patch(&mut object, &patch).unwrap();
    object
}

#[tokio::test]
async fn tenant_labels_patch_gives_the_labelled_object() {
    let (app, _) = app();
    let rv = review("pods-create.kube-rs.json");
    let r = post(&app, "/mutate/tenant-labels", &rv).await;
    assert_eq!(r["allowed"], true);
    let patched = apply_patch(&rv["request"]["object"], &r);
    let mut expected = rv["request"]["object"].clone();
    expected["metadata"]["labels"]["mtp.dev/tenant"] = json!("colin");
    assert_eq!(patched, expected);

    // A CronJob: the object, the job template and the pod template are all labelled.
    let mut cron = rv.clone();
    cron["request"]["object"] = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "labels": {"mtp.dev/tenant": "spoofed"}},
        "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}});
    let r = post(&app, "/mutate/tenant-labels", &cron).await;
    let patched = apply_patch(&cron["request"]["object"], &r);
    assert_eq!(patched["metadata"]["labels"]["mtp.dev/tenant"], "colin");
    assert_eq!(
        patched["spec"]["jobTemplate"]["metadata"]["labels"]["mtp.dev/tenant"],
        "colin"
    );
    assert_eq!(
        patched["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["mtp.dev/tenant"],
        "colin"
    );

    // An unknown namespace: allowed, no patch, a warning.
    let mut unknown = rv.clone();
    unknown["request"]["namespace"] = json!("elsewhere");
    let r = post(&app, "/mutate/tenant-labels", &unknown).await;
    assert_eq!(r["allowed"], true);
    assert!(r.get("patch").is_none());
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("\"elsewhere\" is not known")
    );
}

/// Method, content type, body, expected status, expected text in the detail.
type BadCase = (
    Method,
    Option<&'static str>,
    Vec<u8>,
    StatusCode,
    &'static str,
);

#[tokio::test]
async fn bad_requests_get_problem_json() {
    let (app, recorder) = app();
    let good = std::fs::read(review_path("pods-create.kube-rs.json")).unwrap();
    let path = "/validate/pod-security";
    let cases: Vec<BadCase> = vec![
        (Method::GET, None, vec![], StatusCode::METHOD_NOT_ALLOWED, "GET is not allowed"),
        (Method::PUT, Some("application/json"), good.clone(), StatusCode::METHOD_NOT_ALLOWED, "PUT is not allowed"),
        (Method::POST, Some("text/plain"), good.clone(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "\"text/plain\" is not supported"),
        (Method::POST, None, good.clone(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "\"none\" is not supported"),
        (Method::POST, Some("application/json"), b"{not json".to_vec(), StatusCode::BAD_REQUEST, "not a valid AdmissionReview"),
        (Method::POST, Some("application/json"), vec![0xff, 0x00, 0x13, 0x37], StatusCode::BAD_REQUEST, "not a valid AdmissionReview"),
        (Method::POST, Some("application/json"), b"".to_vec(), StatusCode::BAD_REQUEST, "not a valid AdmissionReview"),
        (Method::POST, Some("application/json"), b"[]".to_vec(), StatusCode::BAD_REQUEST, "not a valid AdmissionReview"),
        (
            Method::POST,
            Some("application/json"),
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"1"}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "apiVersion is \"admission.k8s.io/v1beta1\"",
        ),
        (Method::POST, Some("application/json"), br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod"}"#.to_vec(), StatusCode::BAD_REQUEST, "kind is \"Pod\""),
        (Method::POST, Some("application/json"), br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(), StatusCode::BAD_REQUEST, "request is missing"),
        (
            Method::POST,
            Some("application/json"),
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "request.uid is missing",
        ),
        (Method::POST, Some("application/json"), vec![b' '; 3 * 1024 * 1024 + 1], StatusCode::PAYLOAD_TOO_LARGE, "over 3145728 bytes"),
    ];
    for (method, ct, body, status, detail) in cases {
        let (got, content_type, problem) = call(&app, method.clone(), path, ct, body).await;
        assert_eq!(got, status, "{method} {ct:?}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["status"], status.as_u16());
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .starts_with("https://mtp.dev/problems/")
        );
        assert!(
            problem["detail"].as_str().unwrap().contains(detail),
            "{problem}"
        );
    }
    // charset parameters are fine.
    let (status, _, _) = call(
        &app,
        Method::POST,
        path,
        Some("application/json; charset=utf-8"),
        good.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Unknown paths are 404, and the server still serves afterwards.
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/validate/nothing",
        Some("application/json"),
        good.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|(_, o)| *o == Outcome::Rejected(413))
    );
}

#[tokio::test]
async fn garbage_objects_are_refused_not_panicked_on() {
    let (app, _) = app();
    let mut rv = review("pods-create.kube-rs.json");
    for object in [
        json!("a string"),
        json!(42),
        json!([1, 2]),
        json!({"kind": 7}),
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": "x"}}),
    ] {
        rv["request"]["object"] = object.clone();
        for path in [
            "/validate/pod-security",
            "/mutate/tenant-labels",
            "/validate/protected-namespaces",
        ] {
            let r = post(&app, path, &rv).await;
            if r["allowed"] == false {
                assert_eq!(r["status"]["code"], 400, "{path} {object}: {r}");
            }
        }
    }
}

struct Named(&'static str, &'static str);

impl Webhook for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn path(&self) -> &str {
        self.1
    }
    fn kind(&self) -> mtp_policy::admission::WebhookKind {
        mtp_policy::admission::WebhookKind::Validating
    }
    fn rules(&self) -> Vec<mtp_policy::admission::Rule> {
        vec![]
    }
    fn doc(&self) -> &str {
        "test"
    }
    fn admit(&self, _: &mtp_policy::admission::Request<'_>) -> mtp_policy::admission::Response {
        mtp_policy::admission::Response::allow()
    }
}

#[test]
fn duplicates_and_bad_names_are_refused_naming_both_hooks() {
    let err = Registry::new([
        Arc::new(Named("a.mtp.dev", "/a")) as Arc<dyn Webhook>,
        Arc::new(Named("a.mtp.dev", "/b")),
    ])
    .unwrap_err();
    assert_eq!(
        err,
        RegistryError::DuplicateName {
            name: "a.mtp.dev".into(),
            first_path: "/a".into(),
            second_path: "/b".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "webhooks /a and /b are both named \"a.mtp.dev\""
    );
    let err = Registry::new([
        Arc::new(Named("a.mtp.dev", "/x")) as Arc<dyn Webhook>,
        Arc::new(Named("b.mtp.dev", "/x")),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "webhooks \"a.mtp.dev\" and \"b.mtp.dev\" are both served on /x"
    );
    for bad in [
        "nodots",
        "two.parts",
        "Upper.mtp.dev",
        "-a.mtp.dev",
        "a..mtp.dev",
    ] {
        assert!(
            matches!(
                Registry::new([Arc::new(Named(bad, "/x")) as Arc<dyn Webhook>]),
                Err(RegistryError::InvalidName(_))
            ),
            "{bad}"
        );
    }
    for bad in ["x", "/", "/a b", "/a?b"] {
        assert!(
            matches!(
                Registry::new([Arc::new(Named("a.mtp.dev", bad)) as Arc<dyn Webhook>]),
                Err(RegistryError::InvalidPath { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn configurations_and_docs() {
    let registry = registry(Arc::new(NamespaceCache::default()));
    let target = Target::service("mtp-system", "mtp-webhook")
        .with_ca_bundle(b"-----BEGIN CERTIFICATE-----\n".to_vec());
    let validating = serde_json::to_value(registry.validating_configuration(&target)).unwrap();
    let mutating = serde_json::to_value(registry.mutating_configuration(&target)).unwrap();
    let names: Vec<&str> = validating["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "pod-security.mtp.dev",
            "protected-namespaces.mtp.dev",
            "namespace-labels.mtp.dev",
            "managed-objects.mtp.dev",
            "tenant-ownership.mtp.dev",
        ]
    );
    let pod = &validating["webhooks"][0];
    assert_eq!(pod["failurePolicy"], "Fail");
    assert_eq!(pod["sideEffects"], "None");
    assert_eq!(pod["admissionReviewVersions"], json!(["v1"]));
    assert_eq!(
        pod["clientConfig"]["service"],
        json!({"namespace": "mtp-system", "name": "mtp-webhook", "path": "/validate/pod-security"})
    );
    assert_eq!(
        pod["clientConfig"]["caBundle"],
        base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\n")
    );
    let excluded = &pod["namespaceSelector"]["matchExpressions"][1];
    assert_eq!(excluded["operator"], "NotIn");
    for ns in ["kube-system", "mtp-system"] {
        assert!(
            excluded["values"].as_array().unwrap().contains(&json!(ns)),
            "{ns} must be excluded"
        );
    }
    assert!(
        pod["rules"][0]["resources"]
            .as_array()
            .unwrap()
            .contains(&json!("pods/ephemeralcontainers"))
    );
    assert_eq!(validating["webhooks"][1]["failurePolicy"], "Ignore");
    assert_eq!(mutating["webhooks"][0]["name"], "tenant-labels.mtp.dev");
    let url = serde_json::to_value(
        registry.mutating_configuration(&Target::url("https://10.0.0.1:8443/")),
    )
    .unwrap();
    assert_eq!(
        url["webhooks"][0]["clientConfig"]["url"],
        "https://10.0.0.1:8443/mutate/tenant-labels"
    );
    let docs = serde_json::to_value(registry.docs()).unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 6);
    // The objectSelectors are in the configuration.
    assert_eq!(
        validating["webhooks"][2]["objectSelector"],
        json!({"matchExpressions": [{"key": "mtp.dev/tenant", "operator": "Exists"}]})
    );
    for hook in [3, 4] {
        assert_eq!(
            validating["webhooks"][hook]["objectSelector"],
            json!({"matchLabels": {"app.kubernetes.io/managed-by": "mtp"}})
        );
    }
    assert_eq!(validating["webhooks"][3]["failurePolicy"], "Fail");
    assert_eq!(validating["webhooks"][4]["failurePolicy"], "Ignore");
    assert!(validating["webhooks"][4].get("namespaceSelector").is_none());
    assert_eq!(docs[0]["name"], "pod-security.mtp.dev");
    assert_eq!(docs[0]["path"], "/validate/pod-security");
    assert_eq!(docs[0]["kind"], "Validating");
    assert_eq!(docs[0]["failurePolicy"], "Fail");
    assert!(docs[0]["doc"].as_str().unwrap().contains("Fails closed"));
    assert_eq!(
        docs[1]["rules"][0]["operations"],
        json!(["CREATE", "UPDATE"])
    );
}

/// The pod-security hook reads the objects while it parses the review (one pass); the default
/// path keeps them raw and calls `admit`. Both must give the same answer on every input.
#[test]
fn pod_security_one_pass_answers_exactly_as_admit() {
    let hook = PodSecurityHook::new("mtp-system");
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let dir = review_path("INDEX.tsv");
    for entry in std::fs::read_dir(dir.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            bodies.push(std::fs::read(path).unwrap());
        }
    }
    let base = review("pods-create.kube-rs.json");
    let mut variants = Vec::new();
    let mut update = base.clone();
    update["request"]["operation"] = json!("UPDATE");
    update["request"]["oldObject"] = update["request"]["object"].clone();
    variants.push(update.clone());
    update["request"]["object"]["spec"]["containers"][0]["image"] = json!("echo:v2");
    variants.push(update.clone());
    update["request"]["oldObject"] = json!({"spec": {"containers": "broken"}});
    variants.push(update.clone());
    update["request"]["subResource"] = json!("ephemeralcontainers");
    variants.push(update);
    for object in [
        json!(null),
        json!("a string"),
        json!({"kind": 7}),
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": "x"}}),
    ] {
        let mut rv = base.clone();
        rv["request"]["object"] = object;
        variants.push(rv);
    }
    let mut no_uid = base.clone();
    no_uid["request"]["uid"] = json!("");
    variants.push(no_uid);
    let mut v1beta1 = base;
    v1beta1["apiVersion"] = json!("admission.k8s.io/v1beta1");
    variants.push(v1beta1);
    bodies.extend(variants.iter().map(|v| serde_json::to_vec(v).unwrap()));
    bodies.extend([b"{".to_vec(), b"[]".to_vec(), b"{\"request\": 1}".to_vec()]);
    assert!(bodies.len() > 15);
    for body in &bodies {
        let one_pass = hook.review(body);
        let raw = mtp_policy::admission::review_raw(&hook, body);
        assert_eq!(one_pass, raw, "{}", String::from_utf8_lossy(body));
        if let Ok(reviewed) = one_pass {
            let written: Value =
                serde_json::from_slice(&reviewed.response.to_review_bytes(&reviewed.uid)).unwrap();
            assert_eq!(written["response"]["uid"], reviewed.uid.as_str());
            assert_eq!(written["response"]["allowed"], reviewed.response.allowed);
        }
    }
}

/// A tenant admin's `kubectl delete networkpolicy tenant-isolation` (a real v1 AdmissionReview of
/// a DELETE: no object, the stored object as oldObject, the DeleteOptions as options).
fn delete_isolation(user: Value, dry_run: bool) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0df1c8f3-2b3a-4e0b-8a55-6a1c2d3e4f50",
            "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "NetworkPolicy"},
            "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "networkpolicies"},
            "requestKind": {"group": "networking.k8s.io", "version": "v1", "kind": "NetworkPolicy"},
            "requestResource": {"group": "networking.k8s.io", "version": "v1", "resource": "networkpolicies"},
            "name": "tenant-isolation",
            "namespace": "tenant-acme",
            "operation": "DELETE",
            "userInfo": user,
            "object": null,
            "oldObject": {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {
                    "name": "tenant-isolation",
                    "namespace": "tenant-acme",
                    "uid": "6f0b2d6e-1c1d-4d8e-9a43-2b8f9d6c1a00",
                    "resourceVersion": "1234",
                    "labels": {"app.kubernetes.io/managed-by": "mtp", "mtp.dev/tenant": "acme"},
                    "managedFields": [{"manager": "mtp-controller", "operation": "Apply", "apiVersion": "networking.k8s.io/v1"}]
                },
                "spec": {
                    "podSelector": {},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"mtp.dev/tenant": "acme"}}}]}],
                    "policyTypes": ["Ingress", "Egress"]
                }
            },
            "dryRun": dry_run,
            "options": {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "propagationPolicy": "Background"}
        }
    })
}

#[tokio::test]
async fn managed_objects_over_the_router() {
    let (app, recorder) = app();
    let path = "/validate/managed-objects";
    let alice = json!({"username": "alice@acme.com", "uid": "a1", "groups": ["acme-admins", "system:authenticated"]});
    let denied = post(&app, path, &delete_isolation(alice.clone(), false)).await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["status"]["code"], 403);
    assert_eq!(
        denied["status"]["message"],
        "NetworkPolicy tenant-acme/tenant-isolation is managed by the mtp platform (tenant \"acme\"'s isolation); it cannot be changed or deleted by alice@acme.com: ask a platform admin, or change the tenant through mtp (mtpctl/the API)"
    );
    assert!(
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|(hook, o)| hook == "managed-objects.mtp.dev"
                && *o == Outcome::Denied(vec!["managedObject".into()])),
        "the denial is counted under its check"
    );
    // A server-side dry run (`kubectl delete --dry-run=server`) gets the same answer.
    let dry = post(&app, path, &delete_isolation(alice.clone(), true)).await;
    assert_eq!(dry["allowed"], denied["allowed"]);
    assert_eq!(dry["status"], denied["status"]);
    // `kubectl edit`: an UPDATE, refused with the same message.
    let mut edit = delete_isolation(alice, false);
    edit["request"]["operation"] = json!("UPDATE");
    let mut edited = edit["request"]["oldObject"].clone();
    edited["spec"]["policyTypes"] = json!(["Egress"]);
    edit["request"]["object"] = edited;
    edit["request"]["options"] = json!({"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"});
    let r = post(&app, path, &edit).await;
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["message"], denied["status"]["message"]);
    // The controller, system:masters and the namespace controller may.
    for user in [
        json!({"username": "system:serviceaccount:mtp-system:mtp-controller", "groups": ["system:serviceaccounts", "system:serviceaccounts:mtp-system"]}),
        json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}),
        json!({"username": "system:serviceaccount:kube-system:namespace-controller", "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system"]}),
    ] {
        let r = post(&app, path, &delete_isolation(user.clone(), false)).await;
        assert_eq!(r["allowed"], true, "{user}: {r}");
        assert!(r.get("status").is_none());
    }
    // A malformed oldObject: 400 in the review, not a panic, not an allow.
    let mut malformed = delete_isolation(json!({"username": "alice@acme.com"}), false);
    malformed["request"]["oldObject"] = json!({"metadata": {"labels": ["not", "a", "map"]}});
    let r = post(&app, path, &malformed).await;
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["code"], 400);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read request.oldObject"),
        "{r}"
    );
    // Not an AdmissionReview at all: the router's problem+json.
    let (status, ct, _) = call(
        &app,
        Method::POST,
        path,
        Some("application/json"),
        b"{\"kind\":".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ct, "application/problem+json");
}

fn tenant_update(user: Value, new_spec: Value, new_finalizers: Value) -> Value {
    let old = json!({
        "apiVersion": "mtp.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {
            "name": "acme",
            "uid": "b8c1f1c2-8f73-4a39-9d0a-0d3c2e1f4a55",
            "resourceVersion": "987",
            "generation": 3,
            "labels": {"app.kubernetes.io/managed-by": "mtp"},
            "annotations": {"mtp.dev/store-id": "7"},
            "finalizers": []
        },
        "spec": {"displayName": "Acme", "tier": "pro", "owner": "alice@acme.com", "admins": ["alice@acme.com"]}
    });
    let mut new = old.clone();
    new["spec"] = new_spec;
    new["metadata"]["finalizers"] = new_finalizers;
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
            "kind": {"group": "mtp.dev", "version": "v1alpha1", "kind": "Tenant"},
            "resource": {"group": "mtp.dev", "version": "v1alpha1", "resource": "tenants"},
            "name": "acme",
            "operation": "UPDATE",
            "userInfo": user,
            "object": new,
            "oldObject": old,
            "dryRun": false,
            "options": {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-edit"}
        }
    })
}

#[tokio::test]
async fn tenant_ownership_over_the_router() {
    let (app, _) = app();
    let path = "/validate/tenant-ownership";
    let admin = json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]});
    let spec = json!({"displayName": "Acme", "tier": "pro", "owner": "alice@acme.com", "admins": ["alice@acme.com"]});
    let mut enterprise = spec.clone();
    enterprise["tier"] = json!("enterprise");
    let r = post(
        &app,
        path,
        &tenant_update(admin.clone(), enterprise.clone(), json!([])),
    )
    .await;
    assert_eq!(r["allowed"], false);
    assert_eq!(
        r["status"]["message"],
        "Tenant acme is managed through the mtp API (store id 7): kubernetes-admin may not change its spec here; change it with 'mtpctl tenants update acme' / PATCH /api/v1/tenants/acme, delete it with 'mtpctl tenants delete acme'"
    );
    // A finalizer-only change passes.
    let r = post(
        &app,
        path,
        &tenant_update(admin, spec, json!(["mtp.dev/cleanup"])),
    )
    .await;
    assert_eq!(r["allowed"], true, "{r}");
    // The controller may change the spec.
    let controller = json!({"username": "system:serviceaccount:mtp-system:mtp-controller", "groups": ["system:serviceaccounts"]});
    let r = post(
        &app,
        path,
        &tenant_update(controller, enterprise, json!([])),
    )
    .await;
    assert_eq!(r["allowed"], true, "{r}");
    // A malformed object: 400 in the review.
    let mut malformed = tenant_update(json!({"username": "bob"}), json!({}), json!([]));
    malformed["request"]["object"] = json!(["not", "a", "tenant"]);
    let r = post(&app, path, &malformed).await;
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["code"], 400);
}
