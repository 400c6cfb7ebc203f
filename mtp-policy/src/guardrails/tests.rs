//! Table tests of every validator.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::*;

fn guardrails(settings: Value) -> Guardrails {
    let settings: GuardrailSettings = serde_json::from_value(settings).unwrap();
    Guardrails::compile(&settings).unwrap()
}

/// (check, path) of every violation of `object` for tenant acme.
fn run(g: &Guardrails, object: Value) -> Vec<(String, String)> {
    run_with(g, object, None)
}

fn run_with(g: &Guardrails, object: Value, hosts: Option<&HostIndex>) -> Vec<(String, String)> {
    let bytes = serde_json::to_vec(&object).unwrap();
    let object: Object<'_> = serde_json::from_slice(&bytes).unwrap();
    let evaluation = g
        .evaluate(
            &object,
            &Context {
                tenant: "acme",
                hosts,
            },
        )
        .unwrap();
    evaluation
        .violations
        .into_iter()
        .map(|v| (v.check.to_owned(), v.path))
        .collect()
}

fn messages(g: &Guardrails, object: Value) -> Vec<String> {
    let bytes = serde_json::to_vec(&object).unwrap();
    let object: Object<'_> = serde_json::from_slice(&bytes).unwrap();
    g.evaluate(
        &object,
        &Context {
            tenant: "acme",
            hosts: None,
        },
    )
    .unwrap()
    .violations
    .into_iter()
    .map(|v| v.message)
    .collect()
}

fn v(check: &str, path: &str) -> (String, String) {
    (check.to_owned(), path.to_owned())
}

fn pod(containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
}

#[test]
fn registries_normalise_and_cover_every_container_list_and_template() {
    let g = guardrails(json!({"allowedRegistries": ["ghcr.io/acme", "docker.io/library/nginx"]}));
    let cases = [
        ("nginx", true),
        ("nginx:1.27", true),
        (
            "docker.io/library/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            true,
        ),
        ("index.docker.io/library/nginx", true),
        ("ghcr.io/acme/app:v1", true),
        ("ghcr.io/acme", true),
        ("ghcr.io/acmecorp/app", false),
        ("library/redis", false),
        ("evil.io/ghcr.io/acme/app", false),
        ("GHCR.io/acme/app", true),
    ];
    for (image, allowed) in cases {
        let got = run(&g, pod(json!([{"name": "c", "image": image}])));
        if allowed {
            assert!(got.is_empty(), "{image}: {got:?}");
        } else {
            assert_eq!(
                got,
                [v("allowedRegistries", "spec.containers[0].image")],
                "{image}"
            );
        }
    }
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
        "containers": [{"name": "a", "image": "ghcr.io/acme/a"}],
        "initContainers": [{"name": "i", "image": "busybox"}],
        "ephemeralContainers": [{"name": "e", "image": "quay.io/x/y"}]}}}});
    assert_eq!(
        run(&g, deployment),
        [
            v(
                "allowedRegistries",
                "spec.template.spec.initContainers[0].image"
            ),
            v(
                "allowedRegistries",
                "spec.template.spec.ephemeralContainers[0].image"
            ),
        ]
    );
    let m = messages(&g, pod(json!([{"name": "c", "image": "busybox:1"}])));
    assert_eq!(
        m,
        [
            "container \"c\": image busybox:1 (docker.io/library/busybox) is not from an allowed registry; allowed: ghcr.io/acme, docker.io/library/nginx"
        ]
    );
    let m = messages(&g, pod(json!([{"name": "c", "image": "Bad Image"}])));
    assert!(
        m[0].starts_with("container \"c\": ") && m[0].contains("Bad Image"),
        "{m:?}"
    );
    // No list: any registry.
    assert!(
        run(
            &guardrails(json!({})),
            pod(json!([{"name": "c", "image": "anything.io/x"}]))
        )
        .is_empty()
    );
    // An empty list: none.
    assert_eq!(
        run(
            &guardrails(json!({"allowedRegistries": []})),
            pod(json!([{"name": "c", "image": "nginx"}]))
        )
        .len(),
        1
    );
}

