//! Kubernetes RBAC, evaluated offline: what a request to the apiserver asks the authorizer for,
//! and whether a set of Roles, ClusterRoles and their bindings allows it. Pure functions, no I/O.
//!
//! Used by the tests that prove the RBAC `mtpctl install` ships allows every call the binaries
//! make (`mtp-bins/tests/rbac_shipped.rs`), and by anyone who wants to ask "would this
//! ServiceAccount be allowed to do that?" without a cluster.
//!
//! Where each part comes from in the Kubernetes sources:
//! - [`request_attributes`] follows `RequestInfoFactory.NewRequestInfo`
//!   (`staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).
//! - [`required_attributes`] adds the extra checks made while a request is served. A server-side
//!   apply (`PATCH` with `application/apply-patch+yaml`) of an object that does not exist yet is
//!   also authorized as `create`, with the object's name: `PatchResource` builds
//!   `createAuthorizerAttributes` (`Verb: "create"`, `Name: name`) and wraps the create
//!   validation in `withAuthorization(rest.AdmissionToValidateObjectFunc(...), scope.Authorizer,
//!   createAuthorizerAttributes)` (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`).
//!   A RoleBinding or ClusterRoleBinding write is also authorized as `bind` on the role it
//!   references (`BindingAuthorized`, `pkg/registry/rbac/escalation_check.go`), unless the
//!   writer already holds every permission of that role ([`binding_check`], when that role's
//!   rules are known).
//! - [`escalation_check`] and [`decide_escalation`]: a Role or ClusterRole write is stored only if
//!   the writer may `escalate` it or holds every permission it grants
//!   (`pkg/registry/rbac/{role,clusterrole}/policybased/storage.go`).
//! - [`rule_allows`] follows `RuleAllows`, `VerbMatches`, `APIGroupMatches`, `ResourceMatches`,
//!   `ResourceNameMatches` (`pkg/apis/rbac/v1/evaluation_helpers.go`); Role rules apply in their
//!   namespace only, a ClusterRole bound by a ClusterRoleBinding everywhere, a ClusterRole bound
//!   by a RoleBinding in that binding's namespace (`pkg/registry/rbac/validation/rule.go`).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The API group of RBAC objects.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// What went wrong while reading a request or RBAC objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RbacError {
    /// The path is not a resource request (`/api/v1/...` or `/apis/GROUP/VERSION/...`).
    #[error("{method} {path} is not a Kubernetes resource request: {why}")]
    NotAResourceRequest {
        /// The HTTP method.
        method: String,
        /// The path.
        path: String,
        /// What is missing.
        why: &'static str,
    },
    /// An RBAC object does not parse as its kind.
    #[error("{kind} {name:?} is not a valid {kind}: {message}")]
    InvalidObject {
        /// The object's kind.
        kind: String,
        /// The object's name (as far as it could be read).
        name: String,
        /// The deserializer's message.
        message: String,
    },
}

/// The attributes a request is authorized with (`authorizer.AttributesRecord` for a resource
/// request). Empty strings stand for "none" as in Kubernetes (core group, cluster scope, no name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, `bind`, ...
    pub verb: String,
    /// The API group (`""` for the core group).
    pub api_group: String,
    /// The resource (plural, lower case).
    pub resource: String,
    /// The subresource (`status`, ...), or `""`.
    pub subresource: String,
    /// The namespace, or `""` for a cluster-scoped request.
    pub namespace: String,
    /// The object's name, or `""` for a collection.
    pub name: String,
}

impl Attributes {
    /// The attributes of a resource request.
    pub fn new(verb: &str, api_group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        Attributes {
            verb: verb.to_owned(),
            api_group: api_group.to_owned(),
            resource: resource.to_owned(),
            subresource: String::new(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The same attributes on `subresource`.
    pub fn with_subresource(mut self, subresource: &str) -> Self {
        self.subresource = subresource.to_owned();
        self
    }

    /// `resource` or `resource/subresource`, as RBAC rules name it.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.api_group.is_empty() {
            "core"
        } else {
            self.api_group.as_str()
        };
        write!(
            f,
            "{} {} (group {group})",
            self.verb,
            self.combined_resource()
        )?;
        if !self.name.is_empty() {
            write!(f, " name {:?}", self.name)?;
        }
        if self.namespace.is_empty() {
            write!(f, " cluster-wide")
        } else {
            write!(f, " in namespace {:?}", self.namespace)
        }
    }
}

fn not_resource(method: &str, path: &str, why: &'static str) -> RbacError {
    RbacError::NotAResourceRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        why,
    }
}

