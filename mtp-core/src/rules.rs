//! The tenant rules, in one place: the limits and patterns the CRD schema, [`TenantSpec::validate`],
//! the REST API's validator and its OpenAPI schema all use, and [`check_fields`], the one function
//! that checks them.
//!
//! Lengths are counted in characters (what JSON Schema's `maxLength` counts).
//!
//! [`TenantSpec::validate`]: crate::TenantSpec::validate

use std::collections::BTreeMap;

use crate::Error;

/// The regular expression of a DNS-1123 label.
pub const DNS1123_LABEL_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// The longest tenant name (`tenant-<name>` must fit in 63 characters).
pub const MAX_TENANT_NAME_LEN: usize = crate::naming::MAX_TENANT_NAME_LEN;
/// The longest display name.
pub const MAX_DISPLAY_NAME_LEN: usize = 128;
/// A display name: not blank, no control characters.
pub const DISPLAY_NAME_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";
/// The shortest owner e-mail address (`a@b`).
pub const MIN_EMAIL_LEN: usize = 3;
/// The longest owner e-mail address.
pub const MAX_EMAIL_LEN: usize = 254;
/// An owner e-mail address: one `@` with something on both sides, no blanks or control
/// characters.
pub const EMAIL_PATTERN: &str = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$";
/// The longest user name in `admins`, `operators`, `viewers` and members.
pub const MAX_USER_LEN: usize = 256;
/// A user name as the IdP gives it: not empty, no surrounding blanks, no control characters.
pub const USER_PATTERN: &str =
    r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$";
/// The most users per role.
pub const MAX_USERS_PER_ROLE: usize = 100;
/// The longest extra-namespace suffix (`tenant-<name>-<suffix>`).
pub const MAX_NAMESPACE_SUFFIX_LEN: usize = 40;
/// The most extra namespaces a tenant may list (its tier may allow fewer).
pub const MAX_EXTRA_NAMESPACES: usize = 32;
/// A Kubernetes quantity, as [`mtp_policy::builders::validate_quantity`] accepts it.
pub const QUANTITY_PATTERN: &str =
    r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?$";

/// One broken rule: where (path segments from the tenant's fields) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The path: field names and list indexes (`["admins", "2"]`, `["quota", "pods"]`).
    pub path: Vec<String>,
    /// What is wrong, for humans.
    pub message: String,
}

impl Violation {
    fn new(path: Vec<String>, message: impl Into<String>) -> Self {
        Violation {
            path,
            message: message.into(),
        }
    }

    /// The path as a JSON pointer (`/admins/2`, `/quota/requests.cpu`).
    pub fn pointer(&self) -> String {
        pointer(self.path.iter().map(String::as_str))
    }

    /// The path as a Kubernetes field path under `prefix` (`spec.admins[2]`, `spec.quota.pods`).
    pub fn field_path(&self, prefix: &str) -> String {
        let mut out = prefix.to_string();
        let mut in_quota = false;
        for seg in &self.path {
            if !in_quota && seg.parse::<usize>().is_ok() {
                out.push_str(&format!("[{seg}]"));
            } else {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(seg);
            }
            in_quota = seg == "quota" || seg == "nodeSelector";
        }
        out
    }

    /// This violation as an [`Error::Invalid`] at its field path under `prefix`.
    pub fn into_error(self, prefix: &str) -> Error {
        Error::invalid(self.field_path(prefix), self.message)
    }
}

/// Escapes one reference token of a JSON pointer (RFC 6901: `~` → `~0`, `/` → `~1`). The one
/// escaping helper of the API.
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The JSON pointer of `segments` (`["quota", "a/b"]` → `/quota/a~1b`; none → ``).
pub fn pointer<'a>(segments: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.push_str(&escape_pointer_token(s));
    }
    out
}

/// What is wrong with a user name, if anything.
pub fn user_problem(user: &str) -> Option<&'static str> {
    if user.trim().is_empty() {
        Some("must not be empty")
    } else if user.chars().count() > MAX_USER_LEN {
        Some("must be at most 256 characters")
    } else if user.trim() != user {
        Some("must not start or end with blanks")
    } else if user.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else {
        None
    }
}

