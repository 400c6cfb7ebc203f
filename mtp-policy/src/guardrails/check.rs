//! The guardrail validators: pure functions of a tenant's [`Guardrails`] and one object.

use super::host::HostIndex;
use super::image::ImageRef;
use super::keys::KeyPattern;
use super::model::{Container, Meta, Object, Spec};
use super::settings::Guardrails;
use crate::pod_security::{Error, Evaluation, PodCarrier, Result, Violation, group_of};

/// One guardrail; its [`Rule::id`] is the check id in denials, metrics and `mtp-webhook docs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Container images from the allowed registries only.
    Registries,
    /// `imagePullPolicy: Always` on every container, when required.
    PullAlways,
    /// Service types other than ClusterIP only when allowed.
    ServiceTypes,
    /// `spec.externalIPs` on Services, never.
    ExternalIps,
    /// The IngressClass of an Ingress.
    IngressClasses,
    /// The hostnames of an Ingress.
    IngressHostnames,
    /// A hostname another tenant's Ingress already serves.
    UniqueIngressHostnames,
    /// The StorageClass of a PersistentVolumeClaim (and of a StatefulSet's claim templates).
    StorageClasses,
    /// The PriorityClass of a pod.
    PriorityClasses,
    /// The RuntimeClass of a pod.
    RuntimeClasses,
    /// A nodeSelector that contradicts the tenant's.
    NodeSelector,
    /// Label keys reserved from the tenant.
    Labels,
    /// Annotation keys reserved from the tenant.
    Annotations,
}

impl Rule {
    /// Every rule, in the order denials list them.
    pub const ALL: [Rule; 13] = [
        Rule::Registries,
        Rule::PullAlways,
        Rule::PriorityClasses,
        Rule::RuntimeClasses,
        Rule::NodeSelector,
        Rule::ServiceTypes,
        Rule::ExternalIps,
        Rule::IngressClasses,
        Rule::IngressHostnames,
        Rule::UniqueIngressHostnames,
        Rule::StorageClasses,
        Rule::Labels,
        Rule::Annotations,
    ];

    /// The check id, the name of the setting where there is one (`allowedRegistries`).
    pub fn id(self) -> &'static str {
        match self {
            Rule::Registries => "allowedRegistries",
            Rule::PullAlways => "requireImagePullAlways",
            Rule::ServiceTypes => "allowedServiceTypes",
            Rule::ExternalIps => "externalIPs",
            Rule::IngressClasses => "allowedIngressClasses",
            Rule::IngressHostnames => "allowedIngressHostnames",
            Rule::UniqueIngressHostnames => "uniqueIngressHostnames",
            Rule::StorageClasses => "allowedStorageClasses",
            Rule::PriorityClasses => "allowedPriorityClasses",
            Rule::RuntimeClasses => "allowedRuntimeClasses",
            Rule::NodeSelector => "nodeSelector",
            Rule::Labels => "forbiddenLabels",
            Rule::Annotations => "forbiddenAnnotations",
        }
    }

    /// What the rule refuses, for `mtp-webhook docs` and docs/policies.md.
    pub fn doc(self) -> &'static str {
        match self {
            Rule::Registries => {
                "Every container image (init and ephemeral containers included, in pods and in workload templates) comes from an allowed registry or repository prefix. Images are normalised as the container runtimes do (`nginx` is `docker.io/library/nginx`, `index.docker.io` is `docker.io`); tags and digests are accepted; an image that is no valid reference is refused."
            }
            Rule::PullAlways => {
                "When required, every container sets `imagePullPolicy: Always`, so a node never runs a cached private image for a tenant that may not pull it. An absent policy counts as the apiserver's default (Always for `:latest` or no tag, else IfNotPresent)."
            }
            Rule::ServiceTypes => {
                "Services are ClusterIP (headless included) unless the tenant may use NodePort, LoadBalancer or ExternalName."
            }
            Rule::ExternalIps => {
                "`spec.externalIPs` is always refused: it lets a tenant intercept traffic to any address (CVE-2020-8554)."
            }
            Rule::IngressClasses => {
                "An Ingress names an allowed IngressClass (`spec.ingressClassName`, or the older `kubernetes.io/ingress.class` annotation). One naming none is refused when classes are restricted: the apiserver has already put the cluster's default class in when there is one."
            }
            Rule::IngressHostnames => {
                "Every host of an Ingress (rules and TLS) matches an allowed hostname: exact, or `*.example.com` for any host under example.com. A rule without a host (it would serve every hostname) is refused when hostnames are restricted."
            }
            Rule::UniqueIngressHostnames => {
                "A host that another tenant's Ingress already serves (equal, or covered by a wildcard host with the Ingress semantics) is refused, without naming the other tenant. The webhook learns hosts from a watch of Ingresses, so two creates racing within a watch delay can both pass."
            }
            Rule::StorageClasses => {
                "A PersistentVolumeClaim (and a StatefulSet's volumeClaimTemplates) names an allowed StorageClass (`spec.storageClassName`, or the older annotation). One naming none is refused when classes are restricted: the apiserver has already put the cluster's default class in when there is one, and a claim left without one could be bound to a default class later."
            }
            Rule::PriorityClasses => {
                "A pod (or pod template) names an allowed PriorityClass, or none."
            }
            Rule::RuntimeClasses => {
                "A pod (or pod template) names an allowed RuntimeClass, or none."
            }
            Rule::NodeSelector => {
                "A pod's nodeSelector does not contradict the tenant's (same key, other value); the node-selector hook adds the tenant's entries to every pod."
            }
            Rule::Labels => {
                "The object (and its templates) carries no label the tenant may not set. The `mtp.dev/tenant` label with the tenant's own name is always allowed (mtp sets it)."
            }
            Rule::Annotations => {
                "The object (and its templates) carries no annotation the tenant may not set."
            }
        }
    }
}

