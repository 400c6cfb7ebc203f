//! A stateful fake apiserver for whole-binary tests of the controller: objects are kept by
//! resource, namespace and name; lists, gets, watches, server-side applies (a deep merge),
//! merge patches (RFC 7386, `/status` apart from the rest), creates, replaces and deletes act
//! on them as a kube-apiserver would in the ways the controller can observe: resourceVersions
//! grow, a write that changes nothing is a no-op (no new resourceVersion, no watch event), the
//! generation moves only with the spec, a deleted namespace takes its objects along, and watches
//! are answered with the events after the resourceVersion they ask for.
//!
//! Every request is recorded (method, path, query, body) so tests count writes per tenant and
//! assert what was written; `fail` makes chosen calls answer an error.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::{Value, json};

/// Where an object lives: API group, resource, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// The API group (`""` for the core group).
    pub group: String,
    /// The plural resource.
    pub resource: String,
    /// The namespace, for namespaced resources.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

/// A request path taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The API group (`""` for the core group).
    pub group: String,
    /// The plural resource.
    pub resource: String,
    /// The namespace in the path, if any.
    pub namespace: Option<String>,
    /// The name, if any.
    pub name: Option<String>,
    /// The subresource, if any.
    pub subresource: Option<String>,
}

/// A resource path taken apart as the apiserver does (`mtp_bins::rbac::request_attributes`,
/// the same reading the RBAC checks of the mocks use).
pub fn parse(path: &str) -> Option<Target> {
    let a = mtp_bins::rbac::request_attributes("GET", path, None).ok()?;
    let some = |s: String| (!s.is_empty()).then_some(s);
    Some(Target {
        group: a.api_group,
        resource: a.resource,
        namespace: some(a.namespace),
        name: some(a.name),
        subresource: some(a.subresource),
    })
}

/// A recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: Method,
    /// The path.
    pub path: String,
    /// The query.
    pub query: String,
    /// The body (`null` when empty).
    pub body: Value,
    /// Whether the write changed the stored object (false for reads and no-op writes).
    pub changed: bool,
}

impl Recorded {
    /// Whether the request is a write.
    pub fn is_write(&self) -> bool {
        self.method != Method::GET
    }
}

/// A rule that makes matching requests fail: (method, path) → (status, reason).
type FailRule = Box<dyn Fn(&Method, &str) -> Option<(u16, &'static str)> + Send>;

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    uid: u64,
    /// (resourceVersion, type, key, object)
    events: Vec<(u64, &'static str, Key, Value)>,
    log: Vec<Recorded>,
    fail: Option<FailRule>,
}

/// The fake apiserver: cheap to clone, shared with the task that serves it.
#[derive(Clone, Default)]
pub struct Fake {
    state: Arc<Mutex<State>>,
}

fn deep_merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, from) => *into = from.clone(),
    }
}

fn status_failure(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code, "message": message})
}

fn without_rv(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    v
}

fn selector_matches(query: &str, object: &Value) -> bool {
    let Some(selector) = query
        .split('&')
        .find_map(|p| p.strip_prefix("labelSelector="))
    else {
        return true;
    };
    let selector = selector.replace("%2F", "/").replace("%3D", "=");
    let labels = &object["metadata"]["labels"];
    selector.split(',').all(|term| match term.split_once('=') {
        Some((k, v)) => labels[k] == v,
        None => labels.get(term).is_some(),
    })
}

