//! `mtpctl install`: every rendered object passes the official Kubernetes schemas
//! (kubernetes-validate, installed by `.ci/install-deps`) for each supported version, every pod
//! template passes the `restricted` profile (through `mtp-webhook check`) and the `mtp` profile,
//! flags change what they should, bad flags exit 2, the committed Kustomize base under
//! `deploy/base` is what the command renders, and the Grafana dashboard only queries metrics the
//! binaries export.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use std::time::Duration;

use mtp_bins::install::{self, InstallArgs, Rendered};
use mtp_core::Tier;
use mtp_policy::admission::{Observer as _, Outcome};
use mtp_policy::pod_security::{Policy, Profile};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mtp-install-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mtpctl(args: &[&str]) -> Output {
    let home = temp_dir("home");
    let out = Command::new(env!("CARGO_BIN_EXE_mtpctl"))
        .args(args)
        .env("HOME", &home)
        .env("MTPCTL_CONFIG", home.join("config.yaml"))
        .env_remove("MTP_PLATFORM_NAMESPACE")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&home);
    out
}

fn render(args: &InstallArgs) -> Vec<Rendered> {
    install::render(args).unwrap()
}

fn with_dex() -> InstallArgs {
    InstallArgs {
        with_dex: true,
        ..InstallArgs::default()
    }
}

fn of_kind<'a>(objects: &'a [Rendered], kind: &str) -> Vec<&'a Value> {
    objects
        .iter()
        .map(|o| &o.object)
        .filter(|o| o["kind"] == kind)
        .collect()
}

fn named<'a>(objects: &'a [Rendered], kind: &str, name: &str) -> &'a Value {
    of_kind(objects, kind)
        .into_iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

fn kubernetes_validate(path: &Path, version: &str, expected: usize) {
    let output = Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn", "-k", version])
        .arg(path)
        .output()
        .expect("kubernetes-validate is not installed: run .ci/install-deps");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Kubernetes {version}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.matches("passed").count(),
        expected,
        "Kubernetes {version}: every object validated: {stdout}"
    );
}

