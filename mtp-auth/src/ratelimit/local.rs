//! In-process keyed GCRA (governor) with periodic housekeeping.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;

use super::{Decision, Quota, RateLimiter};

type Inner = governor::RateLimiter<
    String,
    DashMapStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

thread_local! {
    // Reused key buffer: governor looks keys up by `&K`, this avoids an allocation per check.
    static KEY_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// An in-process limiter keyed by string (subject, IP, ...).
///
/// Memory stays bounded: [`LocalLimiter::housekeep`] (run periodically by
/// [`LocalLimiter::spawn_housekeeping`]) drops keys whose budget is full again and shrinks the map.
///
/// ```
/// use mtp_auth::ratelimit::{LocalLimiter, Quota};
/// let l = LocalLimiter::new(Quota::new(1, 2).unwrap());
/// assert!(l.check_now("alice").allowed);
/// assert!(l.check_now("alice").allowed);
/// let d = l.check_now("alice");
/// assert!(!d.allowed && d.retry_after.is_some());
/// assert!(l.check_now("bob").allowed);
/// ```
pub struct LocalLimiter {
    inner: Inner,
    clock: DefaultClock,
    quota: Quota,
}

impl std::fmt::Debug for LocalLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLimiter")
            .field("quota", &self.quota)
            .field("keys", &self.inner.len())
            .finish()
    }
}

impl LocalLimiter {
    /// A limiter applying `quota` to every key.
    pub fn new(quota: Quota) -> Self {
        let clock = DefaultClock::default();
        let gq = governor::Quota::per_second(quota.per_second).allow_burst(quota.burst);
        let inner: Inner =
            governor::RateLimiter::new(gq, DashMapStateStore::default(), clock.clone());
        LocalLimiter {
            inner,
            clock,
            quota,
        }
    }

    /// Synchronous check (what [`RateLimiter::check`] does).
    pub fn check_now(&self, key: &str) -> Decision {
        let outcome = KEY_BUF.with(|b| match b.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                buf.push_str(key);
                self.inner.check_key(&buf)
            }
            Err(_) => self.inner.check_key(&key.to_string()),
        });
        let limit = self.quota.burst.get();
        let period = self.quota.period();
        match outcome {
            Ok(snap) => {
                let remaining = snap.remaining_burst_capacity().min(limit);
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset: period * (limit - remaining),
                    retry_after: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset: period * limit,
                    retry_after: Some(wait),
                }
            }
        }
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Drops keys whose budget is full again (they are indistinguishable from new ones) and
    /// releases the freed memory.
    pub fn housekeep(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }

    /// Runs [`LocalLimiter::housekeep`] every `every` until the limiter is dropped.
    pub fn spawn_housekeeping(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(this) = weak.upgrade() else { break };
                this.housekeep();
            }
        })
    }
}

#[async_trait]
impl RateLimiter for LocalLimiter {
    async fn check(&self, key: &str) -> Decision {
        self.check_now(key)
    }
    fn quota(&self) -> Quota {
        self.quota
    }
}
