//! Which webhooks of a `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration` the
//! Kubernetes apiserver calls for a request, and so what happens to that request while the
//! webhook server cannot be reached — with the apiserver's own matching rules
//! (`admissionregistration.k8s.io/v1`, as of Kubernetes 1.26; `matchConditions` do not exist there):
//!
//! - **rules**: an operation (`*` all), API group, version and resource must each be listed
//!   (`*` all). A resource `*` matches every resource but no subresource, `*/*` everything,
//!   `pods/*` every subresource of pods, `*/status` the status of every resource. Scope
//!   `Namespaced` matches namespaced objects, `Cluster` cluster-scoped ones and namespaces
//!   themselves, `*` (or none) both.
//! - **namespaceSelector**: a namespaced object is matched against the labels of its namespace; a
//!   CREATE or UPDATE of a namespace against the namespace's own new labels; a DELETE of a
//!   namespace (or a namespace subresource) against the labels the namespace has now; any other
//!   cluster-scoped object always matches.
//! - **objectSelector**: matches when the old object or the new object matches; an absent object
//!   (the old one of a CREATE, the new one of a DELETE) matches nothing. An empty or absent
//!   selector matches every request.
//! - **label selectors**: `matchLabels` and `matchExpressions` (`In`, `NotIn`, `Exists`,
//!   `DoesNotExist`) all hold; `NotIn` holds when the key is absent.
//! - **failurePolicy**: `Fail` when absent (the v1 default).
//!
//! ```
//! use std::collections::BTreeMap;
//! use k8s_openapi::api::admissionregistration::v1::{RuleWithOperations, ValidatingWebhook};
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
//! use mtp_policy::admission::Operation;
//! use mtp_policy::admission::matching::{Attributes, Matcher, WhileDown, while_down};
//!
//! let hook = ValidatingWebhook {
//!     name: "deny-configmaps.example.com".into(),
//!     failure_policy: Some("Fail".into()),
//!     rules: Some(vec![RuleWithOperations {
//!         operations: Some(vec!["CREATE".into()]),
//!         api_groups: Some(vec!["".into()]),
//!         api_versions: Some(vec!["v1".into()]),
//!         resources: Some(vec!["configmaps".into()]),
//!         scope: Some("Namespaced".into()),
//!     }]),
//!     namespace_selector: Some(LabelSelector {
//!         match_labels: Some(BTreeMap::from([("team".into(), "a".into())])),
//!         ..LabelSelector::default()
//!     }),
//!     ..ValidatingWebhook::default()
//! };
//! let hooks = [Matcher::from(&hook)];
//! let team_a = BTreeMap::from([("team".to_owned(), "a".to_owned())]);
//! let create = Attributes::new(Operation::Create, "", "v1", "configmaps").in_namespace("a", team_a);
//! assert_eq!(
//!     while_down(&hooks, &create).unwrap(),
//!     WhileDown::Refused(vec!["deny-configmaps.example.com".into()])
//! );
//! let elsewhere = Attributes::new(Operation::Create, "", "v1", "configmaps")
//!     .in_namespace("b", BTreeMap::new());
//! assert_eq!(while_down(&hooks, &elsewhere).unwrap(), WhileDown::Allowed(vec![]));
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, RuleWithOperations, ValidatingWebhook,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use thiserror::Error;

use super::{FailurePolicy, Operation};

/// Labels of an object or a namespace.
pub type Labels = BTreeMap<String, String>;

/// A configuration the apiserver would refuse, so no request can be matched against it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MatchError {
    /// `In` or `NotIn` without values.
    #[error("webhook {webhook:?}: operator {operator} on label {key:?} needs at least one value")]
    MissingValues {
        /// The webhook.
        webhook: String,
        /// The label key.
        key: String,
        /// The operator.
        operator: String,
    },
    /// `Exists` or `DoesNotExist` with values.
    #[error("webhook {webhook:?}: operator {operator} on label {key:?} takes no values")]
    UnexpectedValues {
        /// The webhook.
        webhook: String,
        /// The label key.
        key: String,
        /// The operator.
        operator: String,
    },
    /// An operator other than `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[error(
        "webhook {webhook:?}: unknown operator {operator:?} on label {key:?} (In, NotIn, Exists or DoesNotExist)"
    )]
    UnknownOperator {
        /// The webhook.
        webhook: String,
        /// The label key.
        key: String,
        /// The operator.
        operator: String,
    },
    /// A failure policy other than `Fail` or `Ignore`.
    #[error("webhook {webhook:?}: unknown failurePolicy {policy:?} (Fail or Ignore)")]
    UnknownFailurePolicy {
        /// The webhook.
        webhook: String,
        /// The policy.
        policy: String,
    },
}

