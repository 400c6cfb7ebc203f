//! The `mtp` profile, rule by rule: inheritance, workload kinds, init and ephemeral containers,
//! quantities, several violations in one pod, and the AdmissionReview captures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use mtp_policy::pod_security::model::Object;
use mtp_policy::pod_security::{Error, Evaluation, Policy, Profile};
use serde::Deserialize;
use serde_json::{Value, json};

fn eval(object: &Value) -> Evaluation {
    let policy = Policy::new(Profile::Mtp);
    let from_value = policy
        .evaluate(&Object::deserialize(object).unwrap())
        .unwrap();
    let from_bytes = policy
        .evaluate_json(&serde_json::to_vec(object).unwrap())
        .unwrap();
    assert_eq!(
        from_value, from_bytes,
        "the value and byte paths must agree"
    );
    from_value
}

/// (check, path) pairs, in order.
fn found(e: &Evaluation) -> Vec<(&'static str, String)> {
    e.violations
        .iter()
        .map(|v| (v.check, v.path.clone()))
        .collect()
}

/// A container that satisfies every rule.
fn good(name: &str) -> Value {
    json!({
        "name": name, "image": "nginx",
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
        "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false, "runAsNonRoot": true}
    })
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": spec})
}

#[test]
fn compliant_pod_is_allowed() {
    let e = eval(&pod(
        json!({"containers": [good("web")], "initContainers": [good("init")]}),
    ));
    assert!(e.applicable);
    assert!(e.allowed(), "{:?}", e.violations);
}

#[test]
fn every_rule_on_one_container_with_messages() {
    let e = eval(&pod(json!({"containers": [{
        "name": "web",
        "resources": {"limits": {"cpu": "0"}},
        "securityContext": {"privileged": true, "runAsNonRoot": false, "runAsUser": 0,
                            "readOnlyRootFilesystem": false, "allowPrivilegeEscalation": true}
    }]})));
    let c = "spec.containers[0]";
    assert_eq!(
        found(&e),
        vec![
            ("limits", format!("{c}.resources.limits.cpu")),
            ("limits", format!("{c}.resources.limits.memory")),
            ("privileged", format!("{c}.securityContext.privileged")),
            ("runAsNonRoot", format!("{c}.securityContext.runAsNonRoot")),
            ("runAsUser", format!("{c}.securityContext.runAsUser")),
            (
                "readOnlyRootFilesystem",
                format!("{c}.securityContext.readOnlyRootFilesystem")
            ),
            (
                "allowPrivilegeEscalation",
                format!("{c}.securityContext.allowPrivilegeEscalation")
            ),
        ]
    );
    assert!(
        e.violations
            .iter()
            .all(|v| v.container.as_deref() == Some("web"))
    );
    let messages: Vec<&str> = e.violations.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(
        messages[0],
        "container \"web\" must set a non-zero resources.limits.cpu (it is \"0\")"
    );
    assert_eq!(
        messages[1],
        "container \"web\" must set resources.limits.memory"
    );
    assert_eq!(
        messages[5],
        "container \"web\" must set securityContext.readOnlyRootFilesystem=true"
    );
    assert_eq!(
        messages[6],
        "container \"web\" must set securityContext.allowPrivilegeEscalation=false"
    );
}

#[test]
fn missing_security_context_is_one_violation() {
    let mut c = good("web");
    c.as_object_mut().unwrap().remove("securityContext");
    let e = eval(&pod(json!({"containers": [c]})));
    assert_eq!(
        found(&e),
        vec![(
            "securityContext",
            "spec.containers[0].securityContext".to_owned()
        )]
    );
    assert_eq!(
        e.violations[0].message,
        "container \"web\" must set a securityContext"
    );
}

#[test]
fn empty_security_context_is_present_but_incomplete() {
    let mut c = good("web");
    c["securityContext"] = json!({});
    let e = eval(&pod(json!({"containers": [c]})));
    let checks: Vec<_> = e.violations.iter().map(|v| v.check).collect();
    assert_eq!(
        checks,
        vec!["readOnlyRootFilesystem", "allowPrivilegeEscalation"]
    );
}

