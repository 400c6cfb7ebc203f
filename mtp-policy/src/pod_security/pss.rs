//! The Kubernetes Pod Security Standards, `baseline` and `restricted`, version by version.
//!
//! Check ids, levels, the version each check applies from and the versions where a rule changed
//! follow the upstream `k8s.io/pod-security-admission` policy (see `CHECKS.tsv` in the conformance
//! data). A restricted check may override a baseline one from its own minimum version on (for example
//! `capabilities_restricted` replaces `capabilities_baseline` from v1.22).

use super::model::{
    APPARMOR_CONTAINER_PREFIX, ProfileRef, SECCOMP_CONTAINER_PREFIX, SECCOMP_POD_ANNOTATION,
    SeLinuxOptions,
};
use super::view::{Out, PodView};
use super::{Level, Violation};

/// Every Pod Security Standards check: id, level, the minor version (`v1.N`) it applies from, and
/// the check it overrides at restricted level (from its own minimum version on).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckDef {
    pub id: &'static str,
    pub level: Level,
    pub min_minor: u32,
    pub overrides: Option<&'static str>,
    run: fn(&PodView<'_, '_>, u32, &mut Out<'_>),
}

const fn check(
    id: &'static str,
    level: Level,
    min_minor: u32,
    overrides: Option<&'static str>,
    run: fn(&PodView<'_, '_>, u32, &mut Out<'_>),
) -> CheckDef {
    CheckDef {
        id,
        level,
        min_minor,
        overrides,
        run,
    }
}

/// The checks in upstream order.
pub(crate) const CHECKS: &[CheckDef] = &[
    check("privileged", Level::Baseline, 0, None, privileged),
    check("hostNamespaces", Level::Baseline, 0, None, host_namespaces),
    check(
        "hostPathVolumes",
        Level::Baseline,
        0,
        None,
        host_path_volumes,
    ),
    check("hostPorts", Level::Baseline, 0, None, host_ports),
    check(
        "hostProbesAndHostLifecycle",
        Level::Baseline,
        34,
        None,
        host_probes,
    ),
    check(
        "capabilities_baseline",
        Level::Baseline,
        0,
        None,
        capabilities_baseline,
    ),
    check("appArmorProfile", Level::Baseline, 0, None, app_armor),
    check("seLinuxOptions", Level::Baseline, 0, None, se_linux),
    check("procMount", Level::Baseline, 0, None, proc_mount_baseline),
    check(
        "seccompProfile_baseline",
        Level::Baseline,
        0,
        None,
        seccomp_baseline,
    ),
    check("sysctls", Level::Baseline, 0, None, sysctls),
    check(
        "windowsHostProcess",
        Level::Baseline,
        0,
        None,
        windows_host_process,
    ),
    check(
        "restrictedVolumes",
        Level::Restricted,
        0,
        Some("hostPathVolumes"),
        restricted_volumes,
    ),
    check(
        "allowPrivilegeEscalation",
        Level::Restricted,
        8,
        None,
        allow_privilege_escalation,
    ),
    check("runAsNonRoot", Level::Restricted, 0, None, run_as_non_root),
    check("runAsUser", Level::Restricted, 23, None, run_as_user),
    check(
        "seccompProfile_restricted",
        Level::Restricted,
        19,
        Some("seccompProfile_baseline"),
        seccomp_restricted,
    ),
    check(
        "capabilities_restricted",
        Level::Restricted,
        22,
        Some("capabilities_baseline"),
        capabilities_restricted,
    ),
    check(
        "procMount_restricted",
        Level::Restricted,
        35,
        Some("procMount"),
        proc_mount_restricted,
    ),
];

/// Runs every check that applies at `level` and minor version `minor`.
///
/// A restricted check that overrides a baseline check replaces it, as upstream: the verdict is the
/// restricted check's. Where a field it flags is flagged by the baseline check too, both violations
/// are reported (the baseline one first), so the ids name every rule the field breaks.
pub(crate) fn evaluate(
    view: &PodView<'_, '_>,
    level: Level,
    minor: u32,
    violations: &mut Vec<Violation>,
) {
    let active = |c: &CheckDef| c.level <= level && c.min_minor <= minor;
    for def in CHECKS.iter().filter(|c| active(c)) {
        if CHECKS
            .iter()
            .any(|o| active(o) && o.overrides == Some(def.id))
        {
            continue;
        }
        let Some(overridden) = def
            .overrides
            .and_then(|id| CHECKS.iter().find(|c| c.id == id))
        else {
            (def.run)(
                view,
                minor,
                &mut Out {
                    check: def.id,
                    violations: &mut *violations,
                },
            );
            continue;
        };
        let mut strict = Vec::new();
        (def.run)(
            view,
            minor,
            &mut Out {
                check: def.id,
                violations: &mut strict,
            },
        );
        if strict.is_empty() {
            continue;
        }
        let mut basic = Vec::new();
        (overridden.run)(
            view,
            minor,
            &mut Out {
                check: overridden.id,
                violations: &mut basic,
            },
        );
        violations.extend(
            basic
                .into_iter()
                .filter(|b| strict.iter().any(|s| s.path == b.path)),
        );
        violations.append(&mut strict);
    }
}

fn privileged(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    for c in view.containers() {
        let sc = c.container.security_context.as_ref();
        if sc.and_then(|s| s.privileged) == Some(true) {
            out.container(
                &c,
                view.container_field(&c, "securityContext.privileged"),
                format!(
                    "container {:?} must not set securityContext.privileged=true",
                    c.container.name()
                ),
            );
        }
    }
}

fn host_namespaces(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    let spec = view.spec;
    for (field, value) in [
        ("hostNetwork", spec.host_network),
        ("hostPID", spec.host_pid),
        ("hostIPC", spec.host_ipc),
    ] {
        if value == Some(true) {
            out.pod(
                view.spec_field(field),
                format!("pod must not set {field}=true"),
            );
        }
    }
}

fn host_path_volumes(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    for (i, volume) in view.spec.volumes.iter().flatten().enumerate() {
        if volume.sources.iter().any(|s| &**s == "hostPath") {
            out.pod(
                view.spec_field(&format!("volumes[{i}].hostPath")),
                format!(
                    "volume {:?} must not use hostPath",
                    volume.name.as_deref().unwrap_or("")
                ),
            );
        }
    }
}

fn host_ports(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    for c in view.containers() {
        for (j, port) in c.container.ports.iter().flatten().enumerate() {
            if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
                out.container(
                    &c,
                    view.container_field(&c, &format!("ports[{j}].hostPort")),
                    format!(
                        "container {:?} must not set hostPort (it sets {host_port})",
                        c.container.name()
                    ),
                );
            }
        }
    }
}