/// What a check needs besides the tenant's guardrails.
#[derive(Debug, Clone, Copy)]
pub struct Context<'c> {
    /// The tenant the object belongs to.
    pub tenant: &'c str,
    /// The hosts of every tenant's Ingresses, for [`Rule::UniqueIngressHostnames`]; `None`
    /// skips that rule (offline checks).
    pub hosts: Option<&'c HostIndex>,
}

/// The kinds the guardrails apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A pod or a kind that carries a pod template.
    Pods(PodCarrier),
    /// A `v1` Service.
    Service,
    /// An Ingress (`networking.k8s.io` or `extensions`).
    Ingress,
    /// A `v1` PersistentVolumeClaim.
    Claim,
    /// A `v1` Namespace (labels and annotations only).
    Namespace,
}

impl Subject {
    /// The subject of an apiVersion and kind; `Ok(None)` for kinds no guardrail reads, an error
    /// for a kind its built-in group does not have.
    pub fn classify(api_version: &str, kind: &str) -> Result<Option<Subject>> {
        if let Some(carrier) = PodCarrier::classify(api_version, kind)? {
            return Ok(Some(Subject::Pods(carrier)));
        }
        Ok(match (group_of(api_version), kind) {
            ("", "Service") => Some(Subject::Service),
            ("", "PersistentVolumeClaim") => Some(Subject::Claim),
            ("", "Namespace") => Some(Subject::Namespace),
            ("networking.k8s.io" | "extensions", "Ingress") => Some(Subject::Ingress),
            _ => None,
        })
    }
}

impl Guardrails {
    /// Checks one object against every rule. Kinds no guardrail reads are `applicable: false`.
    ///
    /// ```
    /// use mtp_policy::guardrails::{Context, GuardrailSettings, Guardrails, Object};
    /// let settings: GuardrailSettings = serde_json::from_str(r#"{"allowedRegistries": ["ghcr.io/acme"]}"#).unwrap();
    /// let guardrails = Guardrails::compile(&settings).unwrap();
    /// let pod: Object = serde_json::from_str(r#"{"apiVersion": "v1", "kind": "Pod",
    ///     "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}"#).unwrap();
    /// let evaluation = guardrails.evaluate(&pod, &Context { tenant: "acme", hosts: None }).unwrap();
    /// assert_eq!(evaluation.violations[0].check, "allowedRegistries");
    /// assert_eq!(evaluation.violations[0].path, "spec.containers[0].image");
    /// ```
    pub fn evaluate(&self, object: &Object<'_>, ctx: &Context<'_>) -> Result<Evaluation> {
        self.evaluate_rules(object, ctx, &Rule::ALL)
    }