#[test]
fn run_as_non_root_is_inherited_from_the_pod() {
    // pod false, container unset: the container inherits false.
    let mut c = good("web");
    c["securityContext"]
        .as_object_mut()
        .unwrap()
        .remove("runAsNonRoot");
    let e = eval(&pod(
        json!({"securityContext": {"runAsNonRoot": false}, "containers": [c.clone()]}),
    ));
    assert_eq!(
        found(&e),
        vec![(
            "runAsNonRoot",
            "spec.securityContext.runAsNonRoot".to_owned()
        )]
    );
    assert_eq!(e.violations[0].container.as_deref(), Some("web"));
    // pod false, container true: the container wins.
    let e = eval(&pod(
        json!({"securityContext": {"runAsNonRoot": false}, "containers": [good("web")]}),
    ));
    assert!(e.allowed(), "{:?}", e.violations);
    // pod true, container false: the container wins.
    let mut bad = good("web");
    bad["securityContext"]["runAsNonRoot"] = json!(false);
    let e = eval(&pod(
        json!({"securityContext": {"runAsNonRoot": true}, "containers": [bad]}),
    ));
    assert_eq!(
        found(&e),
        vec![(
            "runAsNonRoot",
            "spec.containers[0].securityContext.runAsNonRoot".to_owned()
        )]
    );
    // unset everywhere: not false, allowed.
    let e = eval(&pod(json!({"containers": [c]})));
    assert!(e.allowed());
}

#[test]
fn run_as_user_is_inherited_from_the_pod() {
    let e = eval(&pod(
        json!({"securityContext": {"runAsUser": 0}, "containers": [good("web")]}),
    ));
    assert_eq!(
        found(&e),
        vec![("runAsUser", "spec.securityContext.runAsUser".to_owned())]
    );
    let mut c = good("web");
    c["securityContext"]["runAsUser"] = json!(1000);
    let e = eval(&pod(
        json!({"securityContext": {"runAsUser": 0}, "containers": [c]}),
    ));
    assert!(
        e.allowed(),
        "a container's own non-root user overrides the pod's root"
    );
    let mut c = good("web");
    c["securityContext"]["runAsUser"] = json!(0);
    let e = eval(&pod(
        json!({"securityContext": {"runAsUser": 1000}, "containers": [c]}),
    ));
    assert_eq!(
        found(&e),
        vec![(
            "runAsUser",
            "spec.containers[0].securityContext.runAsUser".to_owned()
        )]
    );
}

#[test]
fn inherited_root_applies_even_without_a_container_security_context() {
    let mut c = good("web");
    c.as_object_mut().unwrap().remove("securityContext");
    let e = eval(&pod(
        json!({"securityContext": {"runAsUser": 0, "runAsNonRoot": false}, "containers": [c]}),
    ));
    let checks: Vec<_> = e.violations.iter().map(|v| v.check).collect();
    assert_eq!(checks, vec!["securityContext", "runAsNonRoot", "runAsUser"]);
}

#[test]
fn init_containers_are_checked_and_ephemeral_containers_skip_limits() {
    let mut init = good("init");
    init["securityContext"]["privileged"] = json!(true);
    init["resources"] = json!({});
    let e = eval(&pod(json!({
        "containers": [good("web")],
        "initContainers": [init],
        "ephemeralContainers": [{"name": "debugger", "image": "busybox"}]
    })));
    assert_eq!(
        found(&e),
        vec![
            (
                "limits",
                "spec.initContainers[0].resources.limits.cpu".to_owned()
            ),
            (
                "limits",
                "spec.initContainers[0].resources.limits.memory".to_owned()
            ),
            (
                "privileged",
                "spec.initContainers[0].securityContext.privileged".to_owned()
            ),
            (
                "securityContext",
                "spec.ephemeralContainers[0].securityContext".to_owned()
            ),
        ]
    );
    let debugger = json!({"name": "debugger", "image": "busybox",
        "securityContext": {"privileged": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false}});
    let e = eval(&pod(
        json!({"containers": [good("web")], "ephemeralContainers": [debugger]}),
    ));
    assert_eq!(
        found(&e),
        vec![(
            "privileged",
            "spec.ephemeralContainers[0].securityContext.privileged".to_owned()
        )]
    );
}

