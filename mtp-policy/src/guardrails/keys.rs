//! Patterns of label and annotation keys a tenant may not set.
//!
//! A Kubernetes label or annotation key is `[prefix/]name`: the prefix a DNS subdomain (at most
//! 253 characters), the name at most 63 letters, digits, `-`, `_` and `.`, starting and ending
//! with a letter or digit. A pattern is a key, or a key whose name is `*` (any name), whose prefix
//! is `*.<domain>` (any prefix under the domain, not the domain itself), or both:
//!
//! | pattern              | matches                                              | not                                  |
//! |----------------------|------------------------------------------------------|--------------------------------------|
//! | `mtp.dev/tenant`     | `mtp.dev/tenant`                                     | `mtp.dev/Tenant`, `x.mtp.dev/tenant` |
//! | `mtp.dev/*`          | `mtp.dev/tenant`, `mtp.dev/x`                        | `x.mtp.dev/x`, `mtp.dev`             |
//! | `*.kubernetes.io/*`  | `app.kubernetes.io/name`, `a.b.kubernetes.io/x`      | `kubernetes.io/x`                    |
//! | `*.k8s.io/owner`     | `x.k8s.io/owner`                                     | `x.k8s.io/other`                     |
//! | `app`                | `app` (no prefix)                                    | `x.io/app`                           |
//!
//! Names compare case-sensitively, as Kubernetes compares keys. Prefixes compare
//! case-insensitively: a label's prefix is lower-case by validation, but an annotation's prefix
//! is validated lower-cased, so `MTP.dev/tenant` is a valid annotation key and `mtp.dev/*` covers
//! it. `*` alone (every key) and `*/*` (every prefixed key) are refused.

use std::fmt;

use thiserror::Error;

/// The longest key prefix (a DNS subdomain).
const PREFIX_MAX: usize = 253;
/// The longest key name.
const NAME_MAX: usize = 63;

/// Why a key pattern was refused. Every variant names the pattern.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyPatternError {
    /// The pattern is empty.
    #[error("empty key pattern")]
    Empty,
    /// `*` or `*/*`: it would forbid every (prefixed) key.
    #[error(
        "key pattern {0:?} would match every key; name a prefix, as in example.com/* or *.example.com/*"
    )]
    MatchesEverything(String),
    /// `*` elsewhere than the whole name or a leading `*.` of the prefix.
    #[error(
        "key pattern {0:?}: '*' is only allowed as the whole name (example.com/*) or as a leading '*.' of the prefix (*.example.com/*)"
    )]
    Wildcard(String),
    /// More than one `/`.
    #[error("key pattern {0:?} has more than one '/'; a key is [prefix/]name")]
    TooManySlashes(String),
    /// The prefix is not a DNS subdomain.
    #[error(
        "key pattern {pattern:?}: prefix {prefix:?} is not a DNS subdomain (letters, digits and '-' in '.'-separated labels starting and ending with a letter or digit, at most 253 characters)"
    )]
    InvalidPrefix {
        /// The pattern as given.
        pattern: String,
        /// The prefix (without a leading `*.`).
        prefix: String,
    },
    /// The name is not a valid key name.
    #[error(
        "key pattern {pattern:?}: name {name:?} is not valid (1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit; or * alone)"
    )]
    InvalidName {
        /// The pattern as given.
        pattern: String,
        /// The name part.
        name: String,
    },
}

/// Which prefixes a pattern covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Prefix {
    /// Keys without a prefix.
    None,
    /// This prefix (lower-case).
    Exact(String),
    /// Prefixes ending in this suffix (lower-case, with its leading `.`) after at least one label.
    Under(String),
}

/// Which names a pattern covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Name {
    Any,
    Exact(String),
}

/// A label or annotation key a tenant may not set, or a family of them (see the [module
/// documentation](self) for the forms).
///
/// ```
/// use mtp_policy::guardrails::KeyPattern;
/// let platform = KeyPattern::parse("mtp.dev/*")?;
/// assert!(platform.matches("mtp.dev/tenant"));
/// assert!(!platform.matches("team.mtp.dev/tenant"));
///
/// let k8s = KeyPattern::parse("*.kubernetes.io/*")?;
/// assert!(k8s.matches("node-role.kubernetes.io/control-plane"));
/// assert!(!k8s.matches("kubernetes.io/metadata.name"));
///
/// let tenant = KeyPattern::parse("mtp.dev/tenant")?;
/// assert!(tenant.matches("mtp.dev/tenant"));
/// assert!(!tenant.matches("mtp.dev/Tenant"));
/// assert!(KeyPattern::parse("*").is_err());
/// # Ok::<(), mtp_policy::guardrails::KeyPatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPattern {
    normalised: String,
    prefix: Prefix,
    name: Name,
}

