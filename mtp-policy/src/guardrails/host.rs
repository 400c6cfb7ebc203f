//! Ingress hostnames: allowed-hostname patterns, the Ingress notion of two hosts colliding, and an
//! index of which tenant's Ingresses use which hosts.
//!
//! Kubernetes validates an Ingress rule's host as a lower-case DNS-1123 subdomain (at most 253
//! characters) with an optional leading `*.`, and refuses IP addresses. A wildcard host `*.foo.com`
//! receives the requests for hosts with exactly one label more than `foo.com` (`bar.foo.com`, not
//! `baz.bar.foo.com`, not `foo.com`); a host without a wildcard receives only its own.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{PoisonError, RwLock};

use thiserror::Error;

/// The longest DNS subdomain, wildcard included.
const HOST_MAX: usize = 253;
/// The longest DNS label.
const LABEL_MAX: usize = 63;

/// Why an allowed-hostname pattern was refused. Every variant names the pattern.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The pattern is empty (or only a dot).
    #[error("empty hostname pattern")]
    Empty,
    /// The pattern is longer than 253 characters.
    #[error("hostname pattern {pattern:?} is {len} characters long, more than 253")]
    TooLong {
        /// The pattern as given.
        pattern: String,
        /// Its length, without a trailing dot.
        len: usize,
    },
    /// A label is empty or has characters other than letters, digits and inner dashes.
    #[error(
        "hostname pattern {pattern:?}: label {label:?} is not valid (letters, digits and '-', starting and ending with a letter or digit)"
    )]
    InvalidLabel {
        /// The pattern as given.
        pattern: String,
        /// The offending label (empty for `a..b` or a leading dot).
        label: String,
    },
    /// A label is longer than 63 characters.
    #[error("hostname pattern {pattern:?}: label {label:?} is longer than 63 characters")]
    LabelTooLong {
        /// The pattern as given.
        pattern: String,
        /// The offending label.
        label: String,
    },
    /// `*` somewhere else than a whole first label followed by a domain.
    #[error(
        "hostname pattern {0:?}: '*' is only allowed as a whole first label followed by a domain, as in *.example.com"
    )]
    Wildcard(String),
    /// The pattern is an IPv4 address (an IPv6 address is an invalid label).
    #[error("hostname pattern {0:?} is an IP address; Ingress hosts are DNS names")]
    IpAddress(String),
}

/// An allowed-hostname pattern: `app.acme.example.com` (that host) or `*.acme.example.com` (any
/// host under `acme.example.com`, at any depth).
///
/// Hosts compare case-insensitively, and one trailing dot is ignored, in patterns and hosts. A
/// wildcard pattern also matches Ingress wildcard hosts under its domain (`*.x.acme.example.com`
/// and `*.acme.example.com` itself), never `acme.example.com`. A host that is not a (wildcard)
/// DNS name never matches.
///
/// ```
/// use mtp_policy::guardrails::HostPattern;
/// let acme = HostPattern::parse("*.acme.example.com")?;
/// assert!(acme.matches("app.acme.example.com"));
/// assert!(acme.matches("a.b.acme.example.com"));
/// assert!(acme.matches("*.acme.example.com"));
/// assert!(!acme.matches("acme.example.com"));
/// assert!(!acme.matches("app.acme.example.com.evil.io"));
///
/// let app = HostPattern::parse("App.Example.com.")?;
/// assert_eq!(app.as_str(), "app.example.com");
/// assert!(app.matches("app.example.com"));
/// assert!(!app.matches("www.app.example.com"));
/// assert!(HostPattern::parse("10.0.0.1").is_err());
/// # Ok::<(), mtp_policy::guardrails::HostError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPattern {
    /// Lower-case, without a trailing dot; `*.` first for a wildcard.
    normalised: String,
    wildcard: bool,
}