/// Whether `selector` selects `labels`. An empty selector selects everything. The error names
/// `webhook` and the requirement the apiserver would refuse.
pub fn selector_matches(
    webhook: &str,
    selector: &LabelSelector,
    labels: &Labels,
) -> Result<bool, MatchError> {
    let mut matches = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    for requirement in selector.match_expressions.iter().flatten() {
        let values = requirement.values.as_deref().unwrap_or_default();
        let (key, operator) = (&requirement.key, requirement.operator.as_str());
        let error = |make: fn(String, String, String) -> MatchError| {
            make(webhook.to_owned(), key.clone(), operator.to_owned())
        };
        let value = labels.get(key);
        let holds = match operator {
            "In" | "NotIn" if values.is_empty() => {
                return Err(error(|webhook, key, operator| MatchError::MissingValues {
                    webhook,
                    key,
                    operator,
                }));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(error(|webhook, key, operator| {
                    MatchError::UnexpectedValues {
                        webhook,
                        key,
                        operator,
                    }
                }));
            }
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => {
                return Err(error(|webhook, key, operator| {
                    MatchError::UnknownOperator {
                        webhook,
                        key,
                        operator,
                    }
                }));
            }
        };
        matches &= holds;
    }
    Ok(matches)
}

fn is_empty(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

/// What the apiserver knows about one request when it picks the webhooks to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// The operation.
    pub operation: Operation,
    /// The API group (`""` for core).
    pub group: String,
    /// The API version.
    pub version: String,
    /// The resource (plural, e.g. `pods`).
    pub resource: String,
    /// The subresource (`status`...), `""` for the resource itself.
    pub subresource: String,
    /// The namespace of a namespaced object; `None` for a cluster-scoped one (a namespace too).
    pub namespace: Option<String>,
    /// The labels the object's namespace has (a namespaced object); for a namespace itself, the
    /// labels it has before the request (`None`: it does not exist yet).
    pub namespace_labels: Option<Labels>,
    /// The old object's labels (`None`: no old object, as on CREATE).
    pub old_labels: Option<Labels>,
    /// The new object's labels (`None`: no new object, as on DELETE).
    pub new_labels: Option<Labels>,
}

impl Attributes {
    /// A request on a cluster-scoped `resource` of `group`/`version`, no objects yet.
    pub fn new(operation: Operation, group: &str, version: &str, resource: &str) -> Attributes {
        Attributes {
            operation,
            group: group.to_owned(),
            version: version.to_owned(),
            resource: resource.to_owned(),
            subresource: String::new(),
            namespace: None,
            namespace_labels: None,
            old_labels: None,
            new_labels: None,
        }
    }

    /// The object lives in `namespace`, which has `labels` (include `kubernetes.io/metadata.name`:
    /// the apiserver sets it on every namespace).
    pub fn in_namespace(mut self, namespace: &str, labels: Labels) -> Attributes {
        self.namespace = Some(namespace.to_owned());
        self.namespace_labels = Some(labels);
        self
    }

    /// On a subresource.
    pub fn on_subresource(mut self, subresource: &str) -> Attributes {
        self.subresource = subresource.to_owned();
        self
    }

    /// With an old object labelled `labels`.
    pub fn with_old(mut self, labels: Labels) -> Attributes {
        self.old_labels = Some(labels);
        self
    }

    /// With a new object labelled `labels`.
    pub fn with_new(mut self, labels: Labels) -> Attributes {
        self.new_labels = Some(labels);
        self
    }

    fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.resource == "namespaces"
    }

    /// The labels a namespaceSelector is evaluated on; `None` when every namespaceSelector
    /// matches (a cluster-scoped object other than a namespace).
    fn labels_for_namespace_selector(&self) -> Option<Labels> {
        if self.is_namespace() {
            let own_object = self.subresource.is_empty()
                && matches!(self.operation, Operation::Create | Operation::Update);
            // CREATE and UPDATE of a namespace: its new labels; otherwise the stored namespace.
            let labels = if own_object {
                self.new_labels.as_ref()
            } else {
                self.old_labels.as_ref().or(self.namespace_labels.as_ref())
            };
            return Some(labels.cloned().unwrap_or_default());
        }
        self.namespace
            .as_ref()
            .map(|_| self.namespace_labels.clone().unwrap_or_default())
    }
}

fn listed(values: Option<&Vec<String>>, value: &str) -> bool {
    values.into_iter().flatten().any(|v| v == "*" || v == value)
}

