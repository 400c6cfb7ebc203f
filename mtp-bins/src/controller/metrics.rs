//! Prometheus metrics of the controller: reconciles by outcome, errors by reason, reconcile
//! duration, tenants by tier and readiness, store syncs, leadership.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use mtp_core::Tier;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tier: String,
    ready: String,
}

/// The controller's metrics.
#[derive(Debug)]
pub struct ControllerMetrics {
    registry: Registry,
    reconciles: Family<OutcomeLabels, Counter>,
    errors: Family<ReasonLabels, Counter>,
    duration: Histogram,
    tenants: Family<TenantLabels, Gauge>,
    syncs: Family<ResultLabels, Counter>,
    sync_writes: Family<OutcomeLabels, Counter>,
    leader: Gauge<i64, AtomicI64>,
    states: Mutex<HashMap<String, (Tier, bool)>>,
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<OutcomeLabels, Counter>::default();
        let errors = Family::<ReasonLabels, Counter>::default();
        // 1 ms .. ~33 s
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let tenants = Family::<TenantLabels, Gauge>::default();
        let syncs = Family::<ResultLabels, Counter>::default();
        let sync_writes = Family::<OutcomeLabels, Counter>::default();
        let leader = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "mtp_controller_reconciles",
            "Tenant reconciles by outcome (success, error)",
            reconciles.clone(),
        );
        registry.register(
            "mtp_controller_reconcile_errors",
            "Failed Tenant reconciles by reason (InvalidSpec, Forbidden, Conflict, Rejected, ApiError, ApiUnreachable)",
            errors.clone(),
        );
        registry.register(
            "mtp_controller_reconcile_duration_seconds",
            "Time to reconcile one Tenant",
            duration.clone(),
        );
        registry.register(
            "mtp_controller_tenants",
            "Tenants by tier and readiness, as last reconciled",
            tenants.clone(),
        );
        registry.register(
            "mtp_controller_store_syncs",
            "Store to cluster sync rounds by result (success, error)",
            syncs.clone(),
        );
        registry.register(
            "mtp_controller_store_sync_writes",
            "Writes of the store sync by operation (apply, delete: Tenants; adopt, store_delete: store records of Tenants created or deleted in the cluster)",
            sync_writes.clone(),
        );
        registry.register(
            "mtp_controller_leader",
            "1 while this replica holds the leader Lease",
            leader.clone(),
        );
        ControllerMetrics {
            registry,
            reconciles,
            errors,
            duration,
            tenants,
            syncs,
            sync_writes,
            leader,
            states: Mutex::new(HashMap::new()),
        }
    }
}

impl ControllerMetrics {
    /// Counts a reconcile that took `elapsed`, failed with `error_reason` if any.
    pub fn observe_reconcile(&self, elapsed: Duration, error_reason: Option<&str>) {
        let outcome = if error_reason.is_some() {
            "error"
        } else {
            "success"
        };
        self.reconciles
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        if let Some(reason) = error_reason {
            self.errors
                .get_or_create(&ReasonLabels {
                    reason: reason.to_owned(),
                })
                .inc();
        }
        self.duration.observe(elapsed.as_secs_f64());
    }

    /// Records the tier and readiness of a tenant.
    pub fn set_tenant(&self, name: &str, tier: Tier, ready: bool) {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states.insert(name.to_owned(), (tier, ready));
        self.refresh(&states);
    }

    /// Forgets a deleted tenant.
    pub fn forget_tenant(&self, name: &str) {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states.remove(name);
        self.refresh(&states);
    }

    fn refresh(&self, states: &HashMap<String, (Tier, bool)>) {
        let mut counts: HashMap<(Tier, bool), i64> = HashMap::new();
        for state in states.values() {
            *counts.entry(*state).or_insert(0) += 1;
        }
        for tier in Tier::ALL {
            for ready in [true, false] {
                self.tenants
                    .get_or_create(&TenantLabels {
                        tier: tier.as_str().to_owned(),
                        ready: ready.to_string(),
                    })
                    .set(counts.get(&(tier, ready)).copied().unwrap_or(0));
            }
        }
    }

    /// Counts a store sync round.
    pub fn observe_sync(&self, ok: bool, applied: u64, deleted: u64, adopted: u64) {
        let result = if ok { "success" } else { "error" };
        self.syncs
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .inc();
        for (op, n) in [("apply", applied), ("delete", deleted), ("adopt", adopted)] {
            if n > 0 {
                self.sync_writes
                    .get_or_create(&OutcomeLabels {
                        outcome: op.to_owned(),
                    })
                    .inc_by(n);
            }
        }
    }

    /// Counts store records deleted because their Tenant was deleted in the cluster.
    pub fn observe_store_delete(&self, n: u64) {
        if n > 0 {
            self.sync_writes
                .get_or_create(&OutcomeLabels {
                    outcome: "store_delete".to_owned(),
                })
                .inc_by(n);
        }
    }

    /// Records whether this replica leads.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The metrics in the OpenMetrics text format (what `/metrics` serves).
    pub fn encode(&self) -> String {
        crate::runtime::probes::encode(&self.registry)
    }
}

impl crate::runtime::Metrics for ControllerMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reconciles_errors_and_tenants() {
        let m = ControllerMetrics::default();
        m.observe_reconcile(Duration::from_millis(3), None);
        m.observe_reconcile(Duration::from_millis(5), Some("Forbidden"));
        m.set_tenant("a", Tier::Pro, true);
        m.set_tenant("b", Tier::Pro, true);
        m.set_tenant("b", Tier::Free, false);
        m.set_tenant("c", Tier::Pro, true);
        m.forget_tenant("c");
        m.observe_sync(true, 3, 1, 2);
        m.set_leader(true);
        let text = m.encode();
        for line in [
            r#"mtp_controller_reconciles_total{outcome="success"} 1"#,
            r#"mtp_controller_reconciles_total{outcome="error"} 1"#,
            r#"mtp_controller_reconcile_errors_total{reason="Forbidden"} 1"#,
            "mtp_controller_reconcile_duration_seconds_count 2",
            r#"mtp_controller_tenants{tier="pro",ready="true"} 1"#,
            r#"mtp_controller_tenants{tier="free",ready="false"} 1"#,
            r#"mtp_controller_tenants{tier="enterprise",ready="true"} 0"#,
            r#"mtp_controller_store_syncs_total{result="success"} 1"#,
            r#"mtp_controller_store_sync_writes_total{outcome="apply"} 3"#,
            r#"mtp_controller_store_sync_writes_total{outcome="adopt"} 2"#,
            "mtp_controller_leader 1",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