/// The value of `key` in a URL query (`a=1&b=2`), undecoded.
fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

/// The attributes the apiserver's RequestInfo resolver gives a request: the verb from the
/// method (`POST` create, `GET` get, `PUT` update, `PATCH` patch, `DELETE` delete), a `GET`
/// without a name is `list` or (with `?watch=` anything but `false`/`0`) `watch`, a `DELETE`
/// without a name is `deletecollection`, a `/watch/` prefix is `watch`; the group from
/// `/apis/GROUP/VERSION` (`/api/v1` is the core group); `namespaces/NS/RESOURCE/NAME/SUB`,
/// where `namespaces/NAME` (and its `status` and `finalize`) is the namespaces resource itself.
pub fn request_attributes(
    method: &str,
    path: &str,
    query: Option<&str>,
) -> Result<Attributes, RbacError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => {
            return Err(not_resource(
                method,
                path,
                "no /api/VERSION or /apis/GROUP/VERSION",
            ));
        }
    };
    let (mut verb, mut rest) = match rest {
        ["watch", rest @ ..] => ("watch", rest),
        ["proxy", rest @ ..] => ("proxy", rest),
        _ => (
            match method {
                "POST" => "create",
                "GET" | "HEAD" => "get",
                "PUT" => "update",
                "PATCH" => "patch",
                "DELETE" => "delete",
                _ => "",
            },
            rest,
        ),
    };
    let mut namespace = "";
    if let ["namespaces", ns, tail @ ..] = rest {
        namespace = ns;
        if let [first, ..] = tail
            && *first != "status"
            && *first != "finalize"
        {
            rest = tail;
        }
    }
    let (resource, name, subresource) = match rest {
        [] => return Err(not_resource(method, path, "no resource")),
        [resource] => (*resource, "", ""),
        [resource, name] => (*resource, *name, ""),
        [resource, name, sub, ..] if verb != "proxy" => (*resource, *name, *sub),
        [resource, name, ..] => (*resource, *name, ""),
    };
    if name.is_empty() && verb == "get" {
        verb = match query.and_then(|q| query_value(q, "watch")) {
            Some(v) if !v.eq_ignore_ascii_case("false") && v != "0" => "watch",
            _ => "list",
        };
    }
    if name.is_empty() && verb == "delete" {
        verb = "deletecollection";
    }
    Ok(Attributes::new(verb, api_group, resource, namespace, name).with_subresource(subresource))
}

/// Whether a `Content-Type` is a server-side apply patch.
pub fn is_apply_patch(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or_default().trim();
    base.eq_ignore_ascii_case("application/apply-patch+yaml")
        || base.eq_ignore_ascii_case("application/apply-patch+cbor")
}

/// Every authorization check a request may meet: its own [`request_attributes`], plus `create`
/// (same resource, namespace and name) for a server-side apply, which creates the object when
/// it does not exist; plus `bind` on the referenced role for a write of a RoleBinding or
/// ClusterRoleBinding whose `body` names a `roleRef`.
pub fn required_attributes(
    method: &str,
    path: &str,
    query: Option<&str>,
    content_type: Option<&str>,
    body: Option<&Value>,
) -> Result<Vec<Attributes>, RbacError> {
    let attrs = request_attributes(method, path, query)?;
    let mut out = vec![attrs.clone()];
    if attrs.verb == "patch" && content_type.is_some_and(is_apply_patch) {
        out.push(Attributes {
            verb: "create".to_owned(),
            ..attrs.clone()
        });
    }
    let writes_binding = attrs.api_group == RBAC_GROUP
        && attrs.subresource.is_empty()
        && (attrs.resource == "rolebindings" || attrs.resource == "clusterrolebindings")
        && ["create", "update", "patch"].contains(&attrs.verb.as_str());
    if writes_binding && let Some(role_ref) = body.map(|b| &b["roleRef"]) {
        let resource = match role_ref["kind"].as_str() {
            Some("ClusterRole") => Some("clusterroles"),
            Some("Role") => Some("roles"),
            _ => None,
        };
        if let (Some(resource), Some(name)) = (resource, role_ref["name"].as_str()) {
            let group = role_ref["apiGroup"].as_str().unwrap_or(RBAC_GROUP);
            // Checked in the binding's namespace ("" for a ClusterRoleBinding).
            out.push(Attributes::new(
                "bind",
                group,
                resource,
                &attrs.namespace,
                name,
            ));
        }
    }
    Ok(out)
}

