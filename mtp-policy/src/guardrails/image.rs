//! Container image references, normalised as Docker and containerd do, and the allowed-registry
//! patterns a platform team writes.
//!
//! The grammar is `github.com/distribution/reference` (`reference.go`, `regexp.go`,
//! `normalize.go`, `ParseNormalizedNamed`), which the kubelet and containerd use:
//!
//! ```text
//! reference       := name [ ":" tag ] [ "@" digest ]
//! name            := [domain "/"] path
//! domain          := host [":" port]                 host: domain-name | "[" IPv6 "]"
//! domain-name     := component ("." component)*     component: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path            := path-component ("/" path-component)*   (at most 255 characters)
//! path-component  := [a-z0-9]+ (separator [a-z0-9]+)*       separator: "." | "_" | "__" | "-"+
//! tag             := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! digest          := algorithm ":" hex          (sha256: 64, sha384: 96, sha512: 128 lower-case hex digits)
//! ```
//!
//! Normalisation: the first path component is a registry host when the name has a `/` and that
//! component contains `.` or `:`, is `localhost`, or has an upper-case letter; otherwise the
//! registry is `docker.io`. `index.docker.io` is `docker.io`, and a one-component name on
//! `docker.io` is an official image under `library/` (`nginx` is `docker.io/library/nginx`).

use std::fmt;
use std::sync::OnceLock;

use thiserror::Error;

/// Docker Hub, the registry of names without a host.
const DOCKER_HUB: &str = "docker.io";
/// The legacy name of Docker Hub, normalised to [`DOCKER_HUB`].
const LEGACY_DOCKER_HUB: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_NAMESPACE: &str = "library";
/// The longest repository path distribution accepts.
const PATH_MAX: usize = 255;
/// The longest tag distribution accepts.
const TAG_MAX: usize = 128;

/// Why an image reference or an allowed-registry entry was refused. Every variant names the value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ImageRefError {
    /// The image (or entry) is empty.
    #[error("empty image reference")]
    Empty,
    /// The image is a bare 64-character hexadecimal image ID.
    #[error("image {0:?} is a 64-character hexadecimal image ID, not a repository name")]
    ImageId(String),
    /// The registry host is not `host[:port]` (host: DNS-like name or `[IPv6]`; port: digits).
    #[error(
        "image {image:?}: registry {host:?} is not a valid host[:port] (letters, digits and '-' in '.'-separated components, or [IPv6], then an optional :port of digits)"
    )]
    InvalidHost {
        /// The image or entry as given.
        image: String,
        /// The registry part.
        host: String,
    },
    /// The repository path has an upper-case letter.
    #[error("image {image:?}: repository path {path:?} must be lower-case")]
    UpperCase {
        /// The image or entry as given.
        image: String,
        /// The repository path.
        path: String,
    },
    /// A path component is empty or not lower-case alphanumerics joined by `.`, `_`, `__` or `-`.
    #[error(
        "image {image:?}: path component {component:?} is not valid (lower-case letters and digits, separated by '.', '_', '__' or dashes)"
    )]
    InvalidPathComponent {
        /// The image or entry as given.
        image: String,
        /// The offending component (empty for `a//b` or a trailing `/`).
        component: String,
    },
    /// The normalised repository path is longer than 255 characters.
    #[error("image {image:?}: repository path is {len} characters long, more than 255")]
    PathTooLong {
        /// The image or entry as given.
        image: String,
        /// The length of the normalised path.
        len: usize,
    },
    /// The tag is empty or not `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error(
        "image {image:?}: tag {tag:?} is not valid (1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-')"
    )]
    InvalidTag {
        /// The image as given.
        image: String,
        /// The tag (text after the last `:` of the name).
        tag: String,
    },
    /// The digest is not `algorithm:hex`.
    #[error(
        "image {image:?}: digest {digest:?} is not algorithm:hex (for example sha256:<64 hex digits>)"
    )]
    InvalidDigest {
        /// The image as given.
        image: String,
        /// The digest (text after `@`).
        digest: String,
    },
    /// The digest algorithm is not one the kubelet and containerd verify.
    #[error(
        "image {image:?}: digest algorithm {algorithm:?} is not supported (sha256, sha384 or sha512)"
    )]
    UnsupportedDigest {
        /// The image as given.
        image: String,
        /// The algorithm.
        algorithm: String,
    },
    /// The digest's hex part has the wrong length or is not lower-case hex.
    #[error(
        "image {image:?}: a {algorithm} digest is {expected} lower-case hex digits, {digest:?} is not"
    )]
    DigestHex {
        /// The image as given.
        image: String,
        /// The algorithm.
        algorithm: &'static str,
        /// How many hex digits the algorithm has.
        expected: usize,
        /// The digest.
        digest: String,
    },
    /// An allowed-registry entry carries a tag or a digest.
    #[error(
        "allowed registry {0:?} has a tag or digest; an entry is a registry or repository prefix such as ghcr.io/acme"
    )]
    PatternHasTagOrDigest(String),
    /// An allowed-registry entry has a misplaced `*` (only a leading `*.` before a host name).
    #[error(
        "allowed registry {0:?}: '*' is only allowed as a leading '*.' before a host name, as in *.gcr.io"
    )]
    InvalidWildcard(String),
}

/// A parsed, normalised container image reference, borrowing the text it was parsed from.
///
/// ```
/// use mtp_policy::guardrails::ImageRef;
/// let image = ImageRef::parse("nginx:1.25")?;
/// assert_eq!(image.domain(), "docker.io");
/// assert_eq!(image.path(), "library/nginx");
/// assert_eq!(image.tag(), Some("1.25"));
/// assert_eq!(image.digest(), None);
/// assert_eq!(image.repository(), "docker.io/library/nginx");
/// assert_eq!(image.default_pull_policy(), "IfNotPresent");
/// assert_eq!(ImageRef::parse("ghcr.io/acme/app")?.default_pull_policy(), "Always");
/// assert!(ImageRef::parse("ghcr.io/Acme/app").is_err());
/// # Ok::<(), mtp_policy::guardrails::ImageRefError>(())
/// ```
#[derive(Clone)]
pub struct ImageRef<'a> {
    original: &'a str,
    domain: &'a str,
    /// The path as written; `library/` goes before it when `official`.
    remote: &'a str,
    official: bool,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
    /// `library/<remote>`, built on the first call of [`ImageRef::path`] for official images.
    official_path: OnceLock<String>,
}