fn host_probes(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    for c in view.containers() {
        let k = c.container;
        let lifecycle = k.lifecycle.as_ref();
        let handlers = [
            ("livenessProbe", k.liveness_probe.as_deref()),
            ("readinessProbe", k.readiness_probe.as_deref()),
            ("startupProbe", k.startup_probe.as_deref()),
            (
                "lifecycle.postStart",
                lifecycle.and_then(|l| l.post_start.as_ref()),
            ),
            (
                "lifecycle.preStop",
                lifecycle.and_then(|l| l.pre_stop.as_ref()),
            ),
        ];
        for (field, handler) in handlers {
            let Some(handler) = handler else { continue };
            for (action, host) in [
                ("httpGet", handler.http_get.as_ref()),
                ("tcpSocket", handler.tcp_socket.as_ref()),
            ] {
                if let Some(host) = host
                    .and_then(|h| h.host.as_deref())
                    .filter(|h| !h.is_empty())
                {
                    out.container(
                        &c,
                        view.container_field(&c, &format!("{field}.{action}.host")),
                        format!(
                            "container {:?} must not set {field}.{action}.host (it sets {host:?})",
                            k.name()
                        ),
                    );
                }
            }
        }
    }
}

/// Capabilities a baseline pod may add.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    for c in view.containers() {
        let caps = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref());
        for (j, cap) in caps
            .and_then(|c| c.add.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            if !BASELINE_CAPABILITIES.contains(&&**cap) {
                out.container(
                    &c,
                    view.container_field(&c, &format!("securityContext.capabilities.add[{j}]")),
                    format!(
                        "container {:?} must not add capability {:?} (allowed: {})",
                        c.container.name(),
                        &**cap,
                        BASELINE_CAPABILITIES.join(", ")
                    ),
                );
            }
        }
    }
}

