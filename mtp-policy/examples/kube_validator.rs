//! mtp-policy embedded in a kube-rs program: a validator that lists the pods of a namespace (or
//! of every namespace) from the cluster and checks each against a pod-security profile, the way
//! a controller of your own would audit running workloads. No webhook, no mtp binary.
//!
//! ```text
//! cargo run -p mtp-policy --example kube_validator -- [namespace|--all] [mtp|baseline|restricted]
//! ```
//!
//! It needs a kubeconfig (or an in-cluster service account) to run, not to build: without one it
//! says so and exits successfully. The exit status is 1 when a pod violates the profile.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use mtp_policy::pod_security::{Policy, Profile};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let scope = args.next().unwrap_or_else(|| "default".to_owned());
    let profile: Profile = match args.next() {
        Some(name) => name.parse()?,
        None => Profile::Restricted,
    };
    let client = match Client::try_default().await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("kube_validator: no cluster to talk to ({e}); nothing checked");
            return Ok(());
        }
    };
    let pods: Api<Pod> = if scope == "--all" {
        Api::all(client)
    } else {
        Api::namespaced(client, &scope)
    };
    let policy = Policy::new(profile);
    let mut refused = 0;
    let list = pods.list(&ListParams::default()).await?;
    for pod in &list {
        // The checks read a borrowed view of the object's JSON; k8s-openapi writes apiVersion
        // and kind, so the pod is evaluated as the apiserver would send it to a webhook.
        let json = serde_json::to_vec(pod)?;
        let evaluation = policy.evaluate_json(&json)?;
        let name = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
        if evaluation.allowed() {
            println!("ok      {name}");
            continue;
        }
        refused += 1;
        println!("refused {name}");
        for violation in &evaluation.violations {
            println!(
                "        {} at {}: {}",
                violation.check, violation.path, violation.message
            );
        }
    }
    println!(
        "{} pods checked against the {profile} profile, {refused} would be refused",
        list.items.len()
    );
    if refused > 0 {
        std::process::exit(1);
    }
    Ok(())
}
