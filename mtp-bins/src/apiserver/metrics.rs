//! Prometheus metrics of the API: requests by method, route and status, latency by route, and
//! the rate-limit checks answered without Redis.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimiterLabels {
    limiter: String,
}

type Sample = Box<dyn Fn() -> u64 + Send + Sync>;

/// `mtp_apiserver_rate_limit_redis_fallbacks_total{limiter}`: read from the Redis limiters on
/// each scrape (they count for themselves).
#[derive(Default)]
struct RedisFallbacks(RwLock<Vec<(String, Sample)>>);

impl std::fmt::Debug for RedisFallbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFallbacks").finish_non_exhaustive()
    }
}

impl Collector for RedisFallbacks {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sources = match self.0.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if sources.is_empty() {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(
            "mtp_apiserver_rate_limit_redis_fallbacks",
            "Rate-limit checks answered without Redis (unreachable): by the in-process limiter, \
             or denied with --redis-fail-closed",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (limiter, sample) in sources.iter() {
            let labels = LimiterLabels {
                limiter: limiter.clone(),
            };
            ConstCounter::new(sample()).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn latency_histogram() -> Histogram {
    // 25 µs .. ~1.6 s
    Histogram::new(exponential_buckets(0.000_025, 2.0, 17))
}

/// The API's metrics.
#[derive(Debug)]
pub struct ApiMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    redis_fallbacks: Arc<RedisFallbacks>,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "mtp_apiserver_requests",
            "HTTP requests by method, route (the matched path pattern) and status",
            requests.clone(),
        );
        registry.register(
            "mtp_apiserver_request_duration_seconds",
            "Time to answer a request, by route",
            duration.clone(),
        );
        let redis_fallbacks = Arc::new(RedisFallbacks::default());
        registry.register_collector(Box::new(Arc::clone(&redis_fallbacks)));
        ApiMetrics {
            registry,
            requests,
            duration,
            redis_fallbacks,
        }
    }
}

impl ApiMetrics {
    /// Counts one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Reports `count()` as `mtp_apiserver_rate_limit_redis_fallbacks_total{limiter}` (e.g.
    /// `RedisLimiter::fallback_count` of the `identity` or `ip` limiter).
    pub fn add_redis_fallbacks(
        &self,
        limiter: &str,
        count: impl Fn() -> u64 + Send + Sync + 'static,
    ) {
        let mut sources = match self.redis_fallbacks.0.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        sources.push((limiter.to_owned(), Box::new(count)));
    }

    /// The metrics in the OpenMetrics text format (what `/metrics` serves).
    pub fn encode(&self) -> String {
        crate::runtime::probes::encode(&self.registry)
    }
}

impl crate::runtime::Metrics for ApiMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}