fn valid_profile_type(profile: &ProfileRef<'_>) -> bool {
    matches!(
        profile.type_.as_deref(),
        Some("RuntimeDefault" | "Localhost")
    )
}

fn profile_type<'p>(profile: &'p ProfileRef<'_>) -> &'p str {
    profile.type_.as_deref().unwrap_or("")
}

fn app_armor(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    if let Some(meta) = view.meta {
        for (key, value) in &meta.annotations.0 {
            let Some(container) = key.strip_prefix(APPARMOR_CONTAINER_PREFIX) else {
                continue;
            };
            let ok = value.is_empty()
                || &**value == "runtime/default"
                || value.starts_with("localhost/");
            if !ok {
                out.named(
                    container,
                    view.annotation_field(key),
                    format!(
                        "annotation {:?} must be \"runtime/default\" or \"localhost/<profile>\" (it is {:?})",
                        &**key, &**value
                    ),
                );
            }
        }
    }
    let pod = view
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.app_armor_profile.as_ref());
    if let Some(profile) = pod.filter(|p| !valid_profile_type(p)) {
        out.pod(
            view.spec_field("securityContext.appArmorProfile.type"),
            format!(
                "pod must set securityContext.appArmorProfile.type to RuntimeDefault or Localhost (it is {:?})",
                profile_type(profile)
            ),
        );
    }
    for c in view.containers() {
        let profile = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.app_armor_profile.as_ref());
        if let Some(profile) = profile.filter(|p| !valid_profile_type(p)) {
            out.container(
                &c,
                view.container_field(&c, "securityContext.appArmorProfile.type"),
                format!(
                    "container {:?} must set securityContext.appArmorProfile.type to RuntimeDefault or Localhost (it is {:?})",
                    c.container.name(),
                    profile_type(profile)
                ),
            );
        }
    }
}

fn se_linux_problems(options: &SeLinuxOptions<'_>, minor: u32) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let ty = options.type_.as_deref().unwrap_or("");
    let allowed = matches!(
        ty,
        "" | "container_t" | "container_init_t" | "container_kvm_t"
    ) || (minor >= 31 && ty == "container_engine_t");
    if !allowed {
        problems.push(("type", format!("type {ty:?} is not one of container_t, container_init_t, container_kvm_t, container_engine_t")));
    }
    if let Some(user) = options.user.as_deref().filter(|u| !u.is_empty()) {
        problems.push(("user", format!("user must be empty (it is {user:?})")));
    }
    if let Some(role) = options.role.as_deref().filter(|r| !r.is_empty()) {
        problems.push(("role", format!("role must be empty (it is {role:?})")));
    }
    problems
}

fn se_linux(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    if let Some(options) = view
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.se_linux_options.as_ref())
    {
        for (field, problem) in se_linux_problems(options, minor) {
            out.pod(
                view.spec_field(&format!("securityContext.seLinuxOptions.{field}")),
                format!("pod securityContext.seLinuxOptions: {problem}"),
            );
        }
    }
    for c in view.containers() {
        let options = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.se_linux_options.as_ref());
        for (field, problem) in options
            .map(|o| se_linux_problems(o, minor))
            .unwrap_or_default()
        {
            out.container(
                &c,
                view.container_field(&c, &format!("securityContext.seLinuxOptions.{field}")),
                format!(
                    "container {:?} securityContext.seLinuxOptions: {problem}",
                    c.container.name()
                ),
            );
        }
    }
}

fn proc_mount(view: &PodView<'_, '_>, out: &mut Out<'_>) {
    for c in view.containers() {
        let mount = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.proc_mount.as_deref());
        if let Some(mount) = mount.filter(|m| *m != "Default") {
            out.container(
                &c,
                view.container_field(&c, "securityContext.procMount"),
                format!("container {:?} must not set securityContext.procMount={mount:?} (only Default)", c.container.name()),
            );
        }
    }
}

fn proc_mount_baseline(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    // From v1.35 a pod in a user namespace may use any proc mount at baseline.
    if minor >= 35 && view.user_namespaced() {
        return;
    }
    proc_mount(view, out);
}

fn proc_mount_restricted(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    proc_mount(view, out);
}

fn valid_seccomp_annotation(value: &str) -> bool {
    value == "runtime/default" || value == "docker/default" || value.starts_with("localhost/")
}