#[test]
fn pull_policy_counts_the_apiservers_default() {
    let g = guardrails(json!({"requireImagePullAlways": true}));
    assert!(
        run(
            &g,
            pod(json!([{"name": "c", "image": "nginx", "imagePullPolicy": "Always"}]))
        )
        .is_empty()
    );
    assert!(
        run(&g, pod(json!([{"name": "c", "image": "nginx"}]))).is_empty(),
        "no tag: Always"
    );
    assert!(run(&g, pod(json!([{"name": "c", "image": "nginx:latest"}]))).is_empty());
    assert_eq!(
        run(&g, pod(json!([{"name": "c", "image": "nginx:1.27"}]))),
        [v(
            "requireImagePullAlways",
            "spec.containers[0].imagePullPolicy"
        )]
    );
    let m = messages(&g, pod(json!([{"name": "c", "image": "nginx:1.27"}])));
    assert_eq!(
        m,
        [
            "container \"c\": imagePullPolicy IfNotPresent (the apiserver's default for this image); this tenant requires Always"
        ]
    );
    assert_eq!(
        run(
            &g,
            pod(json!([{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}]))
        )
        .len(),
        1
    );
    assert!(
        run(
            &guardrails(json!({})),
            pod(json!([{"name": "c", "image": "nginx:1", "imagePullPolicy": "Never"}]))
        )
        .is_empty()
    );
}

#[test]
fn classes_of_pods() {
    let g = guardrails(json!({"allowedPriorityClasses": ["low"], "allowedRuntimeClasses": []}));
    let with = |spec: Value| json!({"apiVersion": "v1", "kind": "Pod", "spec": spec});
    assert!(run(&g, with(json!({"priorityClassName": "low"}))).is_empty());
    assert!(
        run(&g, with(json!({}))).is_empty(),
        "naming none is allowed"
    );
    assert_eq!(
        run(
            &g,
            with(
                json!({"priorityClassName": "system-cluster-critical", "runtimeClassName": "kata"})
            )
        ),
        [
            v("allowedPriorityClasses", "spec.priorityClassName"),
            v("allowedRuntimeClasses", "spec.runtimeClassName")
        ]
    );
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"priorityClassName": "high"}}}}}});
    assert_eq!(
        run(&g, cron),
        [v(
            "allowedPriorityClasses",
            "spec.jobTemplate.spec.template.spec.priorityClassName"
        )]
    );
}

#[test]
fn node_selector_contradictions_only() {
    let g = guardrails(json!({"nodeSelector": {"pool": "acme"}}));
    let with =
        |sel: Value| json!({"apiVersion": "v1", "kind": "Pod", "spec": {"nodeSelector": sel}});
    assert!(run(&g, with(json!({"pool": "acme", "zone": "a"}))).is_empty());
    assert!(
        run(&g, with(json!({"zone": "a"}))).is_empty(),
        "the mutating hook adds it"
    );
    assert!(run(&g, json!({"apiVersion": "v1", "kind": "Pod", "spec": {}})).is_empty());
    assert_eq!(
        run(&g, with(json!({"pool": "shared"}))),
        [v("nodeSelector", "spec.nodeSelector[\"pool\"]")]
    );
    let m = messages(&g, with(json!({"pool": "shared"})));
    assert_eq!(
        m,
        [
            "nodeSelector pool=shared contradicts the tenant's pool=acme (its pods run on its own nodes)"
        ]
    );
}

