//! GCRA in one atomic Redis script, so replicas share one budget per key; falls back to the
//! in-process limiter (or fails closed) when Redis is unreachable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;

use super::{Decision, LocalLimiter, Quota, RateLimiter};
use crate::error::{Error, Result};

/// GCRA, all in microseconds, with the server's clock (`TIME`) so replicas agree.
/// KEYS[1]: the key; ARGV[1]: emission interval T; ARGV[2]: burst.
/// Returns {allowed, remaining, reset_us, retry_after_us}.
const GCRA_LUA: &str = r#"
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tau = t * burst
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + t
local allow_at = new_tat - tau
if allow_at > now then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.floor((now + tau - new_tat) / t)
return {1, remaining, new_tat - now, 0}
"#;

/// Settings of a [`RedisLimiter`]. `Debug` hides a password in the URL.
#[derive(Clone)]
pub struct RedisLimiterConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Prefix of the Redis keys (default `mtp:rl:`).
    pub key_prefix: String,
    /// When Redis is unreachable: deny (`true`) or use the in-process limiter (`false`, default).
    pub fail_closed: bool,
    /// Connect and response timeout (default 250 ms).
    pub timeout: Duration,
    /// After a failure, Redis is not tried again for this long (default 1 s).
    pub retry_every: Duration,
}

/// `redis://user:password@host` → `redis://<redacted>@host`.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(i), Some(j)) if j > i + 3 => format!("{}<redacted>{}", &url[..i + 3], &url[j..]),
        _ => url.to_string(),
    }
}

impl std::fmt::Debug for RedisLimiterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiterConfig")
            .field("url", &redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("fail_closed", &self.fail_closed)
            .field("timeout", &self.timeout)
            .field("retry_every", &self.retry_every)
            .finish()
    }
}

impl RedisLimiterConfig {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisLimiterConfig {
            url: url.into(),
            key_prefix: "mtp:rl:".into(),
            fail_closed: false,
            timeout: Duration::from_millis(250),
            retry_every: Duration::from_secs(1),
        }
    }
}

/// A limiter whose state lives in Redis.
pub struct RedisLimiter {
    client: redis::Client,
    config: RedisLimiterConfig,
    quota: Quota,
    script: redis::Script,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    down_until: Mutex<Option<Instant>>,
    fallback: Arc<LocalLimiter>,
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("key_prefix", &self.config.key_prefix)
            .field("quota", &self.quota)
            .field("fail_closed", &self.config.fail_closed)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter for `quota` using Redis at `config.url` (connected lazily).
    pub fn new(config: RedisLimiterConfig, quota: Quota) -> Result<Self> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| Error::Config(format!("--redis-url: {e}")))?;
        Ok(RedisLimiter {
            client,
            quota,
            script: redis::Script::new(GCRA_LUA),
            conn: tokio::sync::Mutex::new(None),
            down_until: Mutex::new(None),
            fallback: Arc::new(LocalLimiter::new(quota)),
            fallbacks: AtomicU64::new(0),
            config,
        })
    }

    /// How many checks were answered without Redis (the fallback metric).
    pub fn fallback_count(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// The in-process limiter used while Redis is unreachable.
    pub fn fallback(&self) -> &Arc<LocalLimiter> {
        &self.fallback
    }

    async fn connection(&self) -> Result<MultiplexedConnection> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(self.config.timeout)
            .set_response_timeout(self.config.timeout);
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .map_err(|e| Error::Redis(Box::new(e)))?;
        *guard = Some(c.clone());
        Ok(c)
    }

    /// Checks `key` in Redis; an error when Redis fails (no fallback).
    pub async fn check_redis(&self, key: &str) -> Result<Decision> {
        let mut conn = self.connection().await?;
        let t_us = (self.quota.period().as_micros() as u64).max(1);
        let burst = self.quota.burst.get();
        let mut inv = self.script.prepare_invoke();
        inv.key(format!("{}{key}", self.config.key_prefix))
            .arg(t_us)
            .arg(burst);
        let r: Vec<i64> =
            match tokio::time::timeout(self.config.timeout, inv.invoke_async(&mut conn)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    *self.conn.lock().await = None;
                    return Err(Error::Redis(Box::new(e)));
                }
                Err(_) => {
                    *self.conn.lock().await = None;
                    return Err(Error::Redis(Box::new(redis::RedisError::from((
                        redis::ErrorKind::IoError,
                        "timed out",
                    )))));
                }
            };
        let [allowed, remaining, reset_us, retry_us] = r[..] else {
            return Err(Error::Redis(Box::new(redis::RedisError::from((
                redis::ErrorKind::TypeError,
                "unexpected GCRA script reply",
            )))));
        };
        let us = |v: i64| Duration::from_micros(v.max(0) as u64);
        Ok(Decision {
            allowed: allowed == 1,
            limit: burst,
            remaining: remaining.clamp(0, i64::from(burst)) as u32,
            reset: us(reset_us),
            retry_after: (allowed != 1).then(|| us(retry_us)),
        })
    }

    fn is_down(&self) -> bool {
        let g = match self.down_until.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        g.is_some_and(|t| Instant::now() < t)
    }

    fn mark_down(&self) {
        let until = Some(Instant::now() + self.config.retry_every);
        match self.down_until.lock() {
            Ok(mut g) => *g = until,
            Err(p) => *p.into_inner() = until,
        }
    }

    fn degraded(&self, key: &str) -> Decision {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        if self.config.fail_closed {
            let limit = self.quota.burst.get();
            Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset: self.config.retry_every,
                retry_after: Some(self.config.retry_every),
            }
        } else {
            self.fallback.check_now(key)
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, key: &str) -> Decision {
        if self.is_down() {
            return self.degraded(key);
        }
        match self.check_redis(key).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, fail_closed = self.config.fail_closed, "Redis rate limiter unavailable; degrading");
                self.mark_down();
                self.degraded(key)
            }
        }
    }
    fn quota(&self) -> Quota {
        self.quota
    }
}