impl Fake {
    /// A fake apiserver and a client over it as the controller's ServiceAccount: like every
    /// mocked client ([`super::mock_client_as`]) its calls are recorded, and one the shipped RBAC
    /// does not allow is answered 403 without reaching the fake. Served by a spawned task.
    pub fn start() -> (Fake, kube::Client) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = Fake::default();
        let server = fake.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let server = server.clone();
                tokio::spawn(async move {
                    let (status, body) = server.serve(request).await;
                    send.send_response(
                        Response::builder()
                            .status(status)
                            .body(Body::from(body))
                            .unwrap(),
                    );
                });
            }
        });
        let sa = mtp_bins::rbac::ServiceAccount::new(
            super::recorder::PLATFORM_NAMESPACE,
            mtp_bins::install::CONTROLLER,
        );
        let client = super::recorder::recording_client(
            service,
            super::recorder::recorded_by_mocks(),
            Some(sa),
        );
        (fake, client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes requests for which `rule` answers `Some((status, reason))` fail so.
    pub fn fail(
        &self,
        rule: impl Fn(&Method, &str) -> Option<(u16, &'static str)> + Send + 'static,
    ) {
        self.lock().fail = Some(Box::new(rule));
    }

    /// Lets every request through again.
    pub fn heal(&self) {
        self.lock().fail = None;
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Recorded> {
        self.lock().log.clone()
    }

    /// The stored object at `path` (`/apis/mtp.dev/v1alpha1/tenants/acme`).
    pub fn get(&self, path: &str) -> Option<Value> {
        let key = Self::key(&parse(path)?)?;
        self.lock().objects.get(&key).cloned()
    }

    /// Every stored object of `resource` (plural).
    pub fn all(&self, resource: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|(k, _)| k.resource == resource)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Stores `object` at `path` as a write by someone else would (a watch event follows).
    pub fn put(&self, path: &str, object: Value) {
        let target = parse(path).expect("a resource path");
        let key = Self::key(&target).expect("a named path");
        let mut s = self.lock();
        s.store(key, object);
    }

    /// Deletes the object at `path` as someone else would (`kubectl delete`): marked with a
    /// deletionTimestamp while it has finalizers, gone otherwise.
    pub fn delete(&self, path: &str) {
        let mut s = self.lock();
        let (status, _) = s.handle(&Method::DELETE, path, "", &Value::Null, false);
        assert!(status < 300, "cannot delete {path}: {status}");
    }

    fn key(t: &Target) -> Option<Key> {
        Some(Key {
            group: t.group.clone(),
            resource: t.resource.clone(),
            namespace: if t.resource == "namespaces" {
                None
            } else {
                t.namespace.clone()
            },
            name: t.name.clone()?,
        })
    }

    async fn serve(&self, request: Request<Body>) -> (u16, Vec<u8>) {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let apply = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == b"application/apply-patch+yaml");
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        let watch = method == Method::GET && query.contains("watch=true");
        if watch {
            return self.watch(&path, &query).await;
        }
        let mut s = self.lock();
        let failed = s.fail.as_ref().and_then(|f| f(&method, &path));
        let before = s.rv;
        let (status, reply) = match failed {
            Some((code, reason)) => (code, status_failure(code, reason, "injected by the test")),
            None => s.handle(&method, &path, &query, &body, apply),
        };
        let changed = s.rv != before;
        s.log.push(Recorded {
            method,
            path,
            query,
            body,
            changed,
        });
        (status, serde_json::to_vec(&reply).unwrap())
    }

    async fn watch(&self, path: &str, query: &str) -> (u16, Vec<u8>) {
        let Some(target) = parse(path) else {
            return (404, b"{}".to_vec());
        };
        let since: u64 = query
            .split('&')
            .find_map(|p| p.strip_prefix("resourceVersion="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        self.lock().log.push(Recorded {
            method: Method::GET,
            path: path.to_owned(),
            query: query.to_owned(),
            body: Value::Null,
            changed: false,
        });
        // Long poll: answer with the events after `since` as soon as there are some (or after
        // 200 ms with none); the watcher then watches again from its last resourceVersion.
        for _ in 0..20 {
            let lines: Vec<String> = {
                let s = self.lock();
                s.events
                    .iter()
                    .filter(|(rv, _, k, object)| {
                        *rv > since
                            && k.group == target.group
                            && k.resource == target.resource
                            && (target.namespace.is_none() || k.namespace == target.namespace)
                            && selector_matches(query, object)
                    })
                    .map(|(_, t, _, object)| json!({"type": t, "object": object}).to_string())
                    .collect()
            };
            if !lines.is_empty() {
                return (200, (lines.join("\n") + "\n").into_bytes());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (200, Vec::new())
    }
}

impl State {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn store(&mut self, key: Key, mut object: Value) -> Value {
        let old = self.objects.get(&key).cloned();
        if let Some(old) = &old {
            // Server-owned metadata survives every write.
            for field in ["uid", "creationTimestamp", "generation"] {
                if let Some(v) = old["metadata"].get(field) {
                    object["metadata"][field] = v.clone();
                }
            }
            if old.get("spec") != object.get("spec")
                && object["metadata"].get("generation").is_some()
            {
                let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
                object["metadata"]["generation"] = json!(g + 1);
            }
            if without_rv(old) == without_rv(&object) {
                return old.clone();
            }
        } else {
            self.uid += 1;
            object["metadata"]["uid"] = json!(format!("00000000-0000-0000-0000-{:012}", self.uid));
            object["metadata"]["creationTimestamp"] = json!("2026-12-07T00:00:00Z");
            object["metadata"]["generation"] = json!(1);
        }
        let rv = self.next_rv();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let kind = if old.is_some() { "MODIFIED" } else { "ADDED" };
        self.events.push((rv, kind, key.clone(), object.clone()));
        self.objects.insert(key, object.clone());
        object
    }

    /// Stores `object` as it is (metadata included), with a new resourceVersion and an event.
    fn store_raw(&mut self, key: Key, mut object: Value) -> Value {
        let rv = self.next_rv();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.events
            .push((rv, "MODIFIED", key.clone(), object.clone()));
        self.objects.insert(key, object.clone());
        object
    }

    fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        let rv = self.next_rv();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.events
            .push((rv, "DELETED", key.clone(), object.clone()));
        if key.resource == "namespaces" {
            let inside: Vec<Key> = self
                .objects
                .keys()
                .filter(|k| k.namespace.as_deref() == Some(key.name.as_str()))
                .cloned()
                .collect();
            for k in inside {
                self.remove(&k);
            }
        }
        Some(object)
    }

    fn handle(
        &mut self,
        method: &Method,
        path: &str,
        query: &str,
        body: &Value,
        apply: bool,
    ) -> (u16, Value) {
        let Some(target) = parse(path) else {
            return (404, status_failure(404, "NotFound", "no such path"));
        };
        let not_found = || {
            (
                404,
                status_failure(404, "NotFound", &format!("{path} not found")),
            )
        };
        match (method.clone(), Fake::key(&target)) {
            (Method::GET, None) => {
                let items: Vec<Value> = self
                    .objects
                    .iter()
                    .filter(|(k, v)| {
                        k.group == target.group
                            && k.resource == target.resource
                            && (target.namespace.is_none() || k.namespace == target.namespace)
                            && selector_matches(query, v)
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": self.rv.to_string()}, "items": items}),
                )
            }
            (Method::GET, Some(key)) => match self.objects.get(&key) {
                Some(o) => (200, o.clone()),
                None => not_found(),
            },
            (Method::POST, None) => {
                let mut object = body.clone();
                let name = object["metadata"]["name"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        self.uid += 1;
                        format!("generated-{}", self.uid)
                    });
                object["metadata"]["name"] = json!(name);
                let key = Key {
                    group: target.group.clone(),
                    resource: target.resource.clone(),
                    namespace: target.namespace.clone(),
                    name,
                };
                if self.objects.contains_key(&key) {
                    return (409, status_failure(409, "AlreadyExists", "already exists"));
                }
                (201, self.store(key, object))
            }
            (Method::PUT, Some(key)) => {
                let Some(old) = self.objects.get(&key) else {
                    return not_found();
                };
                if body["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"] {
                    return (
                        409,
                        status_failure(409, "Conflict", "the object has been modified"),
                    );
                }
                (200, self.store(key, body.clone()))
            }
            (Method::PATCH, Some(key)) => {
                let existing = self.objects.get(&key).cloned();
                let status_only = target.subresource.as_deref() == Some("status");
                let mut object = match (&existing, apply) {
                    (Some(o), _) => o.clone(),
                    (None, true) => json!({}),
                    (None, false) => return not_found(),
                };
                if status_only {
                    json_patch::merge(&mut object, &json!({"status": body["status"].clone()}));
                } else if apply {
                    let mut b = body.clone();
                    if let Some(m) = b.as_object_mut() {
                        m.remove("status");
                    }
                    deep_merge(&mut object, &b);
                } else {
                    let mut b = body.clone();
                    if let Some(m) = b.as_object_mut() {
                        m.remove("status");
                    }
                    json_patch::merge(&mut object, &b);
                }
                let finalized = object["metadata"].get("deletionTimestamp").is_some()
                    && object["metadata"]["finalizers"]
                        .as_array()
                        .is_none_or(Vec::is_empty);
                if finalized {
                    return (200, self.remove(&key).unwrap_or(object));
                }
                (200, self.store(key, object))
            }
            (Method::DELETE, Some(key)) => {
                let Some(mut object) = self.objects.get(&key).cloned() else {
                    return not_found();
                };
                let finalizers = object["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty());
                if finalizers {
                    // Marked for deletion; gone once its finalizers are removed.
                    if object["metadata"].get("deletionTimestamp").is_none() {
                        object["metadata"]["deletionTimestamp"] = json!("2026-12-07T00:00:01Z");
                        let g = object["metadata"]["generation"].as_i64().unwrap_or(1);
                        object["metadata"]["generation"] = json!(g + 1);
                    }
                    return (200, self.store_raw(key, object));
                }
                match self.remove(&key) {
                    Some(o) => (200, o),
                    None => not_found(),
                }
            }
            _ => (
                405,
                status_failure(405, "MethodNotAllowed", "not supported by the fake"),
            ),
        }
    }
}