#[test]
fn services_types_and_external_ips() {
    let g = guardrails(json!({"allowedServiceTypes": ["LoadBalancer"]}));
    let svc = |spec: Value| json!({"apiVersion": "v1", "kind": "Service", "spec": spec});
    assert!(run(&g, svc(json!({}))).is_empty(), "ClusterIP by default");
    assert!(run(&g, svc(json!({"type": "ClusterIP", "clusterIP": "None"}))).is_empty());
    assert!(run(&g, svc(json!({"type": "LoadBalancer"}))).is_empty());
    assert_eq!(
        run(&g, svc(json!({"type": "NodePort"}))),
        [v("allowedServiceTypes", "spec.type")]
    );
    assert_eq!(
        run(
            &g,
            svc(json!({"type": "ExternalName", "externalName": "db.example.com"}))
        ),
        [v("allowedServiceTypes", "spec.type")]
    );
    assert_eq!(
        run(&g, svc(json!({"externalIPs": ["1.2.3.4"]}))),
        [v("externalIPs", "spec.externalIPs")]
    );
    assert!(run(&g, svc(json!({"externalIPs": []}))).is_empty());
    let everything =
        guardrails(json!({"allowedServiceTypes": ["NodePort", "LoadBalancer", "ExternalName"]}));
    assert_eq!(
        run(&everything, svc(json!({"externalIPs": ["1.2.3.4"]}))),
        [v("externalIPs", "spec.externalIPs")],
        "never allowed"
    );
    let m = messages(&guardrails(json!({})), svc(json!({"type": "NodePort"})));
    assert_eq!(
        m,
        ["Service type NodePort is not allowed for tenant acme; allowed: ClusterIP"]
    );
}

#[test]
fn ingress_classes_hostnames_and_the_old_annotation() {
    let g = guardrails(
        json!({"allowedIngressClasses": ["nginx"], "allowedIngressHostnames": ["*.acme.example.com", "acme.example.com"]}),
    );
    let ing = |meta: Value, spec: Value| json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec});
    assert!(run(&g, ing(json!({}), json!({"ingressClassName": "nginx", "rules": [{"host": "shop.acme.example.com"}, {"host": "acme.example.com"}], "tls": [{"hosts": ["a.b.acme.example.com"]}]}))).is_empty());
    assert_eq!(
        run(
            &g,
            ing(
                json!({}),
                json!({"rules": [{"host": "evil.example.com"}, {}], "tls": [{"hosts": ["x.example.org"]}]})
            )
        ),
        [
            v("allowedIngressClasses", "spec.ingressClassName"),
            v("allowedIngressHostnames", "spec.rules[0].host"),
            v("allowedIngressHostnames", "spec.rules[1].host"),
            v("allowedIngressHostnames", "spec.tls[0].hosts[0]"),
        ]
    );
    assert_eq!(
        run(
            &g,
            ing(
                json!({"annotations": {"kubernetes.io/ingress.class": "traefik"}}),
                json!({"rules": [{"host": "acme.example.com"}]})
            )
        ),
        [v(
            "allowedIngressClasses",
            "metadata.annotations[\"kubernetes.io/ingress.class\"]"
        )]
    );
    assert!(
        run(
            &g,
            ing(
                json!({"annotations": {"kubernetes.io/ingress.class": "nginx"}}),
                json!({"rules": [{"host": "acme.example.com"}]})
            )
        )
        .is_empty()
    );
    let m = messages(
        &g,
        ing(
            json!({}),
            json!({"ingressClassName": "nginx", "rules": [{"http": {}}]}),
        ),
    );
    assert_eq!(
        m,
        [
            "a rule without a host serves every hostname; set one of: *.acme.example.com, acme.example.com"
        ]
    );
    // An extensions Ingress is checked as well.
    let old = json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress", "spec": {"ingressClassName": "haproxy"}});
    assert_eq!(
        run(&g, old),
        [v("allowedIngressClasses", "spec.ingressClassName")]
    );
}