impl<'a> ImageRef<'a> {
    /// Parses and normalises an image reference as `ParseNormalizedNamed` does, and checks its
    /// digest as the kubelet does (sha256, sha384 or sha512, lower-case hex of the right length).
    ///
    /// It does not allocate unless it fails.
    pub fn parse(image: &'a str) -> Result<ImageRef<'a>, ImageRefError> {
        if image.is_empty() {
            return Err(ImageRefError::Empty);
        }
        if image.len() == 64
            && image
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(ImageRefError::ImageId(image.to_owned()));
        }
        let (name_tag, digest) = match image.split_once('@') {
            Some((name_tag, digest)) => (name_tag, Some(digest)),
            None => (image, None),
        };
        // The name has no ':' after its first '/', nor anywhere when it has no '/'; the tag has
        // no '/'. So the tag starts at the first ':' after the last '/'.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag.get(last_slash..).and_then(|t| t.find(':')) {
            Some(colon) => {
                let at = last_slash + colon;
                (
                    name_tag.get(..at).unwrap_or_default(),
                    name_tag.get(at + 1..),
                )
            }
            None => (name_tag, None),
        };
        let split = split_name(name).map_err(|host| invalid_host(image, host))?;
        validate_path(image, split.remote, split.official)?;
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(ImageRefError::InvalidTag {
                image: image.to_owned(),
                tag: tag.to_owned(),
            });
        }
        if let Some(digest) = digest {
            validate_digest(image, digest)?;
        }
        Ok(ImageRef {
            original: image,
            domain: split.domain,
            remote: split.remote,
            official: split.official,
            tag,
            digest,
            official_path: OnceLock::new(),
        })
    }

    /// The text this reference was parsed from.
    pub fn as_str(&self) -> &'a str {
        self.original
    }

    /// The registry, with its port if any: `docker.io` for `nginx` and for
    /// `index.docker.io/library/nginx`, `localhost:5000` for `localhost:5000/x`. As written
    /// otherwise (registry hosts are case-insensitive; [`RegistryPattern::matches`] compares them so).
    pub fn domain(&self) -> &str {
        self.domain
    }

    /// The repository path in the registry: `library/nginx` for `nginx`, `user/app` for `user/app`.
    ///
    /// Allocates once, on the first call, for an official image written without `library/`.
    pub fn path(&self) -> &str {
        if self.official {
            self.official_path
                .get_or_init(|| format!("{OFFICIAL_NAMESPACE}/{}", self.remote))
        } else {
            self.remote
        }
    }

    /// The tag, if the reference has one (`1.25` for `nginx:1.25`).
    pub fn tag(&self) -> Option<&str> {
        self.tag
    }

    /// The digest, if the reference has one: `sha256:<64 hex>`, `sha384:<96 hex>` or `sha512:<128 hex>`.
    pub fn digest(&self) -> Option<&str> {
        self.digest
    }

    /// The registry and path: `docker.io/library/nginx` for `nginx:1.25`.
    pub fn repository(&self) -> String {
        let mut repository = String::with_capacity(self.domain.len() + 9 + self.remote.len());
        repository.push_str(self.domain);
        repository.push('/');
        if self.official {
            repository.push_str(OFFICIAL_NAMESPACE);
            repository.push('/');
        }
        repository.push_str(self.remote);
        repository
    }

    /// The `imagePullPolicy` the apiserver defaults to when none is given
    /// (`SetDefaults_Container`): `Always` when the tag is `latest` (with or without a digest) or
    /// there is neither tag nor digest, else `IfNotPresent`.
    pub fn default_pull_policy(&self) -> &'static str {
        match (self.tag, self.digest) {
            (Some("latest"), _) | (None, None) => "Always",
            _ => "IfNotPresent",
        }
    }

    /// The path as `(prefix, rest)` with `prefix` `"library/"` or `""`, without allocating.
    fn path_parts(&self) -> (&'static str, &'a str) {
        if self.official {
            ("library/", self.remote)
        } else {
            ("", self.remote)
        }
    }
}

/// The `imagePullPolicy` the apiserver gives a container with image `image` and no policy: as
/// [`ImageRef::default_pull_policy`], and `IfNotPresent` when the image does not parse (the
/// apiserver ignores the parse error and reads an empty tag).
///
/// ```
/// use mtp_policy::guardrails::image::default_pull_policy;
/// assert_eq!(default_pull_policy("nginx"), "Always");
/// assert_eq!(default_pull_policy("nginx:latest"), "Always");
/// assert_eq!(default_pull_policy("nginx:1.25"), "IfNotPresent");
/// assert_eq!(default_pull_policy("Not An Image"), "IfNotPresent");
/// ```
pub fn default_pull_policy(image: &str) -> &'static str {
    ImageRef::parse(image).map_or("IfNotPresent", |image| image.default_pull_policy())
}

impl PartialEq for ImageRef<'_> {
    /// Equal when the normalised references are (`nginx` equals `docker.io/library/nginx`).
    fn eq(&self, other: &Self) -> bool {
        let (a0, a1) = self.path_parts();
        let (b0, b1) = other.path_parts();
        self.domain == other.domain
            && a0
                .bytes()
                .chain(a1.bytes())
                .eq(b0.bytes().chain(b1.bytes()))
            && self.tag == other.tag
            && self.digest == other.digest
    }
}

impl Eq for ImageRef<'_> {}

impl fmt::Debug for ImageRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, rest) = self.path_parts();
        f.debug_struct("ImageRef")
            .field("domain", &self.domain)
            .field("path", &format_args!("{prefix}{rest}"))
            .field("tag", &self.tag)
            .field("digest", &self.digest)
            .finish()
    }
}

impl fmt::Display for ImageRef<'_> {
    /// The fully qualified reference: `docker.io/library/nginx:1.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, rest) = self.path_parts();
        write!(f, "{}/{prefix}{rest}", self.domain)?;
        if let Some(tag) = self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// A name split into registry and path.