impl HostPattern {
    /// Parses an exact or `*.` wildcard pattern: a DNS subdomain (letters, digits and inner
    /// dashes in labels of at most 63 characters, at most 253 in all), not an IP address.
    pub fn parse(pattern: &str) -> Result<HostPattern, HostError> {
        let host = trim_dot(pattern);
        if host.is_empty() {
            return Err(HostError::Empty);
        }
        if host.len() > HOST_MAX {
            return Err(HostError::TooLong {
                pattern: pattern.to_owned(),
                len: host.len(),
            });
        }
        let (wildcard, domain) = match host.strip_prefix("*.") {
            Some(domain) => (true, domain),
            None => (false, host),
        };
        if domain.contains('*') || domain.is_empty() {
            return Err(HostError::Wildcard(pattern.to_owned()));
        }
        for label in domain.split('.') {
            if !valid_label(label) {
                return Err(HostError::InvalidLabel {
                    pattern: pattern.to_owned(),
                    label: label.to_owned(),
                });
            }
            if label.len() > LABEL_MAX {
                return Err(HostError::LabelTooLong {
                    pattern: pattern.to_owned(),
                    label: label.to_owned(),
                });
            }
        }
        if !wildcard && is_ipv4(domain) {
            return Err(HostError::IpAddress(pattern.to_owned()));
        }
        Ok(HostPattern {
            normalised: host.to_ascii_lowercase(),
            wildcard,
        })
    }

    /// Whether `host` (an Ingress host, `*.` wildcard allowed) is allowed by this pattern. Does
    /// not allocate.
    pub fn matches(&self, host: &str) -> bool {
        let host = trim_dot(host);
        if !is_host(host) {
            return false;
        }
        if self.wildcard {
            // ".acme.example.com", after at least one more label.
            let suffix = self.normalised.get(1..).unwrap_or_default();
            host.len() > suffix.len()
                && host
                    .as_bytes()
                    .get(host.len() - suffix.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix.as_bytes()))
        } else {
            host.eq_ignore_ascii_case(&self.normalised)
        }
    }

    /// The normalised pattern: lower-case, without a trailing dot.
    pub fn as_str(&self) -> &str {
        &self.normalised
    }

    /// Whether this is a `*.` pattern.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalised)
    }
}

/// Whether two Ingress hosts would receive the same requests, with Kubernetes Ingress semantics:
/// they are equal (case-insensitively, one trailing dot ignored), or one is a wildcard `*.foo.com`
/// and the other has exactly one label more than `foo.com` (`bar.foo.com`; not `baz.bar.foo.com`,
/// not `foo.com`). Two different wildcards never overlap. Symmetric; does not allocate.
///
/// ```
/// use mtp_policy::guardrails::hosts_overlap;
/// assert!(hosts_overlap("app.example.com", "APP.example.com."));
/// assert!(hosts_overlap("*.example.com", "app.example.com"));
/// assert!(hosts_overlap("app.example.com", "*.example.com"));
/// assert!(!hosts_overlap("*.example.com", "a.app.example.com"));
/// assert!(!hosts_overlap("*.example.com", "example.com"));
/// assert!(!hosts_overlap("*.example.com", "*.app.example.com"));
/// ```
pub fn hosts_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (trim_dot(a), trim_dot(b));
    a.eq_ignore_ascii_case(b) || wildcard_covers(a, b) || wildcard_covers(b, a)
}

/// Whether `wildcard` is `*.<parent>` and `host` is one label (not `*`) and `.<parent>`.
fn wildcard_covers(wildcard: &str, host: &str) -> bool {
    let Some(parent) = wildcard.strip_prefix("*.") else {
        return false;
    };
    let host = host.as_bytes();
    let Some(dot) = host.len().checked_sub(parent.len() + 1) else {
        return false;
    };
    let (label, rest) = host.split_at(dot);
    !label.is_empty()
        && label != b"*"
        && !label.contains(&b'.')
        && rest.first() == Some(&b'.')
        && rest
            .get(1..)
            .is_some_and(|p| p.eq_ignore_ascii_case(parent.as_bytes()))
}

/// `host` without one trailing dot.
fn trim_dot(host: &str) -> &str {
    host.strip_suffix('.').unwrap_or(host)
}

