//! The reconciler against a mocked apiserver: first reconcile, no-op, drift repair, prune,
//! deletion with and without retain, apiserver errors (backoff, status, Event), invalid spec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Call, assert_apply, call, context, failure, plan_of, seed, verify};
use http::Method;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use mtp_bins::controller::reconcile::{error_policy, reconcile};
use mtp_bins::controller::{FINALIZER, RETAIN_ANNOTATION, status};
use mtp_core::{Tenant, Tier};
use serde_json::{Value, json};

const TENANTS: &str = "/apis/mtp.dev/v1alpha1/tenants";

fn tenant() -> Tenant {
    let mut t = Tenant::test("acme").with_admin("alice@acme.io");
    t.metadata.generation = Some(3);
    t.metadata.resource_version = Some("100".into());
    t
}

fn with_finalizer(mut t: Tenant) -> Tenant {
    t.metadata.finalizers = Some(vec![FINALIZER.into()]);
    t
}

fn ready(mut t: Tenant, namespaces: &[&str]) -> Tenant {
    t.status = Some(status::ready(
        &t,
        namespaces.iter().map(|s| (*s).to_owned()).collect(),
    ));
    t
}

fn apply_call(path: &str, kind: &'static str) -> Call {
    call(Method::PATCH, path).check(move |query, body| {
        assert_apply(query);
        assert_eq!(body["kind"], kind);
        assert_eq!(body["metadata"]["labels"]["mtp.dev/tenant"], "acme");
        assert_eq!(body["metadata"]["ownerReferences"][0]["kind"], "Tenant");
    })
}

/// The seven applies of a free tenant's plan for namespace `ns`.
fn plan_calls(ns: &str) -> Vec<Call> {
    let tenant = ns.strip_prefix("tenant-").unwrap_or(ns);
    let mut calls = vec![
        apply_call(&format!("/api/v1/namespaces/{ns}"), "Namespace"),
        // Members may read their own Tenant (cluster-scoped: a ClusterRole and its binding).
        apply_call(
            &format!("/apis/rbac.authorization.k8s.io/v1/clusterroles/mtp-tenant-{tenant}"),
            "ClusterRole",
        ),
        apply_call(
            &format!("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/mtp-tenant-{tenant}"),
            "ClusterRoleBinding",
        ),
    ];
    for rb in ["tenant-admins", "tenant-operators", "tenant-viewers"] {
        calls.push(apply_call(
            &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/{rb}"),
            "RoleBinding",
        ));
    }
    calls.push(apply_call(
        &format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/tenant-isolation"),
        "NetworkPolicy",
    ));
    calls.push(apply_call(
        &format!("/api/v1/namespaces/{ns}/limitranges/tenant-defaults"),
        "LimitRange",
    ));
    calls.push(apply_call(
        &format!("/api/v1/namespaces/{ns}/resourcequotas/tenant-quota"),
        "ResourceQuota",
    ));
    calls
}

fn tenant_json(t: &Tenant) -> Value {
    serde_json::to_value(t).unwrap()
}

async fn run(
    ctx: Arc<mtp_bins::controller::Context>,
    t: Tenant,
) -> Result<Action, mtp_bins::controller::Error> {
    tokio::time::timeout(Duration::from_secs(10), reconcile(Arc::new(t), ctx))
        .await
        .expect("the reconcile hung: it made a call nobody expected")
}