#[test]
fn quantities_are_parsed() {
    for zero in [
        json!("0"),
        json!("0Mi"),
        json!("0.0"),
        json!(0),
        json!(0.0),
        json!("0m"),
    ] {
        let mut c = good("web");
        c["resources"]["limits"]["memory"] = zero.clone();
        let e = eval(&pod(json!({"containers": [c]})));
        assert_eq!(
            found(&e),
            vec![(
                "limits",
                "spec.containers[0].resources.limits.memory".to_owned()
            )],
            "{zero}"
        );
        assert!(
            e.violations[0].message.contains("non-zero"),
            "{}",
            e.violations[0].message
        );
    }
    for ok in [
        json!("1"),
        json!(2),
        json!(0.5),
        json!("1Gi"),
        json!("1e3"),
        json!("100m"),
    ] {
        let mut c = good("web");
        c["resources"]["limits"]["cpu"] = ok.clone();
        assert!(eval(&pod(json!({"containers": [c]}))).allowed(), "{ok}");
    }
    let mut c = good("web");
    c["resources"]["limits"]["cpu"] = json!("1 core");
    let e = eval(&pod(json!({"containers": [c]})));
    assert_eq!(e.violations.len(), 1);
    assert!(
        e.violations[0]
            .message
            .contains("must set a valid resources.limits.cpu"),
        "{}",
        e.violations[0].message
    );
    let mut c = good("web");
    c["resources"]["limits"]["cpu"] = json!("-1");
    assert!(
        eval(&pod(json!({"containers": [c]}))).violations[0]
            .message
            .contains("positive")
    );
}

#[test]
fn every_workload_kind_is_checked_at_its_template_path() {
    let spec = json!({"containers": [{"name": "web", "image": "nginx"}]});
    let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": spec});
    let cases = [
        (
            json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}),
            "template.spec",
        ),
        (
            json!({"apiVersion": "v1", "kind": "ReplicationController", "spec": {"template": template}}),
            "spec.template.spec",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2, "template": template}}),
            "spec.template.spec",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"template": template}}),
            "spec.template.spec",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"template": template}}),
            "spec.template.spec",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"template": template}}),
            "spec.template.spec",
        ),
        (
            json!({"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": template}}),
            "spec.template.spec",
        ),
        (
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}),
            "spec.jobTemplate.spec.template.spec",
        ),
    ];
    for (object, prefix) in cases {
        let e = eval(&object);
        assert!(e.applicable, "{prefix}");
        assert_eq!(
            found(&e),
            vec![
                (
                    "limits",
                    format!("{prefix}.containers[0].resources.limits.cpu")
                ),
                (
                    "limits",
                    format!("{prefix}.containers[0].resources.limits.memory")
                ),
                (
                    "securityContext",
                    format!("{prefix}.containers[0].securityContext")
                ),
            ],
            "{}",
            object["kind"]
        );
    }
}

#[test]
fn objects_without_a_pod_spec_are_not_applicable() {
    for object in [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}),
        json!({"apiVersion": "mtp.dev/v1alpha1", "kind": "Tenant", "spec": {"tier": "free"}}),
        json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}),
    ] {
        let e = eval(&object);
        assert!(!e.applicable && e.allowed());
    }
}