impl KeyPattern {
    /// Parses a key pattern: `[prefix/]name` where the prefix may be `*.<domain>` and the name
    /// may be `*` (not both absent: `*` and `*/*` are refused).
    pub fn parse(pattern: &str) -> Result<KeyPattern, KeyPatternError> {
        if pattern.is_empty() {
            return Err(KeyPatternError::Empty);
        }
        if pattern == "*" || pattern == "*/*" {
            return Err(KeyPatternError::MatchesEverything(pattern.to_owned()));
        }
        let (prefix, name) = match pattern.split_once('/') {
            Some((prefix, name)) => (Some(prefix), name),
            None => (None, pattern),
        };
        if name.contains('/') {
            return Err(KeyPatternError::TooManySlashes(pattern.to_owned()));
        }
        let prefix = match prefix {
            None => Prefix::None,
            Some(prefix) => {
                let (under, domain) = match prefix.strip_prefix("*.") {
                    Some(domain) => (true, domain),
                    None => (false, prefix),
                };
                if domain.contains('*') {
                    return Err(KeyPatternError::Wildcard(pattern.to_owned()));
                }
                if !valid_prefix(domain) || (under && prefix.len() > PREFIX_MAX) {
                    return Err(KeyPatternError::InvalidPrefix {
                        pattern: pattern.to_owned(),
                        prefix: domain.to_owned(),
                    });
                }
                let domain = domain.to_ascii_lowercase();
                if under {
                    Prefix::Under(format!(".{domain}"))
                } else {
                    Prefix::Exact(domain)
                }
            }
        };
        let name = match name {
            "*" if prefix == Prefix::None => {
                return Err(KeyPatternError::MatchesEverything(pattern.to_owned()));
            }
            "*" => Name::Any,
            name if name.contains('*') => {
                return Err(KeyPatternError::Wildcard(pattern.to_owned()));
            }
            name if valid_name(name) => Name::Exact(name.to_owned()),
            name => {
                return Err(KeyPatternError::InvalidName {
                    pattern: pattern.to_owned(),
                    name: name.to_owned(),
                });
            }
        };
        let name_text = match &name {
            Name::Any => "*",
            Name::Exact(name) => name.as_str(),
        };
        let normalised = match &prefix {
            Prefix::None => name_text.to_owned(),
            Prefix::Exact(domain) => format!("{domain}/{name_text}"),
            Prefix::Under(suffix) => format!("*{suffix}/{name_text}"),
        };
        Ok(KeyPattern {
            normalised,
            prefix,
            name,
        })
    }

    /// Whether `key` (a label or annotation key) is covered. Does not allocate. A key with more
    /// than one `/` (which Kubernetes refuses) is read as prefix and name at its first `/`.
    pub fn matches(&self, key: &str) -> bool {
        let (prefix, name) = match key.split_once('/') {
            Some((prefix, name)) => (Some(prefix), name),
            None => (None, key),
        };
        let prefix_matches = match (&self.prefix, prefix) {
            (Prefix::None, None) => true,
            (Prefix::Exact(domain), Some(prefix)) => prefix.eq_ignore_ascii_case(domain),
            (Prefix::Under(suffix), Some(prefix)) => {
                prefix.len() > suffix.len()
                    && prefix
                        .as_bytes()
                        .get(prefix.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix.as_bytes()))
            }
            _ => false,
        };
        prefix_matches
            && match &self.name {
                Name::Any => true,
                Name::Exact(exact) => name == exact,
            }
    }

    /// The normalised pattern (the prefix lower-cased), for messages.
    pub fn as_str(&self) -> &str {
        &self.normalised
    }
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalised)
    }
}