struct Split<'a> {
    domain: &'a str,
    remote: &'a str,
    official: bool,
}

/// Splits a name (no tag, no digest) as `splitDockerDomain` does and validates the registry; on
/// an invalid registry, returns it.
fn split_name(name: &str) -> Result<Split<'_>, &str> {
    let (domain, remote) = match name.split_once('/') {
        None => (DOCKER_HUB, name),
        Some((first, rest)) if first == LEGACY_DOCKER_HUB => (DOCKER_HUB, rest),
        Some((first, rest)) if is_registry_host(first) => {
            if !valid_domain(first) {
                return Err(first);
            }
            (first, rest)
        }
        Some(_) => (DOCKER_HUB, name),
    };
    Ok(Split {
        domain,
        remote,
        official: domain == DOCKER_HUB && !remote.contains('/'),
    })
}

/// Whether the first component of a name with a `/` is a registry host, as `splitDockerDomain`
/// decides: it contains `.` or `:`, is `localhost`, or is not lower-case.
fn is_registry_host(first: &str) -> bool {
    first == "localhost"
        || first.contains(['.', ':'])
        || first.chars().any(|c| c.is_uppercase() || !c.is_ascii())
}

/// `host [":" port]`: a domain name of alphanumeric components with inner dashes, or `[IPv6]`
/// (hex digits and colons), then an optional `:digits`.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return false;
        };
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", port),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, port),
            None => (domain, "0"),
        }
    };
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        host.is_empty() || valid_domain_name(host)
    } else {
        false
    }
}

/// `component ("." component)*`, components `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`.
fn valid_domain_name(host: &str) -> bool {
    host.split('.').all(|component| {
        let bytes = component.as_bytes();
        matches!((bytes.first(), bytes.last()), (Some(first), Some(last))
            if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    })
}

/// Validates the path (without `library/`): lower-case, every component valid, the normalised
/// length at most 255.
fn validate_path(image: &str, remote: &str, official: bool) -> Result<(), ImageRefError> {
    if remote.chars().any(|c| c.is_uppercase()) {
        return Err(ImageRefError::UpperCase {
            image: image.to_owned(),
            path: remote.to_owned(),
        });
    }
    if let Some(component) = remote.split('/').find(|c| !valid_path_component(c)) {
        return Err(ImageRefError::InvalidPathComponent {
            image: image.to_owned(),
            component: component.to_owned(),
        });
    }
    let len = remote.len()
        + if official {
            OFFICIAL_NAMESPACE.len() + 1
        } else {
            0
        };
    if len > PATH_MAX {
        return Err(ImageRefError::PathTooLong {
            image: image.to_owned(),
            len,
        });
    }
    Ok(())
}

/// `[a-z0-9]+ (("." | "_" | "__" | "-"+) [a-z0-9]+)*`.
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let mut i = 0;
    loop {
        // An alphanumeric run.
        let start = i;
        while bytes
            .get(i)
            .is_some_and(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9'))
        {
            i += 1;
        }
        if i == start {
            return false;
        }
        // A separator, or the end.
        match bytes.get(i) {
            None => return true,
            Some(b'.') => i += 1,
            Some(b'_') => {
                i += if bytes.get(i + 1) == Some(&b'_') {
                    2
                } else {
                    1
                }
            }
            Some(b'-') => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            Some(_) => return false,
        }
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    matches!(bytes.first(), Some(b) if b.is_ascii_alphanumeric() || *b == b'_')
        && bytes.len() <= TAG_MAX
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `algorithm ":" hex`, as `go-digest` validates it with sha256 and sha512 registered (which is
/// what the kubelet does): the algorithm is sha256, sha384 or sha512 and the hex part is
/// lower-case and exactly as long as the hash.
fn validate_digest(image: &str, digest: &str) -> Result<(), ImageRefError> {
    let invalid = || ImageRefError::InvalidDigest {
        image: image.to_owned(),
        digest: digest.to_owned(),
    };
    let (algorithm, hex) = digest.split_once(':').ok_or_else(invalid)?;
    if !valid_digest_algorithm(algorithm)
        || hex.len() < 32
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(invalid());
    }
    let (algorithm, expected) = match algorithm {
        "sha256" => ("sha256", 64),
        "sha384" => ("sha384", 96),
        "sha512" => ("sha512", 128),
        other => {
            return Err(ImageRefError::UnsupportedDigest {
                image: image.to_owned(),
                algorithm: other.to_owned(),
            });
        }
    };
    if hex.len() != expected || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ImageRefError::DigestHex {
            image: image.to_owned(),
            algorithm,
            expected,
            digest: digest.to_owned(),
        });
    }
    Ok(())
}

/// `[A-Za-z][A-Za-z0-9]* ([-_+.] [A-Za-z][A-Za-z0-9]*)*`.
fn valid_digest_algorithm(algorithm: &str) -> bool {
    algorithm.split(['-', '_', '+', '.']).all(|component| {
        let bytes = component.as_bytes();
        matches!(bytes.first(), Some(b) if b.is_ascii_alphabetic())
            && bytes.iter().all(u8::is_ascii_alphanumeric)
    })
}

fn invalid_host(image: &str, host: &str) -> ImageRefError {
    ImageRefError::InvalidHost {
        image: image.to_owned(),
        host: host.to_owned(),
    }
}

/// Which registries an allowed-registry entry covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    /// One registry (`host[:port]`), lower-cased.
    Exact(String),
    /// Any registry whose `host[:port]` ends in this suffix (lower-cased, with its leading `.`)
    /// after at least one more character: `*.gcr.io` is `.gcr.io`.
    Under(String),
}