#[tokio::test]
async fn first_reconcile_adds_the_finalizer_applies_the_plan_and_writes_the_status() {
    let (ctx, _writers, mut handle) = context();
    let t = tenant();
    let reply = tenant_json(&with_finalizer(t.clone()));
    let mut calls = vec![
        call(Method::PATCH, &format!("{TENANTS}/acme"))
            .check(|query, body| {
                assert!(
                    !query.contains("fieldManager=mtp-controller&force"),
                    "a merge patch: {query}"
                );
                assert_eq!(body["metadata"]["finalizers"], json!([FINALIZER]));
                assert_eq!(
                    body["metadata"]["resourceVersion"], "100",
                    "guarded by the resourceVersion"
                );
            })
            .reply(200, reply.clone()),
    ];
    calls.extend(plan_calls("tenant-acme"));
    calls.push(
        call(Method::PATCH, &format!("{TENANTS}/acme/status"))
            .check(|_, body| {
                let s = &body["status"];
                assert_eq!(s["observedGeneration"], 3);
                assert_eq!(s["namespaces"], json!(["tenant-acme"]));
                let c = &s["conditions"][0];
                assert_eq!(c["type"], "Ready");
                assert_eq!(c["status"], "True");
                assert_eq!(c["reason"], "Reconciled");
                assert_eq!(c["observedGeneration"], 3);
                assert!(c["lastTransitionTime"].is_string());
                assert!(
                    c["message"]
                        .as_str()
                        .unwrap()
                        .contains("1 namespace with RBAC")
                );
            })
            .reply(200, reply),
    );
    let verifier = tokio::spawn(async move { verify(&mut handle, calls).await });
    let action = run(ctx.clone(), t).await.unwrap();
    verifier.await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    let metrics = ctx.metrics.encode();
    assert!(
        metrics.contains(r#"mtp_controller_tenants{tier="free",ready="true"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"mtp_controller_reconciles_total{outcome="success"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_reconcile_with_nothing_to_change_makes_no_call() {
    let (ctx, mut writers, _handle) = context();
    let t = ready(with_finalizer(tenant()), &["tenant-acme"]);
    seed(&mut writers, &plan_of(&t));
    // Any call would hang (nobody answers): the reconcile completes only without calls.
    let action = run(ctx, t).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
}

#[tokio::test]
async fn drift_is_repaired_object_by_object() {
    let (ctx, mut writers, mut handle) = context();
    let t = ready(with_finalizer(tenant()), &["tenant-acme"]);
    let mut plan = plan_of(&t);
    // Hand edits: the namespace was deleted, the admins binding lost its subject, the
    // NetworkPolicy was opened up.
    plan.namespaces.clear();
    plan.role_bindings[0].subjects = None;
    // Someone added themselves to the (empty) operators binding.
    plan.role_bindings[1].subjects = Some(vec![k8s_openapi::api::rbac::v1::Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "User".into(),
        name: "mallory@evil.example".into(),
        namespace: None,
    }]);
    plan.network_policies[0].spec.as_mut().unwrap().ingress = None;
    seed(&mut writers, &plan);
    let calls = vec![
        apply_call("/api/v1/namespaces/tenant-acme", "Namespace"),
        apply_call(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-admins",
            "RoleBinding",
        )
        .check(|_, body| assert_eq!(body["subjects"][0]["name"], "alice@acme.io")),
        apply_call(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-operators",
            "RoleBinding",
        )
        .check(|_, body| assert_eq!(body["subjects"], json!([]), "cleared by the apply")),
        apply_call(
            "/apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/tenant-isolation",
            "NetworkPolicy",
        )
        .check(|_, body| assert!(body["spec"]["ingress"].is_array())),
    ];
    let verifier = tokio::spawn(async move { verify(&mut handle, calls).await });
    run(ctx, t).await.unwrap();
    verifier.await.unwrap();
}

#[tokio::test]
async fn a_namespace_removed_from_the_spec_and_a_removed_admin_are_pruned() {
    let (ctx, mut writers, mut handle) = context();
    let before = ready(
        with_finalizer(
            tenant()
                .with_tier(Tier::Pro)
                .with_admin("bob@acme.io")
                .with_namespace("ci"),
        ),
        &["tenant-acme", "tenant-acme-ci"],
    );
    let mut old_plan = plan_of(&before);
    // A binding the plan no longer has, controlled by the Tenant.
    let mut stale: RoleBinding = old_plan.role_bindings[0].clone();
    stale.metadata.name = Some("tenant-old".into());
    old_plan.role_bindings.push(stale);
    seed(&mut writers, &old_plan);
    // A user's own binding with a copied label but no owner reference is never touched.
    let mut users_own: RoleBinding = old_plan.role_bindings[0].clone();
    users_own.metadata.name = Some("my-binding".into());
    users_own.metadata.owner_references = None;
    writers
        .role_bindings
        .apply_watcher_event(&watcher::Event::Apply(users_own));

    let mut after = before.clone();
    after.spec.namespaces.clear();
    after.spec.admins = vec!["alice@acme.io".into()];
    after.metadata.generation = Some(4);
    let reply = tenant_json(&after);
    let calls = vec![
        // The removed admin no longer reads the Tenant...
        apply_call(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/mtp-tenant-acme",
            "ClusterRoleBinding",
        )
        .check(|_, body| {
            assert_eq!(body["subjects"], json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice@acme.io"}]));
        }),
        // ... nor administers its namespace.
        apply_call(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-admins",
            "RoleBinding",
        )
        .check(|_, body| {
            assert_eq!(body["subjects"].as_array().unwrap().len(), 1);
            assert_eq!(body["subjects"][0]["name"], "alice@acme.io");
        }),
        // The isolation policy no longer lets the removed namespace in.
        apply_call(
            "/apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/tenant-isolation",
            "NetworkPolicy",
        )
        .check(|_, body| assert!(!body.to_string().contains("tenant-acme-ci"), "{body}")),
        call(Method::DELETE, "/api/v1/namespaces/tenant-acme-ci")
            .reply(200, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-acme-ci"}})),
        call(
            Method::DELETE,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/tenant-acme/rolebindings/tenant-old",
        )
        .reply(
            404,
            failure(404, "NotFound", "rolebindings \"tenant-old\" not found"),
        ),
        call(Method::PATCH, &format!("{TENANTS}/acme/status"))
            .check(|_, body| {
                assert_eq!(body["status"]["namespaces"], json!(["tenant-acme"]));
                assert_eq!(body["status"]["observedGeneration"], 4);
            })
            .reply(200, reply),
    ];
    let verifier = tokio::spawn(async move { verify(&mut handle, calls).await });
    run(ctx, after).await.unwrap();
    verifier.await.unwrap();
}

fn deleted(mut t: Tenant) -> Tenant {
    t.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    t.metadata.finalizers = Some(vec!["other.example.com/keep".into(), FINALIZER.into()]);
    t
}

#[tokio::test]
async fn deletion_deletes_the_namespaces_then_releases_the_finalizer() {
    let (ctx, mut writers, mut handle) = context();
    let t = deleted(ready(
        tenant().with_tier(Tier::Pro).with_namespace("ci"),
        &["tenant-acme", "tenant-acme-ci"],
    ));
    seed(&mut writers, &plan_of(&t));
    let reply = tenant_json(&t);
    let calls = vec![
        call(Method::DELETE, "/api/v1/namespaces/tenant-acme").reply(
            200,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-acme"}}),
        ),
        call(Method::DELETE, "/api/v1/namespaces/tenant-acme-ci").reply(
            404,
            failure(404, "NotFound", "namespaces \"tenant-acme-ci\" not found"),
        ),
        call(Method::PATCH, &format!("{TENANTS}/acme"))
            .check(|_, body| {
                assert_eq!(
                    body["metadata"]["finalizers"],
                    json!(["other.example.com/keep"]),
                    "only our finalizer is released"
                );
            })
            .reply(200, reply),
    ];
    let verifier = tokio::spawn(async move { verify(&mut handle, calls).await });
    assert_eq!(run(ctx, t).await.unwrap(), Action::await_change());
    verifier.await.unwrap();
}

#[tokio::test]
async fn deletion_with_retain_keeps_the_namespaces_without_owner() {
    let (ctx, mut writers, mut handle) = context();
    let mut t = deleted(ready(tenant(), &["tenant-acme"]));
    t.metadata.annotations = Some([(RETAIN_ANNOTATION.to_owned(), "true".to_owned())].into());
    seed(&mut writers, &plan_of(&t));
    let reply = tenant_json(&t);
    let calls = vec![
        call(Method::PATCH, "/api/v1/namespaces/tenant-acme").check(|query, body| {
            assert_apply(query);
            assert!(
                body["metadata"].get("ownerReferences").is_none(),
                "the owner reference is dropped so the garbage collector keeps it: {body}"
            );
            assert_eq!(body["metadata"]["labels"]["mtp.dev/tenant"], "acme");
            assert_eq!(
                body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
                "restricted"
            );
            assert_eq!(
                body["metadata"]["annotations"]["mtp.dev/retained-from-tenant"],
                "acme"
            );
        }),
        call(Method::PATCH, &format!("{TENANTS}/acme"))
            .check(|_, body| {
                assert_eq!(
                    body["metadata"]["finalizers"],
                    json!(["other.example.com/keep"])
                );
            })
            .reply(200, reply),
    ];
    let verifier = tokio::spawn(async move { verify(&mut handle, calls).await });
    run(ctx, t).await.unwrap();
    verifier.await.unwrap();
}

#[tokio::test]
async fn a_deleted_tenant_without_our_finalizer_is_left_alone() {
    let (ctx, mut writers, _handle) = context();
    let mut t = deleted(tenant());
    t.metadata.finalizers = Some(vec!["other.example.com/keep".into()]);
    seed(&mut writers, &plan_of(&t));
    assert_eq!(run(ctx, t).await.unwrap(), Action::await_change());
}

#[tokio::test(start_paused = true)]
async fn apiserver_errors_set_the_status_publish_an_event_and_back_off() {
    let (ctx, _writers, mut handle) = context();
    let t = with_finalizer(tenant());
    let reply = tenant_json(&t);
    let np = "/apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/tenant-isolation";
    for (attempt, retry) in [(1u32, 1u64), (2, 2), (3, 4)] {
        // The first attempt applies every object (the NetworkPolicy is refused); later ones
        // only what has not been applied yet (the others' writes are in flight: no watch here).
        let mut calls: Vec<Call> = if attempt == 1 {
            plan_calls("tenant-acme")
        } else {
            vec![apply_call(np, "NetworkPolicy")]
        };
        let i = calls.iter().position(|c| c.path == np).unwrap();
        calls[i] = call(Method::PATCH, np)
            .reply(
                403,
                failure(
                    403,
                    "Forbidden",
                    "networkpolicies.networking.k8s.io \"tenant-isolation\" is forbidden: User \"system:serviceaccount:mtp-system:mtp-controller\" cannot patch resource",
                ),
            );
        let status_reply = reply.clone();
        // The status says the same at every attempt: written once (the Tenant handed to this
        // test never shows it, as a cache that lags behind the write would not).
        let status_call = (attempt == 1).then(|| {
            call(Method::PATCH, &format!("{TENANTS}/acme/status"))
                .check(move |_, body| {
                    let c = &body["status"]["conditions"][0];
                    assert_eq!(c["status"], "False");
                    assert_eq!(c["reason"], "Forbidden");
                    let message = c["message"].as_str().unwrap();
                    assert!(
                        message.contains("cannot apply NetworkPolicy tenant-acme/tenant-isolation"),
                        "{message}"
                    );
                    assert!(message.contains("cannot patch resource"), "{message}");
                    assert!(
                        message.ends_with("retrying with backoff (1s doubling to 60s)"),
                        "the status has no countdown (a new one at each attempt would be a \
                         watch event each): {message}"
                    );
                })
                .reply(200, status_reply)
        });
        calls.extend(status_call);
        let first = attempt == 1;
        let mut moved = handle;
        let verifier = tokio::spawn(async move {
            verify(&mut moved, calls).await;
            // The first Event is created; its repeats are a series: a PATCH of the first one.
            let (request, send) = moved.next_request().await.unwrap();
            let expected = if first { Method::POST } else { Method::PATCH };
            assert_eq!(request.method(), expected);
            assert!(
                request
                    .uri()
                    .path()
                    .starts_with("/apis/events.k8s.io/v1/namespaces/default/events"),
                "{}",
                request.uri()
            );
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["type"], "Warning");
            assert_eq!(body["reason"], "Forbidden");
            assert_eq!(body["regarding"]["kind"], "Tenant");
            assert_eq!(body["regarding"]["name"], "acme");
            assert!(body["note"].as_str().unwrap().contains("tenant-isolation"));
            if !first {
                assert_eq!(body["series"]["count"], attempt);
            }
            common::respond(send, 200, &body);
            moved
        });
        let t_arc = Arc::new(t.clone());
        let err = run(ctx.clone(), t.clone()).await.unwrap_err();
        handle = verifier.await.unwrap();
        assert_eq!(err.reason(), "Forbidden");
        assert_eq!(
            error_policy(t_arc, &err, ctx.clone()),
            Action::requeue(Duration::from_secs(retry)),
            "exponential backoff"
        );
        // Triggers meanwhile (watch events, the status write) are held, not attempts: the
        // reconcile answers the time left without a call (one would hang: nobody answers it).
        for _ in 0..20 {
            assert_eq!(
                run(ctx.clone(), t.clone()).await.unwrap(),
                Action::requeue(Duration::from_secs(retry))
            );
        }
        tokio::time::advance(Duration::from_secs(retry)).await;
    }
    let metrics = ctx.metrics.encode();
    assert!(
        metrics.contains(r#"mtp_controller_reconcile_errors_total{reason="Forbidden"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"mtp_controller_tenants{tier="free",ready="false"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_waits_for_a_change() {
    let (ctx, _writers, mut handle) = context();
    // The free tier allows one namespace in all.
    let t = with_finalizer(tenant().with_namespace("ci"));
    let reply = tenant_json(&t);
    let calls = vec![
        call(Method::PATCH, &format!("{TENANTS}/acme/status"))
            .check(|_, body| {
                let c = &body["status"]["conditions"][0];
                assert_eq!(c["status"], "False");
                assert_eq!(c["reason"], "InvalidSpec");
                let message = c["message"].as_str().unwrap();
                assert!(message.contains("spec.namespaces"), "{message}");
                assert!(message.contains("tier free allows 1"), "{message}");
                assert!(message.contains("fix the Tenant's spec"), "{message}");
            })
            .reply(200, reply),
        call(
            Method::POST,
            "/apis/events.k8s.io/v1/namespaces/default/events",
        )
        .check(|_, body| assert_eq!(body["reason"], "InvalidSpec")),
    ];
    let verifier = tokio::spawn(async move { verify(&mut handle, calls).await });
    let err = run(ctx.clone(), t.clone()).await.unwrap_err();
    verifier.await.unwrap();
    assert_eq!(error_policy(Arc::new(t), &err, ctx), Action::await_change());
}

#[tokio::test]
async fn a_conflict_is_retried_without_a_warning() {
    let (ctx, _writers, mut handle) = context();
    let t = tenant();
    let calls = vec![
        call(Method::PATCH, &format!("{TENANTS}/acme")).reply(
            409,
            failure(
                409,
                "Conflict",
                "Operation cannot be fulfilled on tenants.mtp.dev \"acme\": the object has been modified",
            ),
        ),
    ];
    let verifier = tokio::spawn(async move { verify(&mut handle, calls).await });
    // No status write and no Event follow: they would hang the reconcile.
    let err = run(ctx.clone(), t.clone()).await.unwrap_err();
    verifier.await.unwrap();
    assert_eq!(err.reason(), "Conflict");
    assert_eq!(
        error_policy(Arc::new(t), &err, ctx),
        Action::requeue(Duration::from_secs(1))
    );
}