/// Whether `email` is an owner e-mail address ([`EMAIL_PATTERN`], at most [`MAX_EMAIL_LEN`]).
pub fn is_email(email: &str) -> bool {
    email.chars().count() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

/// Whether `name` is a display name (1 to [`MAX_DISPLAY_NAME_LEN`] characters, not blank, no
/// control characters).
pub fn is_display_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.chars().count() <= MAX_DISPLAY_NAME_LEN
        && !name.chars().any(char::is_control)
}

/// Whether `suffix` is an extra-namespace suffix (a DNS-1123 label of at most
/// [`MAX_NAMESPACE_SUFFIX_LEN`] characters).
pub fn is_namespace_suffix(suffix: &str) -> bool {
    !suffix.is_empty()
        && suffix.len() <= MAX_NAMESPACE_SUFFIX_LEN
        && suffix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !suffix.starts_with('-')
        && !suffix.ends_with('-')
}

/// The message of a display name that breaks the rules.
pub const DISPLAY_NAME_MESSAGE: &str = "must be 1 to 128 characters without control characters";

/// The fields of a tenant the rules look at, borrowed from a `TenantSpec` or an API body.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// The display name, when one is given.
    pub display_name: Option<&'a str>,
    /// The owner's e-mail address.
    pub owner_email: &'a str,
    /// `admins`, `operators` and `viewers`, with their field names.
    pub users: [(&'a str, &'a [String]); 3],
    /// `adminGroups`, `operatorGroups` and `viewerGroups`, with their field names (a group may
    /// be listed under several roles; RBAC grants the union).
    pub groups: [(&'a str, &'a [String]); 3],
    /// The extra-namespace suffixes.
    pub namespaces: &'a [String],
    /// The quota overrides.
    pub quota: Option<&'a BTreeMap<String, String>>,
    /// The guardrail overrides.
    pub guardrails: Option<&'a mtp_policy::guardrails::GuardrailSettings>,
}

/// Whether a user listed under two roles is an error ([`OneRole::Required`], the API's rule:
/// the store keeps one role per member) or only a user listed twice in one list is
/// ([`OneRole::PerList`], a Tenant resource's rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneRole {
    /// One role per user across `admins`, `operators` and `viewers`.
    Required,
    /// No duplicates within one list.
    PerList,
}

