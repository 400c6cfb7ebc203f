//! `serve --manage` against a mocked apiserver (the kube-rs controller pattern: a verifier that
//! asserts the method, path, query and body of each expected call, and fails if one never comes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use base64::Engine as _;
use http::{Method, Request, Response};
use kube::client::Body;
use mtp_bins::webhook::certs::CertPaths;
use mtp_bins::webhook::manage::{self, SECRET_NAME};
use mtp_bins::webhook::serve::{HookState, ServeArgs, registry};
use serde_json::{Value, json};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn args(name: &str) -> ServeArgs {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("mtp-manage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ServeArgs {
        listen: "0.0.0.0:8443".parse().unwrap(),
        cert_dir: dir,
        self_signed: false,
        dns_names: vec![],
        probe_listen: "0.0.0.0:8080".parse().unwrap(),
        platform_namespace: "mtp-system".into(),
        service_name: "mtp-webhook".into(),
        manage: true,
        watch_namespaces: false,
        tiers: None,
        cert_reload_seconds: 5,
        header_read_timeout: 10,
        log_denials: false,
        hooks: mtp_bins::webhook::serve::HookArgs::default(),
    }
}

/// Waits for the next call, checks method and path, returns its query and JSON body.
async fn expect(
    handle: &mut Handle,
    method: Method,
    path: &str,
) -> (
    String,
    Value,
    tower_test::mock::SendResponse<Response<Body>>,
) {
    let (request, send) =
        tokio::time::timeout(std::time::Duration::from_secs(5), handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("the call {method} {path} never came"))
            .expect("the client went away");
    assert_eq!(request.method(), method, "{}", request.uri());
    assert_eq!(request.uri().path(), path);
    let query = request.uri().query().unwrap_or_default().to_owned();
    let bytes = request.into_body().collect_bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (query, body, send)
}

fn respond(send: tower_test::mock::SendResponse<Response<Body>>, status: u16, body: &Value) {
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap(),
    );
}

fn assert_apply(query: &str) {
    assert!(query.contains("fieldManager=mtp-webhook"), "{query}");
    assert!(query.contains("force=true"), "{query}");
}

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "secrets \"mtp-webhook-tls\" not found"})
}

/// The calls after the Secret: Service, then both configurations carrying `ca`.
async fn expect_service_and_configurations(handle: &mut Handle, ca: &str) {
    let (query, service, send) = expect(
        handle,
        Method::PATCH,
        "/api/v1/namespaces/mtp-system/services/mtp-webhook",
    )
    .await;
    assert_apply(&query);
    assert_eq!(service["spec"]["ports"][0]["port"], 443);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8443);
    respond(send, 200, &service);
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(ca);
    for kind in [
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    ] {
        let (query, config, send) = expect(
            handle,
            Method::PATCH,
            &format!("/apis/admissionregistration.k8s.io/v1/{kind}/mtp"),
        )
        .await;
        assert_apply(&query);
        for webhook in config["webhooks"].as_array().unwrap() {
            assert_eq!(webhook["clientConfig"]["caBundle"], ca_b64, "{kind}");
            assert_eq!(
                webhook["clientConfig"]["service"]["namespace"],
                "mtp-system"
            );
        }
        respond(send, 200, &config);
    }
}

