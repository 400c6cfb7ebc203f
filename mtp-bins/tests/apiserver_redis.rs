//! `--redis-url` on the real `mtp-apiserver` binary: two replicas share one per-identity budget
//! through Redis (the shared server at 127.0.0.1:6379, which must run), while without Redis each
//! has its own; when Redis goes away the replicas limit on their own (fail open, a warning, a
//! metric) or, with `--redis-fail-closed`, answer 429; when it is back it is used again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_proc;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use apiserver_proc::{Proc, RawResponse, TempDir, request, write_admin_key};

const SHARED_REDIS: &str = "127.0.0.1:6379";

fn http(addr: SocketAddr, req: &[u8]) -> RawResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    RawResponse::parse(&raw)
}

fn whoami(server: &Proc, key: &str) -> RawResponse {
    http(
        server.addr,
        &request("GET", "/api/v1/whoami", Some(key), None),
    )
}

/// `mtp_apiserver_rate_limit_redis_fallbacks_total{limiter="<limiter>"}` of `server`.
fn fallbacks(server: &Proc, limiter: &str) -> Option<u64> {
    let text = http(server.addr, &request("GET", "/metrics", None, None)).body;
    let prefix =
        format!("mtp_apiserver_rate_limit_redis_fallbacks_total{{limiter=\"{limiter}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
}

/// Fails (never skips) when the shared Redis does not answer PING.
fn require_shared_redis() {
    let mut s = TcpStream::connect(SHARED_REDIS)
        .expect("Redis must run on 127.0.0.1:6379 for this test (see README.md)");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

/// Two directories (own SQLite each) with the same platform-admin key; returns the key.
fn two_dirs(tag: &str) -> (TempDir, TempDir, String) {
    let a = TempDir::new(&format!("{tag}-a"));
    let b = TempDir::new(&format!("{tag}-b"));
    let id = format!("rl-{}", uuid::Uuid::new_v4().simple());
    let key = write_admin_key(a.path(), &id);
    std::fs::copy(a.path().join("mtp-api-keys"), b.path().join("mtp-api-keys")).unwrap();
    (a, b, key)
}

/// Per identity: 5 at once, then 1 per second.
const LIMIT: [&str; 4] = ["--rate-limit-burst", "5", "--rate-limit-rps", "1"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = LIMIT.to_vec();
    v.extend_from_slice(extra);
    v
}

fn assert_rate_limited(r: &RawResponse) {
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{r:?}");
    assert_eq!(r.header("ratelimit-policy"), Some("\"default\";q=5;w=5"));
    assert!(
        r.header("ratelimit")
            .unwrap()
            .starts_with("\"default\";r=0;"),
        "{r:?}"
    );
}

#[test]
fn two_replicas_share_one_budget_through_redis_and_not_without() {
    require_shared_redis();
    let prefix = format!("mtp-test-{}:", uuid::Uuid::new_v4().simple());
    let redis = [
        "--redis-url",
        "redis://127.0.0.1:6379",
        "--redis-key-prefix",
        &prefix,
    ];
    let (da, db, key) = two_dirs("shared");
    let a = Proc::start(da.path(), &args(&redis));
    let b = Proc::start(db.path(), &args(&redis));

    // Alternating A, B, A, B, A: five in total empty the one budget.
    let mut statuses = Vec::new();
    for i in 0..5 {
        let server = if i % 2 == 0 { &a } else { &b };
        let r = whoami(server, &key);
        assert!(r.header("ratelimit").is_some(), "{r:?}");
        statuses.push(r.status);
    }
    assert_eq!(statuses, [200; 5]);
    assert_rate_limited(&whoami(&b, &key));
    assert_rate_limited(&whoami(&a, &key));
    // Redis answered every check: nothing fell back.
    for s in [&a, &b] {
        assert_eq!(fallbacks(s, "identity"), Some(0));
        assert_eq!(fallbacks(s, "ip"), Some(0));
        assert!(!s.stderr().contains("Redis rate limiter unavailable"));
    }
    drop((a, b));

    // Without Redis each replica has its own budget: ten in total, the eleventh is refused.
    let (dc, dd, key) = two_dirs("local");
    let c = Proc::start(dc.path(), &args(&[]));
    let d = Proc::start(dd.path(), &args(&[]));
    let mut statuses = Vec::new();
    for i in 0..10 {
        let server = if i % 2 == 0 { &c } else { &d };
        statuses.push(whoami(server, &key).status);
    }
    assert_eq!(statuses, [200; 10]);
    assert_rate_limited(&whoami(&c, &key));
    assert_rate_limited(&whoami(&d, &key));
    assert_eq!(fallbacks(&c, "identity"), None, "no Redis, no Redis metric");
}

/// A `redis-server` of this test on its own port, killed on drop (the shared one is never
/// touched).
struct ThrowawayRedis {
    child: Child,
}

impl ThrowawayRedis {
    fn start(port: u16) -> ThrowawayRedis {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is required (run .ci/install-deps)");
        for _ in 0..250 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return ThrowawayRedis { child };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on {port}");
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn redis_going_away_fails_open_with_a_warning_and_a_metric_then_recovers() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let redis = ThrowawayRedis::start(port);
    let (dir, _unused, key) = two_dirs("outage");
    let server = Proc::start(dir.path(), &args(&["--redis-url", &url]));

    for _ in 0..5 {
        assert_eq!(whoami(&server, &key).status, 200);
    }
    assert_rate_limited(&whoami(&server, &key));
    assert_eq!(fallbacks(&server, "identity"), Some(0));

    drop(redis);
    // Fail open: the replica's own in-process budget (fresh) answers, with a warning and the
    // metric, instead of refusing everyone.
    let r = whoami(&server, &key);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        server.wait_log("Redis rate limiter unavailable", Duration::from_secs(5)),
        "{}",
        server.stderr()
    );
    let during = fallbacks(&server, "identity").unwrap();
    assert!(during >= 1, "{during}");
    assert!(fallbacks(&server, "ip").unwrap() >= 1);
    // Still limited, by the local budget.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(whoami(&server, &key).status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    // Redis back (empty): used again after the one-second pause, no more fallbacks.
    let _redis = ThrowawayRedis::start(port);
    std::thread::sleep(Duration::from_millis(1300));
    let before = fallbacks(&server, "identity").unwrap();
    for _ in 0..3 {
        assert_eq!(whoami(&server, &key).status, 200);
    }
    assert_eq!(fallbacks(&server, "identity").unwrap(), before);
}

#[test]
fn redis_unreachable_with_fail_closed_answers_429() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let (dir, _unused, key) = two_dirs("closed");
    let server = Proc::start(
        dir.path(),
        &args(&["--redis-url", &url, "--redis-fail-closed"]),
    );
    let r = whoami(&server, &key);
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    assert!(fallbacks(&server, "ip").unwrap() >= 1);
    assert_eq!(
        http(server.addr, &request("GET", "/healthz", None, None)).status,
        200,
        "the public endpoints do not depend on Redis"
    );
}
