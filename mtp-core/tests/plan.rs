//! Tests of the tenant plan: golden YAML per tier, the official Kubernetes schemas
//! (kubernetes-validate), property checks, and every bad input with its error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::CustomResourceExt;
use mtp_core::plan::{PSA_ENFORCE, PSA_ENFORCE_VERSION, TENANT_LABEL};
use mtp_core::{Egress, Error, PlatformSettings, Tenant, TenantPlan, Tier, TierCatalogue, plan};
use proptest::prelude::*;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.yaml"))
}

/// Compares `actual` with the checked-in golden file; `MTP_UPDATE_GOLDEN=1` rewrites it.
fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("MTP_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with MTP_UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        expected,
        actual,
        "{} differs from the plan; if the change is intended, run MTP_UPDATE_GOLDEN=1 cargo test -p mtp-core --test plan",
        path.display()
    );
}

fn tier_fixtures() -> Vec<(&'static str, Tenant)> {
    vec![
        (
            "free",
            Tenant::test("hobby")
                .with_tier(Tier::Free)
                .with_admin("alice@example.com"),
        ),
        (
            "pro",
            Tenant::test("acme")
                .with_tier(Tier::Pro)
                .with_admin("alice@acme.io")
                .with_operator("ci-bot")
                .with_viewer("bob@acme.io")
                .with_namespace("ci"),
        ),
        (
            "enterprise",
            Tenant::test("megacorp")
                .with_tier(Tier::Enterprise)
                .with_admin("oidc:carol")
                .with_admin("oidc:dave")
                .with_operator("oidc:erin")
                .with_egress(Egress::Internet)
                .with_namespace("staging")
                .with_namespace("prod")
                .with_quota("pods", "2000"),
        ),
    ]
}

fn settings() -> PlatformSettings {
    PlatformSettings::default()
}

fn plan_of(tenant: &Tenant) -> TenantPlan {
    plan(tenant, &TierCatalogue::default(), &settings()).unwrap()
}

#[test]
fn golden_yaml_per_tier() {
    for (tier, tenant) in tier_fixtures() {
        check_golden(tier, &plan_of(&tenant).to_yaml().unwrap());
    }
}

#[test]
fn golden_crd() {
    let crd = serde_yaml::to_string(&Tenant::crd()).unwrap();
    check_golden("crd", &crd);
}

fn unique_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mtp-core-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `kubernetes-validate --strict` on the YAML streams; fails (never skips) when the tool is
/// missing, since `.ci/install-deps` installs it.
fn kubernetes_validate(files: &[(String, String)]) {
    let dir = unique_dir("kv");
    let mut paths = Vec::new();
    for (name, yaml) in files {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        paths.push(path);
    }
    let output = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg("--no-warn")
        .args(&paths)
        .output()
        .expect("kubernetes-validate is not installed: run .ci/install-deps (pip install kubernetes-validate)");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kubernetes-validate refused the plan:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed"), "nothing was validated: {stdout}");
    assert!(!stdout.contains("ERROR"), "{stdout}");
}

#[test]
fn every_object_passes_the_official_kubernetes_schemas() {
    let mut files: Vec<(String, String)> = tier_fixtures()
        .into_iter()
        .map(|(tier, t)| (tier.to_string(), plan_of(&t).to_yaml().unwrap()))
        .collect();
    files.push((
        "crd".to_string(),
        serde_yaml::to_string(&Tenant::crd()).unwrap(),
    ));
    kubernetes_validate(&files);
}

#[test]
fn kubernetes_validate_catches_a_broken_object() {
    // The check above is only worth something if the validator refuses bad objects.
    let dir = unique_dir("kv-bad");
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x\n  namespace: y\nspec:\n  podSelector: {}\n  egress:\n  - to:\n    - ipBlock:\n        except: [10.0.0.0/8]\n",
    )
    .unwrap();
    let output = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&path)
        .output()
        .expect("kubernetes-validate is not installed: run .ci/install-deps");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("cidr"));
}

