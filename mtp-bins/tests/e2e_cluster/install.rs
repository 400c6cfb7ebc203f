//! The install as the user renders it (`mtpctl install`), the webhook configurations as
//! `mtp-webhook manifests --url` renders them, and server-side apply of both through discovery.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use serde::Deserialize as _;
use serde_json::Value;

/// The field manager of everything the suite applies.
pub const FIELD_MANAGER: &str = "mtp-e2e";

/// Kinds of the install that the suite does not apply: no pods run (the binaries run locally),
/// and the webhook configurations are replaced by ones whose `clientConfig` is a `url`.
pub const SKIPPED_KINDS: &[&str] = &[
    "Deployment",
    "PodDisruptionBudget",
    "Service",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
];

/// Runs one of the mtp binaries to completion and returns its stdout.
pub fn run_binary(binary: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut command = Command::new(binary);
    // The flags decide, not the caller's MTP_* settings.
    for (key, _) in std::env::vars() {
        if key.starts_with("MTP_") {
            command.env_remove(&key);
        }
    }
    let output = command
        .args(args)
        .output()
        .with_context(|| format!("cannot run {binary}"))?;
    if !output.status.success() {
        bail!(
            "{binary} {} exited with {}: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).with_context(|| format!("{binary} printed invalid UTF-8"))
}

/// The documents of a YAML stream (empty documents dropped).
pub fn parse_stream(yaml: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = Value::deserialize(document)
            .with_context(|| format!("document {} of the YAML stream", i + 1))?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// `Kind/name` (or `Kind namespace/name`) of an object, for messages.
pub fn describe(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// Splits the install into what the suite applies and what it skips ([`SKIPPED_KINDS`]).
pub fn split_install(objects: Vec<Value>) -> (Vec<Value>, Vec<Value>) {
    objects
        .into_iter()
        .partition(|o| !SKIPPED_KINDS.contains(&o["kind"].as_str().unwrap_or_default()))
}

/// The install rendered by `mtpctl install` for `platform_namespace`.
pub fn render_install(platform_namespace: &str) -> anyhow::Result<Vec<Value>> {
    let yaml = run_binary(
        env!("CARGO_BIN_EXE_mtpctl"),
        &["install", "--namespace", platform_namespace],
    )?;
    parse_stream(&yaml)
}

/// Both webhook configurations from `mtp-webhook manifests --url URL --ca-bundle FILE`.
pub fn render_url_configurations(
    url: &str,
    ca_bundle: &Path,
    platform_namespace: &str,
) -> anyhow::Result<Vec<Value>> {
    let ca = ca_bundle
        .to_str()
        .context("the CA bundle path is not UTF-8")?;
    let yaml = run_binary(
        env!("CARGO_BIN_EXE_mtp-webhook"),
        &[
            "manifests",
            "--url",
            url,
            "--ca-bundle",
            ca,
            "--platform-namespace",
            platform_namespace,
        ],
    )?;
    parse_stream(&yaml)
}

/// The configuration with every webhook's `clientConfig` removed, to compare two renderings.
pub fn without_client_config(configuration: &Value) -> Value {
    let mut c = configuration.clone();
    if let Some(hooks) = c["webhooks"].as_array_mut() {
        for hook in hooks {
            if let Some(h) = hook.as_object_mut() {
                h.remove("clientConfig");
            }
        }
    }
    c
}

/// The base URL of the locally run webhook as the apiserver calls it.
pub fn webhook_url(host: &str, port: u16) -> String {
    match host.parse::<Ipv6Addr>() {
        Ok(_) => format!("https://[{host}]:{port}"),
        Err(_) => format!("https://{host}:{port}"),
    }
}

/// The address the webhook listens on: loopback for a loopback host (the apiserver runs on this
/// machine), else every interface (the apiserver reaches this machine from elsewhere).
pub fn webhook_listen_ip(host: &str) -> IpAddr {
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match (loopback, host.parse::<IpAddr>()) {
        (true, Ok(ip)) => ip,
        (true, Err(_)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (false, Ok(IpAddr::V6(_))) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        (false, _) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// Server-side applies `object` (field manager [`FIELD_MANAGER`], force), finding its resource
/// through discovery.
pub async fn apply(client: &kube::Client, object: &Value) -> anyhow::Result<()> {
    let what = describe(object);
    let api_version = object["apiVersion"]
        .as_str()
        .with_context(|| format!("{what} has no apiVersion"))?;
    let kind = object["kind"]
        .as_str()
        .with_context(|| format!("{what} has no kind"))?;
    let name = object["metadata"]["name"]
        .as_str()
        .with_context(|| format!("{what} has no name"))?;
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("the cluster does not serve {api_version} {kind} (for {what})"))?;
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Cluster => Api::all_with(client.clone(), &resource),
        Scope::Namespaced => {
            let ns = object["metadata"]["namespace"]
                .as_str()
                .with_context(|| format!("{what} is namespaced but has no namespace"))?;
            Api::namespaced_with(client.clone(), ns, &resource)
        }
    };
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .with_context(|| format!("cannot apply {what}"))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_install_keeps_rbac_crd_and_namespace_and_skips_pods_services_and_configurations() {
        let objects = render_install("mtp-system").unwrap();
        let (applied, skipped) = split_install(objects);
        let kinds = |v: &[Value]| {
            let mut k: Vec<String> = v
                .iter()
                .map(|o| o["kind"].as_str().unwrap().to_owned())
                .collect();
            k.sort();
            k.dedup();
            k
        };
        assert_eq!(
            kinds(&applied),
            [
                "ClusterRole",
                "ClusterRoleBinding",
                "CustomResourceDefinition",
                "Namespace",
                "NetworkPolicy",
                "Role",
                "RoleBinding",
                "ServiceAccount"
            ]
        );
        assert_eq!(
            kinds(&skipped),
            [
                "Deployment",
                "MutatingWebhookConfiguration",
                "PodDisruptionBudget",
                "Service",
                "ValidatingWebhookConfiguration"
            ]
        );
        // The Namespace and the CRD come first, before anything that lives in them or uses them.
        assert_eq!(applied[0]["kind"], "Namespace");
        assert!(
            applied
                .iter()
                .any(|o| describe(o) == "ServiceAccount mtp-system/mtp-controller")
        );
        assert!(
            applied
                .iter()
                .any(|o| describe(o) == "ServiceAccount mtp-system/mtp-webhook")
        );
    }

    /// What the suite registers is the installed configurations with a `url` instead of the
    /// Service: same webhooks, rules, selectors and failure policies.
    #[test]
    fn url_configurations_are_the_installed_ones_but_for_the_client_config() {
        let (_, skipped) = split_install(render_install("mtp-system").unwrap());
        let installed: Vec<Value> = skipped
            .iter()
            .filter(|o| {
                o["kind"]
                    .as_str()
                    .unwrap()
                    .ends_with("WebhookConfiguration")
            })
            .cloned()
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        let bundle = mtp_bins::webhook::certs::generate(&["127.0.0.1".to_owned()]).unwrap();
        std::fs::write(&ca, &bundle.ca_pem).unwrap();
        let url = webhook_url("127.0.0.1", 18443);
        let local = render_url_configurations(&url, &ca, "mtp-system").unwrap();
        assert_eq!(installed.len(), 2);
        assert_eq!(local.len(), 2);
        for (i, l) in installed.iter().zip(&local) {
            assert_eq!(
                without_client_config(i),
                without_client_config(l),
                "{}",
                describe(i)
            );
            for hook in l["webhooks"].as_array().unwrap() {
                let client = &hook["clientConfig"];
                let path = client["url"].as_str().unwrap();
                assert!(path.starts_with("https://127.0.0.1:18443/"), "{client}");
                assert!(client.get("service").is_none(), "{client}");
                assert!(
                    client["caBundle"].as_str().is_some_and(|b| !b.is_empty()),
                    "{client}"
                );
            }
        }
    }

    #[test]
    fn urls_and_listen_addresses_follow_the_host() {
        assert_eq!(webhook_url("127.0.0.1", 8443), "https://127.0.0.1:8443");
        assert_eq!(
            webhook_url("host.docker.internal", 8443),
            "https://host.docker.internal:8443"
        );
        assert_eq!(webhook_url("fd00::1", 8443), "https://[fd00::1]:8443");
        assert_eq!(
            webhook_listen_ip("127.0.0.1"),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            webhook_listen_ip("localhost"),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(webhook_listen_ip("::1"), IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(
            webhook_listen_ip("172.18.0.1"),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(
            webhook_listen_ip("host.docker.internal"),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(
            webhook_listen_ip("fd00::1"),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn streams_drop_empty_documents_and_name_bad_ones() {
        let v = parse_stream("---\n---\nkind: A\nmetadata: {name: a, namespace: n}\n---\nkind: B\nmetadata: {name: b}\n").unwrap();
        assert_eq!(v.iter().map(describe).collect::<Vec<_>>(), ["A n/a", "B b"]);
        let err = parse_stream("kind: A\n---\n: : :\n").unwrap_err();
        assert!(format!("{err:#}").contains("document 2"), "{err:#}");
    }
}
