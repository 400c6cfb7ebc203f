//! The webhook configurations and the docs, generated from the registry.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ServiceReference,
    ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;

use super::{FailurePolicy, MatchPolicy, Registry, Rule, SideEffects, Webhook, WebhookKind};

/// Where the apiserver reaches the webhooks, and the CA it trusts them with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name of both configurations.
    pub configuration_name: String,
    /// A Service (in-cluster) or a URL (outside).
    pub endpoint: Endpoint,
    /// PEM bundle of the CA that signed the serving certificate.
    pub ca_bundle: Option<Vec<u8>>,
}

/// How the apiserver reaches the webhook server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Service in the cluster.
    Service {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its port (443 when `None`).
        port: Option<i32>,
    },
    /// A base URL (`https://host:port`); each hook's path is appended.
    Url(String),
}

impl Target {
    /// The Service `name` in `namespace`, port 443.
    pub fn service(namespace: impl Into<String>, name: impl Into<String>) -> Target {
        Target {
            configuration_name: "mtp".to_owned(),
            endpoint: Endpoint::Service {
                namespace: namespace.into(),
                name: name.into(),
                port: None,
            },
            ca_bundle: None,
        }
    }

    /// A base URL such as `https://10.0.0.5:8443`.
    pub fn url(base: impl Into<String>) -> Target {
        Target {
            configuration_name: "mtp".to_owned(),
            endpoint: Endpoint::Url(base.into()),
            ca_bundle: None,
        }
    }

    /// With the CA bundle (PEM).
    pub fn with_ca_bundle(mut self, pem: Vec<u8>) -> Target {
        self.ca_bundle = Some(pem);
        self
    }

    /// With the configurations named `name`.
    pub fn named(mut self, name: impl Into<String>) -> Target {
        self.configuration_name = name.into();
        self
    }

    fn client_config(&self, path: &str) -> WebhookClientConfig {
        let ca_bundle = self.ca_bundle.clone().map(ByteString);
        match &self.endpoint {
            Endpoint::Service {
                namespace,
                name,
                port,
            } => WebhookClientConfig {
                ca_bundle,
                service: Some(ServiceReference {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    path: Some(path.to_owned()),
                    port: *port,
                }),
                url: None,
            },
            Endpoint::Url(base) => WebhookClientConfig {
                ca_bundle,
                service: None,
                url: Some(format!("{}{path}", base.trim_end_matches('/'))),
            },
        }
    }

    fn metadata(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.configuration_name.clone()),
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/managed-by".to_owned(), "mtp".to_owned()),
                (
                    "app.kubernetes.io/name".to_owned(),
                    "mtp-webhook".to_owned(),
                ),
            ])),
            ..ObjectMeta::default()
        }
    }
}

fn failure_policy(p: FailurePolicy) -> String {
    match p {
        FailurePolicy::Fail => "Fail",
        FailurePolicy::Ignore => "Ignore",
    }
    .to_owned()
}

fn side_effects(s: SideEffects) -> String {
    match s {
        SideEffects::None => "None",
        SideEffects::NoneOnDryRun => "NoneOnDryRun",
    }
    .to_owned()
}

fn match_policy(m: MatchPolicy) -> String {
    match m {
        MatchPolicy::Exact => "Exact",
        MatchPolicy::Equivalent => "Equivalent",
    }
    .to_owned()
}

fn rules(rules: &[Rule]) -> Vec<RuleWithOperations> {
    rules
        .iter()
        .map(|r| RuleWithOperations {
            operations: Some(r.operations.iter().map(|o| o.as_str().to_owned()).collect()),
            api_groups: Some(r.api_groups.clone()),
            api_versions: Some(r.api_versions.clone()),
            resources: Some(r.resources.clone()),
            scope: Some(r.scope.as_str().to_owned()),
        })
        .collect()
}

impl Registry {
    /// The `ValidatingWebhookConfiguration` of every validating hook.
    pub fn validating_configuration(&self, target: &Target) -> ValidatingWebhookConfiguration {
        let webhooks = self
            .hooks
            .iter()
            .filter(|h| h.kind() == WebhookKind::Validating)
            .map(|h| ValidatingWebhook {
                name: h.name().to_owned(),
                admission_review_versions: vec!["v1".to_owned()],
                client_config: target.client_config(h.path()),
                failure_policy: Some(failure_policy(h.failure_policy())),
                match_policy: Some(match_policy(h.match_policy())),
                namespace_selector: h.namespace_selector(),
                object_selector: h.object_selector(),
                rules: Some(rules(&h.rules())),
                side_effects: side_effects(h.side_effects()),
                timeout_seconds: Some(h.timeout_seconds()),
                ..ValidatingWebhook::default()
            })
            .collect();
        ValidatingWebhookConfiguration {
            metadata: target.metadata(),
            webhooks: Some(webhooks),
        }
    }

    /// The `MutatingWebhookConfiguration` of every mutating hook.
    pub fn mutating_configuration(&self, target: &Target) -> MutatingWebhookConfiguration {
        let webhooks = self
            .hooks
            .iter()
            .filter(|h| h.kind() == WebhookKind::Mutating)
            .map(|h| MutatingWebhook {
                name: h.name().to_owned(),
                admission_review_versions: vec!["v1".to_owned()],
                client_config: target.client_config(h.path()),
                failure_policy: Some(failure_policy(h.failure_policy())),
                match_policy: Some(match_policy(h.match_policy())),
                namespace_selector: h.namespace_selector(),
                object_selector: h.object_selector(),
                reinvocation_policy: Some("Never".to_owned()),
                rules: Some(rules(&h.rules())),
                side_effects: side_effects(h.side_effects()),
                timeout_seconds: Some(h.timeout_seconds()),
                ..MutatingWebhook::default()
            })
            .collect();
        MutatingWebhookConfiguration {
            metadata: target.metadata(),
            webhooks: Some(webhooks),
        }
    }

    /// Machine-readable docs of every hook.
    pub fn docs(&self) -> Vec<WebhookDoc> {
        self.hooks.iter().map(|h| WebhookDoc::of(&**h)).collect()
    }
}

/// The docs of one hook.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDoc {
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Validating or mutating.
    pub kind: WebhookKind,
    /// Rules.
    pub rules: Vec<Rule>,
    /// Namespace selector.
    pub namespace_selector: Option<LabelSelector>,
    /// Object selector.
    pub object_selector: Option<LabelSelector>,
    /// Failure policy.
    pub failure_policy: FailurePolicy,
    /// Side effects.
    pub side_effects: SideEffects,
    /// Timeout.
    pub timeout_seconds: i32,
    /// Match policy.
    pub match_policy: MatchPolicy,
    /// What it does and why.
    pub doc: String,
    /// The checks it makes, each with the id its denials name (absent when it lists none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckDoc>,
}

/// One check a hook makes: the id its denials and metrics name, and what it refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckDoc {
    /// The check id (`allowedRegistries`).
    pub id: String,
    /// What it refuses.
    pub doc: String,
}

impl WebhookDoc {
    fn of(h: &dyn Webhook) -> WebhookDoc {
        WebhookDoc {
            name: h.name().to_owned(),
            path: h.path().to_owned(),
            kind: h.kind(),
            rules: h.rules(),
            namespace_selector: h.namespace_selector(),
            object_selector: h.object_selector(),
            failure_policy: h.failure_policy(),
            side_effects: h.side_effects(),
            timeout_seconds: h.timeout_seconds(),
            match_policy: h.match_policy(),
            doc: h.doc().to_owned(),
            checks: h.checks(),
        }
    }
}