#[test]
fn hostnames_served_by_another_tenant_are_refused_without_naming_it() {
    let g = guardrails(json!({}));
    let index = HostIndex::default();
    index.set(
        "bank",
        "bank-prod",
        "web",
        &["pay.example.com", "*.cdn.example.com"],
    );
    index.set("acme", "acme-prod", "web", &["shop.example.com"]);
    let ing = |hosts: Value| json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": {"rules": hosts}});
    assert!(
        run_with(&g, ing(json!([{"host": "shop.example.com"}])), Some(&index)).is_empty(),
        "its own host"
    );
    assert_eq!(
        run_with(
            &g,
            ing(
                json!([{"host": "pay.example.com"}, {"host": "img.cdn.example.com"}, {"host": "new.example.com"}])
            ),
            Some(&index)
        ),
        [
            v("uniqueIngressHostnames", "spec.rules[0].host"),
            v("uniqueIngressHostnames", "spec.rules[1].host")
        ]
    );
    let bytes = serde_json::to_vec(&ing(json!([{"host": "pay.example.com"}]))).unwrap();
    let object: Object<'_> = serde_json::from_slice(&bytes).unwrap();
    let e = g
        .evaluate(
            &object,
            &Context {
                tenant: "acme",
                hosts: Some(&index),
            },
        )
        .unwrap();
    assert_eq!(
        e.violations[0].message,
        "host pay.example.com is already served by another tenant's Ingress"
    );
    assert!(!e.violations[0].message.contains("bank"));
    assert!(
        run(&g, ing(json!([{"host": "pay.example.com"}]))).is_empty(),
        "offline: no index, no check"
    );
}

#[test]
fn storage_classes_of_claims_and_statefulset_templates() {
    let g = guardrails(json!({"allowedStorageClasses": ["fast"]}));
    let pvc = |meta: Value, spec: Value| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec});
    assert!(run(&g, pvc(json!({}), json!({"storageClassName": "fast"}))).is_empty());
    assert_eq!(
        run(&g, pvc(json!({}), json!({"storageClassName": "slow"}))),
        [v("allowedStorageClasses", "spec.storageClassName")]
    );
    assert_eq!(
        run(&g, pvc(json!({}), json!({"storageClassName": ""}))),
        [v("allowedStorageClasses", "spec.storageClassName")],
        "no class: a pre-provisioned volume"
    );
    assert_eq!(
        run(&g, pvc(json!({}), json!({}))),
        [v("allowedStorageClasses", "spec.storageClassName")]
    );
    assert_eq!(
        run(
            &g,
            pvc(
                json!({"annotations": {"volume.beta.kubernetes.io/storage-class": "slow"}}),
                json!({})
            )
        ),
        [v(
            "allowedStorageClasses",
            "metadata.annotations[\"volume.beta.kubernetes.io/storage-class\"]"
        )]
    );
    let m = messages(&g, pvc(json!({}), json!({})));
    assert_eq!(
        m,
        ["no StorageClass is named and the cluster set no default; name one of: fast"]
    );
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"template": {"spec": {}}, "volumeClaimTemplates": [{"spec": {"storageClassName": "fast"}}, {"spec": {"storageClassName": "slow"}}]}});
    assert_eq!(
        run(&g, sts),
        [v(
            "allowedStorageClasses",
            "spec.volumeClaimTemplates[1].spec.storageClassName"
        )]
    );
    assert!(run(&guardrails(json!({})), pvc(json!({}), json!({}))).is_empty());
}

#[test]
fn reserved_metadata_everywhere_but_the_tenants_own_label() {
    let g = guardrails(
        json!({"forbiddenLabels": ["mtp.dev/*", "node-role.kubernetes.io/*"], "forbiddenAnnotations": ["mtp.dev/*"]}),
    );
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"labels": {"mtp.dev/tenant": "acme", "app": "x"}, "annotations": {"mtp.dev/owner": "me"}},
        "spec": {"template": {"metadata": {"labels": {"mtp.dev/tenant": "bank", "node-role.kubernetes.io/master": ""}}, "spec": {}}}});
    assert_eq!(
        run(&g, deployment),
        [
            v(
                "forbiddenLabels",
                "spec.template.metadata.labels[\"mtp.dev/tenant\"]"
            ),
            v(
                "forbiddenLabels",
                "spec.template.metadata.labels[\"node-role.kubernetes.io/master\"]"
            ),
            v(
                "forbiddenAnnotations",
                "metadata.annotations[\"mtp.dev/owner\"]"
            ),
        ]
    );
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"labels": {"mtp.dev/tier": "enterprise"}}});
    let m = messages(&g, ns);
    assert_eq!(
        m,
        ["label mtp.dev/tier is reserved: tenant acme may not set it (forbiddenLabels mtp.dev/*)"]
    );
    assert!(run(&g, json!({"apiVersion": "v1", "kind": "Service", "metadata": {"labels": {"app.kubernetes.io/name": "x"}}})).is_empty());
}