#[test]
fn crd_is_cluster_scoped_with_validation() {
    let crd = Tenant::crd();
    assert_eq!(crd.spec.scope, "Cluster");
    assert_eq!(crd.spec.group, "mtp.dev");
    assert_eq!(crd.spec.names.kind, "Tenant");
    assert_eq!(crd.spec.names.short_names, Some(vec!["tnt".to_string()]));
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let schema = serde_json::to_value(&version.schema).unwrap();
    let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert_eq!(
        spec["tier"]["enum"],
        serde_json::json!(["free", "pro", "enterprise"])
    );
    assert_eq!(
        spec["egress"]["enum"],
        serde_json::json!(["none", "internet"])
    );
    assert_eq!(spec["egress"]["nullable"], true);
    assert_eq!(spec["displayName"]["maxLength"], 128);
    assert_eq!(spec["namespaces"]["maxItems"], 32);
    assert_eq!(
        spec["namespaces"]["items"]["pattern"],
        mtp_core::tenant::DNS1123_LABEL_PATTERN
    );
    assert_eq!(spec["namespaces"]["items"]["maxLength"], 40);
    assert_eq!(spec["admins"]["items"]["minLength"], 1);
    assert!(spec["ownerEmail"]["pattern"].is_string());
    let rules = schema["openAPIV3Schema"]["x-kubernetes-validations"]
        .as_array()
        .unwrap();
    let rules: Vec<&str> = rules.iter().filter_map(|r| r["rule"].as_str()).collect();
    assert!(
        rules.contains(&"size(self.metadata.name) <= 56"),
        "{rules:?}"
    );
    assert!(
        rules.iter().any(|r| r.contains("metadata.name.matches")),
        "{rules:?}"
    );
}

/// `kubectl explain tenant.spec` shows a type for every field (`egress <string>`, `quota
/// <map[string]string>`, never `<>`): every property of the schema has one.
#[test]
fn every_crd_field_has_a_type_for_kubectl_explain() {
    fn walk(path: &str, schema: &serde_json::Value, untyped: &mut Vec<String>) {
        if schema.get("type").is_none() && schema.get("x-kubernetes-int-or-string").is_none() {
            untyped.push(path.to_string());
        }
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (name, sub) in props {
                walk(&format!("{path}.{name}"), sub, untyped);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(&format!("{path}[]"), items, untyped);
        }
        if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            walk(&format!("{path}{{}}"), values, untyped);
        }
    }
    let crd = Tenant::crd();
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
    let mut untyped = Vec::new();
    walk("tenant", &schema["openAPIV3Schema"], &mut untyped);
    assert!(untyped.is_empty(), "fields without a type: {untyped:?}");
    let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert_eq!(spec["egress"]["type"], "string");
    assert_eq!(spec["quota"]["type"], "object");
    assert_eq!(spec["quota"]["additionalProperties"]["type"], "string");
}

/// `kubectl get tenants` shows NAME, TIER, READY, NAMESPACES and AGE.
#[test]
fn kubectl_get_tenants_columns() {
    let crd = Tenant::crd();
    let columns: Vec<(String, String, String)> = crd.spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.clone(), c.type_.clone(), c.json_path.clone()))
        .collect();
    let names: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["Tier", "Ready", "Namespaces", "Age"]);
    assert_eq!(columns[2].2, ".status.namespaces[*]");
    assert_eq!(
        (columns[3].1.as_str(), columns[3].2.as_str()),
        ("date", ".metadata.creationTimestamp")
    );
}

fn peers_namespaces(np: &NetworkPolicy) -> Vec<String> {
    // Every namespace any rule of the policy admits, by the metadata.name label.
    let spec = np.spec.as_ref().unwrap();
    let mut peers = Vec::new();
    for rule in spec.ingress.iter().flatten() {
        peers.extend(rule.from.iter().flatten().cloned());
    }
    for rule in spec.egress.iter().flatten() {
        peers.extend(rule.to.iter().flatten().cloned());
    }
    let mut names = Vec::new();
    for peer in peers {
        if let Some(sel) = peer.namespace_selector {
            let labels = sel.match_labels.unwrap_or_default();
            let exprs = sel.match_expressions.unwrap_or_default();
            assert!(
                !labels.is_empty() || !exprs.is_empty(),
                "an empty namespaceSelector admits every namespace"
            );
            for (k, v) in labels {
                assert_eq!(k, "kubernetes.io/metadata.name");
                names.push(v);
            }
            for e in exprs {
                assert_eq!(e.key, "kubernetes.io/metadata.name");
                assert_eq!(e.operator, "In");
                names.extend(e.values.unwrap_or_default());
            }
        }
    }
    names
}

