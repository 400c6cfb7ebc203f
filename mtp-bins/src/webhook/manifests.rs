//! `mtp-webhook manifests` and `mtp-webhook docs`: generated from the registry, never hand-written.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use mtp_policy::admission::hooks::NamespaceCache;
use mtp_policy::admission::{Registry, Target};

use super::serve::registry;

/// Flags of `mtp-webhook manifests`.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("endpoint").required(true).args(["service", "url"]))]
pub struct ManifestsArgs {
    /// The webhook Service, as NAME.NAMESPACE (port 443).
    #[arg(long, env = "MTP_WEBHOOK_SERVICE", value_name = "NAME.NAMESPACE")]
    pub service: Option<String>,
    /// The webhook's base URL (outside the cluster), e.g. https://10.0.0.5:8443.
    #[arg(long, env = "MTP_WEBHOOK_URL", value_name = "URL")]
    pub url: Option<String>,
    /// A PEM file with the CA that signed the serving certificate (the caBundle).
    #[arg(long, env = "MTP_CA_BUNDLE", value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
    /// The platform's namespace (excluded from tenant hooks, protected).
    #[arg(long, env = "MTP_PLATFORM_NAMESPACE", default_value = "mtp-system")]
    pub platform_namespace: String,
    /// The name of both configurations.
    #[arg(long, env = "MTP_CONFIGURATION_NAME", default_value = "mtp")]
    pub name: String,
}

/// The registry of the hooks as configured for a platform namespace (no namespace watch needed
/// to describe them).
pub fn described_registry(platform_namespace: &str) -> anyhow::Result<Registry> {
    Ok(registry(
        platform_namespace,
        Arc::new(NamespaceCache::default()),
    )?)
}

/// The target for the flags.
pub fn target(args: &ManifestsArgs) -> anyhow::Result<Target> {
    let mut target = match (&args.service, &args.url) {
        (Some(service), _) => {
            let (name, namespace) = service
                .split_once('.')
                .filter(|(n, ns)| !n.is_empty() && !ns.is_empty() && !ns.contains('.'))
                .with_context(|| {
                    format!(
                        "--service {service:?} must be NAME.NAMESPACE, e.g. mtp-webhook.mtp-system"
                    )
                })?;
            Target::service(namespace, name)
        }
        (None, Some(url)) => {
            anyhow::ensure!(
                url.starts_with("https://"),
                "--url {url:?} must start with https:// (the apiserver only calls webhooks over TLS)"
            );
            Target::url(url.clone())
        }
        (None, None) => anyhow::bail!("give --service NAME.NAMESPACE or --url https://HOST:PORT"),
    };
    if let Some(path) = &args.ca_bundle {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read --ca-bundle {}", path.display()))?;
        anyhow::ensure!(
            String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----"),
            "--ca-bundle {} holds no PEM certificate",
            path.display()
        );
        target = target.with_ca_bundle(pem);
    }
    Ok(target.named(args.name.clone()))
}

/// Both configurations as a two-document YAML stream.
pub fn render(args: &ManifestsArgs) -> anyhow::Result<String> {
    let registry = described_registry(&args.platform_namespace)?;
    let target = target(args)?;
    let validating = serde_yaml::to_string(&registry.validating_configuration(&target))?;
    let mutating = serde_yaml::to_string(&registry.mutating_configuration(&target))?;
    Ok(format!("---\n{validating}---\n{mutating}"))
}

/// The JSON docs of every hook.
pub fn docs(platform_namespace: &str) -> anyhow::Result<String> {
    let registry = described_registry(platform_namespace)?;
    Ok(serde_json::to_string_pretty(&registry.docs())?)
}
