//! `mtpctl render -f TENANT.yaml [--tiers FILE]`: the objects the controller would apply for a
//! Tenant, as YAML, computed offline by [`mtp_core::plan`].

use std::path::{Path, PathBuf};

use mtp_core::{PlatformSettings, Tenant, TierCatalogue};
use serde::Deserialize;

use super::error::CliError;

pub use crate::PLACEHOLDER_UID;

/// Flags of `mtpctl render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// A Tenant resource (YAML or JSON; several documents allowed; `-` for stdin).
    #[arg(short = 'f', long = "filename", value_name = "TENANT.yaml")]
    pub file: PathBuf,
    /// A tier catalogue file overriding the built-in tiers (see mtp-core's README).
    #[arg(long, value_name = "FILE", env = "MTP_TIERS")]
    pub tiers: Option<PathBuf>,
    /// The platform namespace the plan lets reach tenant pods.
    #[arg(long, env = "MTP_PLATFORM_NAMESPACE", default_value = "mtp-system")]
    pub platform_namespace: String,
}

/// Renders every Tenant in `text` (read from `origin`) to a YAML stream.
pub fn render_str(
    text: &str,
    origin: &str,
    catalogue: &TierCatalogue,
    settings: &PlatformSettings,
) -> Result<String, CliError> {
    let mut out = String::new();
    let mut count = 0;
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|e| CliError::Input(format!("{origin}: {}", yaml_err(&e, i))))?;
        if value.is_null() {
            continue; // an empty document (`---` at the end)
        }
        let api_version = value.get("apiVersion").and_then(serde_yaml::Value::as_str);
        let kind = value.get("kind").and_then(serde_yaml::Value::as_str);
        if api_version != Some("mtp.dev/v1alpha1") || kind != Some("Tenant") {
            return Err(CliError::Input(format!(
                "{origin}: document {}: expected apiVersion mtp.dev/v1alpha1 and kind Tenant, found {} {}",
                i + 1,
                api_version.unwrap_or("<no apiVersion>"),
                kind.unwrap_or("<no kind>")
            )));
        }
        // Deserialize again from this document's text so that errors carry a line number.
        let mut tenant: Tenant =
            deserialize_doc(text, i).map_err(|e| CliError::Input(format!("{origin}: {e}")))?;
        if tenant.metadata.uid.is_none() {
            tenant.metadata.uid = Some(PLACEHOLDER_UID.to_string());
        }
        let name = tenant.metadata.name.clone().unwrap_or_default();
        let plan = mtp_core::plan(&tenant, catalogue, settings).map_err(|e| {
            CliError::Input(format!(
                "{origin}: document {} (tenant {name:?}): {e}",
                i + 1
            ))
        })?;
        let yaml = plan
            .to_yaml()
            .map_err(|e| CliError::Other(format!("{origin}: {e}")))?;
        out.push_str(&guardrails_comment(&tenant, catalogue, origin)?);
        out.push_str(&yaml);
        count += 1;
    }
    if count == 0 {
        return Err(CliError::Input(format!("{origin}: no Tenant in the file")));
    }
    Ok(out)
}

/// The tenant's effective guardrails (what `guardrails.mtp.dev` enforces in its namespaces) as
/// a YAML comment, so the output stays something `kubectl apply -f -` takes.
fn guardrails_comment(
    tenant: &Tenant,
    catalogue: &TierCatalogue,
    origin: &str,
) -> Result<String, CliError> {
    let tier = tenant.spec.tier;
    let settings = catalogue
        .get(tier)
        .guardrail_settings(tenant.spec.guardrails.as_ref());
    let yaml =
        serde_yaml::to_string(&settings).map_err(|e| CliError::Other(format!("{origin}: {e}")))?;
    let source = if tenant.spec.guardrails.is_some() {
        format!("tier {tier}'s, with its spec.guardrails")
    } else {
        format!("tier {tier}'s")
    };
    let mut out = format!(
        "# Tenant {}: guardrails enforced in its namespaces ({source}):\n",
        tenant.metadata.name.as_deref().unwrap_or_default()
    );
    for line in yaml.lines().filter(|l| *l != "{}") {
        out.push_str("#   ");
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

fn yaml_err(e: &serde_yaml::Error, doc: usize) -> String {
    let msg = e.to_string();
    match e.location() {
        // serde_yaml's message already ends with "at line L column C".
        Some(l) if !msg.contains("line") => format!(
            "document {}: line {} column {}: {msg}",
            doc + 1,
            l.line(),
            l.column()
        ),
        _ => format!("document {}: {msg}", doc + 1),
    }
}

/// Deserializes document `index` of `text` as a Tenant, with the field path in errors.
fn deserialize_doc(text: &str, index: usize) -> Result<Tenant, String> {
    let Some(doc) = serde_yaml::Deserializer::from_str(text).nth(index) else {
        return Err(format!("document {} disappeared", index + 1));
    };
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde_yaml's message usually starts with the path already.
        if inner.starts_with(&path) || path == "." {
            format!("document {}: {inner}", index + 1)
        } else {
            format!("document {}: {path}: {inner}", index + 1)
        }
    })
}