fn ipv4(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

fn v4_cidr_contains(cidr: &str, addr: u32) -> bool {
    let (net, len) = cidr.split_once('/').unwrap();
    let len: u32 = len.parse().unwrap();
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (ipv4(net) & mask) == (addr & mask)
}

/// Whether the policy's egress admits `addr` through an ipBlock.
fn egress_allows_ip(np: &NetworkPolicy, addr: u32) -> bool {
    let spec = np.spec.as_ref().unwrap();
    spec.egress.iter().flatten().any(|rule| {
        rule.to.iter().flatten().any(|peer| {
            peer.ip_block.as_ref().is_some_and(|b| {
                !b.cidr.contains(':')
                    && v4_cidr_contains(&b.cidr, addr)
                    && !b
                        .except
                        .iter()
                        .flatten()
                        .any(|e| !e.contains(':') && v4_cidr_contains(e, addr))
            })
        })
    })
}

fn check_properties(tenant: &Tenant, plan: &TenantPlan) {
    let name = tenant.metadata.name.as_deref().unwrap();
    let uid = tenant.metadata.uid.as_deref().unwrap();
    let own: Vec<String> = plan
        .namespace_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(own.len(), 1 + tenant.spec.namespaces.len());
    for value in plan.to_values().unwrap() {
        let meta = &value["metadata"];
        assert_eq!(meta["labels"][TENANT_LABEL], name, "{value}");
        assert_eq!(meta["labels"]["app.kubernetes.io/managed-by"], "mtp");
        let owners = meta["ownerReferences"].as_array().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0]["uid"], uid);
        assert_eq!(owners[0]["kind"], "Tenant");
        assert_eq!(owners[0]["apiVersion"], "mtp.dev/v1alpha1");
        assert_eq!(owners[0]["controller"], true);
        match value["kind"].as_str().unwrap() {
            "Namespace" => {
                assert!(meta["labels"][PSA_ENFORCE].is_string());
                assert!(meta["labels"][PSA_ENFORCE_VERSION].is_string());
            }
            "ClusterRole" => {
                // Members read their own Tenant and nothing else.
                assert_eq!(meta["name"], format!("mtp-tenant-{name}"));
                assert_eq!(
                    value["rules"],
                    serde_json::json!([{"apiGroups": ["mtp.dev"], "resources": ["tenants"],
                        "resourceNames": [name], "verbs": ["get", "watch"]}])
                );
            }
            "ClusterRoleBinding" => {
                assert_eq!(meta["name"], format!("mtp-tenant-{name}"));
                let members = tenant.spec.admins.len()
                    + tenant.spec.operators.len()
                    + tenant.spec.viewers.len();
                assert!(value["subjects"].as_array().unwrap().len() <= members);
            }
            _ => {
                let ns = meta["namespace"].as_str().unwrap();
                assert!(own.iter().any(|o| o == ns), "{ns} is not the tenant's");
            }
        }
    }
    let s = settings();
    for np in &plan.network_policies {
        for ns in peers_namespaces(np) {
            assert!(
                own.contains(&ns) || ns == s.platform_namespace || ns == s.dns_namespace,
                "NetworkPolicy admits foreign namespace {ns}"
            );
        }
        assert!(!egress_allows_ip(np, ipv4("169.254.169.254")));
        // Every IPv6 block cuts out link-local (fe80::/10, where metadata endpoints live).
        for rule in np.spec.as_ref().unwrap().egress.iter().flatten() {
            for peer in rule.to.iter().flatten() {
                if let Some(block) = peer.ip_block.as_ref().filter(|b| b.cidr.contains(':')) {
                    assert!(
                        block.except.iter().flatten().any(|e| e == "fe80::/10"),
                        "{block:?}"
                    );
                }
            }
        }
        let internet = egress_allows_ip(np, ipv4("8.8.8.8"));
        let tier = TierCatalogue::default();
        let expected = tier
            .get(tenant.spec.tier)
            .effective_egress(tenant.spec.egress)
            .unwrap();
        assert_eq!(internet, expected == Egress::Internet);
    }
    assert_eq!(plan.role_bindings.len(), own.len() * 3);
    assert_eq!(plan.limit_ranges.len(), own.len());
    assert_eq!(plan.resource_quotas.len(), own.len());
}

#[test]
fn fixtures_have_the_properties() {
    for (_, tenant) in tier_fixtures() {
        check_properties(&tenant, &plan_of(&tenant));
    }
}