/// An allowed-registry entry: a registry, a registry under a domain, or a repository prefix.
///
/// - `docker.io`, `registry.local:5000`, `localhost`: a whole registry (a one-component entry with
///   `.` or `:`, or `localhost`).
/// - `ghcr.io/acme` or `ghcr.io/acme/`: a prefix on path-component boundaries, matching
///   `ghcr.io/acme` and `ghcr.io/acme/app`, not `ghcr.io/acmecorp/app`.
/// - `nginx`, `docker.io/nginx`: normalised as an image name, `docker.io/library/nginx` (which
///   also covers `docker.io/library/nginx/...`).
/// - `bitnami/` or `docker.io/bitnami/`: with a trailing `/`, a one-component Docker Hub path is
///   a namespace, `docker.io/bitnami`, not the official image `docker.io/library/bitnami`.
///   (Elsewhere a trailing `/` changes nothing.) `docker.io/library` and `library` are the
///   namespace of the official images either way.
/// - `*.gcr.io`: any registry under `gcr.io`, at any depth, not `gcr.io` itself; a path prefix
///   may follow (`*.gcr.io/acme`). A port must be written to be matched (`*.corp:5000`).
///
/// Registry hosts compare case-insensitively; paths are lower-case by grammar (an upper-case path
/// is an error). Tags and digests are errors.
///
/// ```
/// use mtp_policy::guardrails::{ImageRef, RegistryPattern};
/// let acme = RegistryPattern::parse("ghcr.io/acme")?;
/// assert!(acme.matches(&ImageRef::parse("ghcr.io/acme/app:1.0")?));
/// assert!(acme.matches(&ImageRef::parse("GHCR.io/acme")?));
/// assert!(!acme.matches(&ImageRef::parse("ghcr.io/acmecorp/app")?));
///
/// let nginx = RegistryPattern::parse("nginx")?;
/// assert_eq!(nginx.as_str(), "docker.io/library/nginx");
/// assert!(nginx.matches(&ImageRef::parse("docker.io/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000")?));
///
/// let gcr = RegistryPattern::parse("*.gcr.io")?;
/// assert!(gcr.matches(&ImageRef::parse("eu.gcr.io/p/app")?));
/// assert!(!gcr.matches(&ImageRef::parse("gcr.io/p/app")?));
/// assert!(RegistryPattern::parse("nginx:1.25").is_err());
///
/// let official = RegistryPattern::parse("docker.io/library")?;
/// assert_eq!(official.as_str(), "docker.io/library/");
/// assert!(official.matches(&ImageRef::parse("redis:7")?));
/// assert!(!official.matches(&ImageRef::parse("bitnami/redis")?));
/// # Ok::<(), mtp_policy::guardrails::ImageRefError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPattern {
    normalised: String,
    host: HostMatch,
    /// The path prefix, empty for a whole registry.
    path: String,
}

impl RegistryPattern {
    /// Parses an allowed-registry entry (see the type's documentation for the forms).
    pub fn parse(entry: &str) -> Result<RegistryPattern, ImageRefError> {
        if entry.is_empty() {
            return Err(ImageRefError::Empty);
        }
        if entry.contains('@') {
            return Err(ImageRefError::PatternHasTagOrDigest(entry.to_owned()));
        }
        let (body, namespace) = match entry.strip_suffix('/') {
            Some(body) => (body, true),
            None => (entry, false),
        };
        if body.is_empty() {
            return Err(ImageRefError::InvalidPathComponent {
                image: entry.to_owned(),
                component: String::new(),
            });
        }
        if let Some(rest) = body.strip_prefix("*.") {
            return Self::parse_wildcard(entry, rest);
        }
        if body.contains('*') {
            return Err(ImageRefError::InvalidWildcard(entry.to_owned()));
        }
        let single = !body.contains('/');
        if single && (body == "localhost" || body.contains(['.', ':'])) {
            // A whole registry, unless a ':' that is not a port makes it `name:tag`.
            let domain = if body == LEGACY_DOCKER_HUB {
                DOCKER_HUB
            } else {
                body
            };
            if !valid_domain(domain) {
                return Err(if body.contains(':') && !body.starts_with('[') {
                    ImageRefError::PatternHasTagOrDigest(entry.to_owned())
                } else {
                    invalid_host(entry, domain)
                });
            }
            let host = domain.to_ascii_lowercase();
            return Ok(RegistryPattern {
                normalised: host.clone(),
                host: HostMatch::Exact(host),
                path: String::new(),
            });
        }
        // A tag: a ':' after the last '/' (a one-component entry with ':' is handled above).
        if body
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
        {
            return Err(ImageRefError::PatternHasTagOrDigest(entry.to_owned()));
        }
        let split = split_name(body).map_err(|host| invalid_host(entry, host))?;
        // A trailing '/' makes a one-component Docker Hub path a namespace, not an official image;
        // so does `library` itself (`docker.io/library`: every official image, never the
        // image `library/library`).
        let official = split.official && !namespace && split.remote != OFFICIAL_NAMESPACE;
        validate_path(entry, split.remote, official)?;
        let host = split.domain.to_ascii_lowercase();
        // A registry that is one only by its upper case (`Docker/x`) is shown as written, so
        // that the rendering reads back as the same pattern.
        let shown = if host == DOCKER_HUB || is_registry_host(&host) {
            host.as_str()
        } else {
            split.domain
        };
        let path = if official {
            format!("{OFFICIAL_NAMESPACE}/{}", split.remote)
        } else {
            split.remote.to_owned()
        };
        // Rendered so that parsing the rendering gives the same pattern.
        let slash = if split.official && !official { "/" } else { "" };
        Ok(RegistryPattern {
            normalised: format!("{shown}/{path}{slash}"),
            host: HostMatch::Exact(host),
            path,
        })
    }

    /// `*.<domain>[/<path>]`, `rest` being what follows `*.`.
    fn parse_wildcard(entry: &str, rest: &str) -> Result<RegistryPattern, ImageRefError> {
        let (domain, path) = rest.split_once('/').unwrap_or((rest, ""));
        if domain.contains(['*', '[']) || path.contains('*') || domain.is_empty() {
            return Err(ImageRefError::InvalidWildcard(entry.to_owned()));
        }
        if !valid_domain(domain) {
            return Err(invalid_host(entry, domain));
        }
        if path.contains(':') {
            return Err(ImageRefError::PatternHasTagOrDigest(entry.to_owned()));
        }
        if !path.is_empty() {
            validate_path(entry, path, false)?;
        }
        let domain = domain.to_ascii_lowercase();
        let normalised = if path.is_empty() {
            format!("*.{domain}")
        } else {
            format!("*.{domain}/{path}")
        };
        Ok(RegistryPattern {
            normalised,
            host: HostMatch::Under(format!(".{domain}")),
            path: path.to_owned(),
        })
    }

