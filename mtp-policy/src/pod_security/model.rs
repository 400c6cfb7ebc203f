//! Borrowed views of the parts of Kubernetes objects that the checks read.
//!
//! These structs deserialize straight from the bytes of a request: strings borrow from the input
//! where they can, and every field the checks do not read is skipped without being built. That is
//! what keeps an evaluation close to the cost of merely validating the JSON (see
//! `benches/README.md`). They accept any serde format: JSON bytes borrow, a `serde_json::Value` or a
//! YAML document gives owned strings.
//!
//! The same `Spec` struct reads a pod spec and the spec of every workload kind (its `template` and
//! `jobTemplate` fields lead to the pod template), so one pass reads any object whatever the order
//! of its fields.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

use crate::de::Key;
pub use crate::de::Text;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A resource quantity as written: a string (`"500m"`, `"1Gi"`) or a bare number (`1` in YAML).
#[derive(Debug, Clone, PartialEq)]
pub enum QuantityText<'a> {
    /// Written as a string.
    Text(Text<'a>),
    /// Written as a JSON/YAML number.
    Number(f64),
}

impl fmt::Display for QuantityText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantityText::Text(t) => f.write_str(t),
            QuantityText::Number(n) => write!(f, "{n}"),
        }
    }
}

struct QuantityVisitor;

