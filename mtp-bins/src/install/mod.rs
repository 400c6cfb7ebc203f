//! `mtpctl install`: every manifest of an mtp installation, rendered offline as one YAML stream
//! (for `kubectl apply -f -`) or as a Kustomize base (`--output-dir`). See docs/install.md.
//!
//! Nothing here talks to a cluster: the objects are a pure function of [`InstallArgs`].

mod objects;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use objects::{
    API_KEYS_SECRET, APISERVER, AUTH_SECRET, CONTROLLER, DATABASE_SECRET, DEX, DEX_SECRET,
    IMAGE_NAME, WEBHOOK,
};

/// The image registry used when `--image-registry` is not given.
pub const DEFAULT_REGISTRY: &str = "ghcr.io/mtp-dev";

/// The Kubernetes versions the rendered objects are validated against (kubernetes-validate).
pub const SUPPORTED_KUBERNETES: &[&str] = &[
    "1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0",
];

/// The command that regenerates the committed Kustomize base under `deploy/base`.
pub const REGENERATE: &str =
    "cargo run -p mtp-bins --bin mtpctl -- install --output-dir deploy/base";

/// Flags of `mtpctl install`.
#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// The platform namespace (created, labelled pod-security enforce=restricted).
    #[arg(
        long,
        short = 'n',
        env = "MTP_PLATFORM_NAMESPACE",
        default_value = "mtp-system"
    )]
    pub namespace: String,
    /// The registry holding the `mtp` image (the image is REGISTRY/mtp:TAG).
    #[arg(long, value_name = "R", default_value = DEFAULT_REGISTRY)]
    pub image_registry: String,
    /// The tag of the `mtp` image (default: this mtpctl's version).
    #[arg(long, value_name = "T", default_value = env!("CARGO_PKG_VERSION"))]
    pub image_tag: String,
    /// Also deploy Dex with a static-password connector and the password grant, and point the
    /// API server's OIDC settings at it.
    #[arg(long)]
    pub with_dex: bool,
    /// Replicas of the API server, the controller and the webhook (1 to 20).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(i32).range(1..=20))]
    pub replicas: i32,
    /// Write the manifests split per component, plus a kustomization.yaml, into DIR instead of
    /// printing them.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

impl Default for InstallArgs {
    fn default() -> Self {
        InstallArgs {
            namespace: "mtp-system".to_owned(),
            image_registry: DEFAULT_REGISTRY.to_owned(),
            image_tag: env!("CARGO_PKG_VERSION").to_owned(),
            with_dex: false,
            replicas: 2,
            output_dir: None,
        }
    }
}

/// Flags of `mtpctl install admin-key`.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminKeyArgs {
    /// The platform namespace the API server runs in.
    #[arg(
        long,
        short = 'n',
        env = "MTP_PLATFORM_NAMESPACE",
        default_value = "mtp-system"
    )]
    pub namespace: String,
    /// The key's id (what audit records and logs name; never the secret).
    #[arg(long, value_name = "ID", default_value = mtp_core::authz::FIRST_KEY_ID)]
    pub key_id: String,
    /// The key's group: the API server's `--platform-admin-group` makes its members platform
    /// admins.
    #[arg(long, value_name = "GROUP", default_value = mtp_core::authz::DEFAULT_PLATFORM_ADMIN_GROUP)]
    pub group: String,
}

/// The Secret `mtp-api-keys` with one newly generated key, and that key's secret.
///
/// The first API key of an installation with static keys: the API server mounts this Secret's
/// `api-keys` as its keys file (it cannot write one into its read-only mount), so the key is
/// made here, only its SHA-256 hash goes into the Secret, and the secret is shown once.
pub fn admin_key(args: &AdminKeyArgs) -> Result<(String, mtp_auth::token::Secret), InstallError> {
    let key = mtp_auth::static_keys::generate_key(&args.key_id, std::slice::from_ref(&args.group))
        .map_err(|e| InstallError::Flag(format!("--key-id/--group: {e}")))?;
    let file = format!(
        "# mtp-apiserver API keys: <key-id>:<sha256-hex of the secret>[:<group>,...]\n{}\n",
        key.line
    );
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": API_KEYS_SECRET,
            "namespace": args.namespace,
            "labels": { "app.kubernetes.io/part-of": "mtp" },
        },
        "type": "Opaque",
        "stringData": { "api-keys": file },
    });
    let yaml = serde_yaml::to_string(&secret).map_err(|source| InstallError::Serialize {
        what: API_KEYS_SECRET.to_string(),
        source,
    })?;
    Ok((
        format!("---\n{yaml}"),
        mtp_auth::token::Secret::new(key.secret),
    ))
}

/// What can go wrong while rendering.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A flag's value is not acceptable (the message names the flag).
    #[error("{0}")]
    Flag(String),
    /// A generator of another component failed (the message says which).
    #[error("{0}")]
    Generate(String),
    /// An object could not be serialized.
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        /// The object.
        what: String,
        /// Why.
        #[source]
        source: serde_yaml::Error,
    },
    /// `--output-dir` cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The file of the Kustomize base an object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The Namespace and its NetworkPolicies.
    Namespace,
    /// The Tenant CustomResourceDefinition.
    Crd,
    /// mtp-apiserver's ServiceAccount, RBAC, Deployment and Service.
    Apiserver,
    /// mtp-controller's ServiceAccount, RBAC and Deployment.
    Controller,
    /// mtp-webhook's ServiceAccount, RBAC, Deployment, Service and PodDisruptionBudget.
    Webhook,
    /// The Validating- and MutatingWebhookConfiguration.
    WebhookConfigurations,
    /// Dex (only with `--with-dex`).
    Dex,
}