/// Letters, digits and `-`, starting and ending with a letter or digit (no length limit).
fn valid_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    matches!((bytes.first(), bytes.last()), (Some(first), Some(last))
        if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// A DNS subdomain of any case with an optional leading `*.`, at most 253 characters: what an
/// Ingress host can be (Kubernetes puts no limit on its labels' length).
fn is_host(host: &str) -> bool {
    let domain = host.strip_prefix("*.").unwrap_or(host);
    host.len() <= HOST_MAX && domain.split('.').all(valid_label)
}

/// Four dot-separated decimal numbers up to 255 (leading zeros allowed, as Go's sloppy parser).
fn is_ipv4(host: &str) -> bool {
    let mut labels = 0;
    for label in host.split('.') {
        labels += 1;
        let number = label.bytes().try_fold(0u32, |n, b| {
            let n = n * 10 + u32::from(b.wrapping_sub(b'0'));
            (b.is_ascii_digit() && n <= 255).then_some(n)
        });
        if label.is_empty() || number.is_none() {
            return false;
        }
    }
    labels == 4
}

/// `host` lower-cased, without one trailing dot; borrowed when it already is.
fn normalise(host: &str) -> Cow<'_, str> {
    let host = trim_dot(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// The Ingress that uses a host: its tenant, namespace and name. Ordered by tenant, then
/// namespace, then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostOwner {
    /// The tenant the Ingress's namespace belongs to.
    pub tenant: String,
    /// The Ingress's namespace.
    pub namespace: String,
    /// The Ingress's name.
    pub name: String,
}

impl fmt::Display for HostOwner {
    /// `Ingress <namespace>/<name> of tenant <tenant>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ingress {}/{} of tenant {}",
            self.namespace, self.name, self.tenant
        )
    }
}

/// Which tenant's Ingresses use which hosts, to refuse a host another tenant already uses. Fed by
/// a watch (in the binary) or directly (tests).
///
/// Hosts are stored lower-case without a trailing dot. [`HostIndex::conflict`] looks up the exact
/// host and the wildcard of its parent domain (or, for a wildcard, the equal wildcard and the
/// hosts one label under its domain): a few hash lookups, not a scan. An empty host (a rule
/// without a host, which receives every host no other rule claims) is indexed like any other and
/// overlaps only another empty host.
///
/// ```
/// use mtp_policy::guardrails::{HostIndex, HostOwner};
/// let index = HostIndex::default();
/// index.set("acme", "acme-web", "www", &["www.acme.com", "*.shop.example.com"]);
/// let (owner, host) = index.conflict("globex", "cart.shop.example.com").expect("a conflict");
/// assert_eq!(owner, HostOwner { tenant: "acme".into(), namespace: "acme-web".into(), name: "www".into() });
/// assert_eq!(host, "*.shop.example.com");
/// assert_eq!(index.conflict("acme", "cart.shop.example.com"), None); // its own host
/// assert_eq!(index.conflict("globex", "a.cart.shop.example.com"), None); // two labels under
/// index.remove("acme-web", "www");
/// assert!(index.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct HostIndex {
    inner: RwLock<Inner>,
}

/// Per tenant, the Ingresses `(namespace, name, host)` in a bucket.
type Bucket = BTreeMap<String, BTreeSet<(String, String, String)>>;

#[derive(Debug, Default)]
struct Inner {
    /// `(namespace, name)` → tenant and normalised hosts, to undo a record.
    ingresses: HashMap<(String, String), (String, BTreeSet<String>)>,
    /// Non-wildcard host → its users.
    exact: HashMap<String, Bucket>,
    /// Parent domain of a non-wildcard host (`foo.com` for `bar.foo.com`) → its users.
    under: HashMap<String, Bucket>,
    /// Domain of a wildcard (`foo.com` for `*.foo.com`) → its users.
    wildcards: HashMap<String, Bucket>,
}

/// Where a host is filed: (map, key) pairs.
enum Slots<'h> {
    Wildcard(&'h str),
    Exact(&'h str, Option<&'h str>),
}

fn slots(host: &str) -> Slots<'_> {
    match host.strip_prefix("*.") {
        Some(domain) => Slots::Wildcard(domain),
        None => Slots::Exact(host, host.split_once('.').map(|(_, parent)| parent)),
    }
}

impl Inner {
    fn insert(&mut self, owner: HostOwner, hosts: BTreeSet<String>) {
        self.remove(&owner.namespace, &owner.name);
        if hosts.is_empty() {
            return;
        }
        for host in &hosts {
            let entry = || (owner.namespace.clone(), owner.name.clone(), host.clone());
            match slots(host) {
                Slots::Wildcard(domain) => {
                    file(&mut self.wildcards, domain, &owner.tenant, entry())
                }
                Slots::Exact(host, parent) => {
                    file(&mut self.exact, host, &owner.tenant, entry());
                    if let Some(parent) = parent {
                        file(&mut self.under, parent, &owner.tenant, entry());
                    }
                }
            }
        }
        self.ingresses
            .insert((owner.namespace, owner.name), (owner.tenant, hosts));
    }

