//! What happens while the webhook is down, request by request: the generated
//! ValidatingWebhookConfiguration and MutatingWebhookConfiguration (the ones `mtpctl install` and
//! `mtp-webhook manifests` render) evaluated with the apiserver's matching rules
//! (`mtp_policy::admission::matching`: rules by operation, group, version, resource and scope;
//! namespaceSelector on the namespace's labels, `kubernetes.io/metadata.name` included;
//! objectSelector on the old or the new object), for a table of requests. Each request's hooks
//! and failure policies decide whether it is refused (a `Fail` hook intercepts it) or let
//! through. The table is the one in docs/operations.md ("While the webhook is down"); the test
//! fails, printing the table to paste, when the two differ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use mtp_bins::webhook::manifests::described_registry;
use mtp_policy::admission::Operation::{Create, Delete, Update};
use mtp_policy::admission::matching::{Attributes, Labels, Matcher, WhileDown, while_down};
use mtp_policy::admission::{FailurePolicy, Target};

const PLATFORM: &str = "mtp-system";

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A namespace's labels as the apiserver stores them: its name label is always set.
fn namespace(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut l = labels(pairs);
    l.insert("kubernetes.io/metadata.name".to_owned(), name.to_owned());
    l
}

fn tenant_ns() -> Labels {
    namespace(
        "tenant-acme",
        &[
            ("mtp.dev/tenant", "acme"),
            ("app.kubernetes.io/managed-by", "mtp"),
            ("pod-security.kubernetes.io/enforce", "restricted"),
        ],
    )
}

fn managed() -> Labels {
    labels(&[
        ("mtp.dev/tenant", "acme"),
        ("app.kubernetes.io/managed-by", "mtp"),
    ])
}

fn ns_request(operation: mtp_policy::admission::Operation) -> Attributes {
    Attributes::new(operation, "", "v1", "namespaces")
}

fn in_tenant(
    operation: mtp_policy::admission::Operation,
    group: &str,
    resource: &str,
) -> Attributes {
    let version = if group == "mtp.dev" { "v1alpha1" } else { "v1" };
    Attributes::new(operation, group, version, resource).in_namespace("tenant-acme", tenant_ns())
}

fn tenant(operation: mtp_policy::admission::Operation) -> Attributes {
    Attributes::new(operation, "mtp.dev", "v1alpha1", "tenants")
}

/// One row: the request, what it is, the hooks that intercept it (with their policies), and
/// whether it is refused while the webhook is down.
struct Case {
    what: String,
    /// The row of the docs' table, when several cases share one.
    row: Option<String>,
    request: Attributes,
    hooks: &'static [&'static str],
    refused: bool,
}

fn case(
    what: impl Into<String>,
    request: Attributes,
    hooks: &'static [&'static str],
    refused: bool,
) -> Case {
    Case {
        what: what.into(),
        row: None,
        request,
        hooks,
        refused,
    }
}

