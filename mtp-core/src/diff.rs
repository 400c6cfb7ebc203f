//! Plan versus cluster: which objects of a [`TenantPlan`] must be (re)applied and which objects of
//! the tenant found in the cluster must be deleted. Pure functions, no I/O: the controller feeds
//! them the objects its watches have cached, so a no-op resync makes no API write.
//!
//! ```
//! use mtp_core::diff::{diff, planned_objects};
//! use mtp_core::{plan, PlatformSettings, Tenant, TierCatalogue};
//! let tenant = Tenant::test("acme");
//! let plan = plan(&tenant, &TierCatalogue::default(), &PlatformSettings::default()).unwrap();
//! let planned = planned_objects(&plan).unwrap();
//! // Nothing in the cluster yet: every object is applied, nothing is deleted.
//! let d = diff(&planned, &[]);
//! assert_eq!(d.apply.len(), planned.len());
//! assert!(d.delete.is_empty());
//! // The cluster holds exactly the plan: nothing to do.
//! let observed: Vec<_> = planned.iter().map(|p| p.value.clone()).collect();
//! assert!(diff(&planned, &observed).is_empty());
//! ```

use std::collections::HashSet;

use serde_json::Value;

use crate::{Error, Result, TenantPlan};

/// The kinds of objects a tenant plan holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `v1` Namespace (cluster-scoped).
    Namespace,
    /// `rbac.authorization.k8s.io/v1` RoleBinding.
    RoleBinding,
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
    /// `v1` LimitRange.
    LimitRange,
    /// `v1` ResourceQuota.
    ResourceQuota,
    /// `rbac.authorization.k8s.io/v1` ClusterRole (cluster-scoped).
    ClusterRole,
    /// `rbac.authorization.k8s.io/v1` ClusterRoleBinding (cluster-scoped).
    ClusterRoleBinding,
}

impl Kind {
    /// Every kind, namespaces first.
    pub const ALL: [Kind; 7] = [
        Kind::Namespace,
        Kind::RoleBinding,
        Kind::NetworkPolicy,
        Kind::LimitRange,
        Kind::ResourceQuota,
        Kind::ClusterRole,
        Kind::ClusterRoleBinding,
    ];

    /// Whether objects of this kind are cluster-scoped.
    pub fn cluster_scoped(self) -> bool {
        matches!(
            self,
            Kind::Namespace | Kind::ClusterRole | Kind::ClusterRoleBinding
        )
    }