    fn remove(&mut self, namespace: &str, name: &str) {
        let Some((tenant, hosts)) = self
            .ingresses
            .remove(&(namespace.to_owned(), name.to_owned()))
        else {
            return;
        };
        for host in &hosts {
            let entry = (namespace.to_owned(), name.to_owned(), host.clone());
            match slots(host) {
                Slots::Wildcard(domain) => unfile(&mut self.wildcards, domain, &tenant, &entry),
                Slots::Exact(host, parent) => {
                    unfile(&mut self.exact, host, &tenant, &entry);
                    if let Some(parent) = parent {
                        unfile(&mut self.under, parent, &tenant, &entry);
                    }
                }
            }
        }
    }

    fn conflict(&self, tenant: &str, host: &str) -> Option<(HostOwner, String)> {
        let (first, second) = match slots(host) {
            Slots::Wildcard(domain) => (self.wildcards.get(domain), self.under.get(domain)),
            Slots::Exact(host, parent) => (
                self.exact.get(host),
                parent.and_then(|parent| self.wildcards.get(parent)),
            ),
        };
        let best = match (
            first_of_others(first, tenant),
            first_of_others(second, tenant),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        best.map(|(tenant, (namespace, name, host))| {
            (
                HostOwner {
                    tenant: tenant.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                },
                host.clone(),
            )
        })
    }
}

/// The first entry of the first tenant other than `tenant` in `bucket`: the bucket's smallest
/// entry of another tenant, since tenants come first in the order.
fn first_of_others<'b>(
    bucket: Option<&'b Bucket>,
    tenant: &str,
) -> Option<(&'b String, &'b (String, String, String))> {
    let (owner, entries) = bucket?.iter().find(|(owner, _)| owner.as_str() != tenant)?;
    Some((owner, entries.first()?))
}

fn file(
    map: &mut HashMap<String, Bucket>,
    key: &str,
    tenant: &str,
    entry: (String, String, String),
) {
    map.entry(key.to_owned())
        .or_default()
        .entry(tenant.to_owned())
        .or_default()
        .insert(entry);
}

fn unfile(
    map: &mut HashMap<String, Bucket>,
    key: &str,
    tenant: &str,
    entry: &(String, String, String),
) {
    let Some(bucket) = map.get_mut(key) else {
        return;
    };
    if let Some(entries) = bucket.get_mut(tenant) {
        entries.remove(entry);
        if entries.is_empty() {
            bucket.remove(tenant);
        }
    }
    if bucket.is_empty() {
        map.remove(key);
    }
}

fn normalised_set<'h>(hosts: impl IntoIterator<Item = &'h str>) -> BTreeSet<String> {
    hosts
        .into_iter()
        .map(|h| normalise(h).into_owned())
        .collect()
}