    /// Whether `image` is in the registry (or under the domain) and, for a prefix, its path is
    /// the prefix or starts with the prefix and a `/`. Does not allocate.
    pub fn matches(&self, image: &ImageRef<'_>) -> bool {
        let domain = image.domain();
        let host_matches = match &self.host {
            HostMatch::Exact(host) => domain.eq_ignore_ascii_case(host),
            HostMatch::Under(suffix) => {
                domain.len() > suffix.len()
                    && domain
                        .as_bytes()
                        .get(domain.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix.as_bytes()))
            }
        };
        host_matches && (self.path.is_empty() || path_has_prefix(image.path_parts(), &self.path))
    }

    /// The normalised entry, for messages: `docker.io/library/nginx` for `nginx`, `ghcr.io/acme`
    /// for `ghcr.io/acme/`, `docker.io` for `index.docker.io`.
    pub fn as_str(&self) -> &str {
        &self.normalised
    }
}

impl fmt::Display for RegistryPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalised)
    }
}

/// Whether the path `first + rest` equals `prefix` or starts with `prefix` and a `/`.
fn path_has_prefix((first, rest): (&str, &str), prefix: &str) -> bool {
    let path_len = first.len() + rest.len();
    if path_len < prefix.len() {
        return false;
    }
    // Compare byte by byte across the two pieces, then look at the byte after the prefix.
    let mut path = first.bytes().chain(rest.bytes());
    if !prefix.bytes().all(|b| path.next() == Some(b)) {
        return false;
    }
    matches!(path.next(), None | Some(b'/'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHA256: &str = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";

    fn parts(image: &str) -> (String, String, Option<String>, Option<String>) {
        let r = ImageRef::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        (
            r.domain().to_owned(),
            r.path().to_owned(),
            r.tag().map(str::to_owned),
            r.digest().map(str::to_owned),
        )
    }

    #[test]
    fn normalises_like_distribution() {
        let digest = Some(SHA256.to_owned());
        let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
            ("nginx", "docker.io", "library/nginx", None, false),
            (
                "nginx:1.25",
                "docker.io",
                "library/nginx",
                Some("1.25"),
                false,
            ),
            (
                "nginx:latest",
                "docker.io",
                "library/nginx",
                Some("latest"),
                false,
            ),
            ("user/app:tag", "docker.io", "user/app", Some("tag"), false),
            ("docker.io/nginx", "docker.io", "library/nginx", None, false),
            (
                "docker.io/library/nginx",
                "docker.io",
                "library/nginx",
                None,
                false,
            ),
            (
                "index.docker.io/library/nginx",
                "docker.io",
                "library/nginx",
                None,
                false,
            ),
            (
                "index.docker.io/debian",
                "docker.io",
                "library/debian",
                None,
                false,
            ),
            (
                "docker.io/library/foo/bar",
                "docker.io",
                "library/foo/bar",
                None,
                false,
            ),
            (
                "library/foo/bar",
                "docker.io",
                "library/foo/bar",
                None,
                false,
            ),
            ("test_com/foo", "docker.io", "test_com/foo", None, false),
            ("test.com/foo", "test.com", "foo", None, false),
            ("test.com:8080/foo", "test.com:8080", "foo", None, false),
            ("test-com:8080/foo", "test-com:8080", "foo", None, false),
            (
                "xn--n3h.com:18080/foo",
                "xn--n3h.com:18080",
                "foo",
                None,
                false,
            ),
            ("localhost/x", "localhost", "x", None, false),
            ("localhost:5000/x", "localhost:5000", "x", None, false),
            (
                "localhost:5000",
                "docker.io",
                "library/localhost",
                Some("5000"),
                false,
            ),
            (
                "127.0.0.1:5000/library/debian",
                "127.0.0.1:5000",
                "library/debian",
                None,
                false,
            ),
            (
                "192.168.0.1",
                "docker.io",
                "library/192.168.0.1",
                None,
                false,
            ),
            (
                "192.168.0.1:80",
                "docker.io",
                "library/192.168.0.1",
                Some("80"),
                false,
            ),
            ("[::1]:5000/x", "[::1]:5000", "x", None, false),
            (
                "[fc00::1]:5000/docker/docker",
                "[fc00::1]:5000",
                "docker/docker",
                None,
                false,
            ),
            (
                "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
                "[fc00:1:2:3:4:5:6:7]:5000",
                "library/debian",
                None,
                false,
            ),
            ("[::1]/x", "[::1]", "x", None, false),
            ("Docker/docker", "Docker", "docker", None, false),
            ("FOO/bar", "FOO", "bar", None, false),
            ("Docker.IO/nginx", "Docker.IO", "nginx", None, false),
            (
                "docker---rules/docker",
                "docker.io",
                "docker---rules/docker",
                None,
                false,
            ),
            (
                "dock__er/docker",
                "docker.io",
                "dock__er/docker",
                None,
                false,
            ),
            ("d/docker", "docker.io", "d/docker", None, false),
            (
                "ghcr.io/acme/app:v1.2.3-rc_1",
                "ghcr.io",
                "acme/app",
                Some("v1.2.3-rc_1"),
                false,
            ),
            ("_t:_tag", "x", "", None, true), // invalid: path starts with '_'
        ];
        for (image, domain, path, tag, invalid) in cases {
            if *invalid {
                assert!(ImageRef::parse(image).is_err(), "{image}");
                continue;
            }
            assert_eq!(
                parts(image),
                (
                    (*domain).to_owned(),
                    (*path).to_owned(),
                    tag.map(str::to_owned),
                    None
                ),
                "{image}"
            );
        }
        assert_eq!(
            parts(&format!("nginx@{SHA256}")),
            (
                "docker.io".into(),
                "library/nginx".into(),
                None,
                digest.clone()
            )
        );
        assert_eq!(
            parts(&format!("user/app:tag@{SHA256}")),
            (
                "docker.io".into(),
                "user/app".into(),
                Some("tag".into()),
                digest.clone()
            )
        );
        assert_eq!(
            parts(&format!("localhost:5000/x:1@{SHA256}")),
            (
                "localhost:5000".into(),
                "x".into(),
                Some("1".into()),
                digest
            )
        );
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        assert_eq!(parts(&format!("x@{sha512}")).3, Some(sha512));
        let sha384 = format!("sha384:{}", "0f".repeat(48));
        assert_eq!(parts(&format!("x@{sha384}")).3, Some(sha384));
    }

    #[test]
    fn refuses_what_distribution_refuses() {
        let long_namespace = format!("{}/docker", "a".repeat(250));
        let long_tag = format!("nginx:{}", "t".repeat(129));
        type Check = fn(&ImageRefError) -> bool;
        let cases: Vec<(&str, Check)> = vec![
            ("", |e| matches!(e, ImageRefError::Empty)),
            (
                "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
                |e| matches!(e, ImageRefError::ImageId(_)),
            ),
            ("https://github.com/docker/docker", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            ("docker/Docker", |e| {
                matches!(e, ImageRefError::UpperCase { .. })
            }),
            ("docker.io/docker/Docker", |e| {
                matches!(e, ImageRefError::UpperCase { .. })
            }),
            ("NGINX", |e| matches!(e, ImageRefError::UpperCase { .. })),
            ("-docker", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("-docker/docker", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("-docker.io/docker/docker", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            ("docker///docker", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("docker.io/docker///docker", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("docker-/docker", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("____/____", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("dock..er/docker", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            ("dock_.er/docker", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            ("dock___er/docker", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("docker/", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("ghcr.io/acme/../app", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("[fc00::1]", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("[fc00::1]:5000", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("fc00::1:5000/debian", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            ("[fe80::1%eth0]:5000/debian", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            ("[2001:db8:3:4::192.0.2.33]:5000/debian", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            // distribution would read this as the path "a_b.com/x" on no registry; refused here.
            ("a_b.com/x", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            ("host:port/x", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            ("nginx:", |e| matches!(e, ImageRefError::InvalidTag { .. })),
            ("nginx:-x", |e| {
                matches!(e, ImageRefError::InvalidTag { .. })
            }),
            ("nginx:a:b", |e| {
                matches!(e, ImageRefError::InvalidTag { .. })
            }),
            ("nginx@", |e| {
                matches!(e, ImageRefError::InvalidDigest { .. })
            }),
            ("nginx@sha256", |e| {
                matches!(e, ImageRefError::InvalidDigest { .. })
            }),
            ("nginx@sha256:abc", |e| {
                matches!(e, ImageRefError::InvalidDigest { .. })
            }),
            ("nginx@md5:0123456789abcdef0123456789abcdef", |e| {
                matches!(e, ImageRefError::UnsupportedDigest { .. })
            }),
            ("nginx@sha256:0123456789abcdef0123456789abcdef", |e| {
                matches!(e, ImageRefError::DigestHex { .. })
            }),
            (
                "nginx@sha256:DBCC1C35AC38DF41FD2F5E4130B32FFDB93EBAE8B3DBE638C23575912276FC9C",
                |e| matches!(e, ImageRefError::DigestHex { .. }),
            ),
            (
                "nginx@sha512:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
                |e| matches!(e, ImageRefError::DigestHex { .. }),
            ),
            ("nginx:1@sha256:x@y", |e| {
                matches!(e, ImageRefError::InvalidDigest { .. })
            }),
            ("nginx 1.25", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            (" nginx", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("ngïnx", |e| {
                matches!(e, ImageRefError::InvalidPathComponent { .. })
            }),
            ("ÜBER/x", |e| {
                matches!(e, ImageRefError::InvalidHost { .. })
            }),
            (&long_namespace, |e| {
                matches!(e, ImageRefError::PathTooLong { len: 257, .. })
            }),
            (&long_tag, |e| matches!(e, ImageRefError::InvalidTag { .. })),
        ];
        for (image, expected) in cases {
            match ImageRef::parse(image) {
                Ok(r) => panic!("{image:?} parsed as {r:?}"),
                Err(e) => assert!(expected(&e), "{image:?}: {e:?}"),
            }
        }
        // The 255-character limit counts `library/`.
        assert!(ImageRef::parse(&"a".repeat(247)).is_ok());
        assert!(ImageRef::parse(&"a".repeat(248)).is_err());
        assert!(ImageRef::parse(&format!("nginx:{}", "t".repeat(128))).is_ok());
    }

    #[test]
    fn errors_name_the_image_and_the_problem() {
        let message = |image: &str| ImageRef::parse(image).map(|_| ()).unwrap_err().to_string();
        assert_eq!(
            message("ghcr.io/Acme/app"),
            "image \"ghcr.io/Acme/app\": repository path \"Acme/app\" must be lower-case"
        );
        assert!(
            message("nginx:").contains("tag \"\""),
            "{}",
            message("nginx:")
        );
        assert!(message("a//b").contains("\"a//b\""));
        assert!(message("x@sha256:abcd").contains("sha256:abcd"));
    }

    #[test]
    fn default_pull_policy_is_the_apiservers() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("ghcr.io/acme/app", "Always"),
            ("localhost:5000", "IfNotPresent"), // tag "5000" on docker.io/library/localhost
            ("nginx:1.25", "IfNotPresent"),
            ("nginx:Latest", "IfNotPresent"),
            ("invalid image", "IfNotPresent"),
            ("", "IfNotPresent"),
        ] {
            assert_eq!(default_pull_policy(image), policy, "{image}");
        }
        assert_eq!(
            default_pull_policy(&format!("nginx@{SHA256}")),
            "IfNotPresent"
        );
        assert_eq!(
            default_pull_policy(&format!("nginx:latest@{SHA256}")),
            "Always"
        );
        assert_eq!(
            default_pull_policy(&format!("nginx:1@{SHA256}")),
            "IfNotPresent"
        );
    }

    #[test]
    fn equality_display_and_repository_are_normalised() -> Result<(), ImageRefError> {
        assert_eq!(
            ImageRef::parse("nginx")?,
            ImageRef::parse("docker.io/library/nginx")?
        );
        assert_eq!(
            ImageRef::parse("nginx")?,
            ImageRef::parse("index.docker.io/nginx")?
        );
        assert_ne!(ImageRef::parse("nginx")?, ImageRef::parse("nginx:1")?);
        assert_ne!(ImageRef::parse("a/b")?, ImageRef::parse("a/bc")?);
        let image = ImageRef::parse("nginx:1.25")?;
        assert_eq!(image.to_string(), "docker.io/library/nginx:1.25");
        assert_eq!(image.repository(), "docker.io/library/nginx");
        assert_eq!(image.as_str(), "nginx:1.25");
        let with_digest = format!("ghcr.io/a/b:1@{SHA256}");
        assert_eq!(ImageRef::parse(&with_digest)?.to_string(), with_digest);
        assert!(format!("{image:?}").contains("library/nginx"));
        Ok(())
    }

    fn matches(pattern: &str, image: &str) -> bool {
        let p = RegistryPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let i = ImageRef::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        p.matches(&i)
    }

    #[test]
    fn patterns_normalise() {
        for (entry, normalised) in [
            ("ghcr.io/acme", "ghcr.io/acme"),
            ("ghcr.io/acme/", "ghcr.io/acme"),
            ("GHCR.IO/acme", "ghcr.io/acme"),
            ("docker.io", "docker.io"),
            ("docker.io/", "docker.io"),
            ("index.docker.io", "docker.io"),
            ("nginx", "docker.io/library/nginx"),
            ("docker.io/nginx", "docker.io/library/nginx"),
            ("index.docker.io/nginx", "docker.io/library/nginx"),
            ("docker.io/library", "docker.io/library/"),
            ("docker.io/library/", "docker.io/library/"),
            ("library/", "docker.io/library/"),
            ("bitnami/", "docker.io/bitnami/"),
            ("bitnami/redis", "docker.io/bitnami/redis"),
            ("registry.local:5000/team", "registry.local:5000/team"),
            ("registry.local:5000", "registry.local:5000"),
            ("localhost", "localhost"),
            ("localhost:5000", "localhost:5000"),
            ("[::1]:5000", "[::1]:5000"),
            ("*.gcr.io", "*.gcr.io"),
            ("*.GCR.io/acme/", "*.gcr.io/acme"),
        ] {
            let pattern = RegistryPattern::parse(entry).unwrap_or_else(|e| panic!("{entry}: {e}"));
            assert_eq!(pattern.as_str(), normalised, "{entry}");
            // The normalised form reads back as the same pattern.
            assert_eq!(
                RegistryPattern::parse(pattern.as_str()).as_ref(),
                Ok(&pattern),
                "{entry}"
            );
        }
    }

    #[test]
    fn patterns_refuse_tags_digests_and_junk() {
        for entry in [
            "",
            "/",
            "nginx:1.25",
            "ghcr.io/acme/app:latest",
            "localhost:5000/x:1",
            "nginx:",
            "nginx@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
            "*",
            "*.",
            "*/x",
            "ghcr.io/*",
            "ghcr.*.io",
            "*.*.io",
            "*.[::1]",
            "*.gcr.io/a*",
            "*.gcr.io/acme:1",
            "ghcr.io//acme",
            "ghcr.io/Acme",
            "ghcr.io/acme//",
            "a_b.com",
            "-x.io",
            "NGINX",
            "https://ghcr.io/acme",
        ] {
            assert!(RegistryPattern::parse(entry).is_err(), "{entry:?}");
        }
        assert_eq!(
            RegistryPattern::parse("nginx:1.25")
                .map(|_| ())
                .unwrap_err()
                .to_string(),
            "allowed registry \"nginx:1.25\" has a tag or digest; an entry is a registry or repository prefix such as ghcr.io/acme"
        );
    }

    #[test]
    fn pattern_matching_table() {
        let yes = [
            ("ghcr.io/acme", "ghcr.io/acme"),
            ("ghcr.io/acme", "ghcr.io/acme/app"),
            ("ghcr.io/acme", "ghcr.io/acme/team/app:1"),
            ("ghcr.io/acme/", "ghcr.io/acme/app"),
            ("GHCR.IO/acme", "ghcr.io/acme/app"),
            ("ghcr.io/acme", "GHCR.IO/acme/app"),
            ("docker.io", "nginx"),
            ("docker.io", "user/app"),
            ("docker.io", "index.docker.io/user/app"),
            ("index.docker.io", "nginx"),
            ("nginx", "nginx"),
            ("nginx", "nginx:1.25"),
            ("nginx", "docker.io/library/nginx:1.25"),
            ("docker.io/nginx", "index.docker.io/library/nginx"),
            ("docker.io/library", "docker.io/library/library"),
            ("docker.io/library", "nginx"),
            ("library", "redis:7"),
            ("library/", "nginx"),
            ("docker.io/library/", "redis:7"),
            ("bitnami/", "bitnami/redis"),
            ("docker.io/bitnami/", "bitnami/redis"),
            ("registry.local:5000/team", "registry.local:5000/team/app"),
            ("registry.local:5000", "registry.local:5000/x"),
            ("localhost", "localhost/x"),
            ("*.gcr.io", "eu.gcr.io/p/app"),
            ("*.gcr.io", "a.b.eu.gcr.io/p/app"),
            ("*.gcr.io/acme", "eu.gcr.io/acme/app"),
            ("*.corp:5000", "r.corp:5000/x"),
            ("[::1]:5000", "[::1]:5000/x"),
        ];
        for (pattern, image) in yes {
            assert!(matches(pattern, image), "{pattern} should match {image}");
        }
        let no = [
            ("ghcr.io/acme", "ghcr.io/acmecorp/app"),
            ("ghcr.io/acme", "ghcr.io/acm"),
            ("ghcr.io/acme/app", "ghcr.io/acme"),
            ("ghcr.io/acme", "ghcr.io.evil.com/acme/app"),
            ("ghcr.io/acme", "evilghcr.io/acme/app"),
            ("ghcr.io", "ghcr.io:443/acme/app"),
            ("docker.io", "ghcr.io/acme"),
            ("docker.io", "Docker/docker"),
            ("nginx", "nginxinc/nginx"),
            ("nginx", "nginx/nginx-ingress"),
            ("nginx", "ghcr.io/library/nginx"),
            ("docker.io/bitnami/", "nginx"),
            ("bitnami/", "bitnami"), // the official image docker.io/library/bitnami
            ("docker.io/library", "bitnami/redis"),
            ("library/", "user/app"),
            ("registry.local:5000/team", "registry.local/team/app"),
            ("registry.local:5000/team", "registry.local:5001/team/app"),
            ("localhost", "localhost:5000/x"),
            ("*.gcr.io", "gcr.io/p/app"),
            ("*.gcr.io", "evilgcr.io/p/app"),
            ("*.gcr.io", "eu.gcr.io:443/p/app"),
            ("*.gcr.io", "eu.gcr.io.evil.com/p/app"),
            ("*.gcr.io/acme", "eu.gcr.io/acmecorp/app"),
            ("*.corp:5000", "corp:5000/x"),
        ];
        for (pattern, image) in no {
            assert!(
                !matches(pattern, image),
                "{pattern} should not match {image}"
            );
        }
    }

    /// Path components as the grammar makes them.
    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,4}([._-][a-z0-9]{1,3}){0,2}"
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9]{0,5}(\\.[a-z][a-z0-9]{0,4}){1,3}",
            "[a-z][a-z0-9]{0,5}(\\.[a-z]{1,3})?:[0-9]{1,5}",
            Just("localhost".to_owned()),
            Just("docker.io".to_owned()),
            Just("index.docker.io".to_owned()),
            Just("[::1]:5000".to_owned()),
        ]
    }

    /// Images with and without a registry, with tags and digests.
    fn image() -> impl Strategy<Value = String> {
        (
            proptest::option::of(host()),
            prop::collection::vec(component(), 1..4),
            proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}"),
            any::<bool>(),
        )
            .prop_map(|(host, mut path, tag, digest)| {
                if host.is_none() && path.len() > 1 {
                    // Else the first component, with a '.', would be a registry.
                    if let Some(first) = path.first_mut() {
                        *first = first.replace('.', "-");
                    }
                }
                let mut image = host.map(|h| format!("{h}/")).unwrap_or_default();
                image.push_str(&path.join("/"));
                if let Some(tag) = tag {
                    image.push(':');
                    image.push_str(&tag);
                }
                if digest {
                    image.push('@');
                    image.push_str(SHA256);
                }
                image
            })
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = ImageRef::parse(&s).map(|r| (r.path().len(), r.repository(), r.to_string()));
            let _ = RegistryPattern::parse(&s);
            let _ = default_pull_policy(&s);
        }

        #[test]
        fn parse_never_panics_on_reference_characters(s in "[a-zA-Z0-9:/@._\\[\\]*-]{0,40}") {
            if let Ok(r) = ImageRef::parse(&s) {
                // A parsed image reads back from its normalised form as itself.
                let full = r.to_string();
                prop_assert_eq!(ImageRef::parse(&full), Ok(r.clone()));
                prop_assert!(RegistryPattern::parse(&r.repository())?.matches(&r));
            }
            if let Ok(p) = RegistryPattern::parse(&s) {
                prop_assert_eq!(RegistryPattern::parse(p.as_str()), Ok(p.clone()));
            }
        }

        #[test]
        fn generated_images_parse(image in image()) {
            prop_assert!(ImageRef::parse(&image).is_ok(), "{}", image);
        }

        #[test]
        fn own_repository_always_matches(image in image()) {
            let image = ImageRef::parse(&image)?;
            let pattern = RegistryPattern::parse(&image.repository())?;
            prop_assert!(pattern.matches(&image), "{} / {}", pattern, image);
            let with_slash = RegistryPattern::parse(&format!("{}/", image.repository()))?;
            prop_assert!(with_slash.matches(&image));
            // And its registry, and the normalised form of the repository.
            prop_assert!(RegistryPattern::parse(image.domain())?.matches(&image));
            prop_assert!(RegistryPattern::parse(pattern.as_str())?.matches(&image));
        }

        #[test]
        fn never_matches_another_host(a in image(), b in image()) {
            let a = ImageRef::parse(&a)?;
            let b = ImageRef::parse(&b)?;
            // Docker Hub is frequent on both sides: no `prop_assume`, which would reject too often.
            if !a.domain().eq_ignore_ascii_case(b.domain()) {
                for entry in [a.repository(), a.domain().to_owned()] {
                    prop_assert!(!RegistryPattern::parse(&entry)?.matches(&b), "{} matched {}", entry, b);
                }
            }
        }

        #[test]
        fn prefix_is_on_component_boundaries(
            host in host(),
            path in prop::collection::vec(component(), 1..3),
            extra in "[a-z0-9]{1,3}",
        ) {
            // `a/b` never matches `a/bc`, with or without a trailing '/'.
            let prefix = format!("{host}/{}", path.join("/"));
            let (longer, below) = (format!("{prefix}{extra}"), format!("{prefix}/{extra}"));
            let (longer, below) = (ImageRef::parse(&longer)?, ImageRef::parse(&below)?);
            for entry in [prefix.clone(), format!("{prefix}/")] {
                let pattern = RegistryPattern::parse(&entry)?;
                prop_assert!(!pattern.matches(&longer), "{} matched {}", entry, longer);
            }
            // With the trailing '/' it is a prefix everywhere, Docker Hub namespaces included.
            let pattern = RegistryPattern::parse(&format!("{prefix}/"))?;
            prop_assert!(pattern.matches(&below), "{} did not match {}", pattern, below);
        }

        #[test]
        fn wildcard_matches_subdomains_only(
            sub in "[a-z][a-z0-9]{0,5}(\\.[a-z]{1,4}){0,2}",
            domain in "[a-z][a-z0-9]{0,5}(\\.[a-z]{1,4}){1,2}",
            path in component(),
        ) {
            let pattern = RegistryPattern::parse(&format!("*.{domain}"))?;
            let under = format!("{sub}.{domain}/{path}");
            prop_assert!(pattern.matches(&ImageRef::parse(&under)?), "{}", under);
            let itself = format!("{domain}/{path}");
            prop_assert!(!pattern.matches(&ImageRef::parse(&itself)?), "{}", itself);
            let glued = format!("{sub}{domain}/{path}");
            prop_assert!(!pattern.matches(&ImageRef::parse(&glued)?), "{}", glued);
        }
    }
}