#[test]
fn every_object_passes_the_official_schemas_of_each_supported_version() {
    let dir = temp_dir("validate");
    // --with-dex renders a superset of the default objects.
    let objects = render(&with_dex());
    let file = dir.join("install.yaml");
    std::fs::write(&file, install::to_stream(&objects).unwrap()).unwrap();
    for version in install::SUPPORTED_KUBERNETES {
        kubernetes_validate(&file, version, objects.len());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_pod_template_passes_restricted_and_mtp() {
    let objects = render(&with_dex());
    let deployments = of_kind(&objects, "Deployment");
    assert_eq!(deployments.len(), 4, "apiserver, controller, webhook, dex");
    let dir = temp_dir("check");
    for d in &deployments {
        let name = d["metadata"]["name"].as_str().unwrap();
        let bytes = serde_json::to_vec(d).unwrap();
        for profile in [Profile::Restricted, Profile::Mtp] {
            let eval = Policy::new(profile).evaluate_json(&bytes).unwrap();
            assert!(eval.applicable, "{name}: a pod template was found");
            assert!(eval.allowed(), "{name}: {}", eval.message(profile));
        }
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        for c in pod["containers"].as_array().unwrap() {
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(
                sc["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{name}"
            );
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{name}");
            for key in ["requests", "limits"] {
                for res in ["cpu", "memory"] {
                    assert!(c["resources"][key][res].is_string(), "{name}: {key}.{res}");
                }
            }
        }
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, serde_yaml::to_string(d).unwrap()).unwrap();
    }
    // The same files through the shipped CLI: exit 0 means every object allowed.
    for profile in ["restricted", "mtp"] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mtp-webhook"));
        cmd.args(["check", "--profile", profile]);
        for d in &deployments {
            cmd.arg(dir.join(format!("{}.yaml", d["metadata"]["name"].as_str().unwrap())));
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "mtp-webhook check --profile {profile}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_render_has_every_component() {
    let objects = render(&InstallArgs::default());
    let ns = named(&objects, "Namespace", "mtp-system");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert_eq!(
        objects[0].object["kind"], "Namespace",
        "the namespace comes first"
    );
    let crd = named(&objects, "CustomResourceDefinition", "tenants.mtp.dev");
    assert_eq!(crd["spec"]["scope"], "Cluster");
    for component in ["mtp-apiserver", "mtp-controller", "mtp-webhook"] {
        named(&objects, "ServiceAccount", component);
        named(&objects, "ClusterRole", component);
        named(&objects, "ClusterRoleBinding", component);
        let d = named(&objects, "Deployment", component);
        assert_eq!(d["spec"]["replicas"], 2, "{component}");
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], component);
        assert_eq!(
            pod["containers"][0]["image"],
            format!("ghcr.io/mtp-dev/mtp:{}", env!("CARGO_PKG_VERSION"))
        );
    }
    // The webhook: PDB, anti-affinity, --manage.
    named(&objects, "PodDisruptionBudget", "mtp-webhook");
    let webhook = named(&objects, "Deployment", "mtp-webhook");
    let pod = &webhook["spec"]["template"]["spec"];
    assert!(pod["affinity"]["podAntiAffinity"].is_object());
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--manage"), "{args:?}");
    named(&objects, "ValidatingWebhookConfiguration", "mtp");
    named(&objects, "MutatingWebhookConfiguration", "mtp");
    // The controller elects a leader: Lease rights in the platform namespace, POD_NAME set.
    let lease_role = named(&objects, "Role", "mtp-controller");
    assert_eq!(lease_role["metadata"]["namespace"], "mtp-system");
    assert_eq!(lease_role["rules"][0]["resources"][0], "leases");
    let controller = named(&objects, "Deployment", "mtp-controller");
    assert_eq!(
        controller["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"],
        "POD_NAME"
    );
    // NetworkPolicies: a default deny plus one per component.
    assert!(of_kind(&objects, "NetworkPolicy").len() >= 4);
    named(&objects, "NetworkPolicy", "mtp-default-deny-ingress");
    // Secrets are referenced, never rendered.
    assert!(of_kind(&objects, "Secret").is_empty());
    let stream = install::to_stream(&objects).unwrap();
    assert!(stream.contains("name: mtp-database"));
    assert!(stream.contains("name: mtp-auth"));
    // No Dex unless asked.
    assert!(!stream.contains("dexidp"));
}

#[test]
fn rbac_is_least_privilege() {
    let objects = render(&with_dex());
    for kind in ["ClusterRole", "Role"] {
        for role in of_kind(&objects, kind) {
            for rule in role["rules"].as_array().unwrap() {
                for field in ["verbs", "resources", "apiGroups"] {
                    assert!(
                        !rule[field].as_array().unwrap().contains(&Value::from("*")),
                        "{kind}/{}: no wildcard {field}",
                        role["metadata"]["name"]
                    );
                }
            }
        }
    }
    // The webhook touches only its own Secret, Service and configurations.
    let webhook_role = named(&objects, "Role", "mtp-webhook");
    for rule in webhook_role["rules"].as_array().unwrap() {
        assert!(rule["resourceNames"].is_array(), "{rule}");
    }
    assert_eq!(
        webhook_role["rules"][0]["resourceNames"][0],
        mtp_bins::webhook::manage::SECRET_NAME
    );
    // The API server only reads Tenants.
    let api = named(&objects, "ClusterRole", "mtp-apiserver");
    assert_eq!(
        api["rules"],
        serde_json::json!([{ "apiGroups": ["mtp.dev"], "resources": ["tenants"], "verbs": ["get"] }])
    );
}

#[test]
fn flags_change_what_they_should() {
    let args = InstallArgs {
        namespace: "platform".to_owned(),
        image_registry: "registry.example.com:5000/team".to_owned(),
        image_tag: "v1.2.3".to_owned(),
        replicas: 3,
        ..InstallArgs::default()
    };
    let objects = render(&args);
    let stream = install::to_stream(&objects).unwrap();
    assert!(!stream.contains("mtp-system"), "no default namespace left");
    named(&objects, "Namespace", "platform");
    for o in &objects {
        let kind = o.object["kind"].as_str().unwrap();
        if let Some(ns) = o.object["metadata"]["namespace"].as_str() {
            assert!(
                ns == "platform" || (kind.starts_with("Role") && ns == "default"),
                "{}: namespace {ns}",
                o.describe()
            );
        }
    }
    for component in ["mtp-apiserver", "mtp-controller", "mtp-webhook"] {
        let d = named(&objects, "Deployment", component);
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.example.com:5000/team/mtp:v1.2.3"
        );
    }
    let vwc = named(&objects, "ValidatingWebhookConfiguration", "mtp");
    assert_eq!(
        vwc["webhooks"][0]["clientConfig"]["service"]["namespace"],
        "platform"
    );
    let webhook = named(&objects, "Deployment", "mtp-webhook");
    assert!(
        webhook["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .contains(&Value::from("--platform-namespace=platform"))
    );

    // --with-dex: Dex with the static-password connector and the password grant; the API
    // server's OIDC settings point at it.
    let objects = render(&with_dex());
    let dex = named(&objects, "Deployment", "dex");
    assert_eq!(dex["spec"]["replicas"], 1);
    let config = named(&objects, "ConfigMap", "dex")["data"]["config.yaml"]
        .as_str()
        .unwrap();
    let config: serde_yaml::Value = serde_yaml::from_str(config).unwrap();
    assert_eq!(config["enablePasswordDB"].as_bool(), Some(true));
    assert_eq!(
        config["oauth2"]["passwordConnector"].as_str(),
        Some("local")
    );
    let grants = config["oauth2"]["grantTypes"].as_sequence().unwrap();
    assert!(grants.iter().any(|g| g.as_str() == Some("password")));
    assert_eq!(config["staticClients"][0]["id"].as_str(), Some("mtpctl"));
    assert_eq!(config["staticClients"][0]["public"].as_bool(), Some(true));
    let api = named(&objects, "Deployment", "mtp-apiserver");
    let env = api["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let issuer = env
        .iter()
        .find(|e| e["name"] == "MTP_OIDC_ISSUER_URL")
        .unwrap();
    assert_eq!(issuer["value"], config["issuer"].as_str().unwrap());
    named(&objects, "NetworkPolicy", "dex-ingress");
}

#[test]
fn the_cli_prints_the_stream_and_writes_a_kustomize_base() {
    let out = mtpctl(&["install", "--replicas", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let expected = render(&InstallArgs {
        replicas: 1,
        ..InstallArgs::default()
    });
    assert_eq!(docs.len(), expected.len());

    let dir = temp_dir("base");
    let out = mtpctl(&[
        "install",
        "--with-dex",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    for file in [
        "namespace.yaml",
        "crd.yaml",
        "apiserver.yaml",
        "controller.yaml",
        "webhook.yaml",
        "webhook-configurations.yaml",
        "dex.yaml",
    ] {
        assert!(kustomization.contains(&format!("- {file}\n")), "{file}");
        assert!(dir.join(file).is_file(), "{file}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_exit_2_with_a_clear_error() {
    for (args, expected) in [
        (
            vec!["install", "--namespace", "Mtp_System"],
            "--namespace \"Mtp_System\"",
        ),
        (vec!["install", "--namespace", ""], "--namespace \"\""),
        (vec!["install", "--replicas", "0"], "--replicas"),
        (vec!["install", "--replicas", "many"], "--replicas"),
        (vec!["install", "--image-tag=.bad"], "--image-tag \".bad\""),
        (
            vec!["install", "--image-tag", "v1:2"],
            "--image-tag \"v1:2\"",
        ),
        (
            vec!["install", "--image-registry", "ghcr.io/acme/"],
            "--image-registry \"ghcr.io/acme/\"",
        ),
        (
            vec!["install", "--image-registry", "GHCR.io/acme"],
            "--image-registry",
        ),
        (vec!["install", "--frobnicate"], "--frobnicate"),
    ] {
        let out = mtpctl(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing rendered");
    }
    // An --output-dir that cannot be created: a clear error, exit 1.
    let dir = temp_dir("blocked");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = mtpctl(&[
        "install",
        "--output-dir",
        file.join("sub").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deploy_base_is_up_to_date() {
    let base = repo_root().join("deploy/base");
    let files = install::files(&render(&InstallArgs::default())).unwrap();
    let mut stale = Vec::new();
    for (name, text) in &files {
        match std::fs::read_to_string(base.join(name)) {
            Ok(committed) if &committed == text => {}
            Ok(_) => stale.push(format!("{name} differs")),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    let expected: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for entry in std::fs::read_dir(&base).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !expected.contains(name.as_str()) {
            stale.push(format!("{name} is not rendered any more"));
        }
    }
    assert!(
        stale.is_empty(),
        "deploy/base is not what `mtpctl install` renders ({}); regenerate it with:\n  {}",
        stale.join(", "),
        install::REGENERATE
    );
}

/// Every metric name the dashboard queries, as written in its PromQL.
fn dashboard_metrics() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("deploy/grafana/mtp.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "expr"
                        && let Some(s) = v.as_str()
                    {
                        out.push(s.to_owned());
                    }
                    walk(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    assert!(exprs.len() >= 8, "the dashboard has panels: {exprs:?}");
    let mut names = BTreeSet::new();
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(i) = rest.find("mtp_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(tail.len());
            names.insert(tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    names
}

#[test]
fn the_dashboard_queries_only_exported_metrics() {
    // What the binaries really expose: the families their registries encode once each has
    // seen an observation (a family without a series is not encoded).
    let api = mtp_bins::apiserver::metrics::ApiMetrics::default();
    api.observe("GET", "/api/v1/tenants", 200, Duration::from_millis(3));
    let controller = mtp_bins::controller::metrics::ControllerMetrics::default();
    controller.observe_reconcile(Duration::from_millis(5), Some("Forbidden"));
    controller.observe_reconcile(Duration::from_millis(5), None);
    controller.set_tenant("acme", Tier::Pro, true);
    controller.observe_sync(true, 1, 1, 1);
    controller.set_leader(true);
    let webhook = mtp_bins::webhook::metrics::WebhookMetrics::default();
    webhook.observe(
        "pod-security.mtp.dev",
        &Outcome::Denied(vec!["privileged".into()]),
        Duration::from_millis(1),
    );
    let exposed = [api.encode(), controller.encode(), webhook.encode()].join("\n");
    let mut types = std::collections::BTreeMap::new();
    for line in exposed.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            types.insert(it.next().unwrap().to_owned(), it.next().unwrap().to_owned());
        }
    }
    let names = dashboard_metrics();
    assert!(names.len() >= 8, "{names:?}");
    for name in &names {
        let found = types.iter().any(|(family, kind)| match kind.as_str() {
            "counter" => *name == format!("{family}_total"),
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| *name == format!("{family}{s}")),
            _ => name == family,
        });
        assert!(
            found,
            "the dashboard queries {name}, which no binary exports: {types:?}"
        );
    }
    // Each component has a panel.
    for prefix in ["mtp_apiserver_", "mtp_controller_", "mtp_webhook_"] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "{prefix}");
    }
}