fn matches_or_star(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

/// Whether one RBAC rule allows `attrs` (namespace aside): the verb (`*` matches all), the API
/// group (`*` matches all), the resource (`*`, `resource`, `resource/subresource`,
/// `*/subresource`), and the resource names (none = all; otherwise the request must carry one of
/// them, so a list, a watch, a `POST` create or a deletecollection never matches). Rules naming
/// only `nonResourceURLs` allow no resource request.
pub fn rule_allows(rule: &PolicyRule, attrs: &Attributes) -> bool {
    if !matches_or_star(&rule.verbs, &attrs.verb) {
        return false;
    }
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    if !matches_or_star(groups, &attrs.api_group) {
        return false;
    }
    let combined = attrs.combined_resource();
    let resources = rule.resources.as_deref().unwrap_or_default();
    let resource_ok = resources.iter().any(|r| {
        r == "*"
            || *r == combined
            || (!attrs.subresource.is_empty()
                && r.strip_prefix("*/") == Some(attrs.subresource.as_str()))
    });
    if !resource_ok {
        return false;
    }
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => names.contains(&attrs.name),
    }
}

/// A ServiceAccount, the subject the binaries run as.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceAccount {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ServiceAccount {
    /// `system:serviceaccount:NS:NAME`.
    pub fn new(namespace: &str, name: &str) -> Self {
        ServiceAccount {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

/// Where a rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace and cluster-scoped resources (a ClusterRoleBinding).
    Cluster,
    /// Requests in this namespace only (a RoleBinding).
    Namespace(String),
}

/// One rule granted to a subject, with where it applies and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The rule.
    pub rule: PolicyRule,
    /// Where it applies.
    pub scope: Scope,
    /// The role holding it, e.g. `ClusterRole/mtp-controller`.
    pub role: String,
    /// The binding that grants the role, e.g. `ClusterRoleBinding/mtp-controller`.
    pub binding: String,
    /// The rule's index in the role's `rules`.
    pub index: usize,
}

impl Grant {
    /// Whether this grant allows `attrs`, scope included.
    pub fn allows(&self, attrs: &Attributes) -> bool {
        let in_scope = match &self.scope {
            Scope::Cluster => true,
            Scope::Namespace(ns) => *ns == attrs.namespace,
        };
        in_scope && rule_allows(&self.rule, attrs)
    }

    /// `ClusterRole/x rules[i] (via ClusterRoleBinding/x)`, for messages.
    pub fn describe(&self) -> String {
        format!("{} rules[{}] (via {})", self.role, self.index, self.binding)
    }
}

/// Roles, ClusterRoles and bindings: who may do what.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    roles: BTreeMap<(String, String), Vec<PolicyRule>>,
    cluster_roles: BTreeMap<String, Vec<PolicyRule>>,
    role_bindings: Vec<RoleBinding>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
}

fn parse<T: DeserializeOwned>(object: &Value) -> Result<T, RbacError> {
    serde_json::from_value(object.clone()).map_err(|e| RbacError::InvalidObject {
        kind: object["kind"].as_str().unwrap_or("?").to_owned(),
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or("?")
            .to_owned(),
        message: e.to_string(),
    })
}

