//! `oneshot` tests of the API router: every endpoint, role and error, on an in-memory SQLite
//! store with static keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use mtp_auth::ratelimit::{LocalLimiter, Quota};
use mtp_auth::static_keys::{KeySet, StaticKeys, hash_key};
use mtp_bins::apiserver::{ApiState, app};
use mtp_core::{ListParams, Store};
use mtp_store::SeaStore;
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: &str = "k-platform-admin";
const ALICE: &str = "k-alice"; // tenant admin of acme
const BOB: &str = "k-bob"; // viewer of acme
const CAROL: &str = "k-carol"; // operator of acme
const EVE: &str = "k-eve"; // member of nothing

fn keys() -> Arc<StaticKeys> {
    let text = [
        ("root", ADMIN, ":mtp:platform-admins"),
        ("alice", ALICE, ""),
        ("bob", BOB, ":dev"),
        ("carol", CAROL, ""),
        ("eve", EVE, ""),
    ]
    .iter()
    .map(|(id, secret, groups)| format!("{id}:{}{groups}\n", hash_key(secret)))
    .collect::<String>();
    Arc::new(StaticKeys::from_set(KeySet::parse(&text, "test").unwrap()))
}

struct Api {
    app: Router,
    store: Arc<SeaStore>,
}

async fn api_with(f: impl FnOnce(&mut ApiState)) -> Api {
    let store = Arc::new(SeaStore::open("sqlite::memory:").await.unwrap());
    let mut state = ApiState::new(store.clone(), keys());
    f(&mut state);
    Api {
        app: app(state),
        store,
    }
}