#[test]
fn kinds_without_guardrails_are_not_applicable_and_typos_are_named() {
    let g = guardrails(json!({"allowedRegistries": []}));
    for (api_version, kind) in [
        ("v1", "ConfigMap"),
        ("example.com/v1", "Widget"),
        ("apps/v1", "ControllerRevision"),
    ] {
        let bytes = serde_json::to_vec(
            &json!({"apiVersion": api_version, "kind": kind, "spec": {"template": false}}),
        )
        .unwrap();
        // Reading a custom resource's same-named fields may fail; the caller classifies first.
        if let Ok(object) = serde_json::from_slice::<Object<'_>>(&bytes) {
            let e = g
                .evaluate(
                    &object,
                    &Context {
                        tenant: "acme",
                        hosts: None,
                    },
                )
                .unwrap();
            assert!(!e.applicable, "{kind}");
        }
        assert_eq!(
            Subject::classify(api_version, kind).unwrap(),
            None,
            "{kind}"
        );
    }
    assert!(Subject::classify("apps/v1", "Deploymnet").is_err());
    assert_eq!(
        Subject::classify("v1", "Service").unwrap(),
        Some(Subject::Service)
    );
}

#[test]
fn an_update_is_refused_only_for_what_it_changes() {
    let g = guardrails(json!({"allowedServiceTypes": []}));
    let eval = |o: Value| {
        let bytes = serde_json::to_vec(&o).unwrap();
        let object: Object<'_> = serde_json::from_slice(&bytes).unwrap();
        g.evaluate(
            &object,
            &Context {
                tenant: "acme",
                hosts: None,
            },
        )
        .unwrap()
    };
    let old = eval(json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "NodePort"}}));
    let same = eval(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"labels": {"a": "b"}}, "spec": {"type": "NodePort"}}),
    );
    assert!(new_violations(same, &old).allowed());
    let worse = eval(
        json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "NodePort", "externalIPs": ["10.0.0.1"]}}),
    );
    let left = new_violations(worse, &old);
    assert_eq!(left.violations.len(), 1);
    assert_eq!(left.violations[0].check, "externalIPs");
}

#[test]
fn every_rule_has_an_id_and_a_doc() {
    let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    assert!(Rule::ALL.iter().all(|r| r.doc().len() > 40));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), Rule::ALL.len());
}

#[test]
fn the_denial_message_lists_each_violation_with_its_rule_and_path() {
    let g = guardrails(json!({"allowedServiceTypes": []}));
    let bytes = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "NodePort", "externalIPs": ["1.1.1.1"]}})).unwrap();
    let object: Object<'_> = serde_json::from_slice(&bytes).unwrap();
    let e = g
        .evaluate(
            &object,
            &Context {
                tenant: "acme",
                hosts: None,
            },
        )
        .unwrap();
    assert_eq!(
        message("acme", &e.violations),
        "tenant acme's guardrails refuse this object: Service type NodePort is not allowed for tenant acme; allowed: ClusterIP (allowedServiceTypes at spec.type); spec.externalIPs (1.1.1.1) is never allowed: it lets a Service take traffic for any address (CVE-2020-8554) (externalIPs at spec.externalIPs)"
    );
}
