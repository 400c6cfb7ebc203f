//! `mtp-webhook check` as a user runs it: exit codes, both output formats, stdin, and every kind of
//! bad input (bad YAML, unknown kind, empty file, binary junk, missing file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn conformance() -> PathBuf {
    match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
    }
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtp-webhook"))
        .args(args)
        .env_remove("MTP_CHECK_PROFILE")
        .env_remove("MTP_CHECK_VERSION")
        .env_remove("MTP_CHECK_OUTPUT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtp-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

const GOOD_POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: team-a}
spec:
  containers:
  - name: nginx
    image: nginx
    resources: {limits: {cpu: 500m, memory: 64Mi}}
    securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
";

#[test]
fn allowed_denied_and_not_applicable_with_exit_codes() {
    let pss = conformance().join("pss");
    let out = run(
        &[
            "check",
            "--profile",
            "restricted",
            p(&pss.join("restricted/pass/base.yaml")),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Pod base: allowed"));

    let out = run(
        &[
            "check",
            "--profile",
            "baseline",
            p(&pss.join("baseline/fail/privileged1.yaml")),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("denied, 1 violation"), "{stdout}");
    assert!(
        stdout.contains("at spec.initContainers[0].securityContext.privileged"),
        "{stdout}"
    );

    let cm = temp_file(
        "cm.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
    );
    let out = run(&["check", p(&cm)], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("not applicable"));
}

#[test]
fn json_output_has_the_documented_shape() {
    let multi = format!(
        "{GOOD_POD}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d, namespace: team-a}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n"
    );
    let file = temp_file("multi.yaml", multi.as_bytes());
    let out = run(&["check", "--output", "json", p(&file)], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["allowed"], false);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["source"], p(&file));
    assert_eq!(results[0]["index"], 0);
    assert_eq!(results[0]["kind"], "Pod");
    assert_eq!(results[0]["namespace"], "team-a");
    assert_eq!(results[0]["name"], "web");
    assert_eq!(results[0]["applicable"], true);
    assert_eq!(results[0]["allowed"], true);
    assert_eq!(results[0]["violations"], serde_json::json!([]));
    assert_eq!(results[1]["index"], 1);
    assert_eq!(results[1]["allowed"], false);
    let v = &results[1]["violations"][0];
    assert_eq!(v["check"], "limits");
    assert_eq!(
        v["path"],
        "spec.template.spec.containers[0].resources.limits.cpu"
    );
    assert_eq!(v["container"], "app");
    assert_eq!(
        v["message"],
        "container \"app\" must set resources.limits.cpu"
    );
    assert_eq!(results[2]["applicable"], false);
    assert_eq!(results[2]["allowed"], true);
}

#[test]
fn stdin_json_and_admission_reviews() {
    let review = std::fs::read(
        conformance()
            .join("admissionreview/pods-ephemeralcontainers-update-privileged.synthetic.json"),
    )
    .unwrap();
    let out = run(
        &["check", "-o", "json", "--profile", "baseline", "-"],
        Some(&review),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["results"][0]["source"], "-");
    assert_eq!(report["results"][0]["kind"], "Pod");
    assert_eq!(
        report["results"][0]["violations"][0]["path"],
        "spec.ephemeralContainers[0].securityContext.privileged"
    );

    let delete =
        std::fs::read(conformance().join("admissionreview/pods-delete.kubewarden.json")).unwrap();
    let out = run(&["check", "-"], Some(&delete));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("not applicable"));
}

#[test]
fn pinned_versions_change_verdicts() {
    // hostProbesAndHostLifecycle applies from v1.34 only.
    let pss = conformance().join("pss");
    let fixture = pss.join("baseline/fail/hostprobesandhostlifecycle0.yaml");
    assert_eq!(
        run(&["check", "--profile", "baseline", p(&fixture)], None)
            .status
            .code(),
        Some(1)
    );
    let out = run(
        &[
            "check",
            "--profile",
            "baseline",
            "--version",
            "v1.33",
            p(&fixture),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn bad_inputs_exit_2_with_a_message_naming_the_file() {
    let bad_yaml = temp_file(
        "bad.yaml",
        format!("{GOOD_POD}---\nkind: Pod\nmetadata:\n  name: [unclosed\n").as_bytes(),
    );
    let unknown = temp_file(
        "unknown.yaml",
        b"apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\nspec: {}\n",
    );
    let no_kind = temp_file("nokind.yaml", b"apiVersion: v1\nmetadata: {name: x}\n");
    let empty = temp_file("empty.yaml", b"");
    let comments = temp_file("comments.yaml", b"# nothing here\n---\n");
    let junk = temp_file(
        "junk.bin",
        &[0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0xff, 0xfe],
    );
    let latin1 = temp_file("latin1.yaml", b"kind: Pod\nname: caf\xe9\n");
    let bad_json = temp_file(
        "bad.json",
        b"{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\",,}",
    );
    let scalar = temp_file("scalar.yaml", b"hello\n");
    let cases: Vec<(&Path, &str)> = vec![
        (&bad_yaml, ":14: document 1: invalid YAML"),
        (
            &unknown,
            ":1: document 0: Deploymnet x: unknown kind \"Deploymnet\" in apps/v1",
        ),
        (&no_kind, ":1: document 0: the object has no kind"),
        (&empty, ": no objects found"),
        (&comments, ": no objects found"),
        (&junk, ": not a text file (a NUL byte at offset 6)"),
        (&latin1, ": not UTF-8 text"),
        (
            &bad_json,
            ":2: document 0: invalid JSON: key must be a string at line 2 column 16",
        ),
        (
            &scalar,
            ":1: document 0: expected a Kubernetes object (a mapping), found a string",
        ),
    ];
    for (file, expected) in &cases {
        let out = run(&["check", p(file)], None);
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("{}{expected}", file.display())),
            "{}: {stderr}",
            file.display()
        );
    }
    // The good document before the broken one is still reported; nothing is lost.
    let out = run(&["check", "-o", "json", p(&bad_yaml)], None);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["allowed"], false);
    assert_eq!(report["errors"][0]["line"], 14);
    assert_eq!(report["results"][0]["name"], "web");
    let out = run(&["check", "/nonexistent/pod.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/pod.yaml: cannot read"));
    // A good file and a bad one: the bad one decides the exit code, the good one is still shown.
    let good = temp_file("good.yaml", GOOD_POD.as_bytes());
    let out = run(&["check", p(&good), p(&empty)], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("Pod team-a/web: allowed"));
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = run(&["check", "--profile", "strict", "x.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown profile \"strict\""));
    let out = run(&["check", "--version", "1.30", "x.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected latest or v1.N"));
    let out = run(&["check"], None);
    assert_eq!(out.status.code(), Some(2));
}
