//! Prometheus metrics of the webhook server: requests by hook and outcome, latency, denials by
//! hook and check.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use mtp_policy::admission::{Observer, Outcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    hook: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookLabels {
    hook: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DenialLabels {
    hook: String,
    check: String,
}

fn latency_histogram() -> Histogram {
    // 25 µs .. ~1.6 s
    Histogram::new(exponential_buckets(0.000_025, 2.0, 17))
}

/// The webhook's metrics; an [`Observer`] of the admission router.
#[derive(Debug)]
pub struct WebhookMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<HookLabels, Histogram, fn() -> Histogram>,
    denials: Family<DenialLabels, Counter>,
    /// Handles into the families per hook, so a request costs a map lookup by `&str` instead of
    /// building owned label sets.
    hooks: RwLock<HashMap<String, Arc<HookHandles>>>,
}

/// One hook's series, shared with the families above (prometheus-client metrics are handles).
#[derive(Debug)]
struct HookHandles {
    allowed: Counter,
    patched: Counter,
    denied: Counter,
    duration: Histogram,
    denials: RwLock<HashMap<String, Counter>>,
}

impl Default for WebhookMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<HookLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let denials = Family::<DenialLabels, Counter>::default();
        registry.register(
            "mtp_webhook_requests",
            "Admission requests by hook and outcome (allowed, patched, denied, rejected_<status>)",
            requests.clone(),
        );
        registry.register(
            "mtp_webhook_request_duration_seconds",
            "Time to answer an admission request",
            duration.clone(),
        );
        registry.register(
            "mtp_webhook_denials",
            "Denied admission requests by hook and check",
            denials.clone(),
        );
        WebhookMetrics {
            registry,
            requests,
            duration,
            denials,
            hooks: RwLock::default(),
        }
    }
}

impl WebhookMetrics {
    fn hook(&self, hook: &str) -> Arc<HookHandles> {
        if let Some(handles) = read(&self.hooks).get(hook) {
            return Arc::clone(handles);
        }
        let outcome = |outcome: &str| {
            self.requests
                .get_or_create(&RequestLabels {
                    hook: hook.to_owned(),
                    outcome: outcome.to_owned(),
                })
                .clone()
        };
        let handles = Arc::new(HookHandles {
            allowed: outcome("allowed"),
            patched: outcome("patched"),
            denied: outcome("denied"),
            duration: self
                .duration
                .get_or_create(&HookLabels {
                    hook: hook.to_owned(),
                })
                .clone(),
            denials: RwLock::default(),
        });
        let mut hooks = self.hooks.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(hooks.entry(hook.to_owned()).or_insert(handles))
    }

    fn denial(&self, hook: &str, handles: &HookHandles, check: &str) -> Counter {
        if let Some(counter) = read(&handles.denials).get(check) {
            return counter.clone();
        }
        let counter = self
            .denials
            .get_or_create(&DenialLabels {
                hook: hook.to_owned(),
                check: check.to_owned(),
            })
            .clone();
        let mut denials = handles
            .denials
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        denials.entry(check.to_owned()).or_insert(counter).clone()
    }

    /// The metrics in the OpenMetrics text format (what `/metrics` serves).
    pub fn encode(&self) -> String {
        crate::runtime::probes::encode(&self.registry)
    }
}

impl crate::runtime::Metrics for WebhookMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

impl Observer for WebhookMetrics {
    fn observe(&self, hook: &str, outcome: &Outcome, elapsed: Duration) {
        let handles = self.hook(hook);
        match outcome {
            Outcome::Allowed => {
                handles.allowed.inc();
            }
            Outcome::Patched => {
                handles.patched.inc();
            }
            Outcome::Denied(checks) => {
                handles.denied.inc();
                for check in checks {
                    self.denial(hook, &handles, check).inc();
                }
            }
            Outcome::Rejected(status) => {
                self.requests
                    .get_or_create(&RequestLabels {
                        hook: hook.to_owned(),
                        outcome: format!("rejected_{status}"),
                    })
                    .inc();
            }
        }
        handles.duration.observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_denials_and_latency() {
        let m = WebhookMetrics::default();
        m.observe(
            "pod-security.mtp.dev",
            &Outcome::Denied(vec!["limits".into(), "privileged".into()]),
            Duration::from_micros(40),
        );
        m.observe(
            "pod-security.mtp.dev",
            &Outcome::Allowed,
            Duration::from_micros(30),
        );
        m.observe(
            "pod-security.mtp.dev",
            &Outcome::Rejected(400),
            Duration::from_micros(5),
        );
        m.observe(
            "pod-security.mtp.dev",
            &Outcome::Denied(vec!["privileged".into()]),
            Duration::from_micros(40),
        );
        m.observe(
            "tenant-labels.mtp.dev",
            &Outcome::Patched,
            Duration::from_micros(10),
        );
        let text = m.encode();
        assert!(
            text.contains(
                r#"mtp_webhook_requests_total{hook="tenant-labels.mtp.dev",outcome="patched"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mtp_webhook_requests_total{hook="pod-security.mtp.dev",outcome="denied"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"mtp_webhook_requests_total{hook="pod-security.mtp.dev",outcome="rejected_400"} 1"#), "{text}");
        assert!(
            text.contains(
                r#"mtp_webhook_denials_total{hook="pod-security.mtp.dev",check="privileged"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mtp_webhook_denials_total{hook="pod-security.mtp.dev",check="limits"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mtp_webhook_request_duration_seconds_count{hook="pod-security.mtp.dev"} 4"#
            ),
            "{text}"
        );
    }
}
