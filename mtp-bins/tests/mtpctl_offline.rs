//! mtpctl commands that need no API server: `render` (validated against the official Kubernetes
//! schemas with kubernetes-validate, installed by .ci/install-deps), `completion`, `config`
//! contexts, and the error lines and exit codes when not logged in or the server is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

fn mtpctl(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtpctl"))
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .env_remove("MTPCTL_CONFIG")
        .env_remove("MTP_API_KEY")
        .env_remove("MTP_SERVER")
        .env_remove("MTP_CONTEXT")
        .env_remove("MTP_OUTPUT")
        .env_remove("MTP_TIERS")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tenant_yaml(name: &str, tier: &str) -> String {
    format!(
        "apiVersion: mtp.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  displayName: {name}\n  tier: {tier}\n  ownerEmail: owner@{name}.io\n  admins: [alice]\n  operators: [bob]\n  viewers: [carol]\n"
    )
}

/// Fails (never skips) when kubernetes-validate is missing: `.ci/install-deps` installs it.
fn kubernetes_validate(path: &Path) -> String {
    let output = Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn"])
        .arg(path)
        .output()
        .expect("kubernetes-validate is not installed: run .ci/install-deps");
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    stdout
}

#[test]
fn render_each_tier_passes_the_official_schemas() {
    let dir = tempfile::tempdir().unwrap();
    for (tier, extra, namespaces) in [
        ("free", "", 1),
        ("pro", "  namespaces: [ci]\n  egress: internet\n", 2),
        ("enterprise", "  namespaces: [ci, staging]\n", 3),
    ] {
        let file = dir.path().join(format!("{tier}.yaml"));
        std::fs::write(&file, tenant_yaml(&format!("t-{tier}"), tier) + extra).unwrap();
        let out = mtpctl(dir.path(), &["render", "-f", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
        let yaml = text(&out.stdout);
        // Namespace, 3 RoleBindings, NetworkPolicy, LimitRange, ResourceQuota per namespace,
        // and the members' ClusterRole and ClusterRoleBinding to read their Tenant.
        assert_eq!(yaml.matches("---\n").count(), namespaces * 7 + 2, "{yaml}");
        assert!(yaml.contains(&format!("name: tenant-t-{tier}")), "{yaml}");
        let rendered = dir.path().join(format!("{tier}-plan.yaml"));
        std::fs::write(&rendered, &yaml).unwrap();
        let report = kubernetes_validate(&rendered);
        assert_eq!(
            report.matches("passed").count(),
            namespaces * 7 + 2,
            "{report}"
        );
    }
}

#[test]
fn render_uses_a_tier_catalogue_file_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = dir.path().join("tiers.yaml");
    std::fs::write(&tiers, "free:\n  quota: { pods: \"7\" }\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtpctl"))
        .args(["render", "-f", "-", "--tiers", tiers.to_str().unwrap()])
        .env("XDG_CONFIG_HOME", dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(tenant_yaml("acme", "free").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("pods: '7'"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn render_bad_files_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    let cases = [
        (
            tenant_yaml("acme", "gold"),
            vec![
                "bad.yaml: document 1: spec.tier: unknown variant `gold`",
                "line 7",
            ],
        ),
        (
            "apiVersion: mtp.dev/v1alpha1\nkind: Tenant\nmetadata: {name: acme\n".to_string(),
            vec!["bad.yaml: document 1:", "line"],
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".to_string(),
            vec!["expected apiVersion mtp.dev/v1alpha1 and kind Tenant, found v1 ConfigMap"],
        ),
        (
            tenant_yaml("acme", "free") + "  namespaces: [ci]\n",
            vec!["tenant \"acme\"", "spec.namespaces", "tier free allows 1"],
        ),
        (
            tenant_yaml("Not_A_Name", "free"),
            vec!["bad.yaml: document 1 (tenant \"Not_A_Name\")"],
        ),
    ];
    for (content, wanted) in cases {
        std::fs::write(&f, &content).unwrap();
        let out = mtpctl(dir.path(), &["render", "-f", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{content}");
        assert!(out.stdout.is_empty());
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: "), "{err}");
        for w in wanted {
            assert!(err.contains(w), "{w:?} not in {err}");
        }
    }
    let out = mtpctl(dir.path(), &["render", "-f", "/nonexistent/t.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/t.yaml: cannot read"));
    let tiers = dir.path().join("tiers.yaml");
    std::fs::write(&tiers, "gold: {}\n").unwrap();
    std::fs::write(&f, tenant_yaml("acme", "free")).unwrap();
    let out = mtpctl(
        dir.path(),
        &[
            "render",
            "-f",
            f.to_str().unwrap(),
            "--tiers",
            tiers.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("tiers.yaml") && err.contains("gold"), "{err}");
}

#[test]
fn completion_scripts() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _mtpctl"),
        ("zsh", "#compdef mtpctl"),
        ("fish", "complete -c mtpctl"),
    ] {
        let out = mtpctl(dir.path(), &["completion", shell]);
        assert!(out.status.success());
        let s = text(&out.stdout);
        assert!(s.contains(marker), "{shell}: {s}");
        assert!(
            s.contains("tenants") && s.contains("use-context"),
            "{shell}"
        );
    }
    // The bash script is valid bash.
    let out = mtpctl(dir.path(), &["completion", "bash"]);
    let script = dir.path().join("c.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stderr));
    let out = mtpctl(dir.path(), &["completion", "powershell-ish"]);
    assert_eq!(out.status.code(), Some(2));
}

fn write_config(home: &Path, text: &str) -> std::path::PathBuf {
    let p = home.join("mtp/config.toml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

const TWO_CONTEXTS: &str = r#"current-context = "dev"

[contexts.dev]
server = "http://127.0.0.1:9"
api-key = "mtp_devsecret"

[contexts.prod]
server = "https://mtp.example.com"
issuer = "https://idp.example.com"
client-id = "mtpctl"

[contexts.prod.tokens]
access-token = "prod-access-secret"
refresh-token = "prod-refresh-secret"
expires-at = 4102444800
"#;

#[test]
fn contexts_like_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(dir.path(), TWO_CONTEXTS);

    let out = mtpctl(dir.path(), &["config", "current-context"]);
    assert_eq!(text(&out.stdout), "dev\n");

    let out = mtpctl(dir.path(), &["config", "get-contexts"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "CURRENT   NAME   SERVER                    AUTH      ISSUER\n\
         *         dev    http://127.0.0.1:9        api-key   <none>\n          \
         prod   https://mtp.example.com   oidc      https://idp.example.com\n"
    );
    let out = mtpctl(dir.path(), &["config", "get-contexts", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["currentContext"], "dev");
    assert_eq!(v["contexts"][1]["auth"], "oidc");
    for o in ["table", "json", "yaml"] {
        let out = mtpctl(dir.path(), &["config", "get-contexts", "-o", o]);
        let s = text(&out.stdout);
        for secret in ["mtp_devsecret", "prod-access-secret", "prod-refresh-secret"] {
            assert!(!s.contains(secret), "{o}: {s}");
        }
    }

    let out = mtpctl(dir.path(), &["config", "use-context", "prod"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&mtpctl(dir.path(), &["config", "current-context"]).stdout),
        "prod\n"
    );
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No temporary file left beside it.
    assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);

    let out = mtpctl(dir.path(), &["config", "use-context", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: context \"nope\" does not exist (known: dev, prod); run `mtpctl login --server URL --context nope`\n"
    );

    // logout forgets the credentials of one context only.
    let out = mtpctl(dir.path(), &["--context", "dev", "logout"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cfg = std::fs::read_to_string(&p).unwrap();
    assert!(!cfg.contains("mtp_devsecret"), "{cfg}");
    assert!(cfg.contains("prod-refresh-secret"), "{cfg}");
    let out = mtpctl(dir.path(), &["--context", "dev", "whoami"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        "error: not logged in to context \"dev\": run `mtpctl login` (or set MTP_API_KEY)\n"
    );

    let out = mtpctl(dir.path(), &["config", "delete-context", "prod"]);
    assert!(out.status.success());
    let out = mtpctl(dir.path(), &["config", "current-context"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn no_configuration_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let out = mtpctl(dir.path(), &["tenants", "list"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("run `mtpctl login --server URL`"));
    assert!(!dir.path().join("mtp/config.toml").exists());
    let out = mtpctl(dir.path(), &["login"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs --server URL"));
}

#[test]
fn a_broken_configuration_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "current-context = \"dev\"\n[contexts.dev]\nserver = \n",
    );
    let out = mtpctl(dir.path(), &["whoami"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("mtp/config.toml") && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn a_server_that_is_down_is_named_with_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["tenants", "list"],
        vec!["tenants", "get", "acme"],
        vec!["members", "list", "acme"],
        vec!["whoami"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mtpctl"))
            .args(&args)
            .args(["--server", &server])
            .env("XDG_CONFIG_HOME", dir.path())
            .env("MTP_API_KEY", "mtp_k_secretvalue")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "error: cannot reach the mtp API server at {server}/: connection failed"
            )),
            "{err}"
        );
        assert!(err.contains("check the server URL"), "{err}");
        assert!(!err.contains("secretvalue"));
    }
    // login with an unreachable server: the same line, nothing saved.
    let out = mtpctl(dir.path(), &["login", "--server", &server]);
    assert_eq!(out.status.code(), Some(4));
    assert!(!dir.path().join("mtp/config.toml").exists());
}

#[test]
fn usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mtpctl"))
        .args([
            "tenants",
            "create",
            "acme",
            "--server",
            "http://127.0.0.1:9",
        ])
        .env("XDG_CONFIG_HOME", dir.path())
        .env("MTP_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: tenants create needs --tier, --owner (or -f FILE)\n"
    );
    let out = mtpctl(dir.path(), &["--server", "ftp://x", "whoami"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("must be http:// or https://"));
    let out = mtpctl(
        dir.path(),
        &["login", "--server", "http://x", "--browser", "--password"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    // The fish script is larger than a pipe buffer, so the writer meets the closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtpctl"))
        .args(["completion", "fish"])
        .env("XDG_CONFIG_HOME", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

/// `mtpctl install admin-key`: a Secret the official schemas accept, holding only the hash of
/// the key printed once on stderr, in the keys-file format the API server loads.
#[test]
fn install_admin_key_makes_the_first_keys_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = mtpctl(dir.path(), &["install", "admin-key", "-n", "platform"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    let stderr = text(&out.stderr);
    let key = stderr
        .lines()
        .find(|l| l.starts_with("mtp_"))
        .unwrap_or_else(|| panic!("no key on stderr: {stderr}"));
    assert!(
        stderr.contains("\"platform-admin\"") && stderr.contains("\"mtp:platform-admins\""),
        "{stderr}"
    );
    assert!(
        !yaml.contains(key),
        "the secret itself is never in the manifest"
    );

    let file = dir.path().join("secret.yaml");
    std::fs::write(&file, &yaml).unwrap();
    kubernetes_validate(&file);
    let secret: serde_yaml::Value = serde_yaml::from_str(yaml.trim_start_matches("---\n")).unwrap();
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["name"], "mtp-api-keys");
    assert_eq!(secret["metadata"]["namespace"], "platform");
    let keys = secret["stringData"]["api-keys"].as_str().unwrap();
    let set = mtp_auth::static_keys::KeySet::parse(keys, "api-keys").unwrap();
    let found = set.lookup(key).unwrap();
    assert_eq!(found.key_id, "platform-admin");
    assert_eq!(found.groups, ["mtp:platform-admins"]);

    // Each run makes a new key.
    let again = mtpctl(dir.path(), &["install", "admin-key"]);
    assert!(again.status.success());
    assert!(!text(&again.stderr).contains(key));
    assert!(text(&again.stdout).contains("namespace: mtp-system"));

    // Flags of the manifests do not mix with the subcommand.
    let mixed = mtpctl(dir.path(), &["install", "--with-dex", "admin-key"]);
    assert_eq!(mixed.status.code(), Some(2), "{}", text(&mixed.stderr));
}