fn cases() -> Vec<Case> {
    let plain = || namespace("team-probe", &[]);
    let mut cases = vec![
        // Namespaces.
        case(
            "create namespace `team-probe` without the tenant label",
            ns_request(Create).with_new(plain()),
            &[],
            false,
        ),
        case(
            "create namespace `team-probe` with `mtp.dev/tenant` (a spoofed tenant)",
            ns_request(Create).with_new(namespace("team-probe", &[("mtp.dev/tenant", "acme")])),
            &["namespace-labels (Fail)"],
            true,
        ),
        case(
            "label namespace `team-probe` (no tenant label before or after)",
            ns_request(Update)
                .with_old(plain())
                .with_new(namespace("team-probe", &[("team", "probe")])),
            &[],
            false,
        ),
        case(
            "add `mtp.dev/tenant` to namespace `team-probe`",
            ns_request(Update)
                .with_old(plain())
                .with_new(namespace("team-probe", &[("mtp.dev/tenant", "acme")])),
            &["namespace-labels (Fail)"],
            true,
        ),
        case(
            "change another label of tenant namespace `tenant-acme`",
            ns_request(Update).with_old(tenant_ns()).with_new({
                let mut l = tenant_ns();
                l.insert("team".into(), "payments".into());
                l
            }),
            &["namespace-labels (Fail)"],
            true,
        ),
        case(
            "remove `mtp.dev/tenant` from `tenant-acme`",
            ns_request(Update)
                .with_old(tenant_ns())
                .with_new(namespace("tenant-acme", &[])),
            &["namespace-labels (Fail)"],
            true,
        ),
        case(
            "delete namespace `team-probe`",
            ns_request(Delete).with_old(plain()),
            &[],
            false,
        ),
        case(
            "delete tenant namespace `tenant-acme`",
            ns_request(Delete).with_old(tenant_ns()),
            &[],
            false,
        ),
        case(
            "the namespace controller finalizes `tenant-acme` (`namespaces/finalize`)",
            ns_request(Update)
                .on_subresource("finalize")
                .with_old(tenant_ns())
                .with_new(tenant_ns()),
            &[],
            false,
        ),
        // Tenant namespaces: workloads.
        case(
            "create a pod in `tenant-acme`",
            in_tenant(Create, "", "pods").with_new(labels(&[("app", "web")])),
            &[
                "pod-security (Fail)",
                "tenant-labels (Ignore)",
                "guardrails (Fail)",
                "node-selector (Fail)",
            ],
            true,
        ),
        case(
            "create a Deployment in `tenant-acme`",
            in_tenant(Create, "apps", "deployments").with_new(labels(&[("app", "web")])),
            &[
                "pod-security (Fail)",
                "tenant-labels (Ignore)",
                "guardrails (Fail)",
            ],
            true,
        ),
        case(
            "add an ephemeral container to a pod in `tenant-acme`",
            in_tenant(Update, "", "pods")
                .on_subresource("ephemeralcontainers")
                .with_old(labels(&[]))
                .with_new(labels(&[])),
            &["pod-security (Fail)", "guardrails (Fail)"],
            true,
        ),
        case(
            "create a Service in `tenant-acme`",
            in_tenant(Create, "", "services").with_new(labels(&[("app", "web")])),
            &["guardrails (Fail)"],
            true,
        ),
        case(
            "change an Ingress in `tenant-acme`",
            in_tenant(Update, "networking.k8s.io", "ingresses")
                .with_old(labels(&[]))
                .with_new(labels(&[])),
            &["guardrails (Fail)"],
            true,
        ),
        case(
            "create a PersistentVolumeClaim in `tenant-acme`",
            in_tenant(Create, "", "persistentvolumeclaims").with_new(labels(&[])),
            &["guardrails (Fail)"],
            true,
        ),
        case(
            "delete a Service in `tenant-acme`",
            in_tenant(Delete, "", "services").with_old(labels(&[])),
            &[],
            false,
        ),
        case(
            "create a ConfigMap in `tenant-acme`",
            in_tenant(Create, "", "configmaps").with_new(labels(&[])),
            &[],
            false,
        ),
        case(
            "delete a pod in `tenant-acme`",
            in_tenant(Delete, "", "pods").with_old(labels(&[])),
            &[],
            false,
        ),
        case(
            "create a pod in namespace `team-probe` (no tenant label)",
            Attributes::new(Create, "", "v1", "pods")
                .in_namespace("team-probe", plain())
                .with_new(labels(&[])),
            &[],
            false,
        ),
        // Tenant namespaces: the platform's objects and the tenant's own.
        case(
            "a tenant admin deletes NetworkPolicy `tenant-isolation` (also one item of a deletecollection)",
            in_tenant(Delete, "networking.k8s.io", "networkpolicies").with_old(managed()),
            &["managed-objects (Fail)"],
            true,
        ),
        case(
            "a tenant admin edits NetworkPolicy `tenant-isolation`",
            in_tenant(Update, "networking.k8s.io", "networkpolicies")
                .with_old(managed())
                .with_new(managed()),
            &["managed-objects (Fail)"],
            true,
        ),
        case(
            "a tenant admin deletes RoleBinding `tenant-admins`",
            in_tenant(Delete, "rbac.authorization.k8s.io", "rolebindings").with_old(managed()),
            &["managed-objects (Fail)"],
            true,
        ),
        case(
            "a tenant admin edits ResourceQuota `tenant-quota` or LimitRange `tenant-defaults`",
            in_tenant(Update, "", "resourcequotas")
                .with_old(managed())
                .with_new(managed()),
            &["managed-objects (Fail)"],
            true,
        ),
        case(
            "the quota controller updates `tenant-quota`'s status (`resourcequotas/status`)",
            in_tenant(Update, "", "resourcequotas")
                .on_subresource("status")
                .with_old(managed())
                .with_new(managed()),
            &[],
            false,
        ),
        case(
            "the platform creates `tenant-isolation` in a new tenant namespace",
            in_tenant(Create, "networking.k8s.io", "networkpolicies").with_new(managed()),
            &[],
            false,
        ),
        case(
            "the namespace controller deletes `tenant-isolation` while `tenant-acme` is deleted",
            in_tenant(Delete, "networking.k8s.io", "networkpolicies").with_old(managed()),
            &["managed-objects (Fail)"],
            true,
        ),
        case(
            "a tenant creates its own NetworkPolicy",
            in_tenant(Create, "networking.k8s.io", "networkpolicies")
                .with_new(labels(&[("app", "web")])),
            &[],
            false,
        ),
        case(
            "a tenant edits or deletes its own (unlabelled) NetworkPolicy or RoleBinding",
            in_tenant(Delete, "networking.k8s.io", "networkpolicies")
                .with_old(labels(&[("app", "web")])),
            &[],
            false,
        ),
        case(
            "a tenant labels its own NetworkPolicy `app.kubernetes.io/managed-by=mtp`",
            in_tenant(Update, "networking.k8s.io", "networkpolicies")
                .with_old(labels(&[("app", "web")]))
                .with_new(labels(&[("app.kubernetes.io/managed-by", "mtp")])),
            &["managed-objects (Fail)"],
            true,
        ),
        case(
            "delete a NetworkPolicy labelled `app.kubernetes.io/managed-by=mtp` in `team-probe`",
            Attributes::new(Delete, "networking.k8s.io", "v1", "networkpolicies")
                .in_namespace("team-probe", plain())
                .with_old(managed()),
            &[],
            false,
        ),
        // Tenants.
        case(
            "edit the spec of a store-owned Tenant",
            tenant(Update)
                .with_old(labels(&[("app.kubernetes.io/managed-by", "mtp")]))
                .with_new(labels(&[("app.kubernetes.io/managed-by", "mtp")])),
            &["tenant-ownership (Ignore)"],
            false,
        ),
        case(
            "delete a store-owned Tenant (the controller deletes it in the store too)",
            tenant(Delete).with_old(labels(&[("app.kubernetes.io/managed-by", "mtp")])),
            &[],
            false,
        ),
        case(
            "the controller writes a Tenant's status (`tenants/status`)",
            tenant(Update)
                .on_subresource("status")
                .with_old(labels(&[("app.kubernetes.io/managed-by", "mtp")]))
                .with_new(labels(&[("app.kubernetes.io/managed-by", "mtp")])),
            &[],
            false,
        ),
        case(
            "edit or delete a hand-made (unlabelled) Tenant",
            tenant(Delete).with_old(labels(&[])),
            &[],
            false,
        ),
    ];
    // The system and platform namespaces: never refused, whatever their labels; the control
    // plane's and the platform's are not even intercepted (a hanging webhook would slow node
    // heartbeats and leader elections), `default` only by protected-namespaces, which fails open.
    let control_plane = format!("kube-system, kube-public, kube-node-lease or `{PLATFORM}`");
    for ns in [
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "default",
        PLATFORM,
    ] {
        let (system, hooks): (String, &[&str]) = if ns == "default" {
            ("`default`".to_owned(), &["protected-namespaces (Ignore)"])
        } else {
            (control_plane.clone(), &[])
        };
        let ns_labels = namespace(ns, &[("mtp.dev/tenant", "acme")]);
        let objects = [
            (Create, "", "configmaps"),
            (Update, "coordination.k8s.io", "leases"),
            (Create, "", "pods"),
            (Delete, "networking.k8s.io", "networkpolicies"),
            (Update, "rbac.authorization.k8s.io", "rolebindings"),
        ];
        for (operation, group, resource) in objects {
            let verb = operation.as_str().to_lowercase();
            cases.push(Case {
                row: Some(format!(
                    "{verb} {resource} in {system} (also with `mtp.dev/tenant` on the namespace and the platform's labels on the object)"
                )),
                ..case(
                    format!("{verb} {resource} in `{ns}`"),
                    Attributes::new(operation, group, "v1", resource)
                        .in_namespace(ns, ns_labels.clone())
                        .with_old(managed())
                        .with_new(managed()),
                    hooks,
                    false,
                )
            });
        }
        for operation in [Create, Update, Delete] {
            let request = match operation {
                Create => ns_request(Create).with_new(ns_labels.clone()),
                Update => ns_request(Update)
                    .with_old(namespace(ns, &[]))
                    .with_new(ns_labels.clone()),
                _ => ns_request(Delete).with_old(ns_labels.clone()),
            };
            let verb = operation.as_str().to_lowercase();
            cases.push(Case {
                row: Some(format!(
                    "{verb} namespace {system} (also with `mtp.dev/tenant`)"
                )),
                ..case(format!("{verb} namespace `{ns}`"), request, hooks, false)
            });
        }
    }
    cases
}

