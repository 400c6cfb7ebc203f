//! Borrowed views of the parts of Kubernetes objects the guardrails read: metadata keys, container
//! images and pull policies, the class names and node selector of a pod spec, the type and
//! external IPs of a Service, the class and hosts of an Ingress, the class of a
//! PersistentVolumeClaim. Like `pod_security::model`, strings borrow from the request and every
//! other field is skipped unread; one `Spec` reads the spec of every kind the guardrails check.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::de::{Key, Text};

/// A Kubernetes object: the fields any guardrail reads.
#[derive(Debug, Default)]
pub struct Object<'a> {
    /// `apiVersion`.
    pub api_version: Option<Text<'a>>,
    /// `kind`.
    pub kind: Option<Text<'a>>,
    /// `metadata`.
    pub metadata: Option<Meta<'a>>,
    /// `spec`.
    pub spec: Option<Spec<'a>>,
    /// `template` (a PodTemplate's pod template).
    pub template: Option<Template<'a>>,
}

deserialize_fields!(Object<'a>, "a Kubernetes object", {
    "apiVersion" => api_version,
    "kind" => kind,
    "metadata" => metadata,
    "spec" => spec,
    "template" => template,
});

/// `metadata`: the name (for messages), labels and annotations.
#[derive(Debug, Default)]
pub struct Meta<'a> {
    /// `name`.
    pub name: Option<Text<'a>>,
    /// `labels`.
    pub labels: Pairs<'a>,
    /// `annotations`.
    pub annotations: Pairs<'a>,
}

deserialize_fields!(Meta<'a>, "object metadata", {
    "name" => name,
    "labels" => labels,
    "annotations" => annotations,
});

/// A map of strings (labels, annotations, a nodeSelector), in the order written.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pairs<'a>(pub Vec<(Text<'a>, Text<'a>)>);

impl Pairs<'_> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| **k == *key).map(|(_, v)| &**v)
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Pairs<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Pairs::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Pairs::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.into_text::<M::Error>()?;
            let value = map.next_value::<Text<'de>>()?;
            out.push((key, value));
        }
        Ok(Pairs(out))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(PairsVisitor)
    }
}

/// A pod template.
#[derive(Debug, Default)]
pub struct Template<'a> {
    /// Its metadata.
    pub metadata: Option<Meta<'a>>,
    /// Its pod spec.
    pub spec: Option<Box<Spec<'a>>>,
}

deserialize_fields!(Template<'a>, "a pod template", {
    "metadata" => metadata,
    "spec" => spec,
});

/// A CronJob's job template, or a StatefulSet's volume claim template.
#[derive(Debug, Default)]
pub struct SpecTemplate<'a> {
    /// Its metadata.
    pub metadata: Option<Meta<'a>>,
    /// Its spec.
    pub spec: Option<Box<Spec<'a>>>,
}

deserialize_fields!(SpecTemplate<'a>, "a template", {
    "metadata" => metadata,
    "spec" => spec,
});

/// The spec of a pod, a workload, a Service, an Ingress or a PersistentVolumeClaim: the fields
/// the guardrails read, whichever kind has them.
#[derive(Debug, Default)]
pub struct Spec<'a> {
    /// Pods: `containers`.
    pub containers: Option<Vec<Container<'a>>>,
    /// Pods: `initContainers`.
    pub init_containers: Option<Vec<Container<'a>>>,
    /// Pods: `ephemeralContainers`.
    pub ephemeral_containers: Option<Vec<Container<'a>>>,
    /// Pods: `priorityClassName`.
    pub priority_class_name: Option<Text<'a>>,
    /// Pods: `runtimeClassName`.
    pub runtime_class_name: Option<Text<'a>>,
    /// Pods: `nodeSelector`.
    pub node_selector: Option<Pairs<'a>>,
    /// Workloads: the pod template.
    pub template: Option<Box<Template<'a>>>,
    /// CronJobs: the job template.
    pub job_template: Option<Box<SpecTemplate<'a>>>,
    /// StatefulSets: `volumeClaimTemplates`.
    pub volume_claim_templates: Option<Vec<SpecTemplate<'a>>>,
    /// Services: `type`.
    pub type_: Option<Text<'a>>,
    /// Services: `externalIPs`.
    pub external_ips: Option<Vec<Text<'a>>>,
    /// Ingresses: `ingressClassName`.
    pub ingress_class_name: Option<Text<'a>>,
    /// Ingresses: `rules`.
    pub rules: Option<Vec<IngressRule<'a>>>,
    /// Ingresses: `tls`.
    pub tls: Option<Vec<IngressTls<'a>>>,
    /// PersistentVolumeClaims: `storageClassName`.
    pub storage_class_name: Option<Text<'a>>,
}

deserialize_fields!(Spec<'a>, "an object spec", {
    "containers" => containers,
    "initContainers" => init_containers,
    "ephemeralContainers" => ephemeral_containers,
    "priorityClassName" => priority_class_name,
    "runtimeClassName" => runtime_class_name,
    "nodeSelector" => node_selector,
    "template" => template,
    "jobTemplate" => job_template,
    "volumeClaimTemplates" => volume_claim_templates,
    "type" => type_,
    "externalIPs" => external_ips,
    "ingressClassName" => ingress_class_name,
    "rules" => rules,
    "tls" => tls,
    "storageClassName" => storage_class_name,
});

/// A container's name, image and pull policy.
#[derive(Debug, Default)]
pub struct Container<'a> {
    /// `name`.
    pub name: Option<Text<'a>>,
    /// `image`.
    pub image: Option<Text<'a>>,
    /// `imagePullPolicy`.
    pub image_pull_policy: Option<Text<'a>>,
}

deserialize_fields!(Container<'a>, "a container", {
    "name" => name,
    "image" => image,
    "imagePullPolicy" => image_pull_policy,
});

/// An Ingress rule's host.
#[derive(Debug, Default)]
pub struct IngressRule<'a> {
    /// `host`.
    pub host: Option<Text<'a>>,
}

deserialize_fields!(IngressRule<'a>, "an ingress rule", {
    "host" => host,
});

/// An Ingress TLS entry's hosts.
#[derive(Debug, Default)]
pub struct IngressTls<'a> {
    /// `hosts`.
    pub hosts: Option<Vec<Text<'a>>>,
}

deserialize_fields!(IngressTls<'a>, "an ingress tls entry", {
    "hosts" => hosts,
});

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_needs_and_skips_the_rest() {
        let o: Object<'_> = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"b"},"annotations":null,"uid":"x"},
                "spec":{"containers":[{"name":"c","image":"nginx","imagePullPolicy":"Always","resources":{}}],
                        "nodeSelector":{"pool":"acme"},"priorityClassName":"high","affinity":{}}}"#,
        )
        .unwrap();
        let meta = o.metadata.as_ref().unwrap();
        assert_eq!(meta.labels.get("a"), Some("b"));
        assert!(meta.annotations.0.is_empty());
        let spec = o.spec.as_ref().unwrap();
        assert_eq!(
            spec.node_selector.as_ref().unwrap().get("pool"),
            Some("acme")
        );
        assert_eq!(spec.priority_class_name.as_deref(), Some("high"));
        let c = &spec.containers.as_ref().unwrap()[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
    }

    #[test]
    fn a_non_string_label_is_an_error_naming_the_expectation() {
        let e =
            serde_json::from_str::<Object<'_>>(r#"{"metadata":{"labels":{"a":3}}}"#).unwrap_err();
        assert!(e.to_string().contains("a string"), "{e}");
    }
}
