//! What the apiserver does to a bare Pod's resources before any admission check sees it, for
//! `mtp-webhook check --tier`:
//!
//! 1. API defaulting (`SetDefaults_Pod`, when the Pod is decoded): a container that sets a limit
//!    but no request for a resource gets the limit as its request.
//! 2. The built-in `LimitRanger` mutating admission plugin: for every `Container`-type item of the
//!    namespace's LimitRange, a container without a limit gets `default`, one without a request
//!    gets `defaultRequest`. LimitRange items are defaulted first as the apiserver stores them
//!    (`default` from `max`, `defaultRequest` from `default`, then from `min`).
//!
//! The apiserver then validates the Pod: [`requests_above_limits`] finds the requests above their
//! limit, which a defaulted limit can cause.
//!
//! Both touch `spec.containers` and `spec.initContainers` of Pods only: ephemeral containers,
//! pod templates and workloads (Deployments, Jobs...) are left as written, so a workload without
//! limits is still refused by the webhooks that check templates. The apiserver skips pod UPDATEs
//! and subresources, so callers apply this to Pods being created only.
//!
//! ```
//! use mtp_bins::webhook::limit_ranger::{ContainerDefaults, DefaultedFrom};
//! use std::collections::BTreeMap;
//! let defaults = ContainerDefaults {
//!     default: BTreeMap::from([("cpu".into(), "1".into())]),
//!     default_request: BTreeMap::from([("cpu".into(), "250m".into())]),
//! };
//! let mut pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
//!     "spec": {"containers": [{"name": "app", "image": "app"}]}});
//! let set = defaults.apply_to_pod(&mut pod);
//! assert_eq!(pod["spec"]["containers"][0]["resources"]["limits"]["cpu"], "1");
//! assert_eq!(set[0].path, "spec.containers[0].resources.limits.cpu");
//! assert_eq!(set[0].from, DefaultedFrom::LimitRange);
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::LimitRange;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use mtp_policy::pod_security::Violation;
use mtp_policy::pod_security::quantity;
use serde::Serialize;
use serde_json::{Map, Value};

/// The container defaults of a LimitRange: resource name to quantity, as LimitRanger applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefaults {
    /// Default limits (`default`).
    pub default: BTreeMap<String, String>,
    /// Default requests (`defaultRequest`).
    pub default_request: BTreeMap<String, String>,
}

/// Where a defaulted value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DefaultedFrom {
    /// The container's own limit for the same resource (API defaulting of requests).
    Limits,
    /// The namespace's LimitRange (`default` or `defaultRequest`).
    LimitRange,
}

/// One field the apiserver would fill in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Defaulted {
    /// The field, e.g. `spec.containers[0].resources.limits.cpu`.
    pub path: String,
    /// The container's name (empty when it has none).
    pub container: String,
    /// The value set, as written.
    pub value: String,
    /// Where the value came from.
    pub from: DefaultedFrom,
}