impl Policy {
    /// The policy of the RBAC objects among `objects` (other kinds are skipped), e.g. the
    /// objects `mtpctl install` renders.
    pub fn from_objects<'a>(
        objects: impl IntoIterator<Item = &'a Value>,
    ) -> Result<Self, RbacError> {
        let mut policy = Policy::default();
        for object in objects {
            if object["apiVersion"].as_str() != Some("rbac.authorization.k8s.io/v1") {
                continue;
            }
            match object["kind"].as_str() {
                Some("Role") => {
                    let role: Role = parse(object)?;
                    let key = (
                        role.metadata.namespace.unwrap_or_default(),
                        role.metadata.name.unwrap_or_default(),
                    );
                    policy.roles.insert(key, role.rules.unwrap_or_default());
                }
                Some("ClusterRole") => {
                    let role: ClusterRole = parse(object)?;
                    policy.cluster_roles.insert(
                        role.metadata.name.unwrap_or_default(),
                        role.rules.unwrap_or_default(),
                    );
                }
                Some("RoleBinding") => policy.role_bindings.push(parse(object)?),
                Some("ClusterRoleBinding") => policy.cluster_role_bindings.push(parse(object)?),
                _ => {}
            }
        }
        Ok(policy)
    }

    /// Every rule bound to `subject`, with its scope. A binding to a missing role grants
    /// nothing, as in Kubernetes.
    pub fn grants_for(&self, subject: &ServiceAccount) -> Vec<Grant> {
        let names_subject = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>,
                             binding_ns: &str| {
            subjects.iter().flatten().any(|s| {
                // A ServiceAccount subject without a namespace means the binding's namespace.
                let ns = s.namespace.as_deref().unwrap_or(binding_ns);
                s.kind == "ServiceAccount" && s.name == subject.name && ns == subject.namespace
            })
        };
        let mut out = Vec::new();
        let mut push = |rules: &[PolicyRule], scope: Scope, role: String, binding: String| {
            for (index, rule) in rules.iter().enumerate() {
                out.push(Grant {
                    rule: rule.clone(),
                    scope: scope.clone(),
                    role: role.clone(),
                    binding: binding.clone(),
                    index,
                });
            }
        };
        for b in &self.cluster_role_bindings {
            if b.role_ref.kind != "ClusterRole" || !names_subject(&b.subjects, "") {
                continue;
            }
            if let Some(rules) = self.cluster_roles.get(&b.role_ref.name) {
                push(
                    rules,
                    Scope::Cluster,
                    format!("ClusterRole/{}", b.role_ref.name),
                    format!(
                        "ClusterRoleBinding/{}",
                        b.metadata.name.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
        for b in &self.role_bindings {
            let ns = b.metadata.namespace.clone().unwrap_or_default();
            if !names_subject(&b.subjects, &ns) {
                continue;
            }
            let binding = format!(
                "RoleBinding/{}/{}",
                ns,
                b.metadata.name.as_deref().unwrap_or_default()
            );
            let (rules, role) = match b.role_ref.kind.as_str() {
                "ClusterRole" => (
                    self.cluster_roles.get(&b.role_ref.name),
                    format!("ClusterRole/{}", b.role_ref.name),
                ),
                "Role" => (
                    self.roles.get(&(ns.clone(), b.role_ref.name.clone())),
                    format!("Role/{}/{}", ns, b.role_ref.name),
                ),
                _ => continue,
            };
            if let Some(rules) = rules {
                push(rules, Scope::Namespace(ns), role, binding);
            }
        }
        out
    }

    /// Whether `subject` may do `attrs`: the first grant that allows it, or why not.
    pub fn authorize(&self, subject: &ServiceAccount, attrs: &Attributes) -> Decision {
        decide(&self.grants_for(subject), attrs)
    }
}

/// The answer of [`Policy::authorize`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Allowed by this grant.
    Allowed(Grant),
    /// No grant allows it; the roles consulted (each once), for the message.
    Denied {
        /// `ClusterRole/x (via ClusterRoleBinding/x)` of every grant consulted.
        consulted: Vec<String>,
    },
}

/// Whether one of `grants` allows `attrs`.
pub fn decide(grants: &[Grant], attrs: &Attributes) -> Decision {
    if let Some(g) = grants.iter().find(|g| g.allows(attrs)) {
        return Decision::Allowed(g.clone());
    }
    let mut consulted: Vec<String> = grants
        .iter()
        .map(|g| format!("{} (via {})", g.role, g.binding))
        .collect();
    consulted.dedup();
    Decision::Denied { consulted }
}

/// One permission a grant gives: a single verb on a single group, resource and (if the rule
/// has any) resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// The grant, described (`ClusterRole/x rules[i] (via ...)`).
    pub grant: String,
    /// The verb.
    pub verb: String,
    /// The API group.
    pub api_group: String,
    /// The resource (`resource` or `resource/subresource`).
    pub resource: String,
    /// The resource name, when the rule restricts names.
    pub resource_name: Option<String>,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.api_group.is_empty() {
            "core"
        } else {
            self.api_group.as_str()
        };
        write!(
            f,
            "{}: `{}` on {} (group {group})",
            self.grant, self.verb, self.resource
        )?;
        if let Some(n) = &self.resource_name {
            write!(f, " named {n:?}")?;
        }
        Ok(())
    }
}