/// Whether `rule` covers the request's operation, group, version, resource and scope.
pub fn rule_matches(rule: &RuleWithOperations, request: &Attributes) -> bool {
    let resource = rule.resources.iter().flatten().any(|r| {
        let (resource, subresource) = r.split_once('/').unwrap_or((r.as_str(), ""));
        (resource == "*" || resource == request.resource)
            && (subresource == "*" || subresource == request.subresource)
    });
    let cluster_scoped = request.is_namespace() || request.namespace.is_none();
    let scope = match rule.scope.as_deref() {
        None | Some("*") => true,
        Some("Cluster") => cluster_scoped,
        Some("Namespaced") => !cluster_scoped,
        Some(_) => false,
    };
    listed(rule.operations.as_ref(), request.operation.as_str())
        && listed(rule.api_groups.as_ref(), &request.group)
        && listed(rule.api_versions.as_ref(), &request.version)
        && resource
        && scope
}

/// One webhook of a generated configuration, as the apiserver matches it.
#[derive(Debug, Clone, Copy)]
pub struct Matcher<'a> {
    /// The webhook's name.
    pub name: &'a str,
    failure_policy: Option<&'a str>,
    rules: &'a [RuleWithOperations],
    namespace_selector: Option<&'a LabelSelector>,
    object_selector: Option<&'a LabelSelector>,
}

impl<'a> From<&'a ValidatingWebhook> for Matcher<'a> {
    fn from(w: &'a ValidatingWebhook) -> Matcher<'a> {
        Matcher {
            name: &w.name,
            failure_policy: w.failure_policy.as_deref(),
            rules: w.rules.as_deref().unwrap_or_default(),
            namespace_selector: w.namespace_selector.as_ref(),
            object_selector: w.object_selector.as_ref(),
        }
    }
}

impl<'a> From<&'a MutatingWebhook> for Matcher<'a> {
    fn from(w: &'a MutatingWebhook) -> Matcher<'a> {
        Matcher {
            name: &w.name,
            failure_policy: w.failure_policy.as_deref(),
            rules: w.rules.as_deref().unwrap_or_default(),
            namespace_selector: w.namespace_selector.as_ref(),
            object_selector: w.object_selector.as_ref(),
        }
    }
}

