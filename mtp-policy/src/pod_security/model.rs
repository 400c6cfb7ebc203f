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
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A string that borrows from the input when it can (no escapes), else owns its text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

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
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<'a> {
    /// `apiVersion`.
    #[serde(borrow)]
    pub api_version: Option<Text<'a>>,
    /// `kind`.
    #[serde(borrow)]
    pub kind: Option<Text<'a>>,
    /// `metadata`.
    #[serde(borrow)]
    pub metadata: Option<ObjectMeta<'a>>,
    /// `spec`: a pod spec (Pod) or a workload spec (its `template` / `jobTemplate`).
    #[serde(borrow)]
    pub spec: Option<Spec<'a>>,
    /// `template`: the pod template of a `PodTemplate`.
    #[serde(borrow)]
    pub template: Option<Template<'a>>,
}

/// The parts of `metadata` the checks read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta<'a> {
    /// `metadata.name`.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    /// `metadata.generateName`, shown when a pod has no name yet.
    #[serde(borrow)]
    pub generate_name: Option<Text<'a>>,
    /// `metadata.namespace`.
    #[serde(borrow)]
    pub namespace: Option<Text<'a>>,
    /// The security annotations among `metadata.annotations` (AppArmor, legacy seccomp).
    #[serde(borrow, default)]
    pub annotations: SecurityAnnotations<'a>,
}

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

fn is_security_annotation(key: &str) -> bool {
    key.starts_with(APPARMOR_CONTAINER_PREFIX)
        || key == SECCOMP_POD_ANNOTATION
        || key.starts_with(SECCOMP_CONTAINER_PREFIX)
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
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if is_security_annotation(&key) {
                let value = map.next_value::<Text<'de>>()?;
                out.push((key, value));
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
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template<'a> {
    /// The template's metadata (where pod annotations live).
    #[serde(borrow)]
    pub metadata: Option<ObjectMeta<'a>>,
    /// The template's pod spec.
    #[serde(borrow)]
    pub spec: Option<Box<Spec<'a>>>,
}

/// A CronJob's `spec.jobTemplate`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplate<'a> {
    /// The Job spec, whose `template` is the pod template.
    #[serde(borrow)]
    pub spec: Option<Box<Spec<'a>>>,
}

/// A pod spec, or a workload spec leading to one. Only the fields the checks read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec<'a> {
    /// `containers`.
    #[serde(borrow)]
    pub containers: Option<Vec<Container<'a>>>,
    /// `initContainers`.
    #[serde(borrow)]
    pub init_containers: Option<Vec<Container<'a>>>,
    /// `ephemeralContainers`.
    #[serde(borrow)]
    pub ephemeral_containers: Option<Vec<Container<'a>>>,
    /// The pod-level `securityContext`.
    #[serde(borrow)]
    pub security_context: Option<PodSecurityContext<'a>>,
    /// `volumes`.
    #[serde(borrow)]
    pub volumes: Option<Vec<Volume<'a>>>,
    /// `hostNetwork`.
    pub host_network: Option<bool>,
    /// `hostPID`.
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    /// `hostIPC`.
    #[serde(rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    /// `hostUsers` (false: the pod runs in a user namespace).
    pub host_users: Option<bool>,
    /// `os`.
    #[serde(borrow)]
    pub os: Option<PodOs<'a>>,
    /// Workloads: the pod template.
    #[serde(borrow)]
    pub template: Option<Box<Template<'a>>>,
    /// CronJobs: the job template.
    #[serde(borrow)]
    pub job_template: Option<Box<JobTemplate<'a>>>,
}

/// `spec.os`.
#[derive(Debug, Default, Deserialize)]
pub struct PodOs<'a> {
    /// `linux` or `windows`.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
}

/// A container, init container or ephemeral container.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container<'a> {
    /// `name`.
    #[serde(borrow, default)]
    pub name: Option<Text<'a>>,
    /// `image`.
    #[serde(borrow)]
    pub image: Option<Text<'a>>,
    /// `ports`.
    pub ports: Option<Vec<ContainerPort>>,
    /// `resources`.
    #[serde(borrow)]
    pub resources: Option<Resources<'a>>,
    /// `securityContext`.
    #[serde(borrow)]
    pub security_context: Option<SecurityContext<'a>>,
    /// `livenessProbe`.
    #[serde(borrow)]
    pub liveness_probe: Option<Handler<'a>>,
    /// `readinessProbe`.
    #[serde(borrow)]
    pub readiness_probe: Option<Handler<'a>>,
    /// `startupProbe`.
    #[serde(borrow)]
    pub startup_probe: Option<Handler<'a>>,
    /// `lifecycle`.
    #[serde(borrow)]
    pub lifecycle: Option<Lifecycle<'a>>,
}

