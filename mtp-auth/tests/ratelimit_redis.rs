//! Rate limiting in Redis (feature `redis`): GCRA shared between instances, with fallback and
//! fail-closed when Redis is unreachable. Needs Redis on 127.0.0.1:6379.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mtp_auth::ratelimit::{Quota, RateLimiter, RedisLimiter, RedisLimiterConfig};

fn unique_prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("mtp:test:{name}:{}:{nanos}:", std::process::id())
}

#[tokio::test]
async fn redis_budget_is_shared_between_two_limiters() {
    let quota = Quota::new(1, 5).unwrap();
    let mut cfg = RedisLimiterConfig::new("redis://127.0.0.1:6379");
    cfg.key_prefix = unique_prefix("shared");
    let a = RedisLimiter::new(cfg.clone(), quota).unwrap();
    let b = RedisLimiter::new(cfg, quota).unwrap();
    let mut seen = Vec::new();
    for i in 0..5 {
        let d = if i % 2 == 0 {
            a.check_redis("alice").await.unwrap()
        } else {
            b.check_redis("alice").await.unwrap()
        };
        assert!(d.allowed, "request {i}");
        seen.push(d.remaining);
    }
    assert_eq!(seen, [4, 3, 2, 1, 0]);
    for l in [&a, &b] {
        let d = l.check("alice").await;
        assert!(!d.allowed);
        let wait = d.retry_after.unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }
    // Other keys have their own budget.
    assert!(b.check("bob").await.allowed);
    assert_eq!(a.fallback_count() + b.fallback_count(), 0);
}

#[tokio::test]
async fn redis_unreachable_falls_back_and_counts_it() {
    let quota = Quota::new(1, 2).unwrap();
    // Port 1 on loopback: nothing listens there.
    let mut cfg = RedisLimiterConfig::new("redis://127.0.0.1:1");
    cfg.key_prefix = unique_prefix("down");
    let open = RedisLimiter::new(cfg.clone(), quota).unwrap();
    assert!(open.check_redis("k").await.is_err());
    assert!(open.check("k").await.allowed);
    assert!(open.check("k").await.allowed);
    assert!(
        !open.check("k").await.allowed,
        "the in-process fallback still limits"
    );
    assert_eq!(open.fallback_count(), 3);

    cfg.fail_closed = true;
    let closed = RedisLimiter::new(cfg, quota).unwrap();
    let d = closed.check("k").await;
    assert!(!d.allowed);
    assert!(d.retry_after.is_some());
    assert_eq!(closed.fallback_count(), 1);
}

#[test]
fn bad_redis_url_is_a_config_error() {
    let e = RedisLimiter::new(
        RedisLimiterConfig::new("http://nope"),
        Quota::new(1, 1).unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("invalid configuration: --redis-url:"), "{e}");
}

struct ThrowawayRedis {
    child: std::process::Child,
}

impl ThrowawayRedis {
    fn start(port: u16) -> Self {
        let mut child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is required (run .ci/install-deps)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
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

#[tokio::test]
async fn redis_outage_falls_back_then_recovers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = ThrowawayRedis::start(port);
    let mut cfg = RedisLimiterConfig::new(format!("redis://127.0.0.1:{port}"));
    cfg.retry_every = Duration::from_millis(200);
    let l = RedisLimiter::new(cfg, Quota::new(100, 100).unwrap()).unwrap();
    assert!(l.check("k").await.allowed);
    assert_eq!(l.fallback_count(), 0);
    drop(redis);
    assert!(l.check("k").await.allowed);
    assert_eq!(l.fallback_count(), 1);
    // Within retry_every Redis is not even tried.
    assert!(l.check("k").await.allowed);
    assert_eq!(l.fallback_count(), 2);
    let _redis = ThrowawayRedis::start(port);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let d = l.check("k").await;
    assert!(d.allowed);
    assert_eq!(l.fallback_count(), 2, "Redis is used again once it is back");
    // A fresh server: the budget starts over there.
    assert_eq!(d.remaining, 99);
}
