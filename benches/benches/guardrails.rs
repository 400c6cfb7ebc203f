//! The tenant guardrails of `mtp_policy::guardrails` on the compact AdmissionReview JSON a
//! kube-apiserver sends: the Pod CREATE capture (`pods-create.kube-apiserver-v1.26.json`) and,
//! with the same envelope, a Service, an Ingress and a PersistentVolumeClaim. Every rule is on
//! (registries, pull policy, classes, node selector, reserved metadata, hostnames with a host
//! index of 1,000 Ingresses), and the objects are allowed, as most requests are.
//!
//! - `validator/<rule>/<kind>`: one rule on the already-read object (what that rule adds to a
//!   review);
//! - `read/<kind>`: reading the review with the guardrails' object view, no rule (the floor);
//! - `hook/guardrails/<kind>`: the whole hook, body in, response bytes out;
//! - `hook/pod-security/pod`: the pod-security hook on the same Pod, for comparison.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use mtp_policy::admission::hooks::{
    GuardrailCache, GuardrailsHook, NamespaceCache, PodSecurityHook,
};
use mtp_policy::admission::{AdmissionReview, Webhook};
use mtp_policy::guardrails::{Context, GuardrailSettings, Guardrails, HostIndex, Object, Rule};
use serde_json::{Value, json};

fn capture() -> Vec<u8> {
    let dir = match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mtp-policy/testdata/conformance")
        }
    };
    std::fs::read(dir.join("admissionreview/pods-create.kube-apiserver-v1.26.json"))
        .expect("read the AdmissionReview capture")
}

/// The capture's envelope around another object, compact as the apiserver writes it.
fn review_of(pod_review: &[u8], resource: &str, kind: &str, object: Value) -> Vec<u8> {
    let mut review: Value = serde_json::from_slice(pod_review).unwrap();
    let request = &mut review["request"];
    request["kind"] = json!({"group": "", "version": "v1", "kind": kind});
    request["resource"] = json!({"group": "", "version": "v1", "resource": resource});
    request["requestKind"] = request["kind"].clone();
    request["requestResource"] = request["resource"].clone();
    request["object"] = object;
    serde_json::to_vec(&review).unwrap()
}

fn settings() -> GuardrailSettings {
    serde_json::from_value(json!({
        "allowedRegistries": ["ghcr.io/acme", "registry.acme.example.com/team", "*.gcr.io", "docker.io/library"],
        "requireImagePullAlways": true,
        "allowedServiceTypes": ["LoadBalancer"],
        "allowedIngressClasses": ["nginx", "internal"],
        "allowedIngressHostnames": ["*.acme.example.com", "acme.example.com"],
        "allowedStorageClasses": ["fast", "standard"],
        "allowedPriorityClasses": ["low", "normal"],
        "allowedRuntimeClasses": ["gvisor"],
        "nodeSelector": {"pool": "acme"},
        "forbiddenLabels": ["mtp.dev/*", "node-role.kubernetes.io/*"],
        "forbiddenAnnotations": ["mtp.dev/*"]
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let pod = capture();
    let meta = |name: &str| json!({"name": name, "namespace": "cap", "uid": "0b1c2d3e-aaaa-bbbb-cccc-000000000001", "creationTimestamp": "2026-12-07T14:12:39Z", "labels": {"app": name, "app.kubernetes.io/part-of": "shop"}});
    let service = review_of(
        &pod,
        "services",
        "Service",
        json!({"kind": "Service", "apiVersion": "v1", "metadata": meta("web"),
        "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}], "selector": {"app": "web"}, "clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"], "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}, "status": {"loadBalancer": {}}}),
    );
    let ingress = review_of(
        &pod,
        "ingresses",
        "Ingress",
        json!({"kind": "Ingress", "apiVersion": "networking.k8s.io/v1", "metadata": meta("web"),
        "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["shop.acme.example.com"], "secretName": "shop-tls"}],
                 "rules": [{"host": "shop.acme.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}, "status": {"loadBalancer": {}}}),
    );
    let claim = review_of(
        &pod,
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1", "metadata": meta("data"),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "fast", "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}),
    );
    // The capture's pod names `nginx` with `imagePullPolicy: Always`: allowed by these settings.
    let inputs: [(&str, &[u8], &[Rule]); 4] = [
        (
            "pod",
            &pod,
            &[
                Rule::Registries,
                Rule::PullAlways,
                Rule::PriorityClasses,
                Rule::RuntimeClasses,
                Rule::NodeSelector,
                Rule::Labels,
                Rule::Annotations,
            ],
        ),
        (
            "service",
            &service,
            &[Rule::ServiceTypes, Rule::ExternalIps, Rule::Labels],
        ),
        (
            "ingress",
            &ingress,
            &[
                Rule::IngressClasses,
                Rule::IngressHostnames,
                Rule::UniqueIngressHostnames,
                Rule::Labels,
            ],
        ),
        ("claim", &claim, &[Rule::StorageClasses, Rule::Labels]),
    ];

    let guardrails = Arc::new(Guardrails::compile(&settings()).unwrap());
    let hosts = Arc::new(HostIndex::default());
    for i in 0..1000 {
        let host = format!("app{i}.tenant{}.example.com", i % 50);
        hosts.set(
            &format!("tenant{}", i % 50),
            "ns",
            &format!("ing{i}"),
            &[host.as_str()],
        );
    }
    let namespaces = Arc::new(NamespaceCache::default());
    namespaces.set("cap", Some("acme"));
    let cache = Arc::new(GuardrailCache::default());
    cache.set("acme", guardrails.clone());
    let hook = GuardrailsHook::new(namespaces, cache, guardrails.clone(), "mtp-system")
        .with_hosts(hosts.clone());
    let pod_security = PodSecurityHook::new("mtp-system");
    let ctx = Context {
        tenant: "acme",
        hosts: Some(&hosts),
    };

    let mut group = c.benchmark_group("guardrails");
    for (kind, body, rules) in inputs {
        let review: AdmissionReview<'_, Object<'_>> = AdmissionReview::from_slice(body).unwrap();
        let object = review.request().unwrap().object.as_ref().unwrap();
        let all = guardrails.evaluate(object, &ctx).unwrap();
        assert!(
            all.applicable && all.allowed(),
            "{kind}: {:?}",
            all.violations
        );
        for rule in rules {
            group.bench_function(format!("validator/{}/{kind}", rule.id()), |b| {
                b.iter(|| {
                    black_box(
                        guardrails
                            .evaluate_rules(black_box(object), &ctx, &[*rule])
                            .unwrap(),
                    )
                })
            });
        }
        group.bench_function(format!("read/{kind}"), |b| {
            b.iter(|| {
                black_box(AdmissionReview::<'_, Object<'_>>::from_slice(black_box(body)).unwrap())
            })
        });
        group.bench_function(format!("hook/guardrails/{kind}"), |b| {
            b.iter(|| {
                let reviewed = hook.review(black_box(body)).unwrap();
                assert!(reviewed.response.allowed);
                black_box(reviewed.response.to_review_bytes(&reviewed.uid))
            })
        });
    }
    group.bench_function("hook/pod-security/pod", |b| {
        b.iter(|| {
            let reviewed = pod_security.review(black_box(&pod)).unwrap();
            black_box(reviewed.response.to_review_bytes(&reviewed.uid))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