impl<'de> Visitor<'de> for QuantityVisitor {
    type Value = QuantityText<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quantity (a string such as \"500m\" or \"1Gi\", or a number)")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(QuantityText::Text(Text(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(QuantityText::Text(Text(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(QuantityText::Text(Text(Cow::Owned(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        // Quantities are far below 2^53; the cast is exact for every value Kubernetes accepts.
        Ok(QuantityText::Number(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(QuantityText::Number(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(QuantityText::Number(v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for QuantityText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(QuantityVisitor)
    }
}

/// Any Kubernetes object, with the fields that lead to a pod spec.
#[derive(Debug, Default)]
pub struct Object<'a> {
    /// `apiVersion`.
    pub api_version: Option<Text<'a>>,
    /// `kind`.
    pub kind: Option<Text<'a>>,
    /// `metadata`.
    pub metadata: Option<ObjectMeta<'a>>,
    /// `spec`: a pod spec (Pod) or a workload spec (its `template` / `jobTemplate`).
    pub spec: Option<Spec<'a>>,
    /// `template`: the pod template of a `PodTemplate`.
    pub template: Option<Template<'a>>,
}

deserialize_fields!(Object<'a>, "a Kubernetes object", {
    "apiVersion" => api_version,
    "kind" => kind,
    "metadata" => metadata,
    "spec" => spec,
    "template" => template,
});

/// The parts of `metadata` the checks read.
#[derive(Debug, Default)]
pub struct ObjectMeta<'a> {
    /// `metadata.name`.
    pub name: Option<Text<'a>>,
    /// `metadata.generateName`, shown when a pod has no name yet.
    pub generate_name: Option<Text<'a>>,
    /// `metadata.namespace`.
    pub namespace: Option<Text<'a>>,
    /// The security annotations among `metadata.annotations` (AppArmor, legacy seccomp).
    pub annotations: SecurityAnnotations<'a>,
}

deserialize_fields!(ObjectMeta<'a>, "object metadata", {
    "name" => name,
    "generateName" => generate_name,
    "namespace" => namespace,
    "annotations" => annotations,
});

/// AppArmor annotation prefix (`container.apparmor.security.beta.kubernetes.io/<container>`).
pub const APPARMOR_CONTAINER_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";
/// Legacy pod-level seccomp annotation.
pub const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
/// Legacy container-level seccomp annotation prefix.
pub const SECCOMP_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// The annotations that carry security settings; every other annotation is skipped unread.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SecurityAnnotations<'a>(pub Vec<(Text<'a>, Text<'a>)>);

impl SecurityAnnotations<'_> {
    /// The value of annotation `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| **k == *key).map(|(_, v)| &**v)
    }
}

fn is_security_annotation(key: &[u8]) -> bool {
    key.starts_with(APPARMOR_CONTAINER_PREFIX.as_bytes())
        || key == SECCOMP_POD_ANNOTATION.as_bytes()
        || key.starts_with(SECCOMP_CONTAINER_PREFIX.as_bytes())
}

struct AnnotationsVisitor;

impl<'de> Visitor<'de> for AnnotationsVisitor {
    type Value = SecurityAnnotations<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of annotations")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(SecurityAnnotations::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(SecurityAnnotations::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if is_security_annotation(&key.0) {
                let value = map.next_value::<Text<'de>>()?;
                out.push((key.into_text::<M::Error>()?, value));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(SecurityAnnotations(out))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for SecurityAnnotations<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(AnnotationsVisitor)
    }
}

/// A pod template (`spec.template` of workloads, `template` of a `PodTemplate`).
#[derive(Debug, Default)]
pub struct Template<'a> {
    /// The template's metadata (where pod annotations live).
    pub metadata: Option<ObjectMeta<'a>>,
    /// The template's pod spec.
    pub spec: Option<Box<Spec<'a>>>,
}

deserialize_fields!(Template<'a>, "a pod template", {
    "metadata" => metadata,
    "spec" => spec,
});

/// A CronJob's `spec.jobTemplate`.
#[derive(Debug, Default)]
pub struct JobTemplate<'a> {
    /// The Job spec, whose `template` is the pod template.
    pub spec: Option<Box<Spec<'a>>>,
}

deserialize_fields!(JobTemplate<'a>, "a job template", {
    "spec" => spec,
});

/// A pod spec, or a workload spec leading to one. Only the fields the checks read.
#[derive(Debug, Default)]
pub struct Spec<'a> {
    /// `containers`.
    pub containers: Option<Vec<Container<'a>>>,
    /// `initContainers`.
    pub init_containers: Option<Vec<Container<'a>>>,
    /// `ephemeralContainers`.
    pub ephemeral_containers: Option<Vec<Container<'a>>>,
    /// The pod-level `securityContext`.
    pub security_context: Option<Box<PodSecurityContext<'a>>>,
    /// `volumes`.
    pub volumes: Option<Vec<Volume<'a>>>,
    /// `hostNetwork`.
    pub host_network: Option<bool>,
    /// `hostPID`.
    pub host_pid: Option<bool>,
    /// `hostIPC`.
    pub host_ipc: Option<bool>,
    /// `hostUsers` (false: the pod runs in a user namespace).
    pub host_users: Option<bool>,
    /// `os`.
    pub os: Option<PodOs<'a>>,
    /// Workloads: the pod template.
    pub template: Option<Box<Template<'a>>>,
    /// CronJobs: the job template.
    pub job_template: Option<Box<JobTemplate<'a>>>,
}

deserialize_fields!(Spec<'a>, "a pod spec or a workload spec", {
    "containers" => containers,
    "initContainers" => init_containers,
    "ephemeralContainers" => ephemeral_containers,
    "securityContext" => security_context,
    "volumes" => volumes,
    "hostNetwork" => host_network,
    "hostPID" => host_pid,
    "hostIPC" => host_ipc,
    "hostUsers" => host_users,
    "os" => os,
    "template" => template,
    "jobTemplate" => job_template,
});

/// `spec.os`.
#[derive(Debug, Default)]
pub struct PodOs<'a> {
    /// `linux` or `windows`.
    pub name: Option<Text<'a>>,
}

deserialize_fields!(PodOs<'a>, "spec.os", {
    "name" => name,
});

/// A container, init container or ephemeral container.
#[derive(Debug, Default)]
pub struct Container<'a> {
    /// `name`.
    pub name: Option<Text<'a>>,
    /// `image`.
    pub image: Option<Text<'a>>,
    /// `ports`.
    pub ports: Option<Vec<ContainerPort>>,
    /// `resources`.
    pub resources: Option<Box<Resources<'a>>>,
    /// `securityContext`.
    pub security_context: Option<Box<SecurityContext<'a>>>,
    /// `livenessProbe`.
    pub liveness_probe: Option<Box<Handler<'a>>>,
    /// `readinessProbe`.
    pub readiness_probe: Option<Box<Handler<'a>>>,
    /// `startupProbe`.
    pub startup_probe: Option<Box<Handler<'a>>>,
    /// `lifecycle`.
    pub lifecycle: Option<Box<Lifecycle<'a>>>,
}

