//! `mtp-webhook check` as a user runs it: exit codes, both output formats, stdin, and every kind of
//! bad input (bad YAML, unknown kind, empty file, binary junk, missing file); and `--tier`,
//! `--tenant`, `--tiers`: the checks a tenant namespace really applies (issue 21).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mtp_core::{PodSecurityLevel, TierCatalogue};
use serde_json::{Value, json};

fn conformance() -> PathBuf {
    match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mtp-policy/testdata/conformance")
        }
    }
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_env(args, &[], stdin)
}

fn run_env(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtp-webhook"))
        .args(args)
        .env_remove("MTP_CHECK_PROFILE")
        .env_remove("MTP_CHECK_VERSION")
        .env_remove("MTP_CHECK_OUTPUT")
        .env_remove("MTP_CHECK_TIER")
        .env_remove("MTP_CHECK_TENANT")
        .env_remove("MTP_CHECK_TIERS")
        .envs(env.iter().copied())
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

/// A pod that sets everything the `mtp` profile and `restricted` ask for, except resources.
const BARE_POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: tenant-acme}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: app
    securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
";

/// The same pod spec in a Deployment.
const BARE_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: bare, namespace: tenant-acme}
spec:
  selector: {matchLabels: {app: bare}}
  template:
    metadata: {labels: {app: bare}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: app
        image: app
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
";

fn tenant_yaml(name: &str, tier: &str) -> String {
    format!(
        "apiVersion: mtp.dev/v1alpha1\nkind: Tenant\nmetadata: {{name: {name}}}\nspec: {{displayName: {name}, tier: {tier}, ownerEmail: ops@{name}.io, admins: [alice@{name}.io]}}\n"
    )
}

fn json_report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

fn checks(result: &Value) -> Vec<String> {
    result["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("{}:{}", v["policy"].as_str().unwrap_or("-"), v["check"]))
        .map(|s| s.replace('"', ""))
        .collect()
}

/// Issue 21, first disagreement: a pod the `mtp` profile allows was refused in a pro namespace by
/// the built-in Pod Security admission (`restricted`). With `--tier pro` check refuses it too.
#[test]
fn tier_pro_refuses_what_pod_security_admission_refuses() {
    let catalogue = TierCatalogue::default();
    assert_eq!(catalogue.pro.pod_security, PodSecurityLevel::Restricted);
    assert_eq!(catalogue.free.pod_security, PodSecurityLevel::Restricted);
    assert_eq!(
        catalogue.enterprise.pod_security,
        PodSecurityLevel::Baseline
    );
    let pod = temp_file("issue21-pod.yaml", GOOD_POD.as_bytes());

    let out = run(&["check", p(&pod)], None);
    assert_eq!(out.status.code(), Some(0), "the false green of issue 21");

    for tier in ["pro", "free"] {
        let out = run(&["check", "--tier", tier, p(&pod)], None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("[restricted:seccompProfile_restricted]\n        at spec.containers[0].securityContext.seccompProfile.type"),
            "{stdout}"
        );
        assert!(
            stdout.contains("[restricted:capabilities_restricted]"),
            "{stdout}"
        );
        assert!(
            stdout.ends_with(&format!("1 object checked against tier {tier} (the mtp profile and Pod Security restricted latest, after the LimitRange defaults on bare pods, and the guardrails): 0 allowed, 1 denied, 0 not applicable\n")),
            "{stdout}"
        );
        assert!(!stdout.contains("note:"), "{stdout}");
    }

    // Both policies' violations are listed, each tagged with its policy.
    let privileged_root = GOOD_POD.replace("runAsNonRoot: true", "runAsNonRoot: false");
    let pod2 = temp_file("issue21-root.yaml", privileged_root.as_bytes());
    let out = run(&["check", "--tier", "pro", "-o", "json", p(&pod2)], None);
    assert_eq!(out.status.code(), Some(1));
    let report = json_report(&out);
    assert_eq!(
        checks(&report["results"][0]),
        [
            "mtp:runAsNonRoot",
            "restricted:runAsNonRoot",
            "restricted:seccompProfile_restricted",
            "restricted:capabilities_restricted"
        ]
    );

    // Enterprise namespaces enforce baseline, which this pod meets.
    let out = run(&["check", "--tier", "enterprise", p(&pod)], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("Pod Security baseline latest"));
    // --version pins the level's version as the enforce-version label would.
    let out = run(
        &[
            "check",
            "--tier",
            "pro",
            "--version",
            "v1.18",
            "-o",
            "json",
            p(&pod),
        ],
        None,
    );
    let report = json_report(&out);
    assert_eq!(report["tier"]["podSecurityVersion"], "v1.18");
    assert_eq!(
        checks(&report["results"][0]),
        Vec::<String>::new(),
        "seccompProfile_restricted applies from v1.19, capabilities_restricted from v1.22"
    );
    assert_eq!(out.status.code(), Some(0));
}

/// Issue 21, second disagreement: a bare pod without limits fails `check` but is admitted, since
/// LimitRanger fills in the tier's defaults first; the same spec in a Deployment is refused.
#[test]
fn limit_range_defaults_admit_a_bare_pod_but_not_its_deployment() {
    let file = temp_file(
        "issue21-bare.yaml",
        format!("{BARE_POD}---\n{BARE_DEPLOYMENT}").as_bytes(),
    );
    let out = run(&["check", "-o", "json", p(&file)], None);
    assert_eq!(out.status.code(), Some(1));
    let report = json_report(&out);
    assert_eq!(
        report["results"][0]["allowed"], false,
        "the false red of issue 21"
    );
    assert_eq!(report["results"][1]["allowed"], false);

    let out = run(&["check", "--tier", "pro", "-o", "json", p(&file)], None);
    assert_eq!(out.status.code(), Some(1), "the Deployment is still denied");
    let report = json_report(&out);
    let (pod, deployment) = (&report["results"][0], &report["results"][1]);
    assert_eq!(pod["kind"], "Pod");
    assert_eq!(pod["allowed"], true, "{pod}");
    let pro = &TierCatalogue::default().pro.limit_range;
    assert_eq!(
        pod["defaulted"],
        json!([
            {"path": "spec.containers[0].resources.limits.cpu", "container": "app", "value": pro.default_cpu, "from": "limitRange"},
            {"path": "spec.containers[0].resources.limits.memory", "container": "app", "value": pro.default_memory, "from": "limitRange"},
            {"path": "spec.containers[0].resources.requests.cpu", "container": "app", "value": pro.default_request_cpu, "from": "limitRange"},
            {"path": "spec.containers[0].resources.requests.memory", "container": "app", "value": pro.default_request_memory, "from": "limitRange"},
        ])
    );
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(deployment["allowed"], false);
    assert_eq!(checks(deployment), ["mtp:limits", "mtp:limits"]);
    assert_eq!(
        deployment["violations"][0]["path"],
        "spec.template.spec.containers[0].resources.limits.cpu"
    );
    assert!(deployment.get("defaulted").is_none(), "{deployment}");

    let out = run(&["check", "--tier", "pro", p(&file)], None);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Pod tenant-acme/bare: allowed\n    defaulted spec.containers[0].resources: limits.cpu=1, limits.memory=1Gi, requests.cpu=250m, requests.memory=256Mi\n"),
        "{stdout}"
    );

    // A limit without a request becomes the request (API defaulting) before the LimitRange.
    let half = BARE_POD.replace(
        "image: app\n",
        "image: app\n    resources: {limits: {memory: 64Mi}}\n",
    );
    let out = run(&["check", "--tier", "pro", "-"], Some(half.as_bytes()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("    defaulted spec.containers[0].resources: requests.memory=64Mi (from its limit), limits.cpu=1, requests.cpu=250m\n"),
        "{}",
        text(&out.stdout)
    );

    // An AdmissionReview's object is what the apiserver sends after mutating admission: checked as written.
    let pod: Value = serde_yaml::from_str(BARE_POD).unwrap();
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "1", "operation": "CREATE", "namespace": "tenant-acme", "object": pod}});
    let out = run(
        &["check", "--tier", "pro", "-o", "json", "-"],
        Some(review.to_string().as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json_report(&out);
    assert_eq!(checks(&report["results"][0]), ["mtp:limits", "mtp:limits"]);
}

#[test]
fn unknown_tier_lists_the_known_tiers() {
    let pod = temp_file("tier-gold.yaml", GOOD_POD.as_bytes());
    let expected = "unknown tier \"gold\": the known tiers are free, pro, enterprise";
    let out = run(&["check", "--tier", "gold", p(&pod)], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(expected),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let out = run_env(&["check", p(&pod)], &[("MTP_CHECK_TIER", "gold")], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(expected),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn tenant_file_gives_the_tier() {
    let pod = temp_file("tenant-pod.yaml", GOOD_POD.as_bytes());
    let acme = temp_file("acme.yaml", tenant_yaml("acme", "pro").as_bytes());
    let out = run(
        &["check", "--tenant", p(&acme), "-o", "json", p(&pod)],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = json_report(&out);
    assert_eq!(report["tier"]["name"], "pro");
    assert_eq!(report["tier"]["tenant"], "acme");
    assert_eq!(report["tier"]["podSecurity"], "restricted");
    let out = run(&["check", "--tenant", p(&acme), p(&pod)], None);
    assert!(
        text(&out.stdout).contains("checked against tier pro of tenant acme (the mtp profile"),
        "{}",
        text(&out.stdout)
    );

    let big = temp_file("big.yaml", tenant_yaml("big", "enterprise").as_bytes());
    let out = run(&["check", "--tenant", p(&big), p(&pod)], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // From the environment, and agreeing with --tier.
    let out = run_env(
        &["check", "--tier", "pro", p(&pod)],
        &[("MTP_CHECK_TENANT", p(&acme))],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("of tenant acme"));
}

#[test]
fn tenant_and_tier_must_agree() {
    let pod = temp_file("agree-pod.yaml", GOOD_POD.as_bytes());
    let acme = temp_file("agree-acme.yaml", tenant_yaml("acme", "pro").as_bytes());
    let out = run(
        &[
            "check",
            "--tier",
            "enterprise",
            "--tenant",
            p(&acme),
            p(&pod),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "--tier enterprise and --tenant {} disagree: tenant \"acme\" has spec.tier pro",
            p(&acme)
        )),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing is checked");
}

#[test]
fn a_tenant_file_that_is_not_a_tenant_is_named() {
    let pod = temp_file("nt-pod.yaml", GOOD_POD.as_bytes());
    let bad_tier = temp_file("gold-tenant.yaml", tenant_yaml("acme", "gold").as_bytes());
    let two = temp_file(
        "two-tenants.yaml",
        format!(
            "{}---\n{}",
            tenant_yaml("a", "pro"),
            tenant_yaml("b", "pro")
        )
        .as_bytes(),
    );
    let empty = temp_file("empty-tenant.yaml", b"# nothing\n");
    let cases: Vec<(&Path, &str)> = vec![
        (
            &pod,
            ": document 0: not a Tenant: expected apiVersion mtp.dev/v1alpha1 and kind Tenant, found v1 Pod",
        ),
        (&bad_tier, ": document 0: spec.tier: unknown variant `gold`"),
        (&two, ": holds 2 Tenants: give a file with one"),
        (&empty, ": not a Tenant: the file is empty"),
        (Path::new("/nonexistent/tenant.yaml"), ": cannot read"),
    ];
    for (file, expected) in cases {
        let out = run(&["check", "--tenant", p(file), p(&pod)], None);
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("error: --tenant {}{expected}", file.display())),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_tiers_file_replaces_the_builtin_tiers() {
    let pod = temp_file("tiers-pod.yaml", BARE_POD.as_bytes());
    let tiers = temp_file(
        "tiers.yaml",
        b"enterprise:\n  podSecurity: restricted\n  limitRange:\n    defaultMemory: 3Gi\nfree:\n  podSecurity: privileged\n",
    );
    let out = run(
        &[
            "check",
            "--tier",
            "enterprise",
            "--tiers",
            p(&tiers),
            "-o",
            "json",
            p(&pod),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = json_report(&out);
    assert_eq!(report["tier"]["catalogue"], p(&tiers));
    assert_eq!(report["tier"]["podSecurity"], "restricted");
    assert_eq!(report["tier"]["limitRange"]["default"]["memory"], "3Gi");
    assert_eq!(report["results"][0]["defaulted"][1]["value"], "3Gi");

    // A privileged tier adds no Pod Security checks: only the mtp profile remains.
    let root = temp_file(
        "tiers-root.yaml",
        GOOD_POD
            .replace("securityContext: {", "securityContext: {privileged: true, ")
            .as_bytes(),
    );
    let out = run_env(
        &["check", "-o", "json", p(&root)],
        &[("MTP_CHECK_TIER", "free"), ("MTP_CHECK_TIERS", p(&tiers))],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json_report(&out);
    assert_eq!(report["tier"]["podSecurity"], "privileged");
    assert_eq!(checks(&report["results"][0]), ["mtp:privileged"]);
    let out = run(
        &["check", "--tier", "free", "--tiers", p(&tiers), p(&root)],
        None,
    );
    assert!(
        text(&out.stdout).contains("Pod Security privileged, which checks nothing"),
        "{}",
        text(&out.stdout)
    );

    let bad = temp_file("bad-tiers.yaml", b"pro:\n  maxNamespace: 3\n");
    let out = run(
        &["check", "--tier", "pro", "--tiers", p(&bad), p(&pod)],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("error: --tiers {}: ", p(&bad)))
            && stderr.contains("unknown field `maxNamespace`"),
        "{stderr}"
    );

    let out = run(&["check", "--tiers", p(&tiers), p(&pod)], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!("--tiers {} needs --tier or --tenant", p(&tiers))),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn profile_and_tier_together() {
    let pod = temp_file("profile-tier.yaml", GOOD_POD.as_bytes());
    let out = run(
        &["check", "--tier", "pro", "--profile", "baseline", p(&pod)],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("error: --profile baseline cannot be combined with --tier pro: with a tier, check applies the mtp profile plus the tier's Pod Security level (restricted)"),
        "{}",
        text(&out.stderr)
    );
    let out = run_env(
        &["check", "--tier", "pro", p(&pod)],
        &[("MTP_CHECK_PROFILE", "restricted")],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "from the environment too");
    // `--profile mtp` is what a tier applies anyway.
    let out = run(
        &["check", "--tier", "pro", "--profile", "mtp", p(&pod)],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn without_a_tier_the_report_says_what_was_not_applied() {
    let pod = temp_file("note-pod.yaml", GOOD_POD.as_bytes());
    let out = run(&["check", p(&pod)], None);
    assert_eq!(
        text(&out.stdout),
        format!(
            "{} [0] Pod team-a/web: allowed\n1 object checked against the mtp profile: 1 allowed, 0 denied, 0 not applicable\nnote: no --tier or --tenant given: the tier's Pod Security level, LimitRange defaults and guardrails were not applied\n",
            p(&pod)
        )
    );
    let out = run(&["check", "-o", "json", p(&pod)], None);
    let report = json_report(&out);
    assert_eq!(report["tier"], Value::Null);
    assert_eq!(
        report["notApplied"],
        json!(["podSecurityLevel", "limitRangeDefaults", "guardrails"])
    );
    assert!(
        report["results"][0].get("defaulted").is_none(),
        "no defaults without a tier"
    );

    let out = run(&["check", "--tier", "pro", "-o", "json", p(&pod)], None);
    let report = json_report(&out);
    assert_eq!(report["notApplied"], json!([]));
    assert_eq!(
        report["tier"],
        json!({"name": "pro", "catalogue": null, "podSecurity": "restricted", "podSecurityVersion": "latest",
               "limitRange": {"default": {"cpu": "1", "memory": "1Gi"}, "defaultRequest": {"cpu": "250m", "memory": "256Mi"}},
               "guardrails": {"allowedServiceTypes": ["LoadBalancer"], "forbiddenLabels": ["mtp.dev/*"], "forbiddenAnnotations": ["mtp.dev/*"]}})
    );
    assert_eq!(
        report["results"][0]["violations"][0]["policy"],
        "restricted"
    );
}

/// A request above the tier's default limit: LimitRanger sets the limit, then the apiserver's
/// validation refuses the pod; check says so, tagged `apiserver`.
#[test]
fn a_request_above_the_default_limit_is_refused_like_the_apiserver_does() {
    let pod = BARE_POD.replace(
        "image: app\n",
        "image: app\n    resources: {requests: {cpu: \"2\"}}\n",
    );
    let file = temp_file("above-limit.yaml", pod.as_bytes());
    let pro = TierCatalogue::default().pro.limit_range;
    assert_eq!(pro.default_cpu, "1", "the pro tier's default cpu limit");
    let out = run(&["check", "--tier", "pro", p(&file)], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Pod tenant-acme/bare: denied, 1 violation\n    defaulted spec.containers[0].resources: limits.cpu=1, limits.memory=1Gi, requests.memory=256Mi\n    container \"app\" requests 2 cpu, above the LimitRange's default limit 1: the apiserver refuses the pod; set resources.limits.cpu, or request at most 1 [apiserver:requestWithinLimit]\n        at spec.containers[0].resources.requests.cpu\n"),
        "{stdout}"
    );
    // Enterprise's default cpu limit is 2: a request of 2 is within it.
    let out = run(&["check", "--tier", "enterprise", p(&file)], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // Without a tier nothing is defaulted: the mtp profile asks for the limits instead.
    let out = run(&["check", "-o", "json", p(&file)], None);
    assert_eq!(
        json_report(&out)["results"][0]["violations"][0]["check"],
        "limits"
    );
}

const GUARDED_TENANT: &str = r#"apiVersion: mtp.dev/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  displayName: Acme
  tier: pro
  ownerEmail: ops@acme.example.com
  guardrails:
    allowedRegistries: [ghcr.io/acme]
    allowedIngressHostnames: ["*.acme.example.com"]
"#;

#[test]
fn a_tenants_guardrails_offline() {
    let tenant = temp_file("guarded-tenant.yaml", GUARDED_TENANT.as_bytes());
    let ingress = temp_file(
        "guarded-ingress.yaml",
        b"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\nspec:\n  rules:\n  - host: shop.example.org\n",
    );
    let service = temp_file(
        "guarded-service.yaml",
        b"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {type: NodePort, ports: [{port: 80}]}\n",
    );
    let fine = temp_file(
        "guarded-fine.yaml",
        b"apiVersion: v1\nkind: Service\nmetadata: {name: ok, namespace: shop}\nspec: {type: LoadBalancer}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
    );
    let out = run(
        &[
            "check",
            "--tenant",
            p(&tenant),
            p(&ingress),
            p(&service),
            p(&fine),
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let expected = format!(
        "{ing} [0] Ingress shop/web: denied, 1 violation
    host shop.example.org is not allowed for this tenant; allowed: *.acme.example.com [guardrails:allowedIngressHostnames]
        at spec.rules[0].host
{svc} [0] Service shop/web: denied, 1 violation
    Service type NodePort is not allowed for tenant acme; allowed: ClusterIP, LoadBalancer [guardrails:allowedServiceTypes]
        at spec.type
{fine} [0] Service shop/ok: allowed
{fine} [1] ConfigMap c: not applicable (no pod spec, no guardrail)
4 objects checked against tier pro of tenant acme (the mtp profile and Pod Security restricted latest, after the LimitRange defaults on bare pods, and the guardrails): 1 allowed, 2 denied, 1 not applicable
",
        ing = p(&ingress),
        svc = p(&service),
        fine = p(&fine),
    );
    assert_eq!(stdout, expected);

    // The registries of the tenant apply to pods and workloads, beside pod security.
    let deploy = GOOD_POD.replace("image: nginx", "image: quay.io/someone/nginx");
    let pod = temp_file("guarded-pod.yaml", deploy.as_bytes());
    let out = run(
        &["check", "--tenant", p(&tenant), "-o", "json", p(&pod)],
        None,
    );
    let report = json_report(&out);
    let violations = report["results"][0]["violations"].as_array().unwrap();
    let guardrail = violations
        .iter()
        .find(|v| v["policy"] == "guardrails")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(guardrail["check"], "allowedRegistries");
    assert_eq!(guardrail["path"], "spec.containers[0].image");
    assert_eq!(
        report["tier"]["guardrails"]["allowedRegistries"],
        json!(["ghcr.io/acme"]),
        "the effective settings are reported"
    );
    assert_eq!(
        report["tier"]["guardrails"]["allowedServiceTypes"],
        json!(["LoadBalancer"]),
        "the tier's, where the tenant sets nothing"
    );
}

#[test]
fn invalid_guardrails_are_an_input_error_naming_each_field() {
    let bad = GUARDED_TENANT.replace(
        "allowedRegistries: [ghcr.io/acme]",
        "allowedRegistries: [ghcr.io/acme, \"nginx:1.25\"]\n    forbiddenLabels: [\"*\"]",
    );
    let tenant = temp_file("bad-guardrails-tenant.yaml", bad.as_bytes());
    let pod = temp_file("bad-guardrails-pod.yaml", GOOD_POD.as_bytes());
    let out = run(&["check", "--tenant", p(&tenant), p(&pod)], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "--tenant {}: invalid guardrails: spec.guardrails.allowedRegistries.1: ",
            p(&tenant)
        )),
        "{stderr}"
    );
    assert!(stderr.contains("nginx:1.25"), "{stderr}");
    assert!(
        stderr.contains("spec.guardrails.forbiddenLabels.0: "),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing is checked");
}