impl HostIndex {
    /// Records the hosts of Ingress `namespace/name` of `tenant`, replacing what it had; no hosts
    /// removes it. Duplicates count once.
    pub fn set(&self, tenant: &str, namespace: &str, name: &str, hosts: &[&str]) {
        let owner = HostOwner {
            tenant: tenant.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let hosts = normalised_set(hosts.iter().copied());
        self.write().insert(owner, hosts);
    }

    /// Forgets Ingress `namespace/name` (deleted).
    pub fn remove(&self, namespace: &str, name: &str) {
        self.write().remove(namespace, name);
    }

    /// Replaces everything (after a relist). A later entry for the same Ingress replaces an
    /// earlier one.
    pub fn replace_all(&self, entries: impl IntoIterator<Item = (HostOwner, Vec<String>)>) {
        let mut fresh = Inner::default();
        for (owner, hosts) in entries {
            fresh.insert(owner, normalised_set(hosts.iter().map(String::as_str)));
        }
        *self.write() = fresh;
    }

    /// An Ingress of another tenant than `tenant` whose host overlaps `host` (see
    /// [`hosts_overlap`]), with that host as stored; the first in order of owner then host.
    /// Allocates only for the answer (and to lower-case an upper-case `host`).
    pub fn conflict(&self, tenant: &str, host: &str) -> Option<(HostOwner, String)> {
        let host = normalise(host);
        self.read().conflict(tenant, &host)
    }

    /// How many Ingresses with at least one host are recorded.
    pub fn len(&self) -> usize {
        self.read().ingresses.len()
    }

    /// No Ingress is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn patterns_parse_and_normalise() {
        for (pattern, normalised, wildcard) in [
            ("app.acme.example.com", "app.acme.example.com", false),
            ("App.ACME.example.com.", "app.acme.example.com", false),
            ("*.acme.example.com", "*.acme.example.com", true),
            ("*.Acme.Example.com.", "*.acme.example.com", true),
            ("localhost", "localhost", false),
            ("*.com", "*.com", true),
            ("xn--n3h.example", "xn--n3h.example", false),
            ("1.2.3", "1.2.3", false),
            ("1.2.3.4.5", "1.2.3.4.5", false),
            ("256.1.1.1", "256.1.1.1", false),
            ("a-b--c.d", "a-b--c.d", false),
        ] {
            let p = HostPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(
                (p.as_str(), p.is_wildcard()),
                (normalised, wildcard),
                "{pattern}"
            );
            assert_eq!(HostPattern::parse(p.as_str()), Ok(p.clone()));
        }
        let longest_label = format!("{}.com", "a".repeat(63));
        assert!(HostPattern::parse(&longest_label).is_ok());
        let longest = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(longest.len(), 253);
        assert!(HostPattern::parse(&longest).is_ok());
        assert!(HostPattern::parse(&format!("{longest}.")).is_ok());
    }