impl Matcher<'_> {
    /// The failure policy (`Fail` when absent, the v1 default).
    pub fn failure_policy(&self) -> Result<FailurePolicy, MatchError> {
        match self.failure_policy {
            None | Some("Fail") => Ok(FailurePolicy::Fail),
            Some("Ignore") => Ok(FailurePolicy::Ignore),
            Some(other) => Err(MatchError::UnknownFailurePolicy {
                webhook: self.name.to_owned(),
                policy: other.to_owned(),
            }),
        }
    }

    /// Whether the apiserver calls this webhook for `request`.
    pub fn intercepts(&self, request: &Attributes) -> Result<bool, MatchError> {
        if !self.rules.iter().any(|r| rule_matches(r, request)) {
            return Ok(false);
        }
        if let Some(selector) = self.namespace_selector.filter(|s| !is_empty(s))
            && let Some(labels) = request.labels_for_namespace_selector()
            && !selector_matches(self.name, selector, &labels)?
        {
            return Ok(false);
        }
        let Some(selector) = self.object_selector.filter(|s| !is_empty(s)) else {
            return Ok(true);
        };
        for labels in [&request.old_labels, &request.new_labels]
            .into_iter()
            .flatten()
        {
            if selector_matches(self.name, selector, labels)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// What the apiserver does with a request while the webhook server cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhileDown {
    /// Let through: no webhook that fails closed intercepts it (the names are the fail-open
    /// webhooks that do, each skipped).
    Allowed(Vec<String>),
    /// Refused by the named webhooks, which fail closed.
    Refused(Vec<String>),
}

/// What happens to `request` while the webhooks of `hooks` cannot be reached.
pub fn while_down(hooks: &[Matcher<'_>], request: &Attributes) -> Result<WhileDown, MatchError> {
    let mut open = Vec::new();
    let mut closed = Vec::new();
    for hook in hooks {
        if hook.intercepts(request)? {
            match hook.failure_policy()? {
                FailurePolicy::Fail => closed.push(hook.name.to_owned()),
                FailurePolicy::Ignore => open.push(hook.name.to_owned()),
            }
        }
    }
    Ok(if closed.is_empty() {
        WhileDown::Allowed(open)
    } else {
        WhileDown::Refused(closed)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.to_owned(),
                operator: operator.to_owned(),
                values: (!values.is_empty())
                    .then(|| values.iter().map(|v| (*v).to_owned()).collect()),
            }]),
            match_labels: None,
        }
    }

    #[test]
    fn label_selectors_have_kubernetes_semantics() {
        let l = labels(&[("a", "1"), ("b", "2")]);
        let m = |s: &LabelSelector, l: &Labels| selector_matches("h", s, l).unwrap();
        assert!(m(&LabelSelector::default(), &l));
        assert!(m(&LabelSelector::default(), &Labels::new()));
        let ml = LabelSelector {
            match_labels: Some(labels(&[("a", "1")])),
            match_expressions: None,
        };
        assert!(m(&ml, &l));
        assert!(!m(&ml, &labels(&[("a", "2")])));
        assert!(!m(&ml, &Labels::new()));
        assert!(m(&expression("a", "In", &["0", "1"]), &l));
        assert!(!m(&expression("a", "In", &["0"]), &l));
        assert!(!m(&expression("c", "In", &["0"]), &l));
        assert!(m(&expression("a", "NotIn", &["0"]), &l));
        assert!(!m(&expression("a", "NotIn", &["1"]), &l));
        assert!(m(&expression("c", "NotIn", &["1"]), &l), "absent key");
        assert!(m(&expression("a", "Exists", &[]), &l));
        assert!(!m(&expression("c", "Exists", &[]), &l));
        assert!(m(&expression("c", "DoesNotExist", &[]), &l));
        assert!(!m(&expression("a", "DoesNotExist", &[]), &l));
        // Every term must hold.
        let both = LabelSelector {
            match_labels: Some(labels(&[("a", "1")])),
            match_expressions: expression("b", "NotIn", &["2"]).match_expressions,
        };
        assert!(!m(&both, &l));
    }

    #[test]
    fn selectors_the_apiserver_refuses_are_errors() {
        let l = Labels::new();
        assert!(matches!(
            selector_matches("h", &expression("a", "In", &[]), &l),
            Err(MatchError::MissingValues { .. })
        ));
        assert!(matches!(
            selector_matches("h", &expression("a", "Exists", &["x"]), &l),
            Err(MatchError::UnexpectedValues { .. })
        ));
        let err =
            selector_matches("h.example.com", &expression("a", "Gt", &["1"]), &l).unwrap_err();
        assert!(err.to_string().contains("h.example.com"), "{err}");
        assert!(matches!(err, MatchError::UnknownOperator { .. }));
    }

    fn rule(
        operations: &[&str],
        groups: &[&str],
        resources: &[&str],
        scope: &str,
    ) -> RuleWithOperations {
        let strings = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect());
        RuleWithOperations {
            operations: strings(operations),
            api_groups: strings(groups),
            api_versions: strings(&["*"]),
            resources: strings(resources),
            scope: Some(scope.to_owned()),
        }
    }

    #[test]
    fn rules_match_resources_subresources_and_scope() {
        let pod =
            Attributes::new(Operation::Create, "", "v1", "pods").in_namespace("x", Labels::new());
        let status = pod.clone().on_subresource("status");
        let namespace = Attributes::new(Operation::Create, "", "v1", "namespaces");
        let tenant = Attributes::new(Operation::Update, "mtp.dev", "v1alpha1", "tenants");
        assert!(rule_matches(
            &rule(&["CREATE"], &[""], &["pods"], "*"),
            &pod
        ));
        assert!(!rule_matches(
            &rule(&["CREATE"], &[""], &["pods"], "*"),
            &status
        ));
        assert!(!rule_matches(
            &rule(&["UPDATE"], &[""], &["pods"], "*"),
            &pod
        ));
        assert!(!rule_matches(
            &rule(&["CREATE"], &["apps"], &["pods"], "*"),
            &pod
        ));
        assert!(rule_matches(&rule(&["*"], &["*"], &["*"], "*"), &pod));
        assert!(!rule_matches(&rule(&["*"], &["*"], &["*"], "*"), &status));
        assert!(rule_matches(&rule(&["*"], &["*"], &["*/*"], "*"), &status));
        assert!(rule_matches(
            &rule(&["*"], &[""], &["pods/*"], "*"),
            &status
        ));
        assert!(rule_matches(
            &rule(&["*"], &[""], &["*/status"], "*"),
            &status
        ));
        assert!(rule_matches(
            &rule(&["*"], &["*"], &["*"], "Namespaced"),
            &pod
        ));
        assert!(!rule_matches(
            &rule(&["*"], &["*"], &["*"], "Cluster"),
            &pod
        ));
        assert!(rule_matches(
            &rule(&["*"], &["*"], &["*"], "Cluster"),
            &namespace
        ));
        assert!(!rule_matches(
            &rule(&["*"], &["*"], &["*"], "Namespaced"),
            &namespace
        ));
        assert!(rule_matches(
            &rule(&["*"], &["*"], &["*"], "Cluster"),
            &tenant
        ));
    }

    #[test]
    fn selectors_see_the_right_labels() {
        let hook = ValidatingWebhook {
            name: "t.example.com".into(),
            rules: Some(vec![rule(&["*"], &["*"], &["*"], "*")]),
            namespace_selector: Some(expression("t", "Exists", &[])),
            object_selector: Some(expression("o", "Exists", &[])),
            ..ValidatingWebhook::default()
        };
        let m = Matcher::from(&hook);
        let t = labels(&[("t", "x")]);
        let o = labels(&[("o", "x")]);
        let both = labels(&[("t", "x"), ("o", "x")]);
        // A namespace's CREATE and UPDATE: its new labels for the namespaceSelector.
        let create =
            Attributes::new(Operation::Create, "", "v1", "namespaces").with_new(both.clone());
        assert!(m.intercepts(&create).unwrap());
        let update = Attributes::new(Operation::Update, "", "v1", "namespaces")
            .with_old(both.clone())
            .with_new(o.clone());
        assert!(!m.intercepts(&update).unwrap(), "new labels lack t");
        // ...its DELETE: the labels it has.
        let delete =
            Attributes::new(Operation::Delete, "", "v1", "namespaces").with_old(both.clone());
        assert!(m.intercepts(&delete).unwrap());
        // The objectSelector: old or new.
        let ns =
            Attributes::new(Operation::Update, "", "v1", "configmaps").in_namespace("n", t.clone());
        assert!(
            m.intercepts(&ns.clone().with_old(o.clone()).with_new(Labels::new()))
                .unwrap()
        );
        assert!(
            m.intercepts(&ns.clone().with_old(Labels::new()).with_new(o.clone()))
                .unwrap()
        );
        assert!(
            !m.intercepts(&ns.clone().with_old(Labels::new()).with_new(Labels::new()))
                .unwrap()
        );
        assert!(
            !m.intercepts(&ns.clone()).unwrap(),
            "no objects match nothing"
        );
        // A namespaced object in a namespace without t.
        let other = Attributes::new(Operation::Update, "", "v1", "configmaps")
            .in_namespace("n", Labels::new())
            .with_old(o.clone());
        assert!(!m.intercepts(&other).unwrap());
        // Cluster-scoped, not a namespace: every namespaceSelector matches.
        let tenant =
            Attributes::new(Operation::Delete, "mtp.dev", "v1alpha1", "tenants").with_old(o);
        assert!(m.intercepts(&tenant).unwrap());
        let unlabelled =
            Attributes::new(Operation::Delete, "mtp.dev", "v1alpha1", "tenants").with_old(t);
        assert!(!m.intercepts(&unlabelled).unwrap());
    }

    #[test]
    fn while_down_follows_the_failure_policies() {
        let all = vec![rule(&["*"], &["*"], &["*"], "*")];
        let fail = ValidatingWebhook {
            name: "fail.example.com".into(),
            rules: Some(all.clone()),
            failure_policy: None,
            namespace_selector: Some(expression("closed", "Exists", &[])),
            ..ValidatingWebhook::default()
        };
        let ignore = MutatingWebhook {
            name: "ignore.example.com".into(),
            rules: Some(all),
            failure_policy: Some("Ignore".into()),
            ..MutatingWebhook::default()
        };
        let hooks = [Matcher::from(&fail), Matcher::from(&ignore)];
        let open =
            Attributes::new(Operation::Create, "", "v1", "pods").in_namespace("a", Labels::new());
        assert_eq!(
            while_down(&hooks, &open).unwrap(),
            WhileDown::Allowed(vec!["ignore.example.com".into()])
        );
        let closed = Attributes::new(Operation::Create, "", "v1", "pods")
            .in_namespace("b", labels(&[("closed", "")]));
        assert_eq!(
            while_down(&hooks, &closed).unwrap(),
            WhileDown::Refused(vec!["fail.example.com".into()]),
            "an absent failurePolicy is Fail"
        );
        let bad = ValidatingWebhook {
            name: "bad.example.com".into(),
            rules: fail.rules.clone(),
            failure_policy: Some("Maybe".into()),
            ..ValidatingWebhook::default()
        };
        assert!(matches!(
            while_down(&[Matcher::from(&bad)], &open),
            Err(MatchError::UnknownFailurePolicy { .. })
        ));
    }
}
