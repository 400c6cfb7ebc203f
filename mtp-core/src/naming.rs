//! Names of a tenant's namespaces: `tenant-<name>` and `tenant-<name>-<suffix>`, each a DNS-1123
//! label of at most 63 characters.

use crate::builders::{BuildError, validate_dns1123_label};

use crate::{Error, Result};

/// The prefix of every tenant namespace.
pub const NAMESPACE_PREFIX: &str = "tenant-";

/// The longest tenant name: `tenant-<name>` must fit in 63 characters.
pub const MAX_TENANT_NAME_LEN: usize = 63 - NAMESPACE_PREFIX.len();

fn to_error(err: BuildError) -> Error {
    match err {
        BuildError::InvalidName {
            field,
            value,
            reason,
        } => Error::invalid(
            field,
            format!("{value:?} is not a valid DNS-1123 label: {reason}"),
        ),
        other => Error::invalid("name", other.to_string()),
    }
}

/// Checks a tenant name: a DNS-1123 label short enough for its primary namespace.
///
/// ```
/// use mtp_core::naming::validate_tenant_name;
/// assert!(validate_tenant_name("acme").is_ok());
/// assert!(validate_tenant_name("Acme!").is_err());
/// ```
pub fn validate_tenant_name(name: &str) -> Result<()> {
    validate_dns1123_label("metadata.name", name).map_err(to_error)?;
    if name.len() > MAX_TENANT_NAME_LEN {
        return Err(Error::invalid(
            "metadata.name",
            format!(
                "{name:?} is {} characters; a tenant name has at most {MAX_TENANT_NAME_LEN} so that namespace \"tenant-<name>\" fits in 63",
                name.len()
            ),
        ));
    }
    Ok(())
}

/// The primary namespace of tenant `name`: `tenant-<name>`.
///
/// ```
/// assert_eq!(mtp_core::naming::primary_namespace("acme").unwrap(), "tenant-acme");
/// ```
pub fn primary_namespace(name: &str) -> Result<String> {
    validate_tenant_name(name)?;
    Ok(format!("{NAMESPACE_PREFIX}{name}"))
}

/// The extra namespace `tenant-<name>-<suffix>`; `field` names where the suffix came from.
///
/// ```
/// use mtp_core::naming::extra_namespace;
/// assert_eq!(extra_namespace("acme", "ci", "spec.namespaces[0]").unwrap(), "tenant-acme-ci");
/// assert!(extra_namespace("acme", "CI", "spec.namespaces[0]").is_err());
/// ```
pub fn extra_namespace(name: &str, suffix: &str, field: &str) -> Result<String> {
    validate_tenant_name(name)?;
    validate_dns1123_label(field, suffix).map_err(to_error)?;
    let full = format!("{NAMESPACE_PREFIX}{name}-{suffix}");
    if full.len() > 63 {
        return Err(Error::invalid(
            field,
            format!(
                "namespace {full:?} would be {} characters, more than 63: use a shorter suffix",
                full.len()
            ),
        ));
    }
    Ok(full)
}

/// The namespace names of tenant `name` with extra `suffixes` (primary first), without checks.
pub fn namespace_names(name: &str, suffixes: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(1 + suffixes.len());
    out.push(format!("{NAMESPACE_PREFIX}{name}"));
    out.extend(
        suffixes
            .iter()
            .map(|s| format!("{NAMESPACE_PREFIX}{name}-{s}")),
    );
    out
}

/// The names that, as a tenant name, could own one of `name`'s namespaces: every prefix of `name`
/// that ends before a `-` (tenant `a` owns `tenant-a-b` through suffix `b`, which is tenant
/// `a-b`'s primary namespace).
///
/// ```
/// assert_eq!(mtp_core::naming::hyphen_prefixes("a-b-c"), vec!["a", "a-b"]);
/// ```
pub fn hyphen_prefixes(name: &str) -> Vec<&str> {
    name.match_indices('-')
        .map(|(i, _)| &name[..i])
        .filter(|p| !p.is_empty() && !p.ends_with('-'))
        .collect()
}

/// The namespaces two tenants would share. `tenant-<name>-<suffix>` is ambiguous (tenant `a`
/// with suffix `b-ci` and tenant `a-b` with suffix `ci` both get `tenant-a-b-ci`), so the store
/// refuses a tenant whose namespaces overlap a live tenant's: a namespace must have one owner,
/// or one tenant's NetworkPolicy and RoleBindings would open another tenant's namespace.
///
/// ```
/// use mtp_core::naming::shared_namespaces;
/// let shared = shared_namespaces("a", &["b-ci".to_string()], "a-b", &["ci".to_string()]);
/// assert_eq!(shared, vec!["tenant-a-b-ci".to_string()]);
/// assert!(shared_namespaces("a", &[], "b", &[]).is_empty());
/// ```
pub fn shared_namespaces(
    name: &str,
    suffixes: &[String],
    other: &str,
    other_suffixes: &[String],
) -> Vec<String> {
    let theirs = namespace_names(other, other_suffixes);
    namespace_names(name, suffixes)
        .into_iter()
        .filter(|ns| theirs.contains(ns))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn overlaps() {
        assert_eq!(hyphen_prefixes("abc"), Vec::<&str>::new());
        assert_eq!(
            shared_namespaces("a", &["b".into()], "a-b", &[]),
            vec!["tenant-a-b".to_string()]
        );
        assert!(shared_namespaces("a", &["c".into()], "a-b", &["c".into()]).is_empty());
        assert_eq!(
            shared_namespaces("a", &[], "a", &[]),
            vec!["tenant-a".to_string()]
        );
    }

    #[test]
    fn names() {
        assert_eq!(primary_namespace("a").unwrap(), "tenant-a");
        assert_eq!(
            primary_namespace(&"a".repeat(56)).unwrap().len(),
            63,
            "the longest name fits"
        );
        let err = primary_namespace(&"a".repeat(57)).unwrap_err().to_string();
        assert!(err.starts_with("metadata.name: "), "{err}");
        assert!(err.contains("at most 56"), "{err}");
        let err = primary_namespace("Acme").unwrap_err().to_string();
        assert!(err.contains("lower-case letters, digits and '-'"), "{err}");
        let err = primary_namespace("").unwrap_err().to_string();
        assert!(err.contains("must not be empty"), "{err}");
        let err = extra_namespace("acme", "-ci", "spec.namespaces[1]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("spec.namespaces[1]: "), "{err}");
        let err = extra_namespace(&"a".repeat(50), "abcdefgh", "spec.namespaces[0]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 63"), "{err}");
    }
}