    #[test]
    fn patterns_refuse_what_kubernetes_refuses() {
        let long_label = format!("{}.com", "a".repeat(64));
        let too_long = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(62)
        );
        let cases: Vec<(&str, HostError)> = vec![
            ("", HostError::Empty),
            (".", HostError::Empty),
            ("*", HostError::Wildcard("*".into())),
            ("*.", HostError::Wildcard("*.".into())),
            ("a.*.b", HostError::Wildcard("a.*.b".into())),
            ("*.*.b", HostError::Wildcard("*.*.b".into())),
            ("*a.b", HostError::Wildcard("*a.b".into())),
            ("**.b", HostError::Wildcard("**.b".into())),
            ("10.0.0.1", HostError::IpAddress("10.0.0.1".into())),
            ("010.0.0.001.", HostError::IpAddress("010.0.0.001.".into())),
            (
                "a..b",
                HostError::InvalidLabel {
                    pattern: "a..b".into(),
                    label: String::new(),
                },
            ),
            (
                ".a.b",
                HostError::InvalidLabel {
                    pattern: ".a.b".into(),
                    label: String::new(),
                },
            ),
            (
                "a.b..",
                HostError::InvalidLabel {
                    pattern: "a.b..".into(),
                    label: String::new(),
                },
            ),
            (
                "-a.b",
                HostError::InvalidLabel {
                    pattern: "-a.b".into(),
                    label: "-a".into(),
                },
            ),
            (
                "a-.b",
                HostError::InvalidLabel {
                    pattern: "a-.b".into(),
                    label: "a-".into(),
                },
            ),
            (
                "a_b.c",
                HostError::InvalidLabel {
                    pattern: "a_b.c".into(),
                    label: "a_b".into(),
                },
            ),
            (
                "::1",
                HostError::InvalidLabel {
                    pattern: "::1".into(),
                    label: "::1".into(),
                },
            ),
            (
                "[::1]",
                HostError::InvalidLabel {
                    pattern: "[::1]".into(),
                    label: "[::1]".into(),
                },
            ),
            (
                "a.b:80",
                HostError::InvalidLabel {
                    pattern: "a.b:80".into(),
                    label: "b:80".into(),
                },
            ),
            (
                "a b.c",
                HostError::InvalidLabel {
                    pattern: "a b.c".into(),
                    label: "a b".into(),
                },
            ),
            (
                "ünï.de",
                HostError::InvalidLabel {
                    pattern: "ünï.de".into(),
                    label: "ünï".into(),
                },
            ),
            (
                &long_label,
                HostError::LabelTooLong {
                    pattern: long_label.clone(),
                    label: "a".repeat(64),
                },
            ),
            (
                &too_long,
                HostError::TooLong {
                    pattern: too_long.clone(),
                    len: 254,
                },
            ),
        ];
        for (pattern, error) in cases {
            assert_eq!(HostPattern::parse(pattern), Err(error), "{pattern:?}");
        }
        assert_eq!(
            HostPattern::parse("a_b.example.com")
                .map(|_| ())
                .unwrap_err()
                .to_string(),
            "hostname pattern \"a_b.example.com\": label \"a_b\" is not valid (letters, digits and '-', starting and ending with a letter or digit)"
        );
    }

    #[test]
    fn matching_table() {
        let p = |s: &str| HostPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let wild = p("*.acme.example.com");
        for host in [
            "app.acme.example.com",
            "APP.acme.example.COM",
            "app.acme.example.com.",
            "a.b.c.acme.example.com",
            "*.acme.example.com",
            "*.x.acme.example.com",
            "x-1.acme.example.com",
        ] {
            assert!(wild.matches(host), "{host}");
        }
        for host in [
            "acme.example.com",
            "acme.example.com.",
            ".acme.example.com",
            "xacme.example.com",
            "app.acme.example.com.evil.io",
            "app.acme.example.co",
            "app..acme.example.com",
            "*.example.com",
            "*",
            "",
            "a_b.acme.example.com",
            "app.acme.example.com..",
            "a.*.acme.example.com",
            "ü.acme.example.com",
        ] {
            assert!(!wild.matches(host), "{host}");
        }
        let exact = p("app.acme.example.com");
        for host in [
            "app.acme.example.com",
            "App.Acme.Example.Com",
            "app.acme.example.com.",
        ] {
            assert!(exact.matches(host), "{host}");
        }
        for host in [
            "www.app.acme.example.com",
            "acme.example.com",
            "*.acme.example.com",
            "app.acme.example.com..",
            "app.acme.example.co",
            "",
        ] {
            assert!(!exact.matches(host), "{host}");
        }
    }

    #[test]
    fn overlap_table() {
        for (a, b, overlap) in [
            ("a.com", "a.com", true),
            ("a.com", "A.COM.", true),
            ("*.foo.com", "bar.foo.com", true),
            ("*.foo.com", "BAR.foo.com.", true),
            ("*.foo.com", "*.foo.com", true),
            ("*.foo.com", "*.FOO.com", true),
            ("*.foo.com", "foo.com", false),
            ("*.foo.com", "baz.bar.foo.com", false),
            ("*.foo.com", "*.bar.foo.com", false),
            ("*.foo.com", "*.com", false),
            ("*.foo.com", "barfoo.com", false),
            ("*.foo.com", ".foo.com", false),
            ("*.com", "foo.com", true),
            ("a.com", "b.com", false),
            ("", "", true),
            ("", "a.com", false),
            ("*.", "a.", false),
            ("*", "a", false),
        ] {
            assert_eq!(hosts_overlap(a, b), overlap, "{a} {b}");
            assert_eq!(hosts_overlap(b, a), overlap, "{b} {a}");
        }
    }

    fn owner(tenant: &str, namespace: &str, name: &str) -> HostOwner {
        HostOwner {
            tenant: tenant.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    #[test]
    fn index_records_replaces_and_removes() {
        let index = HostIndex::default();
        assert!(index.is_empty());
        index.set(
            "acme",
            "acme-a",
            "web",
            &["www.acme.com", "WWW.acme.com.", "*.acme.com"],
        );
        index.set("globex", "globex-a", "web", &["www.globex.com"]);
        assert_eq!(index.len(), 2);
        // `www.acme.com` collides with both hosts of acme-a/web; `*.acme.com` sorts first.
        assert_eq!(
            index.conflict("globex", "WWW.ACME.COM"),
            Some((owner("acme", "acme-a", "web"), "*.acme.com".into()))
        );
        index.set("acme", "acme-b", "web", &["www.acme.com"]);
        index.set("acme", "acme-a", "web", &["*.acme.com"]);
        assert_eq!(
            index.conflict("globex", "www.acme.com"),
            Some((owner("acme", "acme-a", "web"), "*.acme.com".into()))
        );
        index.remove("acme-a", "web");
        assert_eq!(
            index.conflict("globex", "www.acme.com"),
            Some((owner("acme", "acme-b", "web"), "www.acme.com".into()))
        );
        index.remove("acme-b", "web");
        index.set("acme", "acme-a", "web", &["www.acme.com", "*.acme.com"]);
        // `api.acme.com` collides with the wildcard only.
        assert_eq!(
            index.conflict("globex", "api.acme.com"),
            Some((owner("acme", "acme-a", "web"), "*.acme.com".into()))
        );
        // A wildcard collides with the equal wildcard and the hosts one label under it.
        assert_eq!(
            index.conflict("initech", "*.globex.com"),
            Some((owner("globex", "globex-a", "web"), "www.globex.com".into()))
        );
        assert_eq!(index.conflict("acme", "www.acme.com"), None);
        assert_eq!(index.conflict("globex", "acme.com"), None);
        assert_eq!(index.conflict("globex", "a.www.acme.com"), None);
        // Replacing the hosts of an Ingress drops the old ones.
        index.set("acme", "acme-a", "web", &["shop.acme.com"]);
        assert_eq!(index.conflict("globex", "www.acme.com"), None);
        assert!(index.conflict("globex", "shop.acme.com").is_some());
        // No hosts removes it.
        index.set("acme", "acme-a", "web", &[]);
        assert_eq!(index.len(), 1);
        assert_eq!(index.conflict("globex", "shop.acme.com"), None);
        index.remove("globex-a", "web");
        index.remove("globex-a", "web");
        assert!(index.is_empty());
    }

    #[test]
    fn conflict_is_the_first_in_order() {
        let index = HostIndex::default();
        index.set("b", "ns2", "i", &["x.com"]);
        index.set("b", "ns1", "z", &["x.com"]);
        index.set("c", "ns0", "a", &["x.com"]);
        index.set("a", "ns9", "i", &["x.com"]);
        assert_eq!(
            index.conflict("z", "x.com"),
            Some((owner("a", "ns9", "i"), "x.com".into()))
        );
        assert_eq!(
            index.conflict("a", "x.com"),
            Some((owner("b", "ns1", "z"), "x.com".into()))
        );
        assert_eq!(
            index.conflict("b", "x.com"),
            Some((owner("a", "ns9", "i"), "x.com".into()))
        );
        // Across the exact and the wildcard buckets too.
        index.set("a", "ns0", "w", &["*.com"]);
        assert_eq!(
            index.conflict("z", "x.com"),
            Some((owner("a", "ns0", "w"), "*.com".into()))
        );
    }

    #[test]
    fn replace_all_swaps_everything() {
        let index = HostIndex::default();
        index.set("acme", "acme-a", "web", &["www.acme.com"]);
        index.replace_all([
            (
                owner("globex", "globex-a", "web"),
                vec!["www.globex.com".to_owned()],
            ),
            (owner("globex", "globex-a", "api"), vec![]),
            (
                owner("initech", "initech-a", "web"),
                vec!["a.initech.com".to_owned()],
            ),
            (
                owner("initech", "initech-a", "web"),
                vec!["Www.Initech.com.".to_owned()],
            ),
        ]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.conflict("x", "www.acme.com"), None);
        assert!(index.conflict("x", "www.globex.com").is_some());
        assert_eq!(index.conflict("x", "a.initech.com"), None);
        assert_eq!(
            index.conflict("x", "www.initech.com"),
            Some((
                owner("initech", "initech-a", "web"),
                "www.initech.com".into()
            ))
        );
    }

    #[test]
    fn a_poisoned_lock_is_recovered() {
        let index = std::sync::Arc::new(HostIndex::default());
        index.set("acme", "acme-a", "web", &["www.acme.com"]);
        let poisoner = std::sync::Arc::clone(&index);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.inner.write();
            panic!("poison the lock");
        })
        .join();
        assert!(index.inner.is_poisoned());
        assert_eq!(index.len(), 1);
        index.set("globex", "globex-a", "web", &["www.globex.com"]);
        assert!(index.conflict("acme", "www.globex.com").is_some());
    }

    /// Hosts made of few labels, so that random sets collide often; some upper-case, some with a
    /// trailing dot, some wildcards.
    fn host() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "B"]), 1..4),
            any::<bool>(),
        )
            .prop_map(|(wildcard, labels, dot)| {
                let mut host = if wildcard {
                    "*.".to_owned()
                } else {
                    String::new()
                };
                host.push_str(&labels.join("."));
                if dot {
                    host.push('.');
                }
                host
            })
    }

    fn valid_host() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?){0,3}"
    }

    /// A (tenant, namespace, name, hosts) record.
    fn record() -> impl Strategy<Value = (String, String, String, Vec<String>)> {
        (
            prop::sample::select(vec!["t1", "t2", "t3"]),
            prop::sample::select(vec!["n1", "n2"]),
            prop::sample::select(vec!["i1", "i2", "i3"]),
            prop::collection::vec(host(), 0..4),
        )
            .prop_map(|(t, n, i, hosts)| (t.to_owned(), n.to_owned(), i.to_owned(), hosts))
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}", t in "\\PC{0,20}") {
            let _ = HostPattern::parse(&s).map(|p| p.matches(&t));
            let _ = hosts_overlap(&s, &t);
            let index = HostIndex::default();
            index.set("x", "n", "i", &[s.as_str(), t.as_str()]);
            let _ = index.conflict("y", &t);
            let _ = index.conflict("y", &s);
        }

        #[test]
        fn wildcard_matches_every_host_under_it(sub in valid_host(), domain in valid_host()) {
            let pattern = HostPattern::parse(&format!("*.{domain}"))?;
            let host = format!("{sub}.{domain}");
            prop_assume!(host.len() <= HOST_MAX);
            prop_assert!(pattern.matches(&host), "{}", host);
            prop_assert!(pattern.matches(&host.to_ascii_uppercase()));
            let (wildcard, glued) = (format!("*.{host}"), format!("{sub}{domain}"));
            prop_assert!(pattern.matches(&wildcard));
            prop_assert!(!pattern.matches(&domain));
            prop_assert!(!pattern.matches(&glued));
        }

        #[test]
        fn exact_matches_only_itself(a in valid_host(), b in valid_host(), upper in any::<bool>(), dot in any::<bool>()) {
            prop_assume!(!is_ipv4(&a));
            let pattern = HostPattern::parse(&a)?;
            let mut same = if upper { a.to_ascii_uppercase() } else { a.clone() };
            if dot {
                same.push('.');
            }
            prop_assert!(pattern.matches(&same));
            prop_assert_eq!(pattern.matches(&b), a == b);
            let below = format!("x.{a}");
            prop_assert!(!pattern.matches(&below));
        }

        #[test]
        fn overlap_is_symmetric(a in host(), b in host()) {
            prop_assert_eq!(hosts_overlap(&a, &b), hosts_overlap(&b, &a));
        }

        #[test]
        fn index_agrees_with_a_scan(
            records in prop::collection::vec(record(), 0..12),
            removals in prop::collection::vec((prop::sample::select(vec!["n1", "n2"]), prop::sample::select(vec!["i1", "i2", "i3"])), 0..3),
            queries in prop::collection::vec((prop::sample::select(vec!["t1", "t2", "t3", "t4"]), host()), 1..8),
            relist in any::<bool>(),
        ) {
            // The model: (namespace, name) → (tenant, normalised hosts), last write wins.
            let mut model: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
            let index = HostIndex::default();
            for (t, n, i, hosts) in &records {
                let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
                index.set(t, n, i, &refs);
                let normalised: Vec<String> = hosts.iter().map(|h| normalise(h).into_owned()).collect();
                if normalised.is_empty() {
                    model.remove(&(n.clone(), i.clone()));
                } else {
                    model.insert((n.clone(), i.clone()), (t.clone(), normalised));
                }
            }
            for (n, i) in &removals {
                index.remove(n, i);
                model.remove(&((*n).to_owned(), (*i).to_owned()));
            }
            if relist {
                index.replace_all(model.iter().map(|((n, i), (t, hosts))| (owner(t, n, i), hosts.clone())));
            }
            prop_assert_eq!(index.len(), model.len());
            for (tenant, query) in &queries {
                let expected = model
                    .iter()
                    .filter(|(_, (t, _))| t != tenant)
                    .flat_map(|((n, i), (t, hosts))| hosts.iter().map(move |h| (owner(t, n, i), h.clone())))
                    .filter(|(_, h)| hosts_overlap(h, query))
                    .min();
                prop_assert_eq!(index.conflict(tenant, query), expected, "{} {}", tenant, query);
            }
        }
    }
}
