//! Leader election on a `coordination.k8s.io/v1` Lease, written on kube's client: acquire and
//! renew with a replace guarded by the Lease's resourceVersion, take over once the holder has not
//! renewed for the lease duration, release on shutdown by clearing `holderIdentity`.
//!
//! Expiry is judged by this replica's own clock: a Lease counts as expired when its
//! resourceVersion has not changed for the lease duration since this replica first saw it, so
//! clock skew between nodes does not matter (as client-go does it).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tracing::{info, warn};

/// Where the Lease is and who we are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The Lease's namespace (the platform namespace).
    pub namespace: String,
    /// The Lease's name (`mtp-controller`).
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a holder keeps the Lease without renewing.
    pub duration: Duration,
}

impl LeaseConfig {
    /// How often the holder renews: a third of the duration.
    pub fn renew_every(&self) -> Duration {
        self.duration / 3
    }
}

/// A participant in the election.
#[derive(Debug)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The resourceVersion last seen and when it was first seen.
    observed: Mutex<Option<(String, Instant)>>,
}

fn holder(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
}

fn conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.is_conflict() || s.is_already_exists())
}

impl LeaderElector {
    /// An elector on `client`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: Mutex::new(None),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    fn seconds(&self) -> i32 {
        i32::try_from(self.config.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// Whether `lease` has gone unrenewed for its duration, by our clock.
    fn expired(&self, lease: &Lease) -> bool {
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let duration = lease
            .spec
            .as_ref()
            .and_then(|s| s.lease_duration_seconds)
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.duration, Duration::from_secs);
        let mut observed = self.observed.lock().unwrap_or_else(|e| e.into_inner());
        match observed.as_ref() {
            Some((seen, at)) if *seen == rv => at.elapsed() >= duration,
            _ => {
                *observed = Some((rv, Instant::now()));
                false
            }
        }
    }

    /// Acquires the Lease (creating it if missing, taking it over when released or expired) or
    /// renews it if we hold it. `Ok(true)` while we lead; a lost race is `Ok(false)`.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(self.seconds()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    info!(identity = %self.config.identity, "created the Lease: leading");
                    Ok(true)
                }
                Err(e) if conflict(&e) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let ours = holder(&lease) == Some(self.config.identity.as_str());
        let free = holder(&lease).is_none();
        if !ours && !free && !self.expired(&lease) {
            return Ok(false);
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if !ours {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
            spec.holder_identity = Some(self.config.identity.clone());
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(self.seconds());
        // The replace carries the resourceVersion we read: a concurrent writer makes it a 409.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                if !ours {
                    info!(identity = %self.config.identity, "acquired the Lease: leading");
                }
                Ok(true)
            }
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Releases the Lease if we hold it, by clearing `holderIdentity`, so another replica takes
    /// over at once.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        if holder(&lease) != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.acquire_time = None;
            spec.renew_time = None;
        }
        self.api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await?;
        info!(identity = %self.config.identity, "released the Lease");
        Ok(())
    }

    /// Tries to acquire the Lease every `retry` until it succeeds.
    pub async fn acquire(&self, retry: Duration) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => warn!(error = %e, "cannot read or write the Lease; retrying"),
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// Renews the Lease every third of its duration; returns when leadership is lost (another
    /// replica holds it, or no renewal succeeded for the lease duration).
    pub async fn renew_until_lost(&self) {
        let mut last_ok = Instant::now();
        loop {
            tokio::time::sleep(self.config.renew_every()).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_ok = Instant::now(),
                Ok(false) => {
                    warn!("another replica holds the Lease: leadership lost");
                    return;
                }
                Err(e) => {
                    warn!(error = %e, "cannot renew the Lease");
                    if last_ok.elapsed() >= self.config.duration {
                        warn!("the Lease was not renewed in time: leadership lost");
                        return;
                    }
                }
            }
        }
    }
}
