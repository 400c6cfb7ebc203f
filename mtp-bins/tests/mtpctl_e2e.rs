//! mtpctl end to end against a real `mtp-apiserver` on loopback (SQLite, static keys): every
//! command in each output format, and the error line and exit code for 401, 403, 404, 409, 422,
//! 429 and a server that is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "mtpctl_common/mod.rs"]
mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{ApiServer, mtpctl};
use serde_json::Value;

const ADMIN: &str = "mtp_admin-secret-0123456789";
const ALICE: &str = "mtp_alice-secret-0123456789";

fn keys() -> [(&'static str, &'static str, &'static str); 2] {
    [
        ("admin", ADMIN, "mtp:platform-admins"),
        ("alice", ALICE, ""),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_and_members_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let server = ApiServer::start(dir.path(), &keys(), &[]).await;
    let home = dir.path().join("home");
    let key_file = dir.path().join("admin.key");
    std::fs::write(&key_file, format!("{ADMIN}\n")).unwrap();
    let h = home.as_path();

    // Log in with a key file: saved (0600) in a context named after the server.
    // (MTP_API_KEY, set to another user's key, does not get in the way of the check.)
    let r = mtpctl(
        h,
        &[("MTP_API_KEY", ALICE)],
        &[
            "login",
            "--server",
            &server.url,
            "--api-key-file",
            key_file.to_str().unwrap(),
        ],
    )
    .await;
    r.ok();
    let ctx = server.url.trim_start_matches("http://").to_string();
    assert!(
        r.stderr
            .contains(&format!("as apikey:admin (context {ctx})")),
        "{r:?}"
    );
    let config = home.join("mtp/config.toml");
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        mtpctl(h, &[], &["config", "current-context"]).await.ok(),
        format!("{ctx}\n")
    );

    let who = mtpctl(h, &[], &["whoami"]).await;
    assert_eq!(
        who.ok(),
        "USER           GROUPS                METHOD       PLATFORM-ADMIN\n\
         apikey:admin   mtp:platform-admins   static-key   true\n"
    );
    let who: Value =
        serde_json::from_str(mtpctl(h, &[], &["whoami", "-o", "json"]).await.ok()).unwrap();
    assert_eq!(who["platformAdmin"], true);

    // Create from flags and from a Tenant file.
    let r = mtpctl(
        h,
        &[],
        &[
            "tenants",
            "create",
            "acme",
            "--tier",
            "pro",
            "--owner",
            "owner@acme.io",
            "--admin",
            "apikey:alice",
            "--admin",
            "bob@acme.io",
            "--display-name",
            "Acme Inc",
        ],
    )
    .await;
    assert_eq!(r.ok(), "tenant acme created\n");
    let file = dir.path().join("beta.yaml");
    std::fs::write(
        &file,
        "apiVersion: mtp.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: beta\nspec:\n  displayName: Beta\n  tier: free\n  ownerEmail: owner@beta.io\n",
    )
    .unwrap();
    let r = mtpctl(
        h,
        &[],
        &[
            "tenants",
            "create",
            "-f",
            file.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .await;
    let beta: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(beta["name"], "beta");
    assert_eq!(beta["version"], 1);

    // list: table, --no-headers, json, yaml, a tier filter, one page.
    let table = mtpctl(h, &[], &["tenants", "list"]).await;
    let lines: Vec<&str> = table.ok().lines().collect();
    assert_eq!(lines.len(), 3, "{table:?}");
    let words = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        words(lines[0]),
        [
            "NAME", "TIER", "OWNER", "ADMINS", "VERSION", "STATUS", "AGE"
        ]
    );
    assert_eq!(
        words(lines[1])[..6],
        [
            "acme",
            "pro",
            "owner@acme.io",
            "apikey:alice,bob@acme.io",
            "1",
            "unknown"
        ]
    );
    assert_eq!(
        words(lines[2])[..6],
        ["beta", "free", "owner@beta.io", "<none>", "1", "unknown"]
    );
    // Aligned: every column starts at the same offset on every line.
    let col = lines[0].find("TIER").unwrap();
    assert!(
        lines.iter().all(|l| l[col..].starts_with(['p', 'f', 'T'])),
        "{lines:?}"
    );
    let no_headers = mtpctl(h, &[], &["tenants", "list", "--no-headers"]).await;
    assert_eq!(no_headers.ok().lines().count(), 2);
    assert!(no_headers.stdout.starts_with("acme "));
    let json: Value = serde_json::from_str(
        mtpctl(h, &[], &["tenants", "list", "-o", "json"])
            .await
            .ok(),
    )
    .unwrap();
    let names: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "beta"]);
    let yaml: Value = serde_yaml::from_str(
        mtpctl(h, &[], &["tenants", "list", "-o", "yaml"])
            .await
            .ok(),
    )
    .unwrap();
    assert_eq!(yaml, json);
    let pro = mtpctl(
        h,
        &[],
        &["tenants", "list", "--tier", "pro", "--no-headers"],
    )
    .await;
    assert_eq!(pro.ok().lines().count(), 1);
    let page = mtpctl(h, &[], &["tenants", "list", "--limit", "1", "--no-headers"]).await;
    assert_eq!(page.ok().lines().count(), 1);
    let token = page
        .stderr
        .trim()
        .strip_prefix("More results: add --continue ")
        .unwrap()
        .to_string();
    let next = mtpctl(
        h,
        &[],
        &[
            "tenants",
            "list",
            "--limit",
            "1",
            "--continue",
            &token,
            "--no-headers",
        ],
    )
    .await;
    assert!(next.ok().starts_with("beta "), "{next:?}");

    // get, update (merge patch), update -f with the version in the file, stale If-Match.
    let acme: Value = serde_json::from_str(
        mtpctl(h, &[], &["tenants", "get", "acme", "-o", "json"])
            .await
            .ok(),
    )
    .unwrap();
    assert_eq!(acme["displayName"], "Acme Inc");
    let r = mtpctl(
        h,
        &[],
        &[
            "tenants",
            "update",
            "acme",
            "--display-name",
            "Acme Corp",
            "--if-match",
            "1",
        ],
    )
    .await;
    assert_eq!(r.ok(), "tenant acme updated\n");
    let yaml = mtpctl(h, &[], &["tenants", "get", "acme", "-o", "yaml"]).await;
    let acme: Value = serde_yaml::from_str(yaml.ok()).unwrap();
    assert_eq!(acme["displayName"], "Acme Corp");
    assert_eq!(acme["version"], 2);
    let edit = dir.path().join("acme.yaml");
    std::fs::write(&edit, yaml.stdout.replace("Acme Corp", "Acme Group")).unwrap();
    mtpctl(
        h,
        &[],
        &["tenants", "update", "acme", "-f", edit.to_str().unwrap()],
    )
    .await
    .ok();
    // The same file again: its version is stale now.
    let r = mtpctl(
        h,
        &[],
        &["tenants", "update", "acme", "-f", edit.to_str().unwrap()],
    )
    .await;
    let line = r.fails(1);
    assert!(line.starts_with("error: 409 Conflict: "), "{line}");

    // Members.
    let r = mtpctl(
        h,
        &[],
        &[
            "members",
            "add",
            "acme",
            "carol@acme.io",
            "--role",
            "operator",
        ],
    )
    .await;
    assert_eq!(r.ok(), "member carol@acme.io added to acme as operator\n");
    let m = mtpctl(h, &[], &["members", "list", "acme"]).await;
    assert_eq!(
        m.ok(),
        "USER            ROLE\napikey:alice    admin\nbob@acme.io     admin\ncarol@acme.io   operator\n"
    );
    let m: Value = serde_json::from_str(
        mtpctl(h, &[], &["members", "list", "acme", "-o", "json"])
            .await
            .ok(),
    )
    .unwrap();
    assert_eq!(m["items"].as_array().unwrap().len(), 3);
    let r = mtpctl(h, &[], &["members", "remove", "acme", "bob@acme.io"]).await;
    assert_eq!(r.ok(), "member bob@acme.io removed from acme\n");
    let acme: Value = serde_json::from_str(
        mtpctl(h, &[], &["tenants", "get", "acme", "-o", "json"])
            .await
            .ok(),
    )
    .unwrap();
    assert_eq!(acme["admins"], serde_json::json!(["apikey:alice"]));
    assert_eq!(acme["operators"], serde_json::json!(["carol@acme.io"]));

    // Audit: the changes above, newest last or first, with the actor.
    let audit = mtpctl(h, &[], &["audit", "acme"]).await;
    let text = audit.ok();
    assert!(text.starts_with("TIME "), "{text}");
    for action in ["tenant.create", "member.add", "member.remove"] {
        assert!(text.contains(action), "{action} in {text}");
    }
    assert!(text.contains("apikey:admin"));

    // Errors: 404, 409, 422 (each invalid field), 403, 401.
    let line = mtpctl(h, &[], &["tenants", "get", "nope"])
        .await
        .fails(1)
        .to_string();
    assert_eq!(line, "error: 404 Not Found: tenant \"nope\" not found");
    let line = mtpctl(
        h,
        &[],
        &[
            "tenants",
            "create",
            "acme",
            "--tier",
            "free",
            "--owner",
            "o@acme.io",
        ],
    )
    .await
    .fails(1)
    .to_string();
    assert_eq!(
        line,
        "error: 409 Conflict: a tenant named \"acme\" already exists"
    );
    let r = mtpctl(
        h,
        &[],
        &[
            "tenants", "create", "Bad_Name", "--tier", "gold", "--owner", "nope",
        ],
    )
    .await;
    let line = r.fails(1);
    assert!(
        line.starts_with("error: 422 Unprocessable Entity: "),
        "{line}"
    );
    for field in ["/name: ", "/tier: ", "/ownerEmail: "] {
        assert!(line.contains(field), "{field} in {line}");
    }
    let alice = [("MTP_API_KEY", ALICE)];
    let line = mtpctl(
        h,
        &alice,
        &[
            "tenants", "create", "x", "--tier", "free", "--owner", "o@x.io",
        ],
    )
    .await
    .fails(1)
    .to_string();
    assert!(line.starts_with("error: 403 Forbidden: "), "{line}");
    // Alice sees only her tenant; a tenant she may not see is a 404, not a 403.
    let mine = mtpctl(h, &alice, &["tenants", "list", "--no-headers"]).await;
    assert_eq!(mine.ok().lines().count(), 1);
    assert!(mine.stdout.starts_with("acme "));
    mtpctl(h, &alice, &["tenants", "get", "beta"])
        .await
        .fails(1);
    let r = mtpctl(h, &[("MTP_API_KEY", "mtp_not-a-key")], &["tenants", "list"]).await;
    let line = r.fails(3);
    assert!(line.starts_with("error: 401 Unauthorized"), "{line}");
    assert!(line.contains("(sent the API key in MTP_API_KEY)"), "{line}");
    assert!(!line.contains("not-a-key"));

    // `MTP_API_KEY=... mtpctl login`: the key is kept in its own context.
    let r = mtpctl(
        h,
        &alice,
        &["login", "--server", &server.url, "--context", "alice"],
    )
    .await;
    assert!(
        r.stderr.contains("as apikey:alice (context alice)"),
        "{r:?}"
    );
    let who = mtpctl(h, &[], &["whoami", "--no-headers"]).await;
    assert!(who.ok().starts_with("apikey:alice "), "{who:?}");
    mtpctl(h, &[], &["config", "use-context", &ctx]).await.ok();

    // A key the server refuses is not saved, and the current context stays.
    let bad_key = dir.path().join("bad.key");
    std::fs::write(&bad_key, "mtp_not-a-key\n").unwrap();
    let r = mtpctl(
        h,
        &[],
        &[
            "login",
            "--server",
            &server.url,
            "--context",
            "typo",
            "--api-key-file",
            bad_key.to_str().unwrap(),
        ],
    )
    .await;
    let line = r.fails(3).to_string();
    assert!(
        line.contains("(sent the new API key of context \"typo\")"),
        "{line}"
    );
    assert!(!line.contains("not-a-key"), "{line}");
    assert!(line.ends_with("; nothing saved"), "{line}");
    assert!(!std::fs::read_to_string(&config).unwrap().contains("typo"));
    assert_eq!(
        mtpctl(h, &[], &["config", "current-context"])
            .await
            .ok()
            .trim(),
        ctx
    );

    // delete, then the server goes away.
    assert_eq!(
        mtpctl(h, &[], &["tenants", "delete", "beta"]).await.ok(),
        "tenant beta deleted\n"
    );
    mtpctl(h, &[], &["tenants", "get", "beta"]).await.fails(1);
    let mut child = server.child;
    child.kill().await.unwrap();
    let line = mtpctl(h, &[], &["tenants", "list"])
        .await
        .fails(4)
        .to_string();
    assert!(
        line.starts_with(&format!(
            "error: cannot reach the mtp API server at {}/: connection failed",
            server.url
        )),
        "{line}"
    );

    // Nothing secret in any output or the contexts listing; logout forgets the key.
    let contexts = mtpctl(h, &[], &["config", "get-contexts", "-o", "yaml"]).await;
    assert!(!contexts.ok().contains(ADMIN));
    mtpctl(h, &[], &["logout"]).await.ok();
    assert!(!std::fs::read_to_string(&config).unwrap().contains(ADMIN));
    mtpctl(h, &[], &["whoami"]).await.fails(3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_is_one_line_with_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let server = ApiServer::start(
        dir.path(),
        &keys(),
        &["--rate-limit-rps", "1", "--rate-limit-burst", "1"],
    )
    .await;
    let home = dir.path().join("home");
    let env = [("MTP_API_KEY", ADMIN), ("MTP_SERVER", server.url.as_str())];
    let mut limited = None;
    for _ in 0..5 {
        let r = mtpctl(&home, &env, &["whoami"]).await;
        if r.code != 0 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a 429 within 5 quick calls at 1 request/s");
    let line = r.fails(1);
    assert!(line.starts_with("error: 429 Too Many Requests"), "{line}");
    assert!(line.contains("(retry after "), "{line}");
}