fn seccomp_baseline(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    if minor < 19 {
        // Before v1.19 seccomp was set by annotations.
        if let Some(value) = view
            .annotation(SECCOMP_POD_ANNOTATION)
            .filter(|v| !valid_seccomp_annotation(v))
        {
            out.pod(
                view.annotation_field(SECCOMP_POD_ANNOTATION),
                format!("annotation {SECCOMP_POD_ANNOTATION:?} must be runtime/default, docker/default or localhost/<profile> (it is {value:?})"),
            );
        }
        for c in view.containers() {
            let key = format!("{SECCOMP_CONTAINER_PREFIX}{}", c.container.name());
            if let Some(value) = view
                .annotation(&key)
                .filter(|v| !valid_seccomp_annotation(v))
            {
                out.container(
                    &c,
                    view.annotation_field(&key),
                    format!("annotation {key:?} must be runtime/default, docker/default or localhost/<profile> (it is {value:?})"),
                );
            }
        }
        return;
    }
    let pod = view
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref());
    if let Some(profile) = pod.filter(|p| !valid_profile_type(p)) {
        out.pod(
            view.spec_field("securityContext.seccompProfile.type"),
            format!("pod must not set securityContext.seccompProfile.type to {:?} (only RuntimeDefault or Localhost)", profile_type(profile)),
        );
    }
    for c in view.containers() {
        let profile = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref());
        if let Some(profile) = profile.filter(|p| !valid_profile_type(p)) {
            out.container(
                &c,
                view.container_field(&c, "securityContext.seccompProfile.type"),
                format!(
                    "container {:?} must not set securityContext.seccompProfile.type to {:?} (only RuntimeDefault or Localhost)",
                    c.container.name(),
                    profile_type(profile)
                ),
            );
        }
    }
}

/// The sysctls a baseline pod may set, each with the minor version it became safe in.
const SAFE_SYSCTLS: &[(&str, u32)] = &[
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
    ("net.ipv4.tcp_slow_start_after_idle", 37),
    ("net.ipv4.tcp_notsent_lowat", 37),
];

fn sysctls(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    let list = view
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_ref());
    for (i, sysctl) in list.into_iter().flatten().enumerate() {
        let name = sysctl.name.as_deref().unwrap_or("");
        let safe = SAFE_SYSCTLS
            .iter()
            .any(|(n, since)| *n == name && *since <= minor);
        if !safe {
            out.pod(
                view.spec_field(&format!("securityContext.sysctls[{i}].name")),
                format!(
                    "pod must not set sysctl {name:?}: it is not in the safe set of v1.{minor}"
                ),
            );
        }
    }
}

fn windows_host_process(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    let pod = view
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.windows_options.as_ref());
    if pod.and_then(|w| w.host_process) == Some(true) {
        out.pod(
            view.spec_field("securityContext.windowsOptions.hostProcess"),
            "pod must not set securityContext.windowsOptions.hostProcess=true".to_owned(),
        );
    }
    for c in view.containers() {
        let options = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref());
        if options.and_then(|w| w.host_process) == Some(true) {
            out.container(
                &c,
                view.container_field(&c, "securityContext.windowsOptions.hostProcess"),
                format!(
                    "container {:?} must not set securityContext.windowsOptions.hostProcess=true",
                    c.container.name()
                ),
            );
        }
    }
}

/// Volume sources a restricted pod may use.
const RESTRICTED_VOLUME_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn restricted_volumes(view: &PodView<'_, '_>, _: u32, out: &mut Out<'_>) {
    for (i, volume) in view.spec.volumes.iter().flatten().enumerate() {
        // A volume with no source at all is allowed: the apiserver defaults it to emptyDir.
        let name = volume.name.as_deref().unwrap_or("");
        let bad = volume
            .sources
            .iter()
            .map(|s| &**s)
            .filter(|s| !RESTRICTED_VOLUME_SOURCES.contains(s));
        for source in bad {
            out.pod(
                view.spec_field(&format!("volumes[{i}].{source}")),
                format!(
                    "volume {name:?} must not use {source} (allowed: {})",
                    RESTRICTED_VOLUME_SOURCES.join(", ")
                ),
            );
        }
    }
}

