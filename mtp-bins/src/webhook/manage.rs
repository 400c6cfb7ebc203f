//! `mtp-webhook serve --manage`: in the cluster, the webhook keeps its own TLS Secret, Service and
//! webhook configurations right with server-side apply, and rotates its certificate.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use mtp_policy::admission::{Registry, Target};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::{info, warn};

use super::certs::{self, CertBundle, CertPaths};
use super::serve::ServeArgs;

/// The field manager of every object the webhook applies.
pub const FIELD_MANAGER: &str = "mtp-webhook";
/// The annotation on the TLS Secret that records when its certificate expires.
pub const NOT_AFTER_ANNOTATION: &str = "mtp.dev/not-after";
pub use super::SECRET_NAME;

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "mtp-webhook".to_owned(),
        ),
        ("app.kubernetes.io/managed-by".to_owned(), "mtp".to_owned()),
    ])
}

/// The bundle in `secret`, if complete and not within 30 days of expiry at `now`.
pub fn usable_bundle(secret: &Secret, now: OffsetDateTime) -> Option<CertBundle> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| {
        data.get(key)
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
            .filter(|s| !s.is_empty())
    };
    let not_after = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(NOT_AFTER_ANNOTATION))
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())?;
    if not_after - now < certs::RENEW_BEFORE {
        return None;
    }
    Some(CertBundle {
        ca_pem: text("ca.crt")?,
        cert_pem: text("tls.crt")?,
        key_pem: text("tls.key")?,
        not_after,
    })
}

fn secret(namespace: &str, bundle: &CertBundle) -> anyhow::Result<Secret> {
    let not_after = bundle.not_after.format(&Rfc3339)?;
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(SECRET_NAME.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels()),
            annotations: Some(BTreeMap::from([(
                NOT_AFTER_ANNOTATION.to_owned(),
                not_after,
            )])),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(BTreeMap::from([
            (
                "ca.crt".to_owned(),
                ByteString(bundle.ca_pem.clone().into_bytes()),
            ),
            (
                "tls.crt".to_owned(),
                ByteString(bundle.cert_pem.clone().into_bytes()),
            ),
            (
                "tls.key".to_owned(),
                ByteString(bundle.key_pem.clone().into_bytes()),
            ),
        ])),
        ..Secret::default()
    })
}

fn service(args: &ServeArgs) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(args.service_name.clone()),
            namespace: Some(args.platform_namespace.clone()),
            labels: Some(labels()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([(
                "app.kubernetes.io/name".to_owned(),
                "mtp-webhook".to_owned(),
            )])),
            ports: Some(vec![ServicePort {
                name: Some("https".to_owned()),
                port: 443,
                protocol: Some("TCP".to_owned()),
                target_port: Some(IntOrString::Int(i32::from(args.listen.port()))),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Ensures the TLS Secret (generated when missing or within 30 days of expiry), writes the
/// certificate into the cert dir, and applies the Service and both webhook configurations with
/// the current CA bundle. Idempotent: run at start and on every rotation check.
pub async fn ensure(
    client: &Client,
    args: &ServeArgs,
    registry: &Registry,
) -> anyhow::Result<CertBundle> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &args.platform_namespace);
    let existing = secrets
        .get_opt(SECRET_NAME)
        .await
        .context("cannot read the TLS Secret")?;
    let bundle = match existing
        .as_ref()
        .and_then(|s| usable_bundle(s, OffsetDateTime::now_utc()))
    {
        Some(bundle) => bundle,
        None => {
            let bundle = certs::generate(&args.dns_names())?;
            secrets
                .patch(
                    SECRET_NAME,
                    &params,
                    &Patch::Apply(&secret(&args.platform_namespace, &bundle)?),
                )
                .await
                .context("cannot apply the TLS Secret")?;
            info!(not_after = %bundle.not_after, "generated and stored a new webhook certificate");
            bundle
        }
    };
    let paths = CertPaths::in_dir(&args.cert_dir);
    let on_disk = std::fs::read_to_string(&paths.cert).ok();
    if on_disk.as_deref() != Some(bundle.cert_pem.as_str()) {
        certs::write(&bundle, &paths)?;
    }
    let services: Api<Service> = Api::namespaced(client.clone(), &args.platform_namespace);
    services
        .patch(&args.service_name, &params, &Patch::Apply(&service(args)))
        .await
        .context("cannot apply the webhook Service")?;
    let target = Target::service(&args.platform_namespace, &args.service_name)
        .with_ca_bundle(bundle.ca_pem.clone().into_bytes());
    let validating = registry.validating_configuration(&target);
    let mutating = registry.mutating_configuration(&target);
    let name = target.configuration_name.clone();
    Api::<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration>::all(
        client.clone(),
    )
    .patch(&name, &params, &Patch::Apply(&validating))
    .await
    .context("cannot apply the ValidatingWebhookConfiguration")?;
    Api::<k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration>::all(
        client.clone(),
    )
    .patch(&name, &params, &Patch::Apply(&mutating))
    .await
    .context("cannot apply the MutatingWebhookConfiguration")?;
    Ok(bundle)
}

/// Checks every hour whether the certificate needs rotating (and re-applies the objects).
pub async fn rotate_forever(client: Client, args: ServeArgs, registry: Registry) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = ensure(&client, &args, &registry).await {
            warn!(error = %crate::telemetry::error_chain(&e), "cannot refresh the webhook's certificate and configurations; retrying in an hour");
        }
    }
}