impl Container<'_> {
    /// The container's name, or `""` when it has none.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// A container port.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// `hostPort`.
    pub host_port: Option<i64>,
}

/// `resources`.
#[derive(Debug, Default, Deserialize)]
pub struct Resources<'a> {
    /// `resources.limits` (cpu and memory; other resources are skipped).
    #[serde(borrow)]
    pub limits: Option<CpuMemory<'a>>,
}

/// The cpu and memory entries of a resource list.
#[derive(Debug, Default, Deserialize)]
pub struct CpuMemory<'a> {
    /// `cpu`.
    #[serde(borrow)]
    pub cpu: Option<QuantityText<'a>>,
    /// `memory`.
    #[serde(borrow)]
    pub memory: Option<QuantityText<'a>>,
}

/// A probe or a lifecycle handler: the parts that can name a host.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handler<'a> {
    /// `httpGet`.
    #[serde(borrow)]
    pub http_get: Option<HostRef<'a>>,
    /// `tcpSocket`.
    #[serde(borrow)]
    pub tcp_socket: Option<HostRef<'a>>,
}

/// The `host` of an `httpGet` or `tcpSocket` action.
#[derive(Debug, Default, Deserialize)]
pub struct HostRef<'a> {
    /// `host`.
    #[serde(borrow)]
    pub host: Option<Text<'a>>,
}

/// `lifecycle`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle<'a> {
    /// `postStart`.
    #[serde(borrow)]
    pub post_start: Option<Handler<'a>>,
    /// `preStop`.
    #[serde(borrow)]
    pub pre_stop: Option<Handler<'a>>,
}

/// A container's `securityContext`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    #[serde(borrow)]
    pub capabilities: Option<Capabilities<'a>>,
    /// `procMount`.
    #[serde(borrow)]
    pub proc_mount: Option<Text<'a>>,
    /// `seLinuxOptions`.
    #[serde(borrow)]
    pub se_linux_options: Option<SeLinuxOptions<'a>>,
    /// `seccompProfile`.
    #[serde(borrow)]
    pub seccomp_profile: Option<ProfileRef<'a>>,
    /// `appArmorProfile`.
    #[serde(borrow)]
    pub app_armor_profile: Option<ProfileRef<'a>>,
    /// `windowsOptions`.
    pub windows_options: Option<WindowsOptions>,
}

/// The pod-level `securityContext`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext<'a> {
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `seLinuxOptions`.
    #[serde(borrow)]
    pub se_linux_options: Option<SeLinuxOptions<'a>>,
    /// `seccompProfile`.
    #[serde(borrow)]
    pub seccomp_profile: Option<ProfileRef<'a>>,
    /// `appArmorProfile`.
    #[serde(borrow)]
    pub app_armor_profile: Option<ProfileRef<'a>>,
    /// `windowsOptions`.
    pub windows_options: Option<WindowsOptions>,
    /// `sysctls`.
    #[serde(borrow)]
    pub sysctls: Option<Vec<Sysctl<'a>>>,
}

/// `capabilities`.
#[derive(Debug, Default, Deserialize)]
pub struct Capabilities<'a> {
    /// `add`.
    #[serde(borrow)]
    pub add: Option<Vec<Text<'a>>>,
    /// `drop`.
    #[serde(borrow)]
    pub drop: Option<Vec<Text<'a>>>,
}

/// `seLinuxOptions`.
#[derive(Debug, Default, Deserialize)]
pub struct SeLinuxOptions<'a> {
    /// `user`.
    #[serde(borrow)]
    pub user: Option<Text<'a>>,
    /// `role`.
    #[serde(borrow)]
    pub role: Option<Text<'a>>,
    /// `type`.
    #[serde(borrow, rename = "type")]
    pub type_: Option<Text<'a>>,
}

/// A `seccompProfile` or `appArmorProfile`: its `type`.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileRef<'a> {
    /// `type`.
    #[serde(borrow, rename = "type")]
    pub type_: Option<Text<'a>>,
}

/// `windowsOptions`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowsOptions {
    /// `hostProcess`.
    pub host_process: Option<bool>,
}

/// A pod sysctl.
#[derive(Debug, Default, Deserialize)]
pub struct Sysctl<'a> {
    /// `name`.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
}

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
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if &*key == "name" {
                volume.name = map.next_value::<Option<Text<'de>>>()?;
            } else if map.next_value::<Option<IgnoredAny>>()?.is_some() {
                volume.sources.push(key);
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
