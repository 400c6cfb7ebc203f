//! Static API keys: parsing (each error with its line), reload keeping the old set, lookups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mtp_auth::static_keys::{KeySet, StaticKeys, generate_key, hash_key};
use mtp_auth::{AuthMethod, Authenticator};

const H1: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"; // "foo"
const H2: &str = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"; // "bar"

fn err(text: &str) -> String {
    KeySet::parse(text, "keys.txt").unwrap_err().to_string()
}

#[test]
fn parses_comments_blank_lines_and_groups() {
    let set = KeySet::parse(
        &format!("# header\n\n  ci:{H1}:admins,ops  \n# x\nbot:{H2}\n"),
        "keys.txt",
    )
    .unwrap();
    assert_eq!(set.key_ids().collect::<Vec<_>>(), ["ci", "bot"]);
    let e = set.lookup("foo").unwrap();
    assert_eq!(e.key_id, "ci");
    assert_eq!(e.groups, ["admins", "ops"]);
    assert!(set.lookup("bar").unwrap().groups.is_empty());
    assert!(set.lookup("baz").is_none());
    assert!(set.lookup("").is_none());
    assert_eq!(hash_key("foo"), H1);
}

#[test]
fn each_error_names_its_line() {
    assert_eq!(
        err("# ok\n\nnocolon\n"),
        "keys.txt: line 3: expected <key-id>:<sha256-hex>[:<group>,...]"
    );
    assert_eq!(err(&format!(":{H1}\n")), "keys.txt: line 1: empty key id");
    assert_eq!(
        err("ci:abc\n"),
        "keys.txt: line 1: hash of key `ci` must be 64 hex digits (SHA-256), found 3 characters"
    );
    let bad_hex = "z".repeat(64);
    assert!(err(&format!("ci:{bad_hex}")).starts_with("keys.txt: line 1: hash of key `ci`"));
    assert_eq!(
        err(&format!("a:{H1}\nb:{H2}\na:{}\n", "0".repeat(64))),
        "keys.txt: line 3: duplicate key id `a`"
    );
    assert_eq!(
        err(&format!("a:{H1}\n\nb:{H1}\n")),
        "keys.txt: line 3: key `b` has the same hash as an earlier key"
    );
    assert_eq!(
        err(&format!("a:{H1}:x,,y\n")),
        "keys.txt: line 1: empty group name for key `a`"
    );
    // Groups come last and may contain ':' (the platform-admin group is `mtp:platform-admins`).
    let set = KeySet::parse(&format!("a:{H1}:x:y,z\n"), "keys.txt").unwrap();
    assert_eq!(set.lookup("foo").unwrap().groups, ["x:y", "z"]);
    assert!(
        err(&format!("a b:{H1}\n")).starts_with("keys.txt: line 1: key id `a b` may only contain")
    );
    assert_eq!(
        err(&format!("a:{H1}:x y\n")),
        "keys.txt: line 1: group `x y` contains whitespace"
    );
}

#[test]
fn reload_keeps_the_previous_set_when_the_file_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    std::fs::write(&path, format!("ci:{H1}\n")).unwrap();
    let keys = StaticKeys::from_file(&path).unwrap();
    assert_eq!(keys.check("foo").unwrap().subject, "apikey:ci");
    // A botched edit: the old key keeps working, the error names the line.
    std::fs::write(&path, format!("ci:{H1}\nbroken line\n")).unwrap();
    let e = keys.reload().unwrap_err().to_string();
    assert!(
        e.ends_with("line 2: expected <key-id>:<sha256-hex>[:<group>,...]"),
        "{e}"
    );
    assert!(keys.check("foo").is_ok());
    std::fs::remove_file(&path).unwrap();
    assert!(
        keys.reload()
            .unwrap_err()
            .to_string()
            .starts_with("cannot read")
    );
    assert!(keys.check("foo").is_ok());
    // A good edit replaces the set.
    std::fs::write(&path, format!("bot:{H2}:ops\n")).unwrap();
    assert_eq!(keys.reload().unwrap(), 1);
    assert!(keys.check("foo").is_err());
    assert_eq!(keys.check("bar").unwrap().groups, ["ops"]);
}

#[test]
fn missing_file_at_start_is_an_error() {
    let e = StaticKeys::from_file("/nonexistent/keys")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot read /nonexistent/keys"), "{e}");
}

#[tokio::test]
async fn generated_key_authenticates_and_secrets_stay_out_of_debug() {
    let k = generate_key("deploy-bot", &["ci".into()]).unwrap();
    assert!(k.secret.starts_with("mtp_") && k.secret.len() > 40);
    assert!(!format!("{k:?}").contains(&k.secret));
    let keys = StaticKeys::from_set(KeySet::parse(&k.line, "gen").unwrap());
    let id = keys.authenticate(&k.secret).await.unwrap();
    assert_eq!(
        id.method,
        AuthMethod::StaticKey {
            key_id: "deploy-bot".into()
        }
    );
    assert_eq!(id.groups, ["ci"]);
    let e = keys.authenticate("mtp_wrong").await.unwrap_err();
    assert_eq!(e.to_string(), "authentication failed");
    assert!(!format!("{:?}", keys.current()).contains(&hash_key(&k.secret)));
    assert!(generate_key("bad id", &[]).is_err());
}

#[test]
fn lookup_compares_every_entry() {
    // The constant-time path: a set of many keys, every lookup walks all of them; the matched
    // entry is the right one whether it is first, last, or absent.
    let lines: String = (0..200)
        .map(|i| format!("k{i}:{}\n", hash_key(&format!("secret-{i}"))))
        .collect();
    let set = KeySet::parse(&lines, "many").unwrap();
    assert_eq!(set.lookup("secret-0").unwrap().key_id, "k0");
    assert_eq!(set.lookup("secret-199").unwrap().key_id, "k199");
    assert!(set.lookup("secret-200").is_none());
}

#[tokio::test]
async fn file_changes_are_picked_up_and_bad_edits_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    std::fs::write(&path, format!("ci:{H1}\n")).unwrap();
    let keys = std::sync::Arc::new(StaticKeys::from_file(&path).unwrap());
    let task = keys.spawn_reload_on_change(std::time::Duration::from_millis(20));
    std::fs::write(&path, format!("ci:{H1}\nbot:{H2}\n")).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(keys.check("bar").is_ok(), "new key not picked up");
    std::fs::write(&path, "this is not a keys file\n").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(keys.check("foo").is_ok() && keys.check("bar").is_ok());
    drop(keys);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(task.is_finished());
}
