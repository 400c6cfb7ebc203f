//! `mtp-webhook manifests` and `docs`: generated configurations validated against the official
//! Kubernetes schemas (kubernetes-validate, installed by `.ci/install-deps`), and their bad flags.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use mtp_bins::webhook::certs;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtp-webhook"))
        .args(args)
        .env_remove("MTP_WEBHOOK_SERVICE")
        .env_remove("MTP_WEBHOOK_URL")
        .env_remove("MTP_CA_BUNDLE")
        .output()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtp-manifests-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fails (never skips) when kubernetes-validate is missing: `.ci/install-deps` installs it.
fn kubernetes_validate(path: &std::path::Path) {
    let output = Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn"])
        .arg(path)
        .output()
        .expect("kubernetes-validate is not installed: run .ci/install-deps");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.matches("passed").count(),
        2,
        "both configurations validated: {stdout}"
    );
}

#[test]
fn manifests_pass_the_official_schemas() {
    let dir = temp_dir("ok");
    let bundle = certs::generate(&certs::service_dns_names("mtp-webhook", "mtp-system")).unwrap();
    let ca = dir.join("ca.crt");
    std::fs::write(&ca, &bundle.ca_pem).unwrap();
    for endpoint in [
        ["--service", "mtp-webhook.mtp-system"],
        ["--url", "https://10.0.0.5:8443"],
    ] {
        let out = run(&[
            "manifests",
            endpoint[0],
            endpoint[1],
            "--ca-bundle",
            ca.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let yaml = String::from_utf8(out.stdout).unwrap();
        assert!(yaml.contains("kind: ValidatingWebhookConfiguration"));
        assert!(yaml.contains("kind: MutatingWebhookConfiguration"));
        assert!(yaml.contains("caBundle:"));
        let file = dir.join(format!("{}.yaml", &endpoint[0][2..]));
        std::fs::write(&file, &yaml).unwrap();
        kubernetes_validate(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn manifests_flags_are_checked() {
    let out = run(&["manifests", "--service", "mtp-webhook"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be NAME.NAMESPACE"));
    let out = run(&["manifests", "--url", "http://10.0.0.5:8443"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with https://"));
    let out = run(&["manifests"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = temp_dir("bad");
    let not_pem = dir.join("ca.crt");
    std::fs::write(&not_pem, "hello").unwrap();
    let out = run(&[
        "manifests",
        "--service",
        "a.b",
        "--ca-bundle",
        not_pem.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no PEM certificate"));
    let out = run(&[
        "manifests",
        "--service",
        "a.b",
        "--ca-bundle",
        "/nonexistent/ca.crt",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read --ca-bundle /nonexistent/ca.crt")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn docs_describe_every_hook() {
    let out = run(&["docs"]);
    assert!(out.status.success());
    let docs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pod-security.mtp.dev",
            "tenant-labels.mtp.dev",
            "guardrails.mtp.dev",
            "node-selector.mtp.dev",
            "protected-namespaces.mtp.dev",
            "namespace-labels.mtp.dev",
            "managed-objects.mtp.dev",
            "tenant-ownership.mtp.dev",
        ]
    );
    for doc in docs.as_array().unwrap() {
        for key in [
            "path",
            "kind",
            "rules",
            "failurePolicy",
            "sideEffects",
            "timeoutSeconds",
            "matchPolicy",
            "doc",
        ] {
            assert!(doc.get(key).is_some(), "{key} missing in {doc}");
        }
    }
}

/// `docs/policies.md` is the Markdown policy reference generated from the registry; it must be
/// what the binary prints today.
#[test]
fn policy_reference_in_docs_is_up_to_date() {
    let out = run(&[
        "docs",
        "--format",
        "markdown",
        "--platform-namespace",
        "mtp-system",
    ]);
    assert!(out.status.success(), "{out:?}");
    let generated = String::from_utf8(out.stdout).unwrap();
    for hook in [
        "## `pod-security.mtp.dev`",
        "## `tenant-labels.mtp.dev`",
        "## `protected-namespaces.mtp.dev`",
        "## `namespace-labels.mtp.dev`",
        "## `managed-objects.mtp.dev`",
        "## `tenant-ownership.mtp.dev`",
    ] {
        assert!(generated.contains(hook), "{hook} missing from\n{generated}");
    }
    assert!(generated.contains("| failure policy | Fail |"));
    assert!(generated.contains("| CREATE, UPDATE | core | pods, pods/ephemeralcontainers"));
    assert!(generated.contains("| objects | `app.kubernetes.io/managed-by=mtp` |"));
    assert!(generated.contains("| objects | `mtp.dev/tenant` Exists |"));
    assert!(generated.contains("| UPDATE, DELETE | networking.k8s.io | networkpolicies |"));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/policies.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/policies.md is not up to date; regenerate it with:\n  \
         cargo run -q -p mtp-bins --bin mtp-webhook -- docs --format markdown > docs/policies.md"
    );
    let bad = run(&["docs", "--format", "html"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value 'html'"));
}

#[test]
fn serve_names_an_unreadable_or_invalid_tiers_file() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let bad = dir.path().join("tiers.yaml");
    std::fs::write(&bad, "free:\n  guardrails:\n    forbiddenLabels: [\"*\"]\n").unwrap();
    for (tiers, expected) in [
        (
            "/nonexistent/tiers.yaml".to_owned(),
            "/nonexistent/tiers.yaml".to_owned(),
        ),
        (
            bad.display().to_string(),
            "free.guardrails.forbiddenLabels.0".to_owned(),
        ),
    ] {
        let out = run(&[
            "serve",
            "--self-signed",
            "--cert-dir",
            certs.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--probe-listen",
            "127.0.0.1:0",
            "--tiers",
            &tiers,
        ]);
        assert!(!out.status.success(), "{tiers}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&expected), "{tiers}: {stderr}");
    }
}

#[test]
fn the_tiers_file_gives_the_fallback_guardrails() {
    use mtp_bins::webhook::serve::{HookState, registry};
    let catalogue = mtp_core::TierCatalogue::from_yaml_str(
        "free:\n  guardrails:\n    allowedServiceTypes: [NodePort]\n",
        "<test>",
    )
    .unwrap();
    let state = HookState::with_fallback(&catalogue);
    let registry = registry("mtp-system", &state).unwrap();
    let hook = registry
        .hooks()
        .iter()
        .find(|h| h.name() == "guardrails.mtp.dev")
        .unwrap();
    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u", "operation": "CREATE", "namespace": "team-new",
            "kind": {"group": "", "version": "v1", "kind": "Service"},
            "resource": {"group": "", "version": "v1", "resource": "services"},
            "userInfo": {"username": "alice"},
            "object": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "NodePort"}}}
    });
    let body = serde_json::to_vec(&review).unwrap();
    let reviewed = hook.review(&body).unwrap();
    assert!(reviewed.response.allowed, "{:?}", reviewed.response);
    assert!(
        reviewed.response.warnings[0].contains("not known as a tenant namespace yet"),
        "{:?}",
        reviewed.response.warnings
    );
    // With the built-in tiers the same request is refused: free allows ClusterIP only.
    let builtin = registry_of_default();
    let hook = builtin
        .hooks()
        .iter()
        .find(|h| h.name() == "guardrails.mtp.dev")
        .unwrap();
    assert!(!hook.review(&body).unwrap().response.allowed);
}

fn registry_of_default() -> mtp_policy::admission::Registry {
    use mtp_bins::webhook::serve::{HookState, registry};
    registry("mtp-system", &HookState::default()).unwrap()
}