async fn api() -> Api {
    api_with(|_| {}).await
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// Asserts a problem+json of `status` and `kind`.
    fn problem(&self, status: u16, kind: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(
            self.body["type"],
            format!("https://mtp.dev/problems/{kind}"),
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        self
    }

    fn pointers(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Api {
    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        let req = match body {
            Some((ct, text)) => b.header("content-type", ct).body(Body::from(text)),
            None => b.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    async fn get(&self, path: &str, key: &str) -> Resp {
        self.call(Method::GET, path, Some(key), None, &[]).await
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> Resp {
        self.call(
            Method::POST,
            path,
            Some(key),
            Some(("application/json", body.to_string())),
            &[],
        )
        .await
    }

    async fn put(&self, path: &str, key: &str, body: Value, if_match: Option<&str>) -> Resp {
        let h: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
        self.call(
            Method::PUT,
            path,
            Some(key),
            Some(("application/json", body.to_string())),
            &h,
        )
        .await
    }

    async fn patch(&self, path: &str, key: &str, body: Value, if_match: Option<&str>) -> Resp {
        let h: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
        self.call(
            Method::PATCH,
            path,
            Some(key),
            Some(("application/merge-patch+json", body.to_string())),
            &h,
        )
        .await
    }

    async fn delete(&self, path: &str, key: &str) -> Resp {
        self.call(Method::DELETE, path, Some(key), None, &[]).await
    }

    /// acme (pro) with alice admin, carol operator, bob viewer.
    async fn acme(&self) -> Resp {
        let r = self
            .post(
                "/api/v1/tenants",
                ADMIN,
                json!({"name": "acme", "tier": "pro", "ownerEmail": "ops@acme.io",
                       "displayName": "ACME", "admins": ["apikey:alice"],
                       "operators": ["apikey:carol"], "viewers": ["apikey:bob"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r
    }

    async fn audit_count(&self) -> usize {
        self.store
            .list_audit(&ListParams {
                limit: 1000,
                ..ListParams::default()
            })
            .await
            .unwrap()
            .items
            .len()
    }
}

#[tokio::test]
async fn create_get_and_list_as_platform_admin() {
    let api = api().await;
    let r = api.acme().await;
    assert_eq!(r.header("etag"), "\"1\"");
    assert_eq!(r.header("location"), "/api/v1/tenants/acme");
    assert_eq!(r.body["name"], "acme");
    assert_eq!(r.body["displayName"], "ACME");
    assert_eq!(r.body["tier"], "pro");
    assert_eq!(r.body["ownerEmail"], "ops@acme.io");
    assert_eq!(r.body["admins"], json!(["apikey:alice"]));
    assert_eq!(r.body["operators"], json!(["apikey:carol"]));
    assert_eq!(r.body["viewers"], json!(["apikey:bob"]));
    assert_eq!(r.body["version"], 1);
    assert!(r.body["createdAt"].is_string() && r.body["updatedAt"].is_string());
    assert_eq!(r.body["status"]["state"], "unknown");

    let g = api.get("/api/v1/tenants/acme", ADMIN).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.header("etag"), "\"1\"");
    assert_eq!(g.body["uid"], r.body["uid"]);

    let l = api.get("/api/v1/tenants", ADMIN).await;
    assert_eq!(l.status, StatusCode::OK);
    assert_eq!(l.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(l.body["items"][0]["admins"], json!(["apikey:alice"]));
    assert!(l.body.get("continue").unwrap().is_null());
}

#[tokio::test]
async fn members_see_their_tenants_others_get_404_not_403() {
    let api = api().await;
    api.acme().await;
    api.post(
        "/api/v1/tenants",
        ADMIN,
        json!({"name": "other", "tier": "free", "ownerEmail": "o@x.io"}),
    )
    .await;
    for key in [ALICE, BOB, CAROL] {
        let g = api.get("/api/v1/tenants/acme", key).await;
        assert_eq!(g.status, StatusCode::OK, "{key}");
        let l = api.get("/api/v1/tenants", key).await;
        let names: Vec<&str> = l.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["acme"], "{key}");
        api.get("/api/v1/tenants/other", key)
            .await
            .problem(404, "not-found");
    }
    let l = api.get("/api/v1/tenants", EVE).await;
    assert_eq!(l.body["items"], json!([]));
    // Every path about a tenant Eve is not in answers the same 404 as a missing tenant.
    for path in [
        "/api/v1/tenants/acme",
        "/api/v1/tenants/acme/members",
        "/api/v1/tenants/acme/audit",
        "/api/v1/tenants/nope",
    ] {
        let a = api.get(path, EVE).await;
        a.problem(404, "not-found");
    }
    let missing = api.get("/api/v1/tenants/nope", EVE).await;
    let hidden = api.get("/api/v1/tenants/acme", EVE).await;
    assert_eq!(
        missing.body["detail"]
            .as_str()
            .unwrap()
            .replace("nope", "X"),
        hidden.body["detail"].as_str().unwrap().replace("acme", "X")
    );
    api.put(
        "/api/v1/tenants/acme",
        EVE,
        json!({"tier": "pro", "ownerEmail": "x@y.z"}),
        None,
    )
    .await
    .problem(404, "not-found");
    api.patch(
        "/api/v1/tenants/acme",
        EVE,
        json!({"displayName": "x"}),
        None,
    )
    .await
    .problem(404, "not-found");
    api.delete("/api/v1/tenants/acme", EVE)
        .await
        .problem(404, "not-found");
    api.post(
        "/api/v1/tenants/acme/members",
        EVE,
        json!({"userId": "apikey:eve", "role": "admin"}),
    )
    .await
    .problem(404, "not-found");
    api.delete("/api/v1/tenants/acme/members/apikey:bob", EVE)
        .await
        .problem(404, "not-found");
    // Nothing changed.
    let g = api.get("/api/v1/tenants/acme", ADMIN).await;
    assert_eq!(g.body["version"], 1);
    assert_eq!(g.body["viewers"], json!(["apikey:bob"]));
}

#[tokio::test]
async fn only_platform_admins_create_and_delete() {
    let api = api().await;
    api.acme().await;
    for key in [ALICE, EVE] {
        api.post(
            "/api/v1/tenants",
            key,
            json!({"name": "mine", "tier": "free", "ownerEmail": "a@b.c"}),
        )
        .await
        .problem(403, "forbidden");
    }
    api.delete("/api/v1/tenants/acme", ALICE)
        .await
        .problem(403, "forbidden");
    let d = api.delete("/api/v1/tenants/acme", ADMIN).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    api.get("/api/v1/tenants/acme", ADMIN)
        .await
        .problem(404, "not-found");
    api.delete("/api/v1/tenants/acme", ADMIN)
        .await
        .problem(404, "not-found");
    // The name is free again.
    api.acme().await;
}

#[tokio::test]
async fn delete_with_stale_if_match_is_409() {
    let api = api().await;
    api.acme().await;
    let r = api
        .call(
            Method::DELETE,
            "/api/v1/tenants/acme",
            Some(ADMIN),
            None,
            &[("if-match", "\"7\"")],
        )
        .await;
    r.problem(409, "conflict");
    let r = api
        .call(
            Method::DELETE,
            "/api/v1/tenants/acme",
            Some(ADMIN),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn validation_lists_every_invalid_field() {
    let api = api().await;
    let r = api
        .post(
            "/api/v1/tenants",
            ADMIN,
            json!({"name": "Not_A_Label", "tier": "gold", "ownerEmail": "nope",
                   "displayName": "", "admins": ["ok", " padded"], "viewers": ["ok"],
                   "egress": "everywhere", "namespaces": ["ci", "ci", "Bad"],
                   "quota": {"pods": "many", "gpus": "1"}, "colour": "blue"}),
        )
        .await;
    r.problem(422, "validation");
    let mut p = r.pointers();
    p.sort();
    let mut want = vec![
        "/name",
        "/tier",
        "/ownerEmail",
        "/displayName",
        "/admins/1",
        "/viewers/0",
        "/egress",
        "/namespaces/1",
        "/namespaces/2",
        "/quota/pods",
        "/quota/gpus",
        "/colour",
    ];
    want.sort();
    assert_eq!(p, want, "{}", r.body);
    for e in r.body["errors"].as_array().unwrap() {
        assert!(!e["detail"].as_str().unwrap().is_empty());
    }
    let r = api.post("/api/v1/tenants", ADMIN, json!({})).await;
    r.problem(422, "validation");
    let mut p = r.pointers();
    p.sort();
    assert_eq!(p, ["/name", "/ownerEmail", "/tier"]);
    let r = api.post("/api/v1/tenants", ADMIN, json!([1, 2])).await;
    r.problem(422, "validation");
    assert_eq!(r.pointers(), [""]);
    let r = api
        .post(
            "/api/v1/tenants",
            ADMIN,
            json!({"name": 5, "tier": "pro", "ownerEmail": "a@b.c", "admins": "alice"}),
        )
        .await;
    let mut p = r.pointers();
    p.sort();
    assert_eq!(p, ["/admins", "/name"]);
    assert_eq!(
        api.get("/api/v1/tenants", ADMIN).await.body["items"],
        json!([])
    );
}

#[tokio::test]
async fn malformed_bodies_wrong_types_and_big_bodies() {
    let api = api().await;
    let r = api
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(ADMIN),
            Some(("application/json", "{\"name\": ".into())),
            &[],
        )
        .await;
    r.problem(400, "malformed-json");
    assert!(r.body["detail"].as_str().unwrap().contains("line 1"));
    let r = api
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(ADMIN),
            Some(("text/plain", "{}".into())),
            &[],
        )
        .await;
    r.problem(415, "unsupported-media-type");
    let r = api
        .call(Method::POST, "/api/v1/tenants", Some(ADMIN), None, &[])
        .await;
    r.problem(415, "unsupported-media-type");
    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let r = api
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(ADMIN),
            Some(("application/json", big)),
            &[],
        )
        .await;
    r.problem(413, "payload-too-large");
    // application/json with a charset is fine.
    let r = api
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(ADMIN),
            Some((
                "application/json; charset=utf-8",
                json!({"name": "a", "tier": "free", "ownerEmail": "a@b.c"}).to_string(),
            )),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn duplicate_name_is_409() {
    let api = api().await;
    api.acme().await;
    let r = api
        .post(
            "/api/v1/tenants",
            ADMIN,
            json!({"name": "acme", "tier": "free", "ownerEmail": "a@b.c"}),
        )
        .await;
    r.problem(409, "conflict");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    assert_eq!(
        api.get("/api/v1/tenants/acme", ADMIN).await.body["tier"],
        "pro"
    );
}

#[tokio::test]
async fn authentication_failures_are_401_problems() {
    let api = api().await;
    for key in [None, Some("wrong-key")] {
        let r = api
            .call(Method::GET, "/api/v1/tenants", key, None, &[])
            .await;
        r.problem(401, "unauthenticated");
        assert!(r.header("www-authenticate").starts_with("Bearer"));
        assert!(!r.body.to_string().contains("wrong-key"));
    }
    let r = api
        .call(
            Method::GET,
            "/api/v1/whoami",
            None,
            None,
            &[("authorization", "Basic YTpi")],
        )
        .await;
    r.problem(401, "unauthenticated");
}

#[tokio::test]
async fn put_replaces_with_etags_and_roles() {
    let api = api().await;
    api.acme().await;
    let body = json!({"tier": "pro", "ownerEmail": "new@acme.io", "displayName": "ACME 2",
                      "admins": ["apikey:alice"], "viewers": ["apikey:bob", "apikey:dave"],
                      "egress": "internet"});
    // Viewer and operator: 403 (they can see it).
    for key in [BOB, CAROL] {
        api.put("/api/v1/tenants/acme", key, body.clone(), Some("\"1\""))
            .await
            .problem(403, "forbidden");
    }
    // Tenant admin with the current ETag.
    let r = api
        .put("/api/v1/tenants/acme", ALICE, body.clone(), Some("\"1\""))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("etag"), "\"2\"");
    assert_eq!(r.body["displayName"], "ACME 2");
    assert_eq!(r.body["egress"], "internet");
    assert_eq!(r.body["operators"], json!([]), "full replace drops carol");
    assert_eq!(r.body["viewers"], json!(["apikey:bob", "apikey:dave"]));
    // Stale ETag.
    let r = api
        .put("/api/v1/tenants/acme", ALICE, body.clone(), Some("\"1\""))
        .await;
    r.problem(409, "conflict");
    assert!(r.body["detail"].as_str().unwrap().contains("version"));
    // Malformed If-Match.
    api.put("/api/v1/tenants/acme", ALICE, body.clone(), Some("one"))
        .await
        .problem(400, "invalid-header");
    // Tenant admins cannot change the tier; platform admins can.
    let mut gold = body.clone();
    gold["tier"] = json!("enterprise");
    api.put("/api/v1/tenants/acme", ALICE, gold.clone(), None)
        .await
        .problem(403, "forbidden");
    let r = api
        .put("/api/v1/tenants/acme", ADMIN, gold.clone(), Some("\"2\""))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tier"], "enterprise");
    // Renaming is refused; invalid fields are listed.
    let mut renamed = gold.clone();
    renamed["name"] = json!("other");
    renamed["ownerEmail"] = json!("bad");
    let r = api.put("/api/v1/tenants/acme", ADMIN, renamed, None).await;
    r.problem(422, "validation");
    let mut p = r.pointers();
    p.sort();
    assert_eq!(p, ["/name", "/ownerEmail"]);
    // A GET body can be PUT back as is (read-only fields ignored).
    let g = api.get("/api/v1/tenants/acme", ADMIN).await;
    let r = api
        .put(
            "/api/v1/tenants/acme",
            ADMIN,
            g.body.clone(),
            Some(g.header("etag")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 4);
    // PUT on a missing tenant.
    api.put("/api/v1/tenants/nope", ADMIN, body, None)
        .await
        .problem(404, "not-found");
}

#[tokio::test]
async fn patch_is_a_merge_patch() {
    let api = api().await;
    api.acme().await;
    let r = api
        .patch(
            "/api/v1/tenants/acme",
            ALICE,
            json!({"displayName": "Renamed", "egress": "none"}),
            Some("\"1\""),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Renamed");
    assert_eq!(r.body["egress"], "none");
    assert_eq!(r.body["ownerEmail"], "ops@acme.io");
    assert_eq!(r.body["viewers"], json!(["apikey:bob"]));
    assert_eq!(r.header("etag"), "\"2\"");
    // null removes; members can be patched as lists.
    let r = api
        .patch(
            "/api/v1/tenants/acme",
            ADMIN,
            json!({"egress": null, "viewers": []}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The tier's default applies, and the answer says so.
    assert_eq!(r.body["egress"], "internet");
    assert_eq!(r.body["egressDefaulted"], true);
    assert_eq!(r.body["viewers"], json!([]));
    api.patch("/api/v1/tenants/acme", ALICE, json!({"tier": "free"}), None)
        .await
        .problem(403, "forbidden");
    api.patch("/api/v1/tenants/acme", ADMIN, json!({"tier": "x"}), None)
        .await
        .problem(422, "validation");
    api.patch("/api/v1/tenants/acme", ADMIN, json!({}), Some("\"1\""))
        .await
        .problem(409, "conflict");
    // application/json is not a merge patch.
    let r = api
        .call(
            Method::PATCH,
            "/api/v1/tenants/acme",
            Some(ADMIN),
            Some(("application/json", "{}".into())),
            &[],
        )
        .await;
    r.problem(415, "unsupported-media-type");
    assert!(r.body["detail"].as_str().unwrap().contains("merge-patch"));
}

#[tokio::test]
async fn members_endpoints() {
    let api = api().await;
    api.acme().await;
    let l = api.get("/api/v1/tenants/acme/members", BOB).await;
    assert_eq!(l.status, StatusCode::OK);
    let users: Vec<(&str, &str)> = l.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["userId"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        users,
        [
            ("apikey:alice", "admin"),
            ("apikey:bob", "viewer"),
            ("apikey:carol", "operator")
        ]
    );
    assert!(l.body["continue"].is_null());
    // Viewers and operators cannot add.
    for key in [BOB, CAROL] {
        api.post(
            "/api/v1/tenants/acme/members",
            key,
            json!({"userId": "x", "role": "viewer"}),
        )
        .await
        .problem(403, "forbidden");
    }
    let r = api
        .post(
            "/api/v1/tenants/acme/members",
            ALICE,
            json!({"userId": "apikey:eve", "role": "operator"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["userId"], "apikey:eve");
    assert_eq!(r.body["role"], "operator");
    assert_eq!(r.header("etag"), "\"2\"");
    // Eve now sees acme; the tenant lists her.
    let g = api.get("/api/v1/tenants/acme", EVE).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body["operators"], json!(["apikey:carol", "apikey:eve"]));
    assert_eq!(g.body["version"], 2);
    // Duplicate, bad role, missing fields.
    api.post(
        "/api/v1/tenants/acme/members",
        ADMIN,
        json!({"userId": "apikey:eve", "role": "admin"}),
    )
    .await
    .problem(409, "conflict");
    let r = api
        .post(
            "/api/v1/tenants/acme/members",
            ADMIN,
            json!({"userId": "", "role": "owner"}),
        )
        .await;
    r.problem(422, "validation");
    let mut p = r.pointers();
    p.sort();
    assert_eq!(p, ["/role", "/userId"]);
    api.post("/api/v1/tenants/acme/members", ADMIN, json!({}))
        .await
        .problem(422, "validation");
    // Remove.
    let d = api
        .delete("/api/v1/tenants/acme/members/apikey:eve", ALICE)
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    api.get("/api/v1/tenants/acme", EVE)
        .await
        .problem(404, "not-found");
    api.delete("/api/v1/tenants/acme/members/apikey:eve", ALICE)
        .await
        .problem(404, "not-found");
    api.delete("/api/v1/tenants/acme/members/apikey:alice", BOB)
        .await
        .problem(403, "forbidden");
    // Members on a missing tenant.
    api.get("/api/v1/tenants/nope/members", ADMIN)
        .await
        .problem(404, "not-found");
}

#[tokio::test]
async fn audit_records_every_mutation_with_request_ids() {
    let api = api().await;
    api.acme().await;
    api.call(
        Method::POST,
        "/api/v1/tenants/acme/members",
        Some(ALICE),
        Some((
            "application/json",
            json!({"userId": "dave", "role": "viewer"}).to_string(),
        )),
        &[("x-request-id", "req-42")],
    )
    .await;
    api.patch(
        "/api/v1/tenants/acme",
        BOB,
        json!({"displayName": "x"}),
        None,
    )
    .await
    .problem(403, "forbidden");
    api.delete("/api/v1/tenants/acme/members/dave", ALICE).await;
    let a = api.get("/api/v1/tenants/acme/audit", ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let rows: Vec<(String, String, String, String)> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["actor"].as_str().unwrap().into(),
                r["action"].as_str().unwrap().into(),
                r["target"].as_str().unwrap().into(),
                r["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
    assert_eq!(
        rows,
        vec![
            s("apikey:root", "tenant.create", "tenant/acme", "success"),
            s(
                "apikey:alice",
                "member.add",
                "tenant/acme/member/dave",
                "success"
            ),
            s("apikey:bob", "tenant.update", "tenant/acme", "denied"),
            s(
                "apikey:alice",
                "member.remove",
                "tenant/acme/member/dave",
                "success"
            ),
        ]
    );
    assert_eq!(a.body["items"][1]["requestId"], "req-42");
    assert!(a.body["items"][0]["requestId"].is_string());
    // Pagination of the audit log.
    let p = api.get("/api/v1/tenants/acme/audit?limit=3", ADMIN).await;
    assert_eq!(p.body["items"].as_array().unwrap().len(), 3);
    let next = p.body["continue"].as_str().unwrap().to_string();
    let p2 = api
        .get(
            &format!("/api/v1/tenants/acme/audit?limit=3&continue={next}"),
            ADMIN,
        )
        .await;
    assert_eq!(p2.body["items"].as_array().unwrap().len(), 1);
    assert!(p2.body["continue"].is_null());
    // Viewers and operators may not read it.
    for key in [BOB, CAROL] {
        api.get("/api/v1/tenants/acme/audit", key)
            .await
            .problem(403, "forbidden");
    }
}

#[tokio::test]
async fn pagination_and_tier_filter() {
    let api = api().await;
    for (i, tier) in ["free", "pro", "free", "enterprise", "free"]
        .iter()
        .enumerate()
    {
        let r = api
            .post(
                "/api/v1/tenants",
                ADMIN,
                json!({"name": format!("t{i}"), "tier": tier, "ownerEmail": "a@b.c",
                       "viewers": if i % 2 == 0 { json!(["apikey:bob"]) } else { json!([]) }}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut names = Vec::new();
    let mut url = "/api/v1/tenants?limit=2".to_string();
    loop {
        let r = api.get(&url, ADMIN).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        names.extend(
            items
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string()),
        );
        match r.body["continue"].as_str() {
            Some(c) => url = format!("/api/v1/tenants?limit=2&continue={c}"),
            None => break,
        }
    }
    assert_eq!(names, ["t0", "t1", "t2", "t3", "t4"]);
    let free = api.get("/api/v1/tenants?tier=free", ADMIN).await;
    assert_eq!(free.body["items"].as_array().unwrap().len(), 3);
    let bobs = api.get("/api/v1/tenants?tier=free&limit=1", BOB).await;
    assert_eq!(bobs.body["items"][0]["name"], "t0");
    let c = bobs.body["continue"].as_str().unwrap().to_string();
    let bobs2 = api
        .get(
            &format!("/api/v1/tenants?tier=free&limit=5&continue={c}"),
            BOB,
        )
        .await;
    let n: Vec<&str> = bobs2.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(n, ["t2", "t4"]);
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "tier=gold",
        "continue=garbage",
    ] {
        let r = api.get(&format!("/api/v1/tenants?{bad}"), ADMIN).await;
        r.problem(400, "invalid-parameter");
        assert_eq!(r.body["errors"].as_array().unwrap().len(), 1, "{bad}");
    }
}

#[tokio::test]
async fn whoami_auth_config_and_probes() {
    let api = api().await;
    let w = api.get("/api/v1/whoami", ADMIN).await;
    assert_eq!(
        w.body,
        json!({"user": "apikey:root", "groups": ["mtp:platform-admins"], "method": "static-key",
               "platformAdmin": true, "subject": "apikey:root"})
    );
    let w = api.get("/api/v1/whoami", BOB).await;
    assert_eq!(w.body["platformAdmin"], false);
    assert_eq!(w.body["groups"], json!(["dev"]));
    let c = api
        .call(Method::GET, "/api/v1/auth-config", None, None, &[])
        .await;
    assert_eq!(
        c.body,
        json!({"issuer": null, "clientId": null, "audience": null})
    );
    for path in ["/healthz", "/readyz"] {
        let r = api.call(Method::GET, path, None, None, &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["status"], "ok");
    }
    api.get("/api/v1/whoami", ADMIN).await;
    let m = api.call(Method::GET, "/metrics", None, None, &[]).await;
    // The content type of every mtp component's /metrics (mtp_bins::runtime::probes).
    assert_eq!(
        m.header("content-type"),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = m.body.as_str().unwrap();
    assert!(
        text.contains(
            r#"mtp_apiserver_requests_total{method="GET",route="/api/v1/whoami",status="200"}"#
        ),
        "{text}"
    );
    api.call(Method::GET, "/nope", None, None, &[])
        .await
        .problem(404, "not-found");
    api.call(Method::POST, "/healthz", None, None, &[])
        .await
        .problem(405, "method-not-allowed");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let api = api().await;
    let r = api
        .call(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("x-request-id", "abc-1")],
        )
        .await;
    assert_eq!(r.header("x-request-id"), "abc-1");
    let r = api
        .call(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("x-request-id", &"x".repeat(300))],
        )
        .await;
    assert_eq!(r.header("x-request-id").len(), 36, "replaced by a UUID");
}

#[tokio::test]
async fn identity_rate_limit_is_429_with_headers() {
    let api = api_with(|s| {
        s.identity_limiter = Some(Arc::new(LocalLimiter::new(Quota::new(1, 2).unwrap())));
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = api.get("/api/v1/whoami", BOB).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            r.problem(429, "rate-limited");
            assert!(!r.header("retry-after").is_empty());
            assert!(!r.header("ratelimit").is_empty());
        } else {
            assert!(!r.header("ratelimit-policy").is_empty());
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
    // Another identity has its own budget.
    assert_eq!(
        api.get("/api/v1/whoami", ALICE).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ip_rate_limit_runs_before_authentication() {
    let api = api_with(|s| {
        s.ip_limiter = Some(Arc::new(LocalLimiter::new(Quota::new(1, 2).unwrap())));
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            api.call(Method::GET, "/api/v1/whoami", Some("guess"), None, &[])
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 429]);
}

#[tokio::test]
async fn gateway_check() {
    let api = api().await;
    let r = api
        .call(Method::GET, "/authz/check/api/v1/x", Some(BOB), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-mtp-subject"), "apikey:bob");
    assert_eq!(r.header("x-mtp-groups"), "dev");
    api.call(Method::POST, "/authz/check", None, None, &[])
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn refused_requests_change_nothing() {
    let api = api().await;
    api.acme().await;
    let before = api.get("/api/v1/tenants/acme", ADMIN).await.body;
    let audits = api.audit_count().await;
    api.put(
        "/api/v1/tenants/acme",
        ALICE,
        json!({"tier": "pro", "ownerEmail": "x", "admins": ["a", "a"]}),
        None,
    )
    .await
    .problem(422, "validation");
    api.post(
        "/api/v1/tenants",
        ADMIN,
        json!({"name": "acme-ci", "tier": "pro", "ownerEmail": "a@b.c"}),
    )
    .await;
    // acme's extra namespace "ci" would be tenant-acme-ci, which acme-ci owns: 409, nothing
    // written (no half update of the fields).
    api.patch(
        "/api/v1/tenants/acme",
        ADMIN,
        json!({"namespaces": ["ci"], "displayName": "changed"}),
        None,
    )
    .await
    .problem(409, "conflict");
    let after = api.get("/api/v1/tenants/acme", ADMIN).await.body;
    assert_eq!(before, after);
    // Only the audit records of the refusals (and acme-ci's creation) were added.
    assert_eq!(api.audit_count().await, audits + 3);
}

#[tokio::test]
async fn refused_member_adds_name_the_member_and_422_details_say_each_field_once() {
    let api = api().await;
    api.acme().await;
    api.post(
        "/api/v1/tenants/acme/members",
        BOB,
        json!({"userId": "apikey:zed", "role": "viewer"}),
    )
    .await
    .problem(403, "forbidden");
    let a = api.get("/api/v1/tenants/acme/audit", ADMIN).await;
    let last = a.body["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "member.add", "{last}");
    assert_eq!(last["outcome"], "denied", "{last}");
    assert_eq!(last["target"], "tenant/acme/member/apikey:zed", "{last}");
    let r = api
        .post(
            "/api/v1/tenants",
            ADMIN,
            json!({"name": "x", "tier": "gold", "ownerEmail": "o@x.io",
                   "namespaces": ["a".repeat(40), "b".repeat(41)]}),
        )
        .await;
    r.problem(422, "validation");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("/tier: "), "{detail}");
    assert_eq!(detail.matches("/tier").count(), 1, "{detail}");
    let mut p = r.pointers();
    p.sort();
    assert_eq!(p, ["/namespaces/1", "/tier"]);
}