impl Part {
    /// The file name in the Kustomize base.
    pub fn file_name(self) -> &'static str {
        match self {
            Part::Namespace => "namespace.yaml",
            Part::Crd => "crd.yaml",
            Part::Apiserver => "apiserver.yaml",
            Part::Controller => "controller.yaml",
            Part::Webhook => "webhook.yaml",
            Part::WebhookConfigurations => "webhook-configurations.yaml",
            Part::Dex => "dex.yaml",
        }
    }
}

/// One rendered object and the file it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The file of the Kustomize base.
    pub part: Part,
    /// The object.
    pub object: Value,
}

impl Rendered {
    /// `Kind/name` of the object, for messages.
    pub fn describe(&self) -> String {
        let kind = self.object["kind"].as_str().unwrap_or("?");
        let name = self.object["metadata"]["name"].as_str().unwrap_or("?");
        format!("{kind}/{name}")
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Checks the flags clap cannot check alone.
pub fn validate(args: &InstallArgs) -> Result<(), InstallError> {
    if !is_dns_label(&args.namespace) {
        return Err(InstallError::Flag(format!(
            "--namespace {:?} is not a valid namespace name: lower-case letters, digits and '-', \
             at most 63 characters, starting and ending with a letter or digit",
            args.namespace
        )));
    }
    let registry = &args.image_registry;
    if registry.is_empty()
        || registry.ends_with('/')
        || registry.starts_with('/')
        || registry.contains("//")
        || !registry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "./-_:".contains(c))
        || registry.chars().any(|c| c.is_ascii_uppercase())
    {
        return Err(InstallError::Flag(format!(
            "--image-registry {registry:?} is not a registry path such as ghcr.io/acme or \
             registry.example.com:5000/mtp (lower-case, no trailing '/', no tag)"
        )));
    }
    let tag = &args.image_tag;
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !tag_ok {
        return Err(InstallError::Flag(format!(
            "--image-tag {tag:?} is not an image tag: letters, digits, '_', '.' and '-', \
             at most 128 characters, not starting with '.' or '-'"
        )));
    }
    Ok(())
}

/// Every object of the installation, in apply order (Namespace and CRD first).
pub fn render(args: &InstallArgs) -> Result<Vec<Rendered>, InstallError> {
    validate(args)?;
    objects::all(args)
}

fn yaml_of(rendered: &Rendered) -> Result<String, InstallError> {
    serde_yaml::to_string(&rendered.object).map_err(|source| InstallError::Serialize {
        what: rendered.describe(),
        source,
    })
}

/// The objects as one YAML stream (each document starting with `---`).
pub fn to_stream(objects: &[Rendered]) -> Result<String, InstallError> {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&yaml_of(o)?);
    }
    Ok(out)
}

/// The header of every file of the Kustomize base.
pub fn file_header() -> String {
    format!("# Generated by `mtpctl install`; do not edit. Regenerate: {REGENERATE}\n")
}

/// The files of the Kustomize base: one per [`Part`] present, then `kustomization.yaml`.
pub fn files(objects: &[Rendered]) -> Result<Vec<(String, String)>, InstallError> {
    let mut parts: Vec<Part> = objects.iter().map(|o| o.part).collect();
    parts.sort();
    parts.dedup();
    let mut out = Vec::new();
    for part in &parts {
        let mut text = file_header();
        let docs: Vec<Rendered> = objects
            .iter()
            .filter(|o| o.part == *part)
            .cloned()
            .collect();
        text.push_str(&to_stream(&docs)?);
        out.push((part.file_name().to_owned(), text));
    }
    let mut kustomization = file_header();
    kustomization
        .push_str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    for part in &parts {
        kustomization.push_str(&format!("- {}\n", part.file_name()));
    }
    out.push(("kustomization.yaml".to_owned(), kustomization));
    Ok(out)
}

/// Writes the Kustomize base into `dir` (created if needed); returns the files written.
pub fn write_dir(dir: &Path, objects: &[Rendered]) -> Result<Vec<PathBuf>, InstallError> {
    std::fs::create_dir_all(dir).map_err(|source| InstallError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, text) in files(objects)? {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| InstallError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Runs `mtpctl install`: the YAML stream to print, or (with `--output-dir`) a summary line
/// after writing the files.
pub fn run(args: &InstallArgs) -> Result<String, InstallError> {
    let objects = render(args)?;
    match &args.output_dir {
        None => to_stream(&objects),
        Some(dir) => {
            let written = write_dir(dir, &objects)?;
            Ok(format!(
                "wrote {} files to {}; apply with `kubectl apply -k {}`\n",
                written.len(),
                dir.display(),
                dir.display()
            ))
        }
    }
}

impl From<InstallError> for crate::mtpctl::CliError {
    fn from(e: InstallError) -> Self {
        match e {
            InstallError::Flag(m) => crate::mtpctl::CliError::Usage(m),
            other => crate::mtpctl::CliError::Other(other.to_string()),
        }
    }
}