/// A request on a tenant namespace (with the tenant label, not a system or platform namespace),
/// or on a namespace whose old or new object carries the tenant label.
fn touches_tenancy(request: &Attributes) -> bool {
    let tenant = |l: &Option<Labels>| l.as_ref().is_some_and(|l| l.contains_key("mtp.dev/tenant"));
    if request.resource == "namespaces" {
        return tenant(&request.old_labels) || tenant(&request.new_labels);
    }
    let system = [
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "default",
        PLATFORM,
    ];
    tenant(&request.namespace_labels)
        && request
            .namespace
            .as_deref()
            .is_some_and(|ns| !system.contains(&ns))
}

/// The intercepting hooks of `request`, as `name (Policy)` without the `.mtp.dev` suffix.
fn intercepting(hooks: &[Matcher<'_>], request: &Attributes) -> Vec<String> {
    hooks
        .iter()
        .filter(|h| h.intercepts(request).unwrap())
        .map(|h| {
            let policy = match h.failure_policy().unwrap() {
                FailurePolicy::Fail => "Fail",
                FailurePolicy::Ignore => "Ignore",
            };
            format!("{} ({policy})", h.name.trim_end_matches(".mtp.dev"))
        })
        .collect()
}

/// The docs' table: one row per distinct row text.
fn markdown(rows: &[(String, Vec<String>, bool)]) -> String {
    let mut out = String::from(
        "| request | intercepted by (failure policy) | while the webhook is down |\n|---|---|---|\n",
    );
    let mut seen = std::collections::BTreeSet::new();
    for (row, hooks, refused) in rows {
        if !seen.insert(row.clone()) {
            continue;
        }
        let hooks = if hooks.is_empty() {
            "none".to_owned()
        } else {
            hooks.join(", ")
        };
        let outcome = if *refused {
            "**refused**"
        } else {
            "allowed (as RBAC says)"
        };
        out.push_str(&format!("| {row} | {hooks} | {outcome} |\n"));
    }
    out
}

#[test]
fn while_the_webhook_is_down() {
    let registry = described_registry(PLATFORM).unwrap();
    let target = Target::service(PLATFORM, "mtp-webhook");
    let validating = registry.validating_configuration(&target);
    let mutating = registry.mutating_configuration(&target);
    let mut hooks: Vec<Matcher<'_>> = validating
        .webhooks
        .iter()
        .flatten()
        .map(Matcher::from)
        .collect();
    hooks.extend(mutating.webhooks.iter().flatten().map(Matcher::from));
    assert_eq!(hooks.len(), 8, "every hook is in a configuration");

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for case in cases() {
        let got = intercepting(&hooks, &case.request);
        let verdict = while_down(&hooks, &case.request).unwrap();
        let refused = matches!(verdict, WhileDown::Refused(_));
        let mut expected: Vec<&str> = case.hooks.to_vec();
        expected.sort_unstable();
        let mut sorted: Vec<&str> = got.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        if sorted != expected || refused != case.refused {
            failures.push(format!(
                "{}: intercepted by {got:?} ({verdict:?}), expected {expected:?} (refused: {})",
                case.what, case.refused
            ));
        }
        // Nothing outside tenant namespaces and the tenant label fails closed.
        assert!(
            !refused || touches_tenancy(&case.request),
            "{} is refused while the webhook is down",
            case.what
        );
        rows.push((case.row.unwrap_or(case.what), got, refused));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let table = markdown(&rows);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md");
    let docs = std::fs::read_to_string(&path).unwrap();
    assert!(
        docs.contains(&table),
        "docs/operations.md (\"While the webhook is down\") does not hold the table the generated \
         configurations give; paste this:\n\n{table}"
    );
}

/// The constants the hooks select and compare on are the ones the controller writes.
#[test]
fn the_hooks_select_what_the_controller_writes() {
    use mtp_policy::admission::hooks;
    assert_eq!(
        (hooks::MANAGED_BY_LABEL, hooks::MANAGED_BY_VALUE),
        mtp_core::plan::MANAGED_BY
    );
    assert_eq!(hooks::TENANT_LABEL, mtp_core::plan::TENANT_LABEL);
    assert_eq!(
        hooks::STORE_ID_ANNOTATION,
        mtp_bins::controller::sync::STORE_ID_ANNOTATION
    );
    let names: BTreeMap<&str, &str> = mtp_core::plan::ROLE_BINDINGS.into_iter().collect();
    assert_eq!(
        names.keys().copied().collect::<Vec<_>>(),
        ["tenant-admins", "tenant-operators", "tenant-viewers"]
    );
}
