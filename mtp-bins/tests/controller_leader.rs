//! Leader election: two instances against a mocked Lease API (an in-memory Lease with
//! resourceVersion checks, as the apiserver does them): one leads, the other takes over after a
//! release or after expiry, and a race for a free Lease has exactly one winner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Handle, failure, mock_client, respond};
use http::Method;
use mtp_bins::controller::leader::{LeaderElector, LeaseConfig};
use serde_json::{Value, json};

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/mtp-system/leases";

#[derive(Default)]
struct LeaseServer {
    lease: Option<Value>,
    version: u64,
    /// (instance, method, holder written) of every write.
    writes: Vec<(String, Method, Option<String>)>,
}

/// Serves the Lease API to one instance's client.
fn serve(mut handle: Handle, state: Arc<Mutex<LeaseServer>>, who: &'static str) {
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            let mut s = state.lock().unwrap();
            let item = format!("{LEASES}/mtp-controller");
            let (status, reply) = match (&method, path.as_str()) {
                (&Method::GET, p) if p == item => match &s.lease {
                    Some(l) => (200, l.clone()),
                    None => (
                        404,
                        failure(404, "NotFound", "leases \"mtp-controller\" not found"),
                    ),
                },
                (&Method::POST, LEASES) => {
                    if s.lease.is_some() {
                        (
                            409,
                            failure(
                                409,
                                "AlreadyExists",
                                "leases \"mtp-controller\" already exists",
                            ),
                        )
                    } else {
                        s.version += 1;
                        let mut lease = body.clone();
                        lease["metadata"]["resourceVersion"] = json!(s.version.to_string());
                        s.lease = Some(lease.clone());
                        let holder = body["spec"]["holderIdentity"].as_str().map(String::from);
                        s.writes.push((who.into(), Method::POST, holder));
                        (201, lease)
                    }
                }
                (&Method::PUT, p) if p == item => {
                    let stored = s
                        .lease
                        .as_ref()
                        .map(|l| l["metadata"]["resourceVersion"].clone());
                    if stored != Some(body["metadata"]["resourceVersion"].clone()) {
                        (
                            409,
                            failure(
                                409,
                                "Conflict",
                                "the object has been modified; please apply your changes to the latest version and try again",
                            ),
                        )
                    } else {
                        s.version += 1;
                        let mut lease = body.clone();
                        lease["metadata"]["resourceVersion"] = json!(s.version.to_string());
                        s.lease = Some(lease.clone());
                        let holder = body["spec"]["holderIdentity"].as_str().map(String::from);
                        s.writes.push((who.into(), Method::PUT, holder));
                        (200, lease)
                    }
                }
                _ => panic!("unexpected call {method} {path}"),
            };
            drop(s);
            respond(send, status, &reply);
        }
    });
}

fn elector(state: &Arc<Mutex<LeaseServer>>, who: &'static str, seconds: u64) -> LeaderElector {
    let (client, handle) = mock_client();
    serve(handle, state.clone(), who);
    LeaderElector::new(
        client,
        LeaseConfig {
            namespace: "mtp-system".into(),
            name: "mtp-controller".into(),
            identity: who.into(),
            duration: Duration::from_secs(seconds),
        },
    )
}

fn lease_spec(state: &Arc<Mutex<LeaseServer>>) -> Value {
    state.lock().unwrap().lease.as_ref().unwrap()["spec"].clone()
}

#[tokio::test]
async fn one_leads_and_the_other_takes_over_after_release() {
    let state = Arc::new(Mutex::new(LeaseServer::default()));
    let a = elector(&state, "a", 15);
    let b = elector(&state, "b", 15);
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "a creates the Lease"
    );
    assert!(!b.try_acquire_or_renew().await.unwrap(), "b waits");
    assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");
    assert!(!b.try_acquire_or_renew().await.unwrap(), "b still waits");
    let spec = lease_spec(&state);
    assert_eq!(spec["holderIdentity"], "a");
    assert_eq!(spec["leaseDurationSeconds"], 15);
    assert!(spec["renewTime"].is_string());

    a.release().await.unwrap();
    assert!(
        lease_spec(&state).get("holderIdentity").is_none(),
        "released: holder cleared"
    );
    assert!(
        b.try_acquire_or_renew().await.unwrap(),
        "b takes over at once"
    );
    assert!(
        !a.try_acquire_or_renew().await.unwrap(),
        "a is now the standby"
    );
    let spec = lease_spec(&state);
    assert_eq!(spec["holderIdentity"], "b");
    assert_eq!(spec["leaseTransitions"], 1);
    // Releasing a Lease one does not hold writes nothing.
    let writes = state.lock().unwrap().writes.len();
    a.release().await.unwrap();
    assert_eq!(state.lock().unwrap().writes.len(), writes);
    assert_eq!(
        state
            .lock()
            .unwrap()
            .writes
            .iter()
            .map(|(w, m, h)| format!("{w} {m} {}", h.as_deref().unwrap_or("-")))
            .collect::<Vec<_>>(),
        ["a POST a", "a PUT a", "a PUT -", "b PUT b"]
    );
}

#[tokio::test]
async fn the_standby_takes_over_once_the_leader_stops_renewing() {
    let state = Arc::new(Mutex::new(LeaseServer::default()));
    let a = elector(&state, "a", 1);
    let b = elector(&state, "b", 1);
    assert!(a.try_acquire_or_renew().await.unwrap());
    assert!(!b.try_acquire_or_renew().await.unwrap());
    // While a renews, b never takes over, even after more than the lease duration.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(a.try_acquire_or_renew().await.unwrap());
        assert!(!b.try_acquire_or_renew().await.unwrap());
    }
    // a stops renewing (a crash): after the lease duration b takes over.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        b.try_acquire_or_renew().await.unwrap(),
        "b takes over the expired Lease"
    );
    assert!(!a.try_acquire_or_renew().await.unwrap(), "a lost it");
    assert_eq!(lease_spec(&state)["holderIdentity"], "b");
    assert_eq!(lease_spec(&state)["leaseTransitions"], 1);
}

#[tokio::test]
async fn a_race_for_a_free_lease_has_one_winner() {
    for _ in 0..10 {
        let state = Arc::new(Mutex::new(LeaseServer::default()));
        let a = elector(&state, "a", 15);
        let b = elector(&state, "b", 15);
        let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
        assert!(ra.unwrap() ^ rb.unwrap(), "exactly one leads");
        // And after a release, a race again has one winner.
        let winner = if lease_spec(&state)["holderIdentity"] == "a" {
            &a
        } else {
            &b
        };
        winner.release().await.unwrap();
        let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
        assert!(
            ra.unwrap() ^ rb.unwrap(),
            "exactly one leads after the release"
        );
    }
}

#[tokio::test]
async fn renew_until_lost_returns_when_another_replica_holds_the_lease() {
    let state = Arc::new(Mutex::new(LeaseServer::default()));
    let a = elector(&state, "a", 3);
    assert!(a.try_acquire_or_renew().await.unwrap());
    // Someone else writes the Lease (an operator forcing a handover).
    {
        let mut s = state.lock().unwrap();
        s.version += 1;
        let v = s.version.to_string();
        let lease = s.lease.as_mut().unwrap();
        lease["spec"]["holderIdentity"] = json!("c");
        lease["metadata"]["resourceVersion"] = json!(v);
    }
    tokio::time::timeout(Duration::from_secs(5), a.renew_until_lost())
        .await
        .expect("leadership loss noticed within a renew period");
}