fn allow_privilege_escalation(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    if minor >= 25 && view.is_windows() {
        return;
    }
    for c in view.containers() {
        let value = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.allow_privilege_escalation);
        if value != Some(false) {
            out.container(
                &c,
                view.container_field(&c, "securityContext.allowPrivilegeEscalation"),
                format!(
                    "container {:?} must set securityContext.allowPrivilegeEscalation=false",
                    c.container.name()
                ),
            );
        }
    }
}

fn run_as_non_root(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    if minor >= 35 && view.user_namespaced() {
        return;
    }
    let pod = view
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_non_root);
    if pod == Some(false) {
        out.pod(
            view.spec_field("securityContext.runAsNonRoot"),
            "pod must not set securityContext.runAsNonRoot=false".to_owned(),
        );
    }
    for c in view.containers() {
        match c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root)
        {
            Some(true) => {}
            Some(false) => out.container(
                &c,
                view.container_field(&c, "securityContext.runAsNonRoot"),
                format!(
                    "container {:?} must not set securityContext.runAsNonRoot=false",
                    c.container.name()
                ),
            ),
            None if pod == Some(true) => {}
            None => out.container(
                &c,
                view.container_field(&c, "securityContext.runAsNonRoot"),
                format!(
                    "pod or container {:?} must set securityContext.runAsNonRoot=true",
                    c.container.name()
                ),
            ),
        }
    }
}

fn run_as_user(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    if minor >= 35 && view.user_namespaced() {
        return;
    }
    if view
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_user)
        == Some(0)
    {
        out.pod(
            view.spec_field("securityContext.runAsUser"),
            "pod must not set securityContext.runAsUser=0".to_owned(),
        );
    }
    for c in view.containers() {
        if c.container
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_user)
            == Some(0)
        {
            out.container(
                &c,
                view.container_field(&c, "securityContext.runAsUser"),
                format!(
                    "container {:?} must not set securityContext.runAsUser=0",
                    c.container.name()
                ),
            );
        }
    }
}

fn seccomp_restricted(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    if minor >= 25 && view.is_windows() {
        return;
    }
    let pod = view
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref());
    let pod_valid = match pod {
        Some(profile) if !valid_profile_type(profile) => {
            out.pod(
                view.spec_field("securityContext.seccompProfile.type"),
                format!(
                    "pod must not set securityContext.seccompProfile.type to {:?} (only RuntimeDefault or Localhost)",
                    profile_type(profile)
                ),
            );
            false
        }
        Some(_) => true,
        None => false,
    };
    for c in view.containers() {
        let profile = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref());
        match profile {
            Some(profile) if !valid_profile_type(profile) => out.container(
                &c,
                view.container_field(&c, "securityContext.seccompProfile.type"),
                format!(
                    "container {:?} must not set securityContext.seccompProfile.type to {:?} (only RuntimeDefault or Localhost)",
                    c.container.name(),
                    profile_type(profile)
                ),
            ),
            Some(_) => {}
            // An invalid pod-level profile is reported once, at the pod.
            None if pod_valid || pod.is_some() => {}
            None => out.container(
                &c,
                view.container_field(&c, "securityContext.seccompProfile.type"),
                format!(
                    "pod or container {:?} must set securityContext.seccompProfile.type to RuntimeDefault or Localhost",
                    c.container.name()
                ),
            ),
        }
    }
}

fn capabilities_restricted(view: &PodView<'_, '_>, minor: u32, out: &mut Out<'_>) {
    if minor >= 25 && view.is_windows() {
        return;
    }
    for c in view.containers() {
        let caps = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref());
        let drops_all = caps
            .and_then(|c| c.drop.as_ref())
            .is_some_and(|d| d.iter().any(|x| &**x == "ALL"));
        if !drops_all {
            out.container(
                &c,
                view.container_field(&c, "securityContext.capabilities.drop"),
                format!(
                    "container {:?} must set securityContext.capabilities.drop=[\"ALL\"]",
                    c.container.name()
                ),
            );
        }
        for (j, cap) in caps
            .and_then(|c| c.add.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            if &**cap != "NET_BIND_SERVICE" {
                out.container(
                    &c,
                    view.container_field(&c, &format!("securityContext.capabilities.add[{j}]")),
                    format!(
                        "container {:?} must not add capability {:?} (only NET_BIND_SERVICE)",
                        c.container.name(),
                        &**cap
                    ),
                );
            }
        }
    }
}