deserialize_fields!(Container<'a>, "a container", {
    "name" => name,
    "image" => image,
    "ports" => ports,
    "resources" => resources,
    "securityContext" => security_context,
    "livenessProbe" => liveness_probe,
    "readinessProbe" => readiness_probe,
    "startupProbe" => startup_probe,
    "lifecycle" => lifecycle,
});

impl Container<'_> {
    /// The container's name, or `""` when it has none.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// A container port.
#[derive(Debug, Default)]
pub struct ContainerPort {
    /// `hostPort`.
    pub host_port: Option<i64>,
}

deserialize_fields!(ContainerPort, "a container port", {
    "hostPort" => host_port,
});

/// `resources`.
#[derive(Debug, Default)]
pub struct Resources<'a> {
    /// `resources.limits` (cpu and memory; other resources are skipped).
    pub limits: Option<CpuMemory<'a>>,
}

deserialize_fields!(Resources<'a>, "resources", {
    "limits" => limits,
});

/// The cpu and memory entries of a resource list.
#[derive(Debug, Default)]
pub struct CpuMemory<'a> {
    /// `cpu`.
    pub cpu: Option<QuantityText<'a>>,
    /// `memory`.
    pub memory: Option<QuantityText<'a>>,
}

deserialize_fields!(CpuMemory<'a>, "a resource list", {
    "cpu" => cpu,
    "memory" => memory,
});

/// A probe or a lifecycle handler: the parts that can name a host.
#[derive(Debug, Default)]
pub struct Handler<'a> {
    /// `httpGet`.
    pub http_get: Option<HostRef<'a>>,
    /// `tcpSocket`.
    pub tcp_socket: Option<HostRef<'a>>,
}

deserialize_fields!(Handler<'a>, "a probe or lifecycle handler", {
    "httpGet" => http_get,
    "tcpSocket" => tcp_socket,
});

/// The `host` of an `httpGet` or `tcpSocket` action.
#[derive(Debug, Default)]
pub struct HostRef<'a> {
    /// `host`.
    pub host: Option<Text<'a>>,
}

deserialize_fields!(HostRef<'a>, "an httpGet or tcpSocket action", {
    "host" => host,
});

/// `lifecycle`.
#[derive(Debug, Default)]
pub struct Lifecycle<'a> {
    /// `postStart`.
    pub post_start: Option<Handler<'a>>,
    /// `preStop`.
    pub pre_stop: Option<Handler<'a>>,
}

deserialize_fields!(Lifecycle<'a>, "lifecycle", {
    "postStart" => post_start,
    "preStop" => pre_stop,
});

/// A container's `securityContext`.
#[derive(Debug, Default)]
pub struct SecurityContext<'a> {
    /// `privileged`.
    pub privileged: Option<bool>,
    /// `allowPrivilegeEscalation`.
    pub allow_privilege_escalation: Option<bool>,
    /// `readOnlyRootFilesystem`.
    pub read_only_root_filesystem: Option<bool>,
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `capabilities`.
    pub capabilities: Option<Capabilities<'a>>,
    /// `procMount`.
    pub proc_mount: Option<Text<'a>>,
    /// `seLinuxOptions`.
    pub se_linux_options: Option<SeLinuxOptions<'a>>,
    /// `seccompProfile`.
    pub seccomp_profile: Option<ProfileRef<'a>>,
    /// `appArmorProfile`.
    pub app_armor_profile: Option<ProfileRef<'a>>,
    /// `windowsOptions`.
    pub windows_options: Option<WindowsOptions>,
}