/// Checks the tenant rules, returning every broken one (in field order).
pub fn check_fields(fields: Fields<'_>, one_role: OneRole) -> Vec<Violation> {
    let mut out = Vec::new();
    let at = |segs: &[&str]| segs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if let Some(d) = fields.display_name
        && !is_display_name(d)
    {
        out.push(Violation::new(at(&["displayName"]), DISPLAY_NAME_MESSAGE));
    }
    if !is_email(fields.owner_email) {
        out.push(Violation::new(
            at(&["ownerEmail"]),
            format!("{:?} is not an e-mail address", fields.owner_email),
        ));
    }
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for (list, users) in fields.users {
        if users.len() > MAX_USERS_PER_ROLE {
            out.push(Violation::new(
                at(&[list]),
                format!("{} users; at most {MAX_USERS_PER_ROLE}", users.len()),
            ));
        }
        if one_role == OneRole::PerList {
            seen.clear();
        }
        for (i, user) in users.iter().enumerate() {
            let path = vec![list.to_string(), i.to_string()];
            if let Some(p) = user_problem(user) {
                out.push(Violation::new(path, format!("user {user:?} {p}")));
                continue;
            }
            match seen.get(user.as_str()) {
                Some(first) if first.starts_with(&format!("/{list}/")) => {
                    out.push(Violation::new(
                        path,
                        format!("user {user:?} is listed twice"),
                    ));
                }
                Some(first) => out.push(Violation::new(
                    path,
                    format!("user {user:?} is already listed at {first}; a user has one role"),
                )),
                None => {
                    seen.insert(user, pointer([list, i.to_string().as_str()]));
                }
            }
        }
    }
    for (list, groups) in fields.groups {
        if groups.len() > MAX_USERS_PER_ROLE {
            out.push(Violation::new(
                at(&[list]),
                format!("{} groups; at most {MAX_USERS_PER_ROLE}", groups.len()),
            ));
        }
        for (i, group) in groups.iter().enumerate() {
            let path = vec![list.to_string(), i.to_string()];
            if let Some(p) = user_problem(group) {
                out.push(Violation::new(path, format!("group {group:?} {p}")));
            } else if groups[..i].contains(group) {
                out.push(Violation::new(
                    path,
                    format!("group {group:?} is listed twice"),
                ));
            }
        }
    }
    if fields.namespaces.len() > MAX_EXTRA_NAMESPACES {
        out.push(Violation::new(
            at(&["namespaces"]),
            format!(
                "{} suffixes; at most {MAX_EXTRA_NAMESPACES}",
                fields.namespaces.len()
            ),
        ));
    }
    for (i, suffix) in fields.namespaces.iter().enumerate() {
        let path = vec!["namespaces".to_string(), i.to_string()];
        if !is_namespace_suffix(suffix) {
            out.push(Violation::new(
                path,
                format!("{suffix:?} is not a namespace suffix: 1 to {MAX_NAMESPACE_SUFFIX_LEN} of a-z, 0-9 and '-', starting and ending with a letter or digit"),
            ));
        } else if fields.namespaces[..i].contains(suffix) {
            out.push(Violation::new(
                path,
                format!("suffix {suffix:?} is listed twice"),
            ));
        }
    }
    if let Some(quota) = fields.quota {
        for (resource, quantity) in quota {
            let one = BTreeMap::from([(resource.clone(), quantity.clone())]);
            if let Err(Error::Invalid { message, .. }) = crate::tier::validate_quota("quota", &one)
            {
                out.push(Violation::new(
                    vec!["quota".to_string(), resource.clone()],
                    message,
                ));
            }
        }
    }
    if let Some(guardrails) = fields.guardrails {
        for problem in guardrails.problems() {
            let mut path = vec!["guardrails".to_string()];
            path.extend(
                problem
                    .pointer
                    .split('/')
                    .skip(1)
                    .map(|t| t.replace("~1", "/").replace("~0", "~")),
            );
            out.push(Violation::new(path, problem.message));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn suffixes_are_capped_at_40_characters() {
        assert!(is_namespace_suffix(&"a".repeat(MAX_NAMESPACE_SUFFIX_LEN)));
        assert!(!is_namespace_suffix(
            &"a".repeat(MAX_NAMESPACE_SUFFIX_LEN + 1)
        ));
        assert_eq!(MAX_NAMESPACE_SUFFIX_LEN, 40);
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let admins = strings(&["ok", " padded"]);
        let viewers = strings(&["ok"]);
        let namespaces = strings(&["ci", "ci", "Bad"]);
        let quota = BTreeMap::from([
            ("pods".to_string(), "many".to_string()),
            ("gpus".to_string(), "1".to_string()),
        ]);
        let fields = Fields {
            display_name: Some(""),
            owner_email: "nope",
            users: [
                ("admins", &admins),
                ("operators", &[]),
                ("viewers", &viewers),
            ],
            groups: [
                ("adminGroups", &[]),
                ("operatorGroups", &[]),
                ("viewerGroups", &[]),
            ],
            namespaces: &namespaces,
            quota: Some(&quota),
            guardrails: None,
        };
        let pointers: Vec<String> = check_fields(fields, OneRole::Required)
            .iter()
            .map(Violation::pointer)
            .collect();
        assert_eq!(
            pointers,
            [
                "/displayName",
                "/ownerEmail",
                "/admins/1",
                "/viewers/0",
                "/namespaces/1",
                "/namespaces/2",
                "/quota/gpus",
                "/quota/pods"
            ]
        );
        // A Tenant resource may list a user under two roles.
        assert_eq!(check_fields(fields, OneRole::PerList).len(), 7);
    }

    #[test]
    fn paths() {
        let v = Violation::new(strings(&["quota", "requests.cpu"]), "x");
        assert_eq!(v.field_path("spec"), "spec.quota.requests.cpu");
        assert_eq!(v.pointer(), "/quota/requests.cpu");
        let v = Violation::new(strings(&["admins", "2"]), "x");
        assert_eq!(v.field_path("spec"), "spec.admins[2]");
        assert_eq!(pointer(["quota", "a/b~"]), "/quota/a~1b~0");
    }

    #[test]
    fn patterns_agree_with_the_checks() {
        // The patterns are for JSON Schema; spot-check that they say what the functions say.
        for (s, ok) in [
            ("a@b", true),
            ("a@b@c", false),
            ("@b", false),
            ("a b@c", false),
        ] {
            assert_eq!(is_email(s), ok, "{s}");
        }
        assert!(EMAIL_PATTERN.contains("@"));
        assert!(user_problem(&"é".repeat(MAX_USER_LEN)).is_none());
    }
}