    /// The kind's name as in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::RoleBinding => "RoleBinding",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::LimitRange => "LimitRange",
            Kind::ResourceQuota => "ResourceQuota",
            Kind::ClusterRole => "ClusterRole",
            Kind::ClusterRoleBinding => "ClusterRoleBinding",
        }
    }

    /// The kind named `kind`, if it is one of a plan's.
    pub fn parse(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which object: kind, namespace (none for a Namespace) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The kind.
    pub kind: Kind,
    /// The namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key of a JSON object with `kind` and `metadata.name` (and `metadata.namespace`);
    /// `None` when it is not one of a plan's kinds or has no name.
    pub fn of(value: &Value) -> Option<ObjectKey> {
        let kind = Kind::parse(value.get("kind")?.as_str()?)?;
        let meta = value.get("metadata")?;
        let name = meta.get("name")?.as_str()?.to_string();
        let namespace = if kind.cluster_scoped() {
            None
        } else {
            Some(meta.get("namespace")?.as_str()?.to_string())
        };
        Some(ObjectKey {
            kind,
            namespace,
            name,
        })
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One object of a plan, as the JSON that is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedObject {
    /// Which object.
    pub key: ObjectKey,
    /// Its full JSON, with `apiVersion` and `kind`.
    pub value: Value,
}

/// The objects of `plan` with their keys, in the order of [`TenantPlan::to_values`] (namespaces
/// first, so they exist before what goes in them).
///
/// A RoleBinding without users gets an explicit `subjects: []`, so that applying it clears
/// subjects someone added by hand, and the diff sees them.
pub fn planned_objects(plan: &TenantPlan) -> Result<Vec<PlannedObject>> {
    plan.to_values()?
        .into_iter()
        .map(|mut value| {
            let key = ObjectKey::of(&value).ok_or_else(|| Error::Invalid {
                field: "plan".to_string(),
                message: format!("an object without kind or name: {value}"),
            })?;
            if matches!(key.kind, Kind::RoleBinding | Kind::ClusterRoleBinding)
                && let Some(obj) = value.as_object_mut()
            {
                obj.entry("subjects")
                    .or_insert_with(|| Value::Array(Vec::new()));
            }
            Ok(PlannedObject { key, value })
        })
        .collect()
}

/// What must change in the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Indices into the planned objects that are missing or differ (apply them, in order).
    pub apply: Vec<usize>,
    /// Objects of the tenant that are not in the plan (delete them). Objects inside a namespace
    /// that is itself deleted are left out: they go with it.
    pub delete: Vec<ObjectKey>,
}

impl Diff {
    /// Whether nothing has to change.
    pub fn is_empty(&self) -> bool {
        self.apply.is_empty() && self.delete.is_empty()
    }
}

/// Whether `observed` already holds everything `want` says: every field of `want` is in
/// `observed` with the same value (objects recursively; arrays element by element, with the same
/// length). Fields the apiserver adds (status, defaults, `resourceVersion`, other managers'
/// labels) do not count. A wanted `null`, `[]` or `{}` matches an absent field (the apiserver
/// omits empty fields).
///
/// ```
/// use serde_json::json;
/// use mtp_core::diff::is_subset;
/// assert!(is_subset(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
/// assert!(!is_subset(&json!({"a": [1, 2]}), &json!({"a": [1]})));
/// ```
pub fn is_subset(want: &Value, observed: &Value) -> bool {
    subset(want, observed, false)
}

/// The keys under which a LimitRange or ResourceQuota holds quantities, which the apiserver
/// stores in canonical form (`1024Mi` becomes `1Gi`, `0.5` becomes `500m`).
const QUANTITY_MAPS: [&str; 5] = ["hard", "default", "defaultRequest", "max", "min"];

fn subset(want: &Value, observed: &Value, quantities: bool) -> bool {
    match (want, observed) {
        (Value::Object(w), Value::Object(o)) => w.iter().all(|(k, wv)| match o.get(k) {
            Some(ov) => subset(wv, ov, quantities || QUANTITY_MAPS.contains(&k.as_str())),
            None => match wv {
                Value::Null => true,
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                _ => false,
            },
        }),
        (Value::Array(w), Value::Array(o)) => {
            w.len() == o.len() && w.iter().zip(o).all(|(wv, ov)| subset(wv, ov, false))
        }
        (Value::Null, Value::Null) => true,
        (Value::String(w), Value::String(o)) if quantities && w != o => {
            // By value, as mtp-policy compares quantities (to the nano-unit).
            mtp_policy::pod_security::quantity::compare(w, o) == Ok(std::cmp::Ordering::Equal)
        }
        (w, o) => w == o,
    }
}

/// Compares the planned objects with the tenant's objects `observed` in the cluster (the caller
/// selects them: labelled with the tenant and controlled by it). Each planned object that is
/// missing, or whose fields differ from the observed one, is to be applied; each observed object
/// that the plan does not hold is to be deleted.
pub fn diff(planned: &[PlannedObject], observed: &[Value]) -> Diff {
    let mut out = Diff::default();
    let wanted: HashSet<&ObjectKey> = planned.iter().map(|p| &p.key).collect();
    let mut seen: Vec<(ObjectKey, &Value)> = observed
        .iter()
        .filter_map(|v| ObjectKey::of(v).map(|k| (k, v)))
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, p) in planned.iter().enumerate() {
        let current = seen
            .binary_search_by(|(k, _)| k.cmp(&p.key))
            .ok()
            .map(|j| seen[j].1);
        if !current.is_some_and(|c| is_subset(&p.value, c)) {
            out.apply.push(i);
        }
    }
    let deleted_namespaces: HashSet<&str> = seen
        .iter()
        .filter(|(k, _)| k.kind == Kind::Namespace && !wanted.contains(k))
        .map(|(k, _)| k.name.as_str())
        .collect();
    for (key, _) in &seen {
        if wanted.contains(key) {
            continue;
        }
        if key
            .namespace
            .as_deref()
            .is_some_and(|ns| deleted_namespaces.contains(ns))
        {
            continue;
        }
        out.delete.push(key.clone());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{PlatformSettings, Tenant, Tier, TierCatalogue, plan};
    use serde_json::json;

    fn planned(t: &Tenant) -> Vec<PlannedObject> {
        planned_objects(&plan(t, &TierCatalogue::default(), &PlatformSettings::default()).unwrap())
            .unwrap()
    }

    #[test]
    fn keys_and_order() {
        let p = planned(
            &Tenant::test("acme")
                .with_tier(Tier::Pro)
                .with_namespace("ci"),
        );
        assert_eq!(p.len(), 2 + 2 + 2 * 6);
        assert_eq!(p[0].key.to_string(), "Namespace tenant-acme");
        assert_eq!(p[1].key.to_string(), "Namespace tenant-acme-ci");
        assert_eq!(p[2].key.to_string(), "ClusterRole mtp-tenant-acme");
        assert_eq!(p[3].key.to_string(), "ClusterRoleBinding mtp-tenant-acme");
        assert_eq!(
            p[4].key.to_string(),
            "RoleBinding tenant-acme/tenant-admins"
        );
        assert_eq!(ObjectKey::of(&json!({"kind": "Pod"})), None);
        assert_eq!(
            ObjectKey::of(&json!({"kind": "LimitRange", "metadata": {"name": "x"}})),
            None
        );
    }

    #[test]
    fn server_additions_do_not_count_but_edits_do() {
        let p = planned(&Tenant::test("acme").with_admin("alice"));
        let mut observed: Vec<Value> = p.iter().map(|o| o.value.clone()).collect();
        // Server-side additions: status, resourceVersion, an extra label, a defaulted field.
        observed[0]["metadata"]["resourceVersion"] = json!("12");
        observed[0]["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!("tenant-acme");
        observed[0]["status"] = json!({"phase": "Active"});
        assert!(diff(&p, &observed).is_empty());
        // A hand edit: the admin binding lost its subject.
        observed[3]["subjects"] = json!([]);
        // A label removed from the namespace.
        observed[0]["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("pod-security.kubernetes.io/enforce");
        assert_eq!(diff(&p, &observed).apply, vec![0, 3]);
        // A missing object.
        observed.remove(5);
        assert_eq!(diff(&p, &observed).apply, vec![0, 3, 5]);
    }

    #[test]
    fn removed_namespace_is_deleted_without_its_contents() {
        let before = planned(
            &Tenant::test("acme")
                .with_tier(Tier::Pro)
                .with_namespace("ci"),
        );
        let after = planned(&Tenant::test("acme").with_tier(Tier::Pro));
        let mut observed: Vec<Value> = before.iter().map(|o| o.value.clone()).collect();
        // A stale binding in the kept namespace.
        let mut stale = observed[4].clone();
        stale["metadata"]["name"] = json!("tenant-old");
        observed.push(stale);
        let d = diff(&after, &observed);
        // The isolation policy of the kept namespace no longer admits the removed one.
        assert_eq!(d.apply, vec![6]);
        assert_eq!(
            after[6].key.to_string(),
            "NetworkPolicy tenant-acme/tenant-isolation"
        );
        assert_eq!(
            d.delete.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "Namespace tenant-acme-ci",
                "RoleBinding tenant-acme/tenant-old"
            ]
        );
    }

    #[test]
    fn subjects_added_by_hand_to_an_empty_binding_are_drift() {
        let p = planned(&Tenant::test("acme").with_admin("alice"));
        // tenant-operators has no users: it is applied with an explicit empty list.
        assert_eq!(p[4].key.name, "tenant-operators");
        assert_eq!(p[4].value["subjects"], json!([]));
        let mut observed: Vec<Value> = p.iter().map(|o| o.value.clone()).collect();
        // The apiserver omits the empty list: still no drift.
        observed[4].as_object_mut().unwrap().remove("subjects");
        assert!(diff(&p, &observed).is_empty());
        observed[4]["subjects"] = json!([{"kind": "User", "name": "mallory"}]);
        assert_eq!(diff(&p, &observed).apply, vec![4]);
    }

    #[test]
    fn subset_rules() {
        assert!(is_subset(&json!(null), &json!(null)));
        assert!(is_subset(&json!({"a": null}), &json!({})));
        assert!(is_subset(&json!({"a": [], "b": {}}), &json!({})));
        assert!(!is_subset(&json!({"a": [1]}), &json!({})));
        assert!(!is_subset(&json!({"a": 1}), &json!({})));
        assert!(!is_subset(&json!({"a": "1"}), &json!({"a": 1})));
        assert!(is_subset(
            &json!([{"port": 53}]),
            &json!([{"port": 53, "protocol": "TCP"}])
        ));
        assert!(!is_subset(&json!([1]), &json!([1, 2])));
        // Quantities the apiserver stored in canonical form match what was applied...
        assert!(is_subset(
            &json!({"spec": {"hard": {"limits.memory": "1024Mi", "requests.cpu": "0.5"}}}),
            &json!({"spec": {"hard": {"limits.memory": "1Gi", "requests.cpu": "500m"}}})
        ));
        assert!(is_subset(
            &json!({"spec": {"limits": [{"default": {"cpu": "1000m"}, "type": "Container"}]}}),
            &json!({"spec": {"limits": [{"default": {"cpu": "1"}, "type": "Container"}]}})
        ));
        // ... but only under quantity maps, and only when equal.
        assert!(!is_subset(
            &json!({"spec": {"hard": {"pods": "10"}}}),
            &json!({"spec": {"hard": {"pods": "11"}}})
        ));
        assert!(!is_subset(
            &json!({"labels": {"a": "1k"}}),
            &json!({"labels": {"a": "1000"}})
        ));
    }
}