impl ContainerDefaults {
    /// The defaults of `limit_range`: every item of type `Container`, later items winning for the
    /// same resource, each item defaulted as the apiserver stores it (`SetDefaults_LimitRangeItem`).
    pub fn from_limit_range(limit_range: &LimitRange) -> Self {
        let mut out = ContainerDefaults::default();
        let items = limit_range.spec.as_ref().map(|s| s.limits.as_slice());
        for item in items.unwrap_or_default() {
            if item.type_ != "Container" {
                continue;
            }
            let mut default = as_text(&item.default);
            let mut default_request = as_text(&item.default_request);
            for (k, v) in as_text(&item.max) {
                default.entry(k).or_insert(v);
            }
            for (k, v) in &default {
                default_request
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
            for (k, v) in as_text(&item.min) {
                default_request.entry(k).or_insert(v);
            }
            out.default.extend(default);
            out.default_request.extend(default_request);
        }
        out
    }

    /// Fills in the resources of a Pod's containers and init containers as the apiserver does
    /// (requests from limits, then the LimitRange defaults) and returns every field it set, in
    /// container order. Fields of an unexpected type are left alone, for the checks to report.
    pub fn apply_to_pod(&self, pod: &mut Value) -> Vec<Defaulted> {
        let mut set = Vec::new();
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
            return set;
        };
        for list in ["containers", "initContainers"] {
            let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
                continue;
            };
            for (i, container) in containers.iter_mut().enumerate() {
                let Some(container) = container.as_object_mut() else {
                    continue;
                };
                let name = container
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let had_resources = container.get("resources").is_some_and(|r| !r.is_null());
                let Some(resources) = object_entry(container, "resources") else {
                    continue;
                };
                let at = |part: &str, resource: &str| {
                    format!("spec.{list}[{i}].resources.{part}.{resource}")
                };
                let mut record = |part: &str, resource: &str, value: &Value, from| {
                    set.push(Defaulted {
                        path: at(part, resource),
                        container: name.clone(),
                        value: quantity_text(value),
                        from,
                    });
                };
                // 1. API defaulting: requests from limits, where limits are given.
                if let Some(Value::Object(limits)) = resources.get("limits").cloned() {
                    for (resource, value) in &limits {
                        if fill(resources, "requests", resource, value) {
                            record("requests", resource, value, DefaultedFrom::Limits);
                        }
                    }
                }
                // 2. LimitRanger: missing limits from `default`, missing requests from `defaultRequest`.
                for (part, defaults) in [
                    ("limits", &self.default),
                    ("requests", &self.default_request),
                ] {
                    for (resource, quantity) in defaults {
                        let value = Value::String(quantity.clone());
                        if fill(resources, part, resource, &value) {
                            record(part, resource, &value, DefaultedFrom::LimitRange);
                        }
                    }
                }
                if !had_resources && resources.is_empty() {
                    container.remove("resources");
                }
            }
        }
        set
    }
}

/// The check id of [`requests_above_limits`].
pub const REQUEST_WITHIN_LIMIT: &str = "requestWithinLimit";

/// The apiserver's validation of a Pod's resources: a request above the limit of the same
/// resource refuses the Pod. Run after [`ContainerDefaults::apply_to_pod`], with what it returned
/// so the message can say when the limit is a LimitRange default. One violation per container and
/// resource, at the request; quantities that do not parse are left to the other checks.
pub fn requests_above_limits(pod: &Value, defaulted: &[Defaulted]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for list in ["containers", "initContainers"] {
        let containers = pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array);
        for (i, container) in containers.into_iter().flatten().enumerate() {
            let resources = |part: &str| {
                container
                    .pointer(&format!("/resources/{part}"))
                    .and_then(Value::as_object)
            };
            let (Some(requests), Some(limits)) = (resources("requests"), resources("limits"))
            else {
                continue;
            };
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for (resource, request) in requests {
                let Some(limit) = limits.get(resource) else {
                    continue;
                };
                let (request, limit) = (quantity_text(request), quantity_text(limit));
                if quantity::compare(&request, &limit) != Ok(std::cmp::Ordering::Greater) {
                    continue;
                }
                let limit_path = format!("spec.{list}[{i}].resources.limits.{resource}");
                let defaulted_limit = defaulted
                    .iter()
                    .any(|d| d.path == limit_path && d.from == DefaultedFrom::LimitRange);
                let message = if defaulted_limit {
                    format!(
                        "container {name:?} requests {request} {resource}, above the LimitRange's default limit {limit}: the apiserver refuses the pod; set resources.limits.{resource}, or request at most {limit}"
                    )
                } else {
                    format!(
                        "container {name:?} requests {request} {resource}, above its limit {limit}: the apiserver refuses the pod"
                    )
                };
                violations.push(Violation {
                    check: REQUEST_WITHIN_LIMIT,
                    path: format!("spec.{list}[{i}].resources.requests.{resource}"),
                    container: Some(name.to_owned()),
                    message,
                });
            }
        }
    }
    violations
}

