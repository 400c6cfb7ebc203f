//! Rate limiting: in-process GCRA and its memory bound (no feature needed; Redis is in
//! `ratelimit_redis.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mtp_auth::ratelimit::{LocalLimiter, Quota, RateLimiter};

#[tokio::test]
async fn local_burst_then_denied_with_retry_after() {
    let l = LocalLimiter::new(Quota::new(2, 3).unwrap());
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let d = l.check("k").await;
        assert!(d.allowed);
        assert_eq!(d.limit, 3);
        remaining.push(d.remaining);
    }
    assert_eq!(remaining, [2, 1, 0]);
    let d = l.check("k").await;
    assert!(!d.allowed);
    let wait = d.retry_after.unwrap();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(500),
        "{wait:?}"
    );
    assert!(l.check("other").await.allowed);
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert!(l.check("k").await.allowed);
}

#[test]
fn quota_errors_are_clear() {
    assert_eq!(
        Quota::new(0, 1).unwrap_err().to_string(),
        "invalid configuration: rate limit: requests per second must be at least 1"
    );
    assert_eq!(
        Quota::new(1, 0).unwrap_err().to_string(),
        "invalid configuration: rate limit: burst must be at least 1"
    );
}

#[test]
fn memory_stays_bounded_under_a_million_distinct_keys() {
    // 1000/s with burst 1: a key's budget is full again 1 ms after its last request.
    let l = LocalLimiter::new(Quota::new(1000, 1).unwrap());
    for i in 0..1_000_000u32 {
        assert!(l.check_now(&format!("client-{i}")).allowed);
    }
    assert_eq!(l.len(), 1_000_000);
    // Idle, then housekeeping: back to ~0.
    std::thread::sleep(Duration::from_millis(20));
    l.housekeep();
    assert!(l.len() < 10, "{} keys left", l.len());
    // A key still inside its window survives housekeeping.
    let slow = LocalLimiter::new(Quota::new(1, 5).unwrap());
    slow.check_now("busy");
    slow.housekeep();
    assert_eq!(slow.len(), 1);
}

#[tokio::test]
async fn housekeeping_task_runs_periodically() {
    let l = std::sync::Arc::new(LocalLimiter::new(Quota::new(1000, 1).unwrap()));
    for i in 0..1000 {
        l.check_now(&format!("k{i}"));
    }
    let task = l.spawn_housekeeping(Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(l.len(), 0);
    task.abort();
}