/// A DNS subdomain of any case: labels of letters, digits and inner dashes, at most 253 in all.
fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= PREFIX_MAX
        && prefix.split('.').all(|label| {
            let bytes = label.as_bytes();
            matches!((bytes.first(), bytes.last()), (Some(first), Some(last))
                if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric())
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        })
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters.
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() <= NAME_MAX
        && matches!((bytes.first(), bytes.last()), (Some(first), Some(last))
            if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern(text: &str) -> KeyPattern {
        KeyPattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_and_normalises() {
        for (text, normalised) in [
            ("mtp.dev/tenant", "mtp.dev/tenant"),
            ("MTP.dev/Tenant", "mtp.dev/Tenant"),
            ("mtp.dev/*", "mtp.dev/*"),
            ("*.kubernetes.io/*", "*.kubernetes.io/*"),
            ("*.K8S.io/owner", "*.k8s.io/owner"),
            ("kubernetes.io/*", "kubernetes.io/*"),
            ("app", "app"),
            ("localhost/x", "localhost/x"),
            ("a.b/c.d_e-f", "a.b/c.d_e-f"),
        ] {
            let p = pattern(text);
            assert_eq!(p.as_str(), normalised, "{text}");
            assert_eq!(KeyPattern::parse(p.as_str()), Ok(p.clone()));
        }
        assert!(KeyPattern::parse(&format!("x.io/{}", "n".repeat(63))).is_ok());
        let prefix = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert!(KeyPattern::parse(&format!("{prefix}/*")).is_ok());
    }

    #[test]
    fn refuses_invalid_patterns() {
        let long_prefix = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(62)
        );
        let long_prefix_pattern = format!("{long_prefix}/*");
        let long_wildcard = format!("*.{}/*", &long_prefix[2..]);
        let long_name = format!("x.io/{}", "n".repeat(64));
        let cases: Vec<(&str, KeyPatternError)> = vec![
            ("", KeyPatternError::Empty),
            ("*", KeyPatternError::MatchesEverything("*".into())),
            ("*/*", KeyPatternError::MatchesEverything("*/*".into())),
            ("*/x", KeyPatternError::Wildcard("*/x".into())),
            ("mtp.*/x", KeyPatternError::Wildcard("mtp.*/x".into())),
            ("*.*.io/x", KeyPatternError::Wildcard("*.*.io/x".into())),
            (
                "mtp.dev/ten*",
                KeyPatternError::Wildcard("mtp.dev/ten*".into()),
            ),
            ("app*", KeyPatternError::Wildcard("app*".into())),
            ("a/b/c", KeyPatternError::TooManySlashes("a/b/c".into())),
            (
                "/x",
                KeyPatternError::InvalidPrefix {
                    pattern: "/x".into(),
                    prefix: String::new(),
                },
            ),
            (
                "*./x",
                KeyPatternError::InvalidPrefix {
                    pattern: "*./x".into(),
                    prefix: String::new(),
                },
            ),
            (
                "a..b/x",
                KeyPatternError::InvalidPrefix {
                    pattern: "a..b/x".into(),
                    prefix: "a..b".into(),
                },
            ),
            (
                "a_b/x",
                KeyPatternError::InvalidPrefix {
                    pattern: "a_b/x".into(),
                    prefix: "a_b".into(),
                },
            ),
            (
                "-a.b/x",
                KeyPatternError::InvalidPrefix {
                    pattern: "-a.b/x".into(),
                    prefix: "-a.b".into(),
                },
            ),
            (
                &long_prefix_pattern,
                KeyPatternError::InvalidPrefix {
                    pattern: long_prefix_pattern.clone(),
                    prefix: long_prefix.clone(),
                },
            ),
            (
                &long_wildcard,
                KeyPatternError::InvalidPrefix {
                    pattern: long_wildcard.clone(),
                    prefix: long_prefix[2..].to_owned(),
                },
            ),
            (
                "x.io/",
                KeyPatternError::InvalidName {
                    pattern: "x.io/".into(),
                    name: String::new(),
                },
            ),
            (
                "x.io/-a",
                KeyPatternError::InvalidName {
                    pattern: "x.io/-a".into(),
                    name: "-a".into(),
                },
            ),
            (
                "x.io/a.",
                KeyPatternError::InvalidName {
                    pattern: "x.io/a.".into(),
                    name: "a.".into(),
                },
            ),
            (
                "a b",
                KeyPatternError::InvalidName {
                    pattern: "a b".into(),
                    name: "a b".into(),
                },
            ),
            (
                "x.io/ü",
                KeyPatternError::InvalidName {
                    pattern: "x.io/ü".into(),
                    name: "ü".into(),
                },
            ),
            (
                &long_name,
                KeyPatternError::InvalidName {
                    pattern: long_name.clone(),
                    name: "n".repeat(64),
                },
            ),
        ];
        for (text, error) in cases {
            assert_eq!(KeyPattern::parse(text), Err(error), "{text:?}");
        }
        assert_eq!(
            KeyPattern::parse("*").map(|_| ()).unwrap_err().to_string(),
            "key pattern \"*\" would match every key; name a prefix, as in example.com/* or *.example.com/*"
        );
    }

    #[test]
    fn matching_table() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "mtp.dev/tenant",
                &["mtp.dev/tenant", "MTP.DEV/tenant"],
                &[
                    "mtp.dev/Tenant",
                    "mtp.dev/tenants",
                    "x.mtp.dev/tenant",
                    "tenant",
                    "mtp.dev",
                    "mtp.dev/",
                    "",
                ],
            ),
            (
                "mtp.dev/*",
                &[
                    "mtp.dev/tenant",
                    "mtp.dev/x",
                    "Mtp.Dev/x",
                    "mtp.dev/",
                    "mtp.dev/a/b",
                ],
                &[
                    "x.mtp.dev/tenant",
                    "mtp.devx/a",
                    "xmtp.dev/a",
                    "mtp.dev",
                    "tenant",
                    "",
                ],
            ),
            (
                "*.kubernetes.io/*",
                &[
                    "app.kubernetes.io/name",
                    "a.b.kubernetes.io/x",
                    "node-role.kubernetes.io/control-plane",
                    "X.Kubernetes.IO/y",
                ],
                &[
                    "kubernetes.io/metadata.name",
                    "xkubernetes.io/a",
                    ".kubernetes.io/a",
                    "kubernetes.io",
                    "app.kubernetes.io.evil.com/a",
                ],
            ),
            (
                "kubernetes.io/*",
                &["kubernetes.io/metadata.name"],
                &["app.kubernetes.io/name"],
            ),
            (
                "*.k8s.io/owner",
                &["x.k8s.io/owner"],
                &["x.k8s.io/other", "k8s.io/owner", "x.k8s.io/Owner"],
            ),
            ("app", &["app"], &["App", "x.io/app", "apps", ""]),
        ];
        for (text, yes, no) in cases {
            let p = pattern(text);
            for key in *yes {
                assert!(p.matches(key), "{text} should match {key:?}");
            }
            for key in *no {
                assert!(!p.matches(key), "{text} should not match {key:?}");
            }
        }
    }

    fn domain() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,5}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,5}[a-z0-9])?){0,3}"
    }

    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?"
    }

    proptest! {
        #[test]
        fn never_panics(p in "\\PC{0,40}", k in "\\PC{0,40}") {
            if let Ok(p) = KeyPattern::parse(&p) {
                let _ = p.matches(&k);
                prop_assert_eq!(KeyPattern::parse(p.as_str()), Ok(p.clone()));
            }
        }

        #[test]
        fn prefix_wildcard_covers_its_prefix_only(d in domain(), sub in domain(), n in name()) {
            let (own, below, glued) = (format!("{d}/{n}"), format!("{sub}.{d}/{n}"), format!("{sub}{d}/{n}"));
            let p = KeyPattern::parse(&format!("{d}/*"))?;
            prop_assert!(p.matches(&own));
            prop_assert!(!p.matches(&below));
            prop_assert!(!p.matches(&glued));
            prop_assert!(!p.matches(&n));
            let under = KeyPattern::parse(&format!("*.{d}/*"))?;
            prop_assert!(under.matches(&below));
            prop_assert!(!under.matches(&own));
            prop_assert!(!under.matches(&glued));
        }

        #[test]
        fn exact_matches_only_itself(d in domain(), a in name(), b in name()) {
            let (key_a, key_b) = (format!("{d}/{a}"), format!("{d}/{b}"));
            let p = KeyPattern::parse(&key_a)?;
            prop_assert!(p.matches(&key_a));
            prop_assert_eq!(p.matches(&key_b), a == b);
            prop_assert_eq!(KeyPattern::parse(&a)?.matches(&b), a == b);
            prop_assert!(!KeyPattern::parse(&a)?.matches(&key_a));
        }
    }
}
