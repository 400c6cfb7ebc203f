//! `mtp-controller crd` and the plan objects of every tier, validated against the official
//! Kubernetes schemas (kubernetes-validate, installed by `.ci/install-deps`); bad flags.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mtp_core::diff::planned_objects;
use mtp_core::{Egress, PlatformSettings, Tenant, Tier, TierCatalogue, plan};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtp-controller"))
        .args(args)
        .env_remove("MTP_KUBECONFIG")
        .env_remove("MTP_DATABASE_URL")
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtp-ctl-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fails (never skips) when kubernetes-validate is missing: `.ci/install-deps` installs it.
fn kubernetes_validate(path: &Path, documents: usize) {
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
        documents,
        "every document validated: {stdout}"
    );
}

#[test]
fn the_generated_crd_passes_the_official_schema() {
    let out = run(&["crd"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("kind: CustomResourceDefinition"));
    assert!(yaml.contains("name: tenants.mtp.dev"));
    assert!(yaml.contains("scope: Cluster"));
    assert!(
        yaml.contains("status: {}"),
        "the status subresource: {yaml}"
    );
    let dir = temp_dir("crd");
    let file = dir.join("crd.yaml");
    std::fs::write(&file, &yaml).unwrap();
    kubernetes_validate(&file, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_plan_objects_of_every_tier_pass_the_official_schemas() {
    let dir = temp_dir("plans");
    let catalogue = TierCatalogue::default();
    for tier in Tier::ALL {
        let mut tenant = Tenant::test("acme")
            .with_tier(tier)
            .with_admin("alice@acme.io");
        if tier != Tier::Free {
            tenant = tenant
                .with_operator("olga@acme.io")
                .with_viewer("victor@acme.io")
                .with_namespace("ci")
                .with_egress(Egress::Internet);
        }
        let plan = plan(&tenant, &catalogue, &PlatformSettings::default()).unwrap();
        // What `mtpctl render` prints.
        let file = dir.join(format!("{tier}.yaml"));
        std::fs::write(&file, plan.to_yaml().unwrap()).unwrap();
        kubernetes_validate(&file, plan.to_values().unwrap().len());
        // What the controller applies (empty bindings with an explicit `subjects: []`).
        let applied = planned_objects(&plan).unwrap();
        let mut yaml = String::new();
        for object in &applied {
            yaml.push_str("---\n");
            yaml.push_str(&serde_yaml::to_string(&object.value).unwrap());
        }
        let file = dir.join(format!("{tier}-applied.yaml"));
        std::fs::write(&file, yaml).unwrap();
        kubernetes_validate(&file, applied.len());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_and_configuration_are_named() {
    let out = run(&["--lease-seconds", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lease-seconds"));
    let out = run(&["run", "--probe-listen", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--probe-listen"));
    let out = run(&["run", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read --kubeconfig /nonexistent/kubeconfig"),
        "{err}"
    );
    // The OS error once, not once per wrapper that quotes it.
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // A database that cannot be reached: the error names it, never its password.
    let dir = temp_dir("kubeconfig");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n\
         users: [{name: u, user: {token: abc}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let out = run(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--database-url",
        "postgres://mtp:hunter2@127.0.0.1:1/mtp",
        "--probe-listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("store unavailable"), "{err}");
    assert!(!err.contains("hunter2"), "no password in errors: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}