/// A LimitRange item's quantities as text.
fn as_text(map: &Option<BTreeMap<String, Quantity>>) -> BTreeMap<String, String> {
    map.iter()
        .flatten()
        .map(|(k, q)| (k.clone(), q.0.clone()))
        .collect()
}

/// A quantity as written (YAML numbers included).
fn quantity_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sets `map[part][resource]` to `value` unless it is set; creates `map[part]` when absent or
/// null. Returns whether it set the value (not when `map[part]` is not a mapping).
fn fill(map: &mut Map<String, Value>, part: &str, resource: &str, value: &Value) -> bool {
    match map.get_mut(part) {
        Some(Value::Object(current)) => {
            if current.contains_key(resource) {
                return false;
            }
            current.insert(resource.to_owned(), value.clone());
            true
        }
        None | Some(Value::Null) => {
            let mut current = Map::new();
            current.insert(resource.to_owned(), value.clone());
            map.insert(part.to_owned(), Value::Object(current));
            true
        }
        Some(_) => false,
    }
}

/// The mapping at `key`, created when absent or null; `None` when it holds something else.
fn object_entry<'m>(
    map: &'m mut Map<String, Value>,
    key: &str,
) -> Option<&'m mut Map<String, Value>> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{LimitRangeItem, LimitRangeSpec};
    use serde_json::json;

    fn quantities(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        )
    }

    fn pro() -> ContainerDefaults {
        ContainerDefaults {
            default: BTreeMap::from([("cpu".into(), "1".into()), ("memory".into(), "1Gi".into())]),
            default_request: BTreeMap::from([
                ("cpu".into(), "250m".into()),
                ("memory".into(), "256Mi".into()),
            ]),
        }
    }

    #[test]
    fn bare_containers_get_limits_and_requests() {
        let mut pod = json!({"spec": {
            "initContainers": [{"name": "init", "image": "i", "resources": null}],
            "containers": [{"name": "app", "image": "a"}],
            "ephemeralContainers": [{"name": "debug", "image": "d"}]}});
        let set = pro().apply_to_pod(&mut pod);
        let resources = json!({"limits": {"cpu": "1", "memory": "1Gi"},
                               "requests": {"cpu": "250m", "memory": "256Mi"}});
        assert_eq!(pod["spec"]["containers"][0]["resources"], resources);
        assert_eq!(pod["spec"]["initContainers"][0]["resources"], resources);
        assert_eq!(
            pod["spec"]["ephemeralContainers"][0].get("resources"),
            None,
            "ephemeral containers are not defaulted"
        );
        let paths: Vec<&str> = set.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.containers[0].resources.limits.cpu",
                "spec.containers[0].resources.limits.memory",
                "spec.containers[0].resources.requests.cpu",
                "spec.containers[0].resources.requests.memory",
                "spec.initContainers[0].resources.limits.cpu",
                "spec.initContainers[0].resources.limits.memory",
                "spec.initContainers[0].resources.requests.cpu",
                "spec.initContainers[0].resources.requests.memory",
            ]
        );
        assert_eq!(set[4].container, "init");
    }

    #[test]
    fn given_limits_become_requests_before_the_limit_range() {
        let mut pod = json!({"spec": {"containers": [{"name": "app",
            "resources": {"limits": {"cpu": 2}, "requests": {"memory": "64Mi"}}}]}});
        let set = pro().apply_to_pod(&mut pod);
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": 2, "memory": "1Gi"},
                   "requests": {"cpu": 2, "memory": "64Mi"}})
        );
        let summary: Vec<(&str, &str, DefaultedFrom)> = set
            .iter()
            .map(|d| (d.path.as_str(), d.value.as_str(), d.from))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "spec.containers[0].resources.requests.cpu",
                    "2",
                    DefaultedFrom::Limits
                ),
                (
                    "spec.containers[0].resources.limits.memory",
                    "1Gi",
                    DefaultedFrom::LimitRange
                ),
            ]
        );
    }

    #[test]
    fn complete_and_malformed_containers_are_left_alone() {
        let complete = json!({"spec": {"containers": [{"name": "app", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}]}});
        let mut pod = complete.clone();
        assert!(pro().apply_to_pod(&mut pod).is_empty());
        assert_eq!(pod, complete);

        let malformed = json!({"spec": {"containers": [
            "not a container",
            {"name": "a", "resources": "lots"},
            {"name": "b", "resources": {"limits": [1]}}]}});
        let mut pod = malformed.clone();
        let set = pro().apply_to_pod(&mut pod);
        // Only b's requests can be filled; its list-typed limits stay for the checks to report.
        assert_eq!(
            pod["spec"]["containers"][0],
            malformed["spec"]["containers"][0]
        );
        assert_eq!(
            pod["spec"]["containers"][1],
            malformed["spec"]["containers"][1]
        );
        assert_eq!(
            pod["spec"]["containers"][2]["resources"]["limits"],
            json!([1])
        );
        assert!(
            set.iter()
                .all(|d| d.path.contains("[2].resources.requests")),
            "{set:?}"
        );

        let mut no_spec = json!({"kind": "Pod"});
        assert!(pro().apply_to_pod(&mut no_spec).is_empty());
        assert_eq!(no_spec, json!({"kind": "Pod"}));
    }

    #[test]
    fn a_request_above_a_defaulted_limit_is_refused() {
        let mut pod = json!({"spec": {
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "1500m", "memory": "1Gi"}}}],
            "initContainers": [{"name": "init", "resources": {"requests": {"cpu": 3}, "limits": {"cpu": "2"}}}]}});
        let defaulted = pro().apply_to_pod(&mut pod);
        let violations = requests_above_limits(&pod, &defaulted);
        let found: Vec<(&str, &str)> = violations
            .iter()
            .map(|v| (v.path.as_str(), v.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "spec.containers[0].resources.requests.cpu",
                    "container \"app\" requests 1500m cpu, above the LimitRange's default limit 1: the apiserver refuses the pod; set resources.limits.cpu, or request at most 1"
                ),
                (
                    "spec.initContainers[0].resources.requests.cpu",
                    "container \"init\" requests 3 cpu, above its limit 2: the apiserver refuses the pod"
                ),
            ],
            "1Gi of memory is not above the 1Gi default"
        );
        assert!(violations.iter().all(|v| v.check == REQUEST_WITHIN_LIMIT));
        assert_eq!(violations[0].container.as_deref(), Some("app"));

        let mut fine = json!({"spec": {"containers": [{"name": "app",
            "resources": {"requests": {"cpu": "1", "memory": "bad"}, "limits": {"memory": "1Gi"}}}]}});
        let defaulted = pro().apply_to_pod(&mut fine);
        assert!(requests_above_limits(&fine, &defaulted).is_empty());
    }

    #[test]
    fn limit_range_items_are_defaulted_like_the_apiserver_stores_them() {
        let lr = LimitRange {
            spec: Some(LimitRangeSpec {
                limits: vec![
                    LimitRangeItem {
                        type_: "Pod".into(),
                        max: quantities(&[("cpu", "8")]),
                        ..LimitRangeItem::default()
                    },
                    LimitRangeItem {
                        type_: "Container".into(),
                        max: quantities(&[("cpu", "4"), ("memory", "4Gi")]),
                        default: quantities(&[("memory", "1Gi")]),
                        min: quantities(&[("cpu", "10m"), ("ephemeral-storage", "1Mi")]),
                        ..LimitRangeItem::default()
                    },
                ],
            }),
            ..LimitRange::default()
        };
        let d = ContainerDefaults::from_limit_range(&lr);
        assert_eq!(
            d.default,
            BTreeMap::from([("cpu".into(), "4".into()), ("memory".into(), "1Gi".into())])
        );
        assert_eq!(
            d.default_request,
            BTreeMap::from([
                ("cpu".into(), "4".into()),
                ("ephemeral-storage".into(), "1Mi".into()),
                ("memory".into(), "1Gi".into())
            ])
        );
        assert_eq!(
            ContainerDefaults::from_limit_range(&LimitRange::default()),
            ContainerDefaults::default()
        );
    }
}
