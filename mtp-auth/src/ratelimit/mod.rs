//! Rate limiting: the [`RateLimiter`] trait, an in-process GCRA limiter ([`LocalLimiter`]) and
//! (feature `redis`) a Redis-backed one shared by replicas, `RedisLimiter`.

mod local;
#[cfg(feature = "redis")]
mod redis_gcra;

use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;

pub use local::LocalLimiter;
#[cfg(feature = "redis")]
pub use redis_gcra::{RedisLimiter, RedisLimiterConfig};

use crate::error::{Error, Result};

/// The outcome of one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The burst size (requests allowed at once).
    pub limit: u32,
    /// Requests still allowed right now after this one.
    pub remaining: u32,
    /// Time until the budget is full again.
    pub reset: Duration,
    /// When denied: how long to wait before retrying.
    pub retry_after: Option<Duration>,
}

/// A steady rate with a burst.
///
/// ```
/// let q = mtp_auth::ratelimit::Quota::new(10, 20).unwrap();
/// assert_eq!(q.window().as_secs(), 2);
/// assert!(mtp_auth::ratelimit::Quota::new(0, 5).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Burst size.
    pub burst: NonZeroU32,
}

impl Quota {
    /// `per_second` sustained, `burst` at once; both must be at least 1.
    pub fn new(per_second: u32, burst: u32) -> Result<Self> {
        let per_second = NonZeroU32::new(per_second).ok_or_else(|| {
            Error::Config("rate limit: requests per second must be at least 1".into())
        })?;
        let burst = NonZeroU32::new(burst)
            .ok_or_else(|| Error::Config("rate limit: burst must be at least 1".into()))?;
        Ok(Quota { per_second, burst })
    }

    /// Time between two requests at the sustained rate.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(1_000_000_000 / u64::from(self.per_second.get()))
    }

    /// Time for an empty budget to fill completely (the policy window).
    pub fn window(&self) -> Duration {
        self.period() * self.burst.get()
    }
}

/// Decides whether a request for `key` may proceed.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Checks (and consumes one unit of) the budget of `key`.
    async fn check(&self, key: &str) -> Decision;
    /// The quota applied (for the `RateLimit-Policy` header).
    fn quota(&self) -> Quota;
}

#[async_trait]
impl<T: RateLimiter + ?Sized> RateLimiter for std::sync::Arc<T> {
    async fn check(&self, key: &str) -> Decision {
        (**self).check(key).await
    }
    fn quota(&self) -> Quota {
        (**self).quota()
    }
}