/// Runs `render`: reads the files and returns the YAML to print.
pub fn run(args: &RenderArgs) -> Result<String, CliError> {
    let catalogue = match &args.tiers {
        Some(p) => TierCatalogue::from_file(p).map_err(|e| CliError::Input(e.to_string()))?,
        None => TierCatalogue::default(),
    };
    let settings = PlatformSettings {
        platform_namespace: args.platform_namespace.clone(),
        ..PlatformSettings::default()
    };
    let (text, origin) = read_input(&args.file)?;
    render_str(&text, &origin, &catalogue, &settings)
}

/// Reads `path` (`-` for stdin), returning its text and its name for messages.
pub fn read_input(path: &Path) -> Result<(String, String), CliError> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CliError::Input(format!("<stdin>: cannot read: {e}")))?;
        return Ok((s, "<stdin>".into()));
    }
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{origin}: cannot read: {e}")))?;
    Ok((text, origin))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn render(text: &str) -> Result<String, String> {
        render_str(
            text,
            "t.yaml",
            &TierCatalogue::default(),
            &PlatformSettings::default(),
        )
        .map_err(|e| e.to_string())
    }

    const OK: &str = "apiVersion: mtp.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n  displayName: Acme\n  tier: pro\n  ownerEmail: o@acme.io\n  admins: [alice]\n";

    #[test]
    fn shows_the_effective_guardrails_as_a_comment() {
        let yaml = "apiVersion: mtp.dev/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  displayName: Acme\n  tier: pro\n  ownerEmail: a@example.com\n  guardrails: {allowedRegistries: [ghcr.io/acme]}\n";
        let out = render(yaml).unwrap();
        assert!(
            out.starts_with("# Tenant acme: guardrails enforced in its namespaces (tier pro's, with its spec.guardrails):\n#   allowedRegistries:\n#   - ghcr.io/acme\n#   allowedServiceTypes:\n#   - LoadBalancer\n"),
            "{out}"
        );
        let bad = yaml.replace("ghcr.io/acme", "'ghcr.io/acme:v1'");
        let err = render(&bad).unwrap_err();
        assert!(
            err.contains("spec.guardrails.allowedRegistries[0]"),
            "{err}"
        );
    }

    #[test]
    fn renders_with_placeholder_uid() {
        let y = render(OK).unwrap();
        assert!(y.contains("name: tenant-acme"));
        assert!(y.contains(PLACEHOLDER_UID));
        assert!(
            y.starts_with("# Tenant acme: guardrails enforced in its namespaces (tier pro's):\n")
        );
        assert!(
            y.contains("\n---\napiVersion: v1\nkind: Namespace\n"),
            "{y}"
        );
    }

    #[test]
    fn bad_field_names_line_and_path() {
        let e = render(&OK.replace("tier: pro", "tier: gold")).unwrap_err();
        assert!(
            e.starts_with("t.yaml: document 1: spec.tier: unknown variant `gold`"),
            "{e}"
        );
        assert!(e.contains("line 7"), "{e}");
    }

    #[test]
    fn bad_yaml_names_line() {
        let e = render("apiVersion: mtp.dev/v1alpha1\nkind: Tenant\nmetadata: [\n").unwrap_err();
        assert!(e.starts_with("t.yaml: document 1:"), "{e}");
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn wrong_kind_and_empty() {
        let e = render("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n").unwrap_err();
        assert!(
            e.contains("expected apiVersion mtp.dev/v1alpha1 and kind Tenant, found v1 Namespace"),
            "{e}"
        );
        assert_eq!(render("").unwrap_err(), "t.yaml: no Tenant in the file");
    }

    #[test]
    fn plan_errors_name_the_field() {
        let text = OK.replace("tier: pro", "tier: free") + "  namespaces: [ci]\n";
        let e = render(&text).unwrap_err();
        assert!(
            e.contains("tenant \"acme\"") && e.contains("spec.namespaces"),
            "{e}"
        );
    }

    #[test]
    fn second_document_errors_count_lines_in_the_stream() {
        let text = format!(
            "{OK}---\n{}",
            OK.replace("ownerEmail: o@acme.io", "ownerEmail: 5")
                .replace("acme", "beta")
        );
        let e = render(&text).unwrap_err();
        assert!(e.contains("document 2"), "{e}");
    }
}