#[test]
fn bad_objects_are_errors_that_name_the_problem() {
    let policy = Policy::new(Profile::Mtp);
    let err = policy
        .evaluate_json(br#"{"apiVersion": "v1", "metadata": {}}"#)
        .unwrap_err();
    assert!(matches!(err, Error::MissingKind), "{err}");
    let err = policy
        .evaluate_json(br#"{"kind": "Pod", "spec": {}}"#)
        .unwrap_err();
    assert!(matches!(err, Error::MissingApiVersion), "{err}");
    let err = policy
        .evaluate_json(br#"{"apiVersion": "apps/v1", "kind": "Deploymnet", "spec": {}}"#)
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown kind \"Deploymnet\" in apps/v1");
    let err = policy
        .evaluate_json(br#"{"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}"#)
        .unwrap_err();
    assert_eq!(err.to_string(), "Deployment has no spec.template.spec");
    let err = policy
        .evaluate_json(br#"{"apiVersion": "v1", "kind": "Pod", "spec": {"hostNetwork": "yes"}}"#)
        .unwrap_err();
    assert!(err.to_string().contains("expected a boolean"), "{err}");
    let err = policy.evaluate_json(b"\x00\xff junk").unwrap_err();
    assert!(matches!(err, Error::Parse(_)), "{err}");
}

fn review_file(name: &str) -> Vec<u8> {
    let dir = match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/conformance"),
    };
    std::fs::read(dir.join("admissionreview").join(name)).unwrap()
}

#[test]
fn admission_reviews() {
    let policy = Policy::new(Profile::Mtp);
    // The real GKE capture: no limits, no container securityContext.
    let (e, response) = policy
        .review_json(&review_file("pods-create.kube-rs.json"))
        .unwrap();
    let checks: Vec<_> = e.violations.iter().map(|v| v.check).collect();
    assert_eq!(checks, vec!["limits", "limits", "securityContext"]);
    let response: Value = serde_json::from_slice(&response).unwrap();
    assert_eq!(response["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(response["kind"], "AdmissionReview");
    assert_eq!(response["response"]["allowed"], false);
    assert_eq!(response["response"]["status"]["code"], 403);
    assert_eq!(response["response"]["status"]["reason"], "Forbidden");
    let message = response["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("container \"echo-server\" must set resources.limits.cpu"),
        "{message}"
    );
    assert!(message.contains("must set a securityContext"), "{message}");

    // kubectl debug with a privileged ephemeral container: the whole pod in request.object.
    let (e, _) = policy
        .review_json(&review_file(
            "pods-ephemeralcontainers-update-privileged.synthetic.json",
        ))
        .unwrap();
    assert!(e.violations.iter().any(|v| v.check == "privileged"
        && v.path == "spec.ephemeralContainers[0].securityContext.privileged"
        && v.container.as_deref() == Some("debugger-x7k2p")));

    let (e, _) = Policy::new(Profile::Baseline)
        .review_json(&review_file(
            "pods-create-privileged-ephemeral.kubewarden.json",
        ))
        .unwrap();
    assert!(
        e.violations
            .iter()
            .any(|v| v.check == "privileged" && v.path.starts_with("spec.ephemeralContainers["))
    );

    // DELETE carries no object: nothing to check.
    let (e, response) = policy
        .review_json(&review_file("pods-delete.kubewarden.json"))
        .unwrap();
    assert!(!e.applicable && e.allowed());
    let response: Value = serde_json::from_slice(&response).unwrap();
    assert_eq!(response["response"]["allowed"], true);
    assert!(response["response"].get("status").is_none());
}

#[test]
fn malformed_reviews_are_errors() {
    let policy = Policy::new(Profile::Mtp);
    for (body, expected) in [
        (&br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"1"}}"#[..], "apiVersion is \"admission.k8s.io/v1beta1\""),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"1"}}"#, "kind is \"Pod\""),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, "request is missing"),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}"#, "request.uid is missing"),
    ] {
        let err = policy.review_json(body).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert!(matches!(
        policy.review_json(b"{").unwrap_err(),
        Error::Parse(_)
    ));
}