deserialize_fields!(SecurityContext<'a>, "a container securityContext", {
    "privileged" => privileged,
    "allowPrivilegeEscalation" => allow_privilege_escalation,
    "readOnlyRootFilesystem" => read_only_root_filesystem,
    "runAsNonRoot" => run_as_non_root,
    "runAsUser" => run_as_user,
    "capabilities" => capabilities,
    "procMount" => proc_mount,
    "seLinuxOptions" => se_linux_options,
    "seccompProfile" => seccomp_profile,
    "appArmorProfile" => app_armor_profile,
    "windowsOptions" => windows_options,
});

/// The pod-level `securityContext`.
#[derive(Debug, Default)]
pub struct PodSecurityContext<'a> {
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `seLinuxOptions`.
    pub se_linux_options: Option<SeLinuxOptions<'a>>,
    /// `seccompProfile`.
    pub seccomp_profile: Option<ProfileRef<'a>>,
    /// `appArmorProfile`.
    pub app_armor_profile: Option<ProfileRef<'a>>,
    /// `windowsOptions`.
    pub windows_options: Option<WindowsOptions>,
    /// `sysctls`.
    pub sysctls: Option<Vec<Sysctl<'a>>>,
}

deserialize_fields!(PodSecurityContext<'a>, "a pod securityContext", {
    "runAsNonRoot" => run_as_non_root,
    "runAsUser" => run_as_user,
    "seLinuxOptions" => se_linux_options,
    "seccompProfile" => seccomp_profile,
    "appArmorProfile" => app_armor_profile,
    "windowsOptions" => windows_options,
    "sysctls" => sysctls,
});

/// `capabilities`.
#[derive(Debug, Default)]
pub struct Capabilities<'a> {
    /// `add`.
    pub add: Option<Vec<Text<'a>>>,
    /// `drop`.
    pub drop: Option<Vec<Text<'a>>>,
}

deserialize_fields!(Capabilities<'a>, "capabilities", {
    "add" => add,
    "drop" => drop,
});

/// `seLinuxOptions`.
#[derive(Debug, Default)]
pub struct SeLinuxOptions<'a> {
    /// `user`.
    pub user: Option<Text<'a>>,
    /// `role`.
    pub role: Option<Text<'a>>,
    /// `type`.
    pub type_: Option<Text<'a>>,
}

deserialize_fields!(SeLinuxOptions<'a>, "seLinuxOptions", {
    "user" => user,
    "role" => role,
    "type" => type_,
});

/// A `seccompProfile` or `appArmorProfile`: its `type`.
#[derive(Debug, Default)]
pub struct ProfileRef<'a> {
    /// `type`.
    pub type_: Option<Text<'a>>,
}

deserialize_fields!(ProfileRef<'a>, "a seccomp or AppArmor profile", {
    "type" => type_,
});

/// `windowsOptions`.
#[derive(Debug, Default)]
pub struct WindowsOptions {
    /// `hostProcess`.
    pub host_process: Option<bool>,
}

deserialize_fields!(WindowsOptions, "windowsOptions", {
    "hostProcess" => host_process,
});

/// A pod sysctl.
#[derive(Debug, Default)]
pub struct Sysctl<'a> {
    /// `name`.
    pub name: Option<Text<'a>>,
}

deserialize_fields!(Sysctl<'a>, "a sysctl", {
    "name" => name,
});

/// A volume: its name and which volume sources it sets (non-null keys other than `name`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Volume<'a> {
    /// `name`.
    pub name: Option<Text<'a>>,
    /// The keys of the volume sources set on it (`hostPath`, `secret`, ...).
    pub sources: Vec<Text<'a>>,
}

struct VolumeVisitor;

impl<'de> Visitor<'de> for VolumeVisitor {
    type Value = Volume<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a volume")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut volume = Volume::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if &*key.0 == b"name" {
                volume.name = map.next_value::<Option<Text<'de>>>()?;
            } else if map.next_value::<Option<IgnoredAny>>()?.is_some() {
                volume.sources.push(key.into_text::<M::Error>()?);
            }
        }
        Ok(volume)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Volume<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(VolumeVisitor)
    }
}