    /// Checks one object against `rules` only (the benches time each rule this way).
    pub fn evaluate_rules(
        &self,
        object: &Object<'_>,
        ctx: &Context<'_>,
        rules: &[Rule],
    ) -> Result<Evaluation> {
        let kind = object
            .kind
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or(Error::MissingKind)?;
        let api_version = object
            .api_version
            .as_deref()
            .filter(|v| !v.is_empty())
            .ok_or(Error::MissingApiVersion)?;
        let Some(subject) = Subject::classify(api_version, kind)? else {
            return Ok(Evaluation::not_applicable());
        };
        let mut out = Vec::new();
        for &rule in Rule::ALL.iter().filter(|r| rules.contains(r)) {
            self.apply(rule, subject, object, ctx, &mut out);
        }
        Ok(Evaluation {
            applicable: true,
            violations: out,
        })
    }

    fn apply(
        &self,
        rule: Rule,
        subject: Subject,
        object: &Object<'_>,
        ctx: &Context<'_>,
        out: &mut Vec<Violation>,
    ) {
        match (rule, subject) {
            (Rule::Labels, _) => self.metadata(object, ctx, true, out),
            (Rule::Annotations, _) => self.metadata(object, ctx, false, out),
            (
                Rule::Registries
                | Rule::PullAlways
                | Rule::PriorityClasses
                | Rule::RuntimeClasses
                | Rule::NodeSelector,
                Subject::Pods(carrier),
            ) => {
                let (_, spec_path) = carrier.paths();
                if let Some(spec) = pod_spec(object, carrier) {
                    self.pod(rule, spec, spec_path, out);
                }
            }
            (Rule::StorageClasses, Subject::Pods(PodCarrier::Workload)) => {
                let templates = object
                    .spec
                    .as_ref()
                    .and_then(|s| s.volume_claim_templates.as_ref());
                for (i, t) in templates.into_iter().flatten().enumerate() {
                    let path = format!("spec.volumeClaimTemplates[{i}]");
                    self.storage_class(t.metadata.as_ref(), t.spec.as_deref(), &path, out);
                }
            }
            (Rule::StorageClasses, Subject::Claim) => {
                self.storage_class(object.metadata.as_ref(), object.spec.as_ref(), "", out);
            }
            (Rule::ServiceTypes, Subject::Service) => {
                let service_type = object
                    .spec
                    .as_ref()
                    .and_then(|s| s.type_.as_deref())
                    .unwrap_or("ClusterIP");
                if !self.allows_service_type(service_type) {
                    let mut allowed = vec!["ClusterIP"];
                    allowed.extend(self.service_types.iter().map(|t| t.as_str()));
                    out.push(violation(
                        rule,
                        "spec.type".to_owned(),
                        format!(
                            "Service type {service_type} is not allowed for tenant {}; allowed: {}",
                            ctx.tenant,
                            allowed.join(", ")
                        ),
                    ));
                }
            }
            (Rule::ExternalIps, Subject::Service) => {
                let ips = object.spec.as_ref().and_then(|s| s.external_ips.as_ref());
                if let Some(ips) = ips.filter(|ips| !ips.is_empty()) {
                    let ips: Vec<&str> = ips.iter().map(|ip| &**ip).collect();
                    out.push(violation(
                        rule,
                        "spec.externalIPs".to_owned(),
                        format!(
                            "spec.externalIPs ({}) is never allowed: it lets a Service take traffic for any address (CVE-2020-8554)",
                            ips.join(", ")
                        ),
                    ));
                }
            }
            (Rule::IngressClasses, Subject::Ingress) => self.ingress_class(object, out),
            (Rule::IngressHostnames, Subject::Ingress) => self.ingress_hosts(object, out),
            (Rule::UniqueIngressHostnames, Subject::Ingress) => {
                let Some(index) = ctx.hosts else { return };
                let mut seen: Vec<&str> = Vec::new();
                for (path, host) in hosts(object) {
                    let Some(host) = host else { continue };
                    if seen.contains(&host) {
                        continue;
                    }
                    seen.push(host);
                    if index.conflict(ctx.tenant, host).is_some() {
                        out.push(violation(
                            rule,
                            path.path(),
                            format!("host {host} is already served by another tenant's Ingress"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    fn pod(&self, rule: Rule, spec: &Spec<'_>, spec_path: &str, out: &mut Vec<Violation>) {
        match rule {
            Rule::Registries | Rule::PullAlways => {
                for (list, containers) in [
                    ("containers", &spec.containers),
                    ("initContainers", &spec.init_containers),
                    ("ephemeralContainers", &spec.ephemeral_containers),
                ] {
                    for (i, c) in containers.iter().flatten().enumerate() {
                        let at = |field: &str| format!("{spec_path}.{list}[{i}].{field}");
                        if rule == Rule::Registries {
                            self.image(c, at("image"), out);
                        } else {
                            self.pull_policy(c, at("imagePullPolicy"), out);
                        }
                    }
                }
            }
            Rule::PriorityClasses => class(
                rule,
                "PriorityClass",
                self.priority_classes.as_deref(),
                spec.priority_class_name.as_deref(),
                format!("{spec_path}.priorityClassName"),
                false,
                out,
            ),
            Rule::RuntimeClasses => class(
                rule,
                "RuntimeClass",
                self.runtime_classes.as_deref(),
                spec.runtime_class_name.as_deref(),
                format!("{spec_path}.runtimeClassName"),
                false,
                out,
            ),
            Rule::NodeSelector => {
                let Some(selector) = spec.node_selector.as_ref() else {
                    return;
                };
                for (key, want) in &self.node_selector {
                    match selector.get(key) {
                        Some(got) if got != want => out.push(violation(
                            rule,
                            format!("{spec_path}.nodeSelector[{key:?}]"),
                            format!(
                                "nodeSelector {key}={got} contradicts the tenant's {key}={want} (its pods run on its own nodes)"
                            ),
                        )),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn image(&self, c: &Container<'_>, path: String, out: &mut Vec<Violation>) {
        let Some(patterns) = &self.registries else {
            return;
        };
        // A container without an image is the apiserver's to refuse.
        let Some(image) = c.image.as_deref() else {
            return;
        };
        let name = c.name.as_deref().unwrap_or("");
        match ImageRef::parse(image) {
            Err(e) => out.push(violation(
                Rule::Registries,
                path,
                format!("container {name:?}: {e}"),
            )),
            Ok(reference) => {
                if !patterns.iter().any(|p| p.matches(&reference)) {
                    let allowed: Vec<&str> = patterns.iter().map(|p| p.as_str()).collect();
                    out.push(violation(
                        Rule::Registries,
                        path,
                        format!(
                            "container {name:?}: image {image} ({}) is not from an allowed registry; allowed: {}",
                            reference.repository(),
                            none_if_empty(&allowed)
                        ),
                    ));
                }
            }
        }
    }

    fn pull_policy(&self, c: &Container<'_>, path: String, out: &mut Vec<Violation>) {
        if !self.require_pull_always {
            return;
        }
        let name = c.name.as_deref().unwrap_or("");
        let (policy, defaulted) = match c.image_pull_policy.as_deref() {
            Some(p) => (p, false),
            None => match c.image.as_deref().map(ImageRef::parse) {
                Some(Ok(reference)) => (reference.default_pull_policy(), true),
                // No image, or no valid one: allowedRegistries or the apiserver says so.
                _ => return,
            },
        };
        if policy != "Always" {
            let how = if defaulted {
                " (the apiserver's default for this image)"
            } else {
                ""
            };
            out.push(violation(
                Rule::PullAlways,
                path,
                format!(
                    "container {name:?}: imagePullPolicy {policy}{how}; this tenant requires Always"
                ),
            ));
        }
    }

    fn storage_class(
        &self,
        meta: Option<&Meta<'_>>,
        spec: Option<&Spec<'_>>,
        prefix: &str,
        out: &mut Vec<Violation>,
    ) {
        const ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";
        let at = |field: &str| {
            if prefix.is_empty() {
                field.to_owned()
            } else {
                format!("{prefix}.{field}")
            }
        };
        let annotated = meta.and_then(|m| m.annotations.get(ANNOTATION));
        if let Some(name) = annotated {
            class(
                Rule::StorageClasses,
                "StorageClass",
                self.storage_classes.as_deref(),
                Some(name),
                at(&format!("metadata.annotations[{ANNOTATION:?}]")),
                true,
                out,
            );
        }
        let field = spec.and_then(|s| s.storage_class_name.as_deref());
        if field.is_some() || annotated.is_none() {
            class(
                Rule::StorageClasses,
                "StorageClass",
                self.storage_classes.as_deref(),
                field,
                at("spec.storageClassName"),
                true,
                out,
            );
        }
    }

    fn ingress_class(&self, object: &Object<'_>, out: &mut Vec<Violation>) {
        const ANNOTATION: &str = "kubernetes.io/ingress.class";
        let annotated = object
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.get(ANNOTATION));
        let field = object
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref());
        if let Some(name) = annotated {
            class(
                Rule::IngressClasses,
                "IngressClass",
                self.ingress_classes.as_deref(),
                Some(name),
                format!("metadata.annotations[{ANNOTATION:?}]"),
                true,
                out,
            );
        }
        if field.is_some() || annotated.is_none() {
            class(
                Rule::IngressClasses,
                "IngressClass",
                self.ingress_classes.as_deref(),
                field,
                "spec.ingressClassName".to_owned(),
                true,
                out,
            );
        }
    }

    fn ingress_hosts(&self, object: &Object<'_>, out: &mut Vec<Violation>) {
        let Some(patterns) = &self.ingress_hostnames else {
            return;
        };
        let allowed = || {
            let list: Vec<&str> = patterns.iter().map(|p| p.as_str()).collect();
            none_if_empty(&list)
        };
        for (at, host) in hosts(object) {
            match host {
                None => out.push(violation(
                    Rule::IngressHostnames,
                    at.path(),
                    format!(
                        "a rule without a host serves every hostname; set one of: {}",
                        allowed()
                    ),
                )),
                Some(host) if !patterns.iter().any(|p| p.matches(host)) => out.push(violation(
                    Rule::IngressHostnames,
                    at.path(),
                    format!(
                        "host {host} is not allowed for this tenant; allowed: {}",
                        allowed()
                    ),
                )),
                Some(_) => {}
            }
        }
    }

    fn metadata(
        &self,
        object: &Object<'_>,
        ctx: &Context<'_>,
        labels: bool,
        out: &mut Vec<Violation>,
    ) {
        let patterns = if labels {
            &self.forbidden_labels
        } else {
            &self.forbidden_annotations
        };
        if patterns.is_empty() {
            return;
        }
        let mut check = |meta: Option<&Meta<'_>>, path: &str| {
            let Some(meta) = meta else { return };
            let (pairs, field) = if labels {
                (&meta.labels, "labels")
            } else {
                (&meta.annotations, "annotations")
            };
            for (key, value) in &pairs.0 {
                if labels && **key == *crate::TENANT_LABEL && **value == *ctx.tenant {
                    continue;
                }
                if let Some(p) = patterns.iter().find(|p| p.matches(key)) {
                    let (rule, what) = if labels {
                        (Rule::Labels, "label")
                    } else {
                        (Rule::Annotations, "annotation")
                    };
                    out.push(violation(
                        rule,
                        format!("{path}.{field}[{:?}]", &**key),
                        format!(
                            "{what} {} is reserved: tenant {} may not set it ({} {})",
                            &**key,
                            ctx.tenant,
                            rule.id(),
                            KeyPattern::as_str(p)
                        ),
                    ));
                }
            }
        };
        check(object.metadata.as_ref(), "metadata");
        let spec = object.spec.as_ref();
        if let Some(t) = spec.and_then(|s| s.template.as_deref()) {
            check(t.metadata.as_ref(), "spec.template.metadata");
        }
        if let Some(t) = object.template.as_ref() {
            check(t.metadata.as_ref(), "template.metadata");
        }
        if let Some(j) = spec.and_then(|s| s.job_template.as_deref()) {
            check(j.metadata.as_ref(), "spec.jobTemplate.metadata");
            if let Some(t) = j.spec.as_deref().and_then(|s| s.template.as_deref()) {
                check(
                    t.metadata.as_ref(),
                    "spec.jobTemplate.spec.template.metadata",
                );
            }
        }
        for (i, t) in spec
            .and_then(|s| s.volume_claim_templates.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            check(
                t.metadata.as_ref(),
                &format!("spec.volumeClaimTemplates[{i}].metadata"),
            );
        }
    }
}

/// The pod spec of a pod-carrying object.
fn pod_spec<'o, 'a>(object: &'o Object<'a>, carrier: PodCarrier) -> Option<&'o Spec<'a>> {
    match carrier {
        PodCarrier::Pod => object.spec.as_ref(),
        PodCarrier::PodTemplate => object.template.as_ref()?.spec.as_deref(),
        PodCarrier::Workload => object.spec.as_ref()?.template.as_deref()?.spec.as_deref(),
        PodCarrier::CronJob => object
            .spec
            .as_ref()?
            .job_template
            .as_deref()?
            .spec
            .as_deref()?
            .template
            .as_deref()?
            .spec
            .as_deref(),
    }
}

/// Where a host of an Ingress is written; its path is formatted only for a violation.
#[derive(Debug, Clone, Copy)]
enum HostAt {
    /// `spec.rules[i].host`.
    Rule(usize),
    /// `spec.tls[i].hosts[j]`.
    Tls(usize, usize),
}

impl HostAt {
    fn path(self) -> String {
        match self {
            HostAt::Rule(i) => format!("spec.rules[{i}].host"),
            HostAt::Tls(i, j) => format!("spec.tls[{i}].hosts[{j}]"),
        }
    }
}

/// The hosts of an Ingress with where they are: each rule's host (`None`: a rule without one)
/// and each TLS host.
fn hosts<'o>(object: &'o Object<'_>) -> impl Iterator<Item = (HostAt, Option<&'o str>)> + 'o {
    let spec = object.spec.as_ref();
    let rules = spec
        .and_then(|s| s.rules.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, rule)| {
            let host = rule.host.as_deref().filter(|h| !h.is_empty());
            (HostAt::Rule(i), host)
        });
    let tls = spec
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
        .flat_map(|(i, tls)| {
            tls.hosts
                .iter()
                .flatten()
                .enumerate()
                .filter(|(_, h)| !h.is_empty())
                .map(move |(j, h)| (HostAt::Tls(i, j), Some(&**h)))
        });
    rules.chain(tls)
}

/// The hosts an Ingress serves, for the cross-tenant index (rules and TLS, without repeats).
pub fn ingress_hosts<'o>(object: &'o Object<'_>) -> Vec<&'o str> {
    let mut out: Vec<&str> = Vec::new();
    for (_, host) in hosts(object) {
        if let Some(h) = host
            && !out.contains(&h)
        {
            out.push(h);
        }
    }
    out
}

fn violation(rule: Rule, path: String, message: String) -> Violation {
    Violation {
        check: rule.id(),
        path,
        container: None,
        message,
    }
}

fn none_if_empty(allowed: &[&str]) -> String {
    if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed.join(", ")
    }
}

/// An allow-list of class names: `name` must be on it when it is set; `required`: a missing
/// name is refused too (the apiserver fills in the default class before webhooks run, so a
/// missing one means the cluster has no default).
fn class(
    rule: Rule,
    what: &str,
    allowed: Option<&[String]>,
    name: Option<&str>,
    path: String,
    required: bool,
    out: &mut Vec<Violation>,
) {
    let Some(allowed) = allowed else { return };
    let list: Vec<&str> = allowed.iter().map(String::as_str).collect();
    match name {
        Some(name) if list.contains(&name) => {}
        Some(name) => out.push(violation(
            rule,
            path,
            format!(
                "{what} {name:?} is not allowed for this tenant; allowed: {}",
                none_if_empty(&list)
            ),
        )),
        None if required => out.push(violation(
            rule,
            path,
            format!(
                "no {what} is named and the cluster set no default; name one of: {}",
                none_if_empty(&list)
            ),
        )),
        None => {}
    }
}