fn arb_tenant() -> impl Strategy<Value = Tenant> {
    let name = "[a-z]([a-z0-9-]{0,20}[a-z0-9])?";
    let user = "[a-zA-Z0-9@.:_-]{1,30}";
    (
        name,
        prop_oneof![Just(Tier::Free), Just(Tier::Pro), Just(Tier::Enterprise)],
        proptest::collection::btree_set(user, 0..5),
        proptest::collection::btree_set(user, 0..5),
        proptest::collection::btree_set("[a-z][a-z0-9]{0,10}", 0..4),
        proptest::option::of(prop_oneof![Just(Egress::None), Just(Egress::Internet)]),
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    )
        .prop_map(|(name, tier, admins, viewers, namespaces, egress, uid)| {
            let mut t = Tenant::test(&name).with_tier(tier).with_uid(&uid);
            t.spec.admins = admins.into_iter().collect();
            t.spec.viewers = viewers.into_iter().collect();
            let catalogue = TierCatalogue::default();
            let spec = catalogue.get(tier);
            t.spec.namespaces = namespaces
                .into_iter()
                .take(spec.max_namespaces as usize - 1)
                .collect();
            t.spec.egress = egress.filter(|e| *e == Egress::None || spec.internet_egress);
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_tenant_gets_an_isolated_plan(tenant in arb_tenant()) {
        let p = plan(&tenant, &TierCatalogue::default(), &settings()).unwrap();
        check_properties(&tenant, &p);
    }

    #[test]
    fn any_input_gives_a_plan_or_an_error_never_a_panic(
        name in ".{0,70}",
        suffix in ".{0,70}",
        user in ".{0,300}",
        quota_key in "[a-z.]{0,25}",
        quota_value in ".{0,10}",
    ) {
        let tenant = Tenant::test(&name)
            .with_tier(Tier::Enterprise)
            .with_namespace(&suffix)
            .with_admin(&user)
            .with_quota(&quota_key, &quota_value);
        if let Err(e) = plan(&tenant, &TierCatalogue::default(), &settings()) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

fn plan_err(tenant: &Tenant) -> String {
    match plan(tenant, &TierCatalogue::default(), &settings()) {
        Ok(_) => panic!("the plan should have been refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_tenants_get_clear_errors() {
    let cases: Vec<(Tenant, &str)> = vec![
        (
            Tenant::test("acme").with_namespace("ci"),
            "spec.namespaces: 1 extra namespaces requested, but tier free allows 1 namespaces in all",
        ),
        (
            Tenant::test("acme").with_egress(Egress::Internet),
            "spec.egress: internet egress is not allowed in this tier",
        ),
        (
            Tenant::test("Acme"),
            "metadata.name: \"Acme\" is not a valid DNS-1123 label",
        ),
        (
            Tenant::test(&"a".repeat(57)),
            "metadata.name: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is 57 characters",
        ),
        (
            Tenant::test(&"a".repeat(50))
                .with_tier(Tier::Pro)
                .with_namespace("abcdefgh"),
            "spec.namespaces[0]: namespace \"tenant-",
        ),
        (
            Tenant::test("acme")
                .with_tier(Tier::Pro)
                .with_namespace("ci")
                .with_namespace("ci"),
            "spec.namespaces[1]: suffix \"ci\" is listed twice",
        ),
        (
            Tenant::test("acme")
                .with_tier(Tier::Pro)
                .with_namespace("CI"),
            "spec.namespaces[0]: ",
        ),
        (
            Tenant::test("acme").with_admin("ok").with_admin(""),
            "spec.admins[1]: user \"\" must not be empty",
        ),
        (
            Tenant::test("acme").with_viewer("bob\n"),
            "spec.viewers[0]: user \"bob\\n\" must not start or end with blanks",
        ),
        (
            Tenant::test("acme").with_operator("x").with_operator("x"),
            "spec.operators[1]: user \"x\" is listed twice",
        ),
        (
            Tenant::test("acme").with_quota("secrets", "3"),
            "spec.quota.secrets: unknown quota resource",
        ),
        (
            Tenant::test("acme").with_quota("pods", "ten"),
            "spec.quota.pods: \"ten\" is not a Kubernetes quantity",
        ),
        (
            {
                let mut t = Tenant::test("acme");
                t.metadata.uid = None;
                t
            },
            "metadata.uid: missing",
        ),
        (
            {
                let mut t = Tenant::test("acme");
                t.spec.owner_email = "nobody".into();
                t
            },
            "spec.ownerEmail: \"nobody\" is not an e-mail address",
        ),
        (
            {
                let mut t = Tenant::test("acme");
                t.spec.display_name = " ".into();
                t
            },
            "spec.displayName: must be 1 to 128 characters",
        ),
    ];
    for (tenant, expected) in cases {
        let err = plan_err(&tenant);
        assert!(
            err.starts_with(expected),
            "expected {expected:?}, got {err:?}"
        );
    }
}

#[test]
fn bad_platform_settings_are_named() {
    let mut s = settings();
    s.internet_except = vec!["10.0.0.0/99".into()];
    let tenant = Tenant::test("acme").with_tier(Tier::Pro);
    let err = plan(&tenant, &TierCatalogue::default(), &s).unwrap_err();
    assert!(matches!(err, Error::Build { .. }));
    assert_eq!(
        err.to_string(),
        "NetworkPolicy tenant-acme/tenant-isolation: internet_except[0]: \"10.0.0.0/99\" is not a CIDR (address/prefix)"
    );
}

#[test]
fn quota_overrides_and_catalogue_overrides_reach_the_objects() {
    let catalogue = TierCatalogue::from_yaml_str(
        "free:\n  podSecurity: baseline\n  quota:\n    pods: \"3\"\n",
        "t",
    )
    .unwrap();
    let tenant = Tenant::test("acme").with_quota("services", "1");
    let p = plan(&tenant, &catalogue, &settings()).unwrap();
    let hard = p.resource_quotas[0]
        .spec
        .as_ref()
        .unwrap()
        .hard
        .as_ref()
        .unwrap();
    assert_eq!(hard["pods"].0, "3");
    assert_eq!(hard["services"].0, "1");
    let labels = p.namespaces[0].metadata.labels.as_ref().unwrap();
    assert_eq!(labels[PSA_ENFORCE], "baseline");
}

#[test]
fn the_plan_is_deterministic() {
    for (_, tenant) in tier_fixtures() {
        assert_eq!(plan_of(&tenant), plan_of(&tenant));
        assert_eq!(
            plan_of(&tenant).to_yaml().unwrap(),
            plan_of(&tenant).to_yaml().unwrap()
        );
    }
}

#[test]
fn member_groups_are_bound_as_groups_beside_the_users() {
    let tenant = Tenant::test("acme")
        .with_tier(Tier::Pro)
        .with_admin("alice@acme.io")
        .with_admin_group("acme-admins")
        .with_viewer_group("acme-auditors")
        .with_viewer_group("acme-admins");
    let plan = plan_of(&tenant);
    let subjects = |name: &str| -> Vec<(String, String)> {
        let rb = plan
            .role_bindings
            .iter()
            .find(|rb| rb.metadata.name.as_deref() == Some(name))
            .unwrap();
        rb.subjects
            .iter()
            .flatten()
            .map(|s| (s.kind.clone(), s.name.clone()))
            .collect()
    };
    let pair = |k: &str, n: &str| (k.to_owned(), n.to_owned());
    assert_eq!(
        subjects("tenant-admins"),
        [pair("User", "alice@acme.io"), pair("Group", "acme-admins")]
    );
    assert_eq!(subjects("tenant-operators"), []);
    assert_eq!(
        subjects("tenant-viewers"),
        [pair("Group", "acme-auditors"), pair("Group", "acme-admins")]
    );
    // The members may read their own Tenant: groups too, each once.
    let reader: Vec<(String, String)> = plan.cluster_role_bindings[0]
        .subjects
        .iter()
        .flatten()
        .map(|s| (s.kind.clone(), s.name.clone()))
        .collect();
    assert_eq!(
        reader,
        [
            pair("User", "alice@acme.io"),
            pair("Group", "acme-admins"),
            pair("Group", "acme-auditors")
        ]
    );
    // Every object still passes the official schemas.
    let files: Vec<(String, String)> = vec![("groups".to_owned(), plan.to_yaml().unwrap())];
    kubernetes_validate(&files);
    // A manifest without the new fields reads as before; the fields are camelCase.
    let yaml = serde_yaml::to_string(&tenant).unwrap();
    assert!(yaml.contains("adminGroups:\n  - acme-admins"), "{yaml}");
    assert!(
        !yaml.contains("operatorGroups"),
        "empty lists are not written: {yaml}"
    );
}

#[test]
fn bad_groups_are_named_by_field() {
    let err = plan_err(&Tenant::test("acme").with_admin_group(" padded"));
    assert!(
        err.starts_with("spec.adminGroups[0]: group \" padded\""),
        "{err}"
    );
    let err = plan_err(
        &Tenant::test("acme")
            .with_viewer_group("auditors")
            .with_viewer_group("auditors"),
    );
    assert_eq!(
        err,
        "spec.viewerGroups[1]: group \"auditors\" is listed twice"
    );
}