/// The permissions of `grants` (verb × group × resource × resource name of each rule) that no
/// request in `used` needs: what can be removed without refusing any of them.
pub fn unused_permissions(grants: &[Grant], used: &[Attributes]) -> Vec<Permission> {
    let mut out = Vec::new();
    for g in grants {
        let names: Vec<Option<String>> = match g.rule.resource_names.as_deref() {
            None | Some([]) => vec![None],
            Some(names) => names.iter().cloned().map(Some).collect(),
        };
        for verb in &g.rule.verbs {
            for group in g.rule.api_groups.iter().flatten() {
                for resource in g.rule.resources.iter().flatten() {
                    for name in &names {
                        let narrow = Grant {
                            rule: PolicyRule {
                                verbs: vec![verb.clone()],
                                api_groups: Some(vec![group.clone()]),
                                resources: Some(vec![resource.clone()]),
                                resource_names: name.clone().map(|n| vec![n]),
                                non_resource_urls: None,
                            },
                            ..g.clone()
                        };
                        if !used.iter().any(|a| narrow.allows(a)) {
                            out.push(Permission {
                                grant: g.describe(),
                                verb: verb.clone(),
                                api_group: group.clone(),
                                resource: resource.clone(),
                                resource_name: name.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// A write of a Role or ClusterRole (or of a binding, see [`binding_check`]): Kubernetes stores
/// it only if the writer may `escalate` that role (`bind` it), or already holds every permission
/// the role grants (`RoleEscalationAuthorized`,
/// then `ConfirmNoEscalation` in `pkg/registry/rbac/role/policybased/storage.go` and
/// `clusterrole/policybased/storage.go`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationCheck {
    /// `escalate` on the role being written.
    pub escalate: Attributes,
    /// Every permission the written role grants, one verb, group, resource and name each, in
    /// the role's namespace (`""` for a ClusterRole).
    pub granted: Vec<Attributes>,
}

/// The [`EscalationCheck`] of a write (`create`, `update`, `patch`) of a Role or ClusterRole
/// whose `body` carries `rules`; `None` for any other request.
pub fn escalation_check(attrs: &Attributes, body: Option<&Value>) -> Option<EscalationCheck> {
    let is_role = attrs.api_group == RBAC_GROUP
        && attrs.subresource.is_empty()
        && (attrs.resource == "roles" || attrs.resource == "clusterroles")
        && ["create", "update", "patch"].contains(&attrs.verb.as_str());
    if !is_role {
        return None;
    }
    let rules: Vec<PolicyRule> = serde_json::from_value(body?.get("rules")?.clone()).ok()?;
    Some(EscalationCheck {
        escalate: Attributes {
            verb: "escalate".to_owned(),
            subresource: String::new(),
            ..attrs.clone()
        },
        granted: granted_by(&rules, &attrs.namespace),
    })
}

/// The alternative to `bind` for a binding write: Kubernetes also lets a RoleBinding or
/// ClusterRoleBinding through when the writer already holds every permission of the role it
/// references (`BindingAuthorized`, then `ConfirmNoEscalation` in
/// `pkg/registry/rbac/clusterrolebinding/policybased/storage.go`). `bind` is the `bind` check of
/// [`required_attributes`]; `role` the referenced role's object (with `rules`). The permissions
/// count in the binding's namespace (`""`: cluster-wide for a ClusterRoleBinding).
pub fn binding_check(bind: &Attributes, role: &Value) -> Option<EscalationCheck> {
    if bind.verb != "bind" {
        return None;
    }
    let rules: Vec<PolicyRule> = serde_json::from_value(role.get("rules")?.clone()).ok()?;
    Some(EscalationCheck {
        escalate: bind.clone(),
        granted: granted_by(&rules, &bind.namespace),
    })
}

/// Every permission `rules` grant, one verb, group, resource and name each, in `namespace`.
fn granted_by(rules: &[PolicyRule], namespace: &str) -> Vec<Attributes> {
    let mut granted = Vec::new();
    for rule in rules {
        let names: Vec<&str> = match rule.resource_names.as_deref() {
            None | Some([]) => vec![""],
            Some(names) => names.iter().map(String::as_str).collect(),
        };
        for verb in &rule.verbs {
            for group in rule.api_groups.iter().flatten() {
                for resource in rule.resources.iter().flatten() {
                    let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
                    for name in &names {
                        granted.push(
                            Attributes::new(verb, group, resource, namespace, name)
                                .with_subresource(sub),
                        );
                    }
                }
            }
        }
    }
    granted
}

/// Whether `grants` pass `check`: the attributes that pass it (the `escalate` permission, or
/// every permission granted), or the permissions granted that `grants` do not hold.
pub fn decide_escalation(
    grants: &[Grant],
    check: &EscalationCheck,
) -> Result<Vec<Attributes>, Vec<Attributes>> {
    if matches!(decide(grants, &check.escalate), Decision::Allowed(_)) {
        return Ok(vec![check.escalate.clone()]);
    }
    let missing: Vec<Attributes> = check
        .granted
        .iter()
        .filter(|a| !matches!(decide(grants, a), Decision::Allowed(_)))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(check.granted.clone())
    } else {
        Err(missing)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(method: &str, path: &str, query: Option<&str>) -> Attributes {
        request_attributes(method, path, query).unwrap()
    }

    #[test]
    fn the_request_info_resolver_is_followed() {
        let a = |v, g, r, s, ns, n| Attributes::new(v, g, r, ns, n).with_subresource(s);
        let cases = [
            (
                "GET",
                "/api/v1/namespaces",
                None,
                a("list", "", "namespaces", "", "", ""),
            ),
            (
                "GET",
                "/api/v1/namespaces",
                Some("labelSelector=x&watch=true&resourceVersion=1"),
                a("watch", "", "namespaces", "", "", ""),
            ),
            (
                "GET",
                "/api/v1/namespaces",
                Some("watch=0"),
                a("list", "", "namespaces", "", "", ""),
            ),
            (
                "GET",
                "/api/v1/watch/namespaces",
                None,
                a("watch", "", "namespaces", "", "", ""),
            ),
            (
                "GET",
                "/api/v1/namespaces/acme",
                None,
                a("get", "", "namespaces", "", "acme", "acme"),
            ),
            (
                "PUT",
                "/api/v1/namespaces/acme/finalize",
                None,
                a("update", "", "namespaces", "finalize", "acme", "acme"),
            ),
            (
                "DELETE",
                "/api/v1/namespaces/acme",
                None,
                a("delete", "", "namespaces", "", "acme", "acme"),
            ),
            (
                "DELETE",
                "/api/v1/namespaces/acme/secrets",
                None,
                a("deletecollection", "", "secrets", "", "acme", ""),
            ),
            (
                "POST",
                "/apis/coordination.k8s.io/v1/namespaces/mtp-system/leases",
                None,
                a(
                    "create",
                    "coordination.k8s.io",
                    "leases",
                    "",
                    "mtp-system",
                    "",
                ),
            ),
            (
                "PATCH",
                "/apis/mtp.dev/v1alpha1/tenants/acme/status",
                None,
                a("patch", "mtp.dev", "tenants", "status", "", "acme"),
            ),
            (
                "GET",
                "/apis/rbac.authorization.k8s.io/v1/rolebindings",
                Some("watch=true"),
                a("watch", RBAC_GROUP, "rolebindings", "", "", ""),
            ),
        ];
        for (method, path, query, want) in cases {
            assert_eq!(
                attrs(method, path, query),
                want,
                "{method} {path} {query:?}"
            );
        }
        assert!(request_attributes("GET", "/healthz", None).is_err());
        assert!(request_attributes("GET", "/apis/mtp.dev", None).is_err());
    }

    #[test]
    fn an_apply_also_needs_create_and_a_binding_needs_bind() {
        let path = "/apis/rbac.authorization.k8s.io/v1/namespaces/t/rolebindings/admins";
        let body =
            json!({"roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "admin"}});
        let got = required_attributes(
            "PATCH",
            path,
            Some("fieldManager=x&force=true"),
            Some("application/apply-patch+yaml"),
            Some(&body),
        )
        .unwrap();
        let verbs: Vec<&str> = got.iter().map(|a| a.verb.as_str()).collect();
        assert_eq!(verbs, ["patch", "create", "bind"]);
        assert_eq!(
            got[1].name, "admins",
            "apply-create is authorized with the name"
        );
        assert_eq!(
            got[2],
            Attributes::new("bind", RBAC_GROUP, "clusterroles", "t", "admin")
        );
        let merge = required_attributes(
            "PATCH",
            "/apis/mtp.dev/v1alpha1/tenants/acme",
            None,
            Some("application/merge-patch+json"),
            Some(&json!({"metadata": {}})),
        )
        .unwrap();
        assert_eq!(merge.len(), 1, "a merge patch never creates");
    }

    fn rule(v: Value) -> PolicyRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn rules_match_as_kubernetes_matches_them() {
        let get_acme = Attributes::new("get", "mtp.dev", "tenants", "", "acme");
        let status = get_acme.clone().with_subresource("status");
        let list = Attributes::new("list", "mtp.dev", "tenants", "", "");
        let post = Attributes::new("create", "mtp.dev", "tenants", "", "");
        let r = |v| rule(v);
        assert!(rule_allows(
            &r(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})),
            &status
        ));
        assert!(rule_allows(
            &r(json!({"verbs": ["get"], "apiGroups": ["mtp.dev"], "resources": ["tenants"]})),
            &get_acme
        ));
        assert!(
            !rule_allows(
                &r(json!({"verbs": ["get"], "apiGroups": ["mtp.dev"], "resources": ["tenants"]})),
                &status
            ),
            "a subresource is its own resource"
        );
        assert!(rule_allows(
            &r(json!({"verbs": ["get"], "apiGroups": ["mtp.dev"], "resources": ["*/status"]})),
            &status
        ));
        assert!(!rule_allows(
            &r(json!({"verbs": ["get"], "apiGroups": ["mtp.dev"], "resources": ["*/status"]})),
            &get_acme
        ));
        assert!(!rule_allows(
            &r(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["tenants"]})),
            &get_acme
        ));
        let named = r(
            json!({"verbs": ["get", "list", "create"], "apiGroups": ["mtp.dev"], "resources": ["tenants"], "resourceNames": ["acme"]}),
        );
        assert!(rule_allows(&named, &get_acme));
        assert!(
            !rule_allows(&named, &list),
            "resourceNames never allow a list"
        );
        assert!(!rule_allows(&named, &post), "nor a create without a name");
        assert!(!rule_allows(
            &r(json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]})),
            &get_acme
        ));
    }

    #[test]
    fn bindings_decide_where_rules_apply() {
        let objects = [
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"},
                   "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "leases", "namespace": "sys"},
                   "rules": [{"verbs": ["update"], "apiGroups": ["coordination.k8s.io"], "resources": ["leases"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "leases", "namespace": "sys"},
                   "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "leases"},
                   "subjects": [{"kind": "ServiceAccount", "name": "ctl", "namespace": "sys"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader", "namespace": "team"},
                   "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "reader"},
                   "subjects": [{"kind": "ServiceAccount", "name": "ctl", "namespace": "sys"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "reader-other"},
                   "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "reader"},
                   "subjects": [{"kind": "ServiceAccount", "name": "other", "namespace": "sys"}]}),
        ];
        let policy = Policy::from_objects(&objects).unwrap();
        let ctl = ServiceAccount::new("sys", "ctl");
        let other = ServiceAccount::new("sys", "other");
        let lease = |ns: &str| Attributes::new("update", "coordination.k8s.io", "leases", ns, "l");
        let secret = |ns: &str| Attributes::new("get", "", "secrets", ns, "s");
        assert!(matches!(
            policy.authorize(&ctl, &lease("sys")),
            Decision::Allowed(_)
        ));
        assert!(
            matches!(
                policy.authorize(&ctl, &lease("team")),
                Decision::Denied { .. }
            ),
            "a Role applies in its namespace"
        );
        assert!(matches!(
            policy.authorize(&ctl, &secret("team")),
            Decision::Allowed(_)
        ));
        assert!(
            matches!(
                policy.authorize(&ctl, &secret("sys")),
                Decision::Denied { .. }
            ),
            "a ClusterRole via a RoleBinding applies in that namespace"
        );
        assert!(
            matches!(
                policy.authorize(&other, &secret("anywhere")),
                Decision::Allowed(_)
            ),
            "via a ClusterRoleBinding everywhere"
        );
        match policy.authorize(&other, &lease("sys")) {
            Decision::Denied { consulted } => assert_eq!(
                consulted,
                ["ClusterRole/reader (via ClusterRoleBinding/reader-other)"]
            ),
            Decision::Allowed(g) => panic!("allowed by {}", g.describe()),
        }
        let unused = unused_permissions(&policy.grants_for(&ctl), &[lease("sys")]);
        let unused: Vec<String> = unused.iter().map(ToString::to_string).collect();
        assert_eq!(
            unused,
            [
                "ClusterRole/reader rules[0] (via RoleBinding/team/reader): `get` on secrets (group core)"
            ]
        );
    }

    #[test]
    fn a_binding_needs_bind_or_every_permission_of_its_role() {
        let path = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/mtp-tenant-acme";
        let body = json!({"roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "mtp-tenant-acme"}});
        let attrs = required_attributes(
            "PATCH",
            path,
            None,
            Some("application/apply-patch+yaml"),
            Some(&body),
        )
        .unwrap();
        let bind = attrs.iter().find(|a| a.verb == "bind").unwrap();
        let role = json!({"rules": [{"apiGroups": ["mtp.dev"], "resources": ["tenants"], "resourceNames": ["acme"], "verbs": ["get", "watch"]}]});
        let check = binding_check(bind, &role).unwrap();
        assert_eq!(check.escalate, *bind);
        let grant = |rule: Value| Grant {
            rule: serde_json::from_value(rule).unwrap(),
            scope: Scope::Cluster,
            role: "ClusterRole/c".into(),
            binding: "ClusterRoleBinding/c".into(),
            index: 0,
        };
        let holder = [grant(
            json!({"verbs": ["get", "list", "watch"], "apiGroups": ["mtp.dev"], "resources": ["tenants"]}),
        )];
        assert!(
            decide_escalation(&holder, &check).is_ok(),
            "holds get and watch of every tenant"
        );
        let getter = [grant(
            json!({"verbs": ["get"], "apiGroups": ["mtp.dev"], "resources": ["tenants"]}),
        )];
        let missing = decide_escalation(&getter, &check).unwrap_err();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].verb, "watch");
        assert!(
            binding_check(&attrs[0], &role).is_none(),
            "only for the bind check"
        );
    }

    #[test]
    fn a_role_write_needs_escalate_or_every_permission_it_grants() {
        let write = Attributes::new("patch", RBAC_GROUP, "clusterroles", "", "tenant-acme");
        let body = json!({"rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]}]});
        let check = escalation_check(&write, Some(&body)).unwrap();
        assert_eq!(check.granted.len(), 4);
        assert_eq!(check.escalate.verb, "escalate");
        let grant = |rule: Value| Grant {
            rule: serde_json::from_value(rule).unwrap(),
            scope: Scope::Cluster,
            role: "ClusterRole/c".into(),
            binding: "ClusterRoleBinding/c".into(),
            index: 0,
        };
        let holder = [grant(
            json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]}),
        )];
        assert_eq!(
            decide_escalation(&holder, &check),
            Ok(check.granted.clone())
        );
        let partial = [grant(
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}),
        )];
        let missing = decide_escalation(&partial, &check).unwrap_err();
        assert_eq!(missing.len(), 3, "{missing:?}");
        let escalator = [grant(
            json!({"verbs": ["escalate"], "apiGroups": [RBAC_GROUP], "resources": ["clusterroles"], "resourceNames": ["tenant-acme"]}),
        )];
        assert_eq!(
            decide_escalation(&escalator, &check),
            Ok(vec![check.escalate.clone()])
        );
        let binding = Attributes::new("patch", RBAC_GROUP, "rolebindings", "t", "b");
        assert_eq!(escalation_check(&binding, Some(&body)), None);
    }

    #[test]
    fn a_broken_rbac_object_is_named() {
        let bad = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}, "rules": "nope"});
        let err = Policy::from_objects([&bad]).unwrap_err().to_string();
        assert!(err.contains("ClusterRole \"x\""), "{err}");
    }
}