#[tokio::test]
async fn first_start_generates_the_secret_and_applies_everything() {
    let (client, mut handle) = common::mock_client_as(mtp_bins::install::WEBHOOK);
    let args = args("first");
    let registry = registry("mtp-system", &HookState::default()).unwrap();
    let verifier = tokio::spawn(async move {
        let (_, _, send) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/namespaces/mtp-system/secrets/mtp-webhook-tls",
        )
        .await;
        respond(send, 404, &not_found());
        let (query, secret, send) = expect(
            &mut handle,
            Method::PATCH,
            "/api/v1/namespaces/mtp-system/secrets/mtp-webhook-tls",
        )
        .await;
        assert_apply(&query);
        assert_eq!(secret["type"], "kubernetes.io/tls");
        assert!(secret["metadata"]["annotations"]["mtp.dev/not-after"].is_string());
        let ca = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(secret["data"]["ca.crt"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        respond(send, 200, &secret);
        expect_service_and_configurations(&mut handle, &ca).await;
        ca
    });
    let bundle = manage::ensure(&client, &args, &registry).await.unwrap();
    let ca = verifier.await.unwrap();
    assert_eq!(bundle.ca_pem, ca);
    let paths = CertPaths::in_dir(&args.cert_dir);
    assert_eq!(
        std::fs::read_to_string(&paths.cert).unwrap(),
        bundle.cert_pem,
        "the serving certificate is written for the TLS listener"
    );
    let _ = std::fs::remove_dir_all(&args.cert_dir);
}

fn stored_secret(not_after: time::OffsetDateTime) -> (Value, String) {
    let bundle =
        mtp_bins::webhook::certs::generate(&["mtp-webhook.mtp-system.svc".to_owned()]).unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": SECRET_NAME, "namespace": "mtp-system",
                     "annotations": {"mtp.dev/not-after": not_after.format(&time::format_description::well_known::Rfc3339).unwrap()}},
        "data": {"ca.crt": b64(&bundle.ca_pem), "tls.crt": b64(&bundle.cert_pem), "tls.key": b64(&bundle.key_pem)}
    });
    (secret, bundle.ca_pem)
}

#[tokio::test]
async fn a_valid_secret_is_kept_and_only_the_objects_are_reapplied() {
    let (client, mut handle) = common::mock_client_as(mtp_bins::install::WEBHOOK);
    let args = args("keep");
    let registry = registry("mtp-system", &HookState::default()).unwrap();
    let (secret, ca) = stored_secret(time::OffsetDateTime::now_utc() + time::Duration::days(200));
    let expected_ca = ca.clone();
    let verifier = tokio::spawn(async move {
        let (_, _, send) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/namespaces/mtp-system/secrets/mtp-webhook-tls",
        )
        .await;
        respond(send, 200, &secret);
        // No PATCH of the Secret: the next call is the Service.
        expect_service_and_configurations(&mut handle, &ca).await;
    });
    let bundle = manage::ensure(&client, &args, &registry).await.unwrap();
    verifier.await.unwrap();
    assert_eq!(bundle.ca_pem, expected_ca);
    let _ = std::fs::remove_dir_all(&args.cert_dir);
}

#[tokio::test]
async fn a_secret_within_30_days_of_expiry_is_rotated() {
    let (client, mut handle) = common::mock_client_as(mtp_bins::install::WEBHOOK);
    let args = args("rotate");
    let registry = registry("mtp-system", &HookState::default()).unwrap();
    let (secret, old_ca) =
        stored_secret(time::OffsetDateTime::now_utc() + time::Duration::days(10));
    let verifier = tokio::spawn(async move {
        let (_, _, send) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/namespaces/mtp-system/secrets/mtp-webhook-tls",
        )
        .await;
        respond(send, 200, &secret);
        let (_, fresh, send) = expect(
            &mut handle,
            Method::PATCH,
            "/api/v1/namespaces/mtp-system/secrets/mtp-webhook-tls",
        )
        .await;
        let ca = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(fresh["data"]["ca.crt"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_ne!(ca, old_ca, "a new CA");
        respond(send, 200, &fresh);
        expect_service_and_configurations(&mut handle, &ca).await;
    });
    manage::ensure(&client, &args, &registry).await.unwrap();
    verifier.await.unwrap();
    let _ = std::fs::remove_dir_all(&args.cert_dir);
}

#[tokio::test]
async fn apiserver_errors_are_reported_with_context() {
    let (client, mut handle) = common::mock_client_as(mtp_bins::install::WEBHOOK);
    let args = args("error");
    let registry = registry("mtp-system", &HookState::default()).unwrap();
    let verifier = tokio::spawn(async move {
        let (_, _, send) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/namespaces/mtp-system/secrets/mtp-webhook-tls",
        )
        .await;
        respond(
            send,
            403,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": "secrets is forbidden: User \"system:serviceaccount:mtp-system:mtp-webhook\" cannot get resource \"secrets\""}),
        );
    });
    let err = format!(
        "{:#}",
        manage::ensure(&client, &args, &registry).await.unwrap_err()
    );
    verifier.await.unwrap();
    assert!(err.contains("cannot read the TLS Secret"), "{err}");
    assert!(err.contains("forbidden"), "{err}");
}
