//! The objects of an installation, as JSON values (validated against the official schemas by
//! `mtp-bins/tests/install_render.rs`). Why each RBAC verb is granted: docs/install.md.

use kube::CustomResourceExt as _;
use mtp_core::Tenant;
use mtp_policy::admission::Target;
use serde_json::{Value, json};

use super::{InstallArgs, InstallError, Part, Rendered};

/// The API server's name (ServiceAccount, Deployment, Service, ClusterRole).
pub const APISERVER: &str = "mtp-apiserver";
/// The controller's name.
pub const CONTROLLER: &str = "mtp-controller";
/// The webhook's name (must be `mtp-webhook`'s `--service-name` default: `--manage` applies the
/// same Service).
pub const WEBHOOK: &str = "mtp-webhook";
/// Dex's name.
pub const DEX: &str = "dex";
/// The image holding every mtp binary.
pub const IMAGE_NAME: &str = "mtp";
/// The Secret (created by the operator, never rendered) with the database URL under key `url`.
pub const DATABASE_SECRET: &str = "mtp-database";
/// The Secret (created by the operator) whose keys become the API server's environment:
/// `MTP_AUTH_MODE`, `MTP_OIDC_ISSUER_URL`, `MTP_OIDC_AUDIENCE`, `MTP_OIDC_PUBLIC_CLIENT_ID`, ...
pub const AUTH_SECRET: &str = "mtp-auth";
/// The Secret (created by the operator) with Dex's first user: keys `admin-email` and
/// `admin-password-hash` (bcrypt).
pub const DEX_SECRET: &str = "mtp-dex";

pub use crate::API_KEYS_SECRET;
/// Where the API keys file is mounted.
const API_KEYS_FILE: &str = "/etc/mtp/api-keys/api-keys";

/// The webhook's TLS Secret, kept by `mtp-webhook serve --manage`.
const WEBHOOK_TLS_SECRET: &str = crate::webhook::SECRET_NAME;
/// The name of both webhook configurations (`mtp-webhook manifests --name` default).
const WEBHOOK_CONFIGURATION: &str = "mtp";
/// The user of every mtp container (distroless `nonroot`).
const NONROOT: i64 = 65532;
/// Dex's image.
const DEX_IMAGE: &str = "ghcr.io/dexidp/dex:v2.41.1";
/// The user Dex's image runs as.
const DEX_USER: i64 = 1001;
/// The port of every mtp plain-HTTP listener (API, probes, metrics).
const HTTP_PORT: i64 = 8080;
/// The webhook's HTTPS port.
const WEBHOOK_PORT: i64 = 8443;
/// Dex's HTTP port.
const DEX_PORT: i64 = 5556;

fn labels(component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/part-of": "mtp",
        "app.kubernetes.io/managed-by": "mtp",
    })
}

fn selector(component: &str) -> Value {
    json!({ "app.kubernetes.io/name": component })
}

fn meta(name: &str, namespace: Option<&str>, component: &str) -> Value {
    let mut m = json!({ "name": name, "labels": labels(component) });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn image(args: &InstallArgs) -> String {
    format!("{}/{IMAGE_NAME}:{}", args.image_registry, args.image_tag)
}

/// The security context every container gets: passes the `restricted` and `mtp` profiles.
fn container_security() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

fn pod_security(user: i64) -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": user,
        "runAsGroup": user,
        "fsGroup": user,
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

fn resources(cpu_req: &str, mem_req: &str, cpu_lim: &str, mem_lim: &str) -> Value {
    json!({
        "requests": { "cpu": cpu_req, "memory": mem_req },
        "limits": { "cpu": cpu_lim, "memory": mem_lim },
    })
}

fn http_probe(path: &str, port: &str) -> Value {
    json!({ "httpGet": { "path": path, "port": port }, "periodSeconds": 10, "timeoutSeconds": 3 })
}

fn anti_affinity(component: &str) -> Value {
    json!({
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": { "matchLabels": selector(component) },
                },
            }],
        },
    })
}

struct DeploymentSpec<'a> {
    name: &'a str,
    namespace: &'a str,
    replicas: i32,
    user: i64,
    container: Value,
    volumes: Value,
    metrics_port: Option<i64>,
}

fn deployment(d: DeploymentSpec<'_>) -> Value {
    let mut annotations = json!({});
    if let Some(port) = d.metrics_port {
        annotations = json!({
            "prometheus.io/scrape": "true",
            "prometheus.io/port": port.to_string(),
            "prometheus.io/path": "/metrics",
        });
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(d.name, Some(d.namespace), d.name),
        "spec": {
            "replicas": d.replicas,
            "revisionHistoryLimit": 5,
            "selector": { "matchLabels": selector(d.name) },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 0, "maxSurge": 1 } },
            "template": {
                "metadata": { "labels": labels(d.name), "annotations": annotations },
                "spec": {
                    "serviceAccountName": d.name,
                    "automountServiceAccountToken": true,
                    "enableServiceLinks": false,
                    "securityContext": pod_security(d.user),
                    "affinity": anti_affinity(d.name),
                    "terminationGracePeriodSeconds": 40,
                    "containers": [d.container],
                    "volumes": d.volumes,
                },
            },
        },
    })
}

fn service_account(name: &str, namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(name, Some(namespace), name),
    })
}

fn cluster_role(name: &str, component: &str, rules: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta(name, None, component),
        "rules": rules,
    })
}

fn role(name: &str, namespace: &str, component: &str, rules: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta(name, Some(namespace), component),
        "rules": rules,
    })
}

fn binding(kind: &str, name: &str, namespace: Option<&str>, component: &str, sa_ns: &str) -> Value {
    let (binding_kind, role_kind) = match kind {
        "ClusterRole" => ("ClusterRoleBinding", "ClusterRole"),
        _ => ("RoleBinding", "Role"),
    };
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": binding_kind,
        "metadata": meta(name, namespace, component),
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name },
        "subjects": [{ "kind": "ServiceAccount", "name": component, "namespace": sa_ns }],
    })
}

fn service(name: &str, namespace: &str, port: i64, target: &str, port_name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, Some(namespace), name),
        "spec": {
            "selector": selector(name),
            "ports": [{ "name": port_name, "port": port, "protocol": "TCP", "targetPort": target }],
        },
    })
}

fn tmp_volume() -> Value {
    json!({ "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } })
}

fn tmp_mount() -> Value {
    json!({ "name": "tmp", "mountPath": "/tmp" })
}

fn database_env() -> Value {
    json!({
        "name": "MTP_DATABASE_URL",
        "valueFrom": { "secretKeyRef": { "name": DATABASE_SECRET, "key": "url" } },
    })
}

fn namespace_objects(args: &InstallArgs) -> Vec<Value> {
    let ns = args.namespace.as_str();
    let np = |name: &str, pod_selector: Value, ingress: Value| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(name, Some(ns), "mtp"),
            "spec": {
                "podSelector": pod_selector,
                "policyTypes": ["Ingress"],
                "ingress": ingress,
            },
        })
    };
    let from_anywhere = |ports: &[i64]| {
        let ports: Vec<Value> = ports
            .iter()
            .map(|p| json!({ "protocol": "TCP", "port": p }))
            .collect();
        json!([{ "ports": ports }])
    };
    let mut out = vec![
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": ns,
                "labels": {
                    "app.kubernetes.io/part-of": "mtp",
                    "app.kubernetes.io/managed-by": "mtp",
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            },
        }),
        // Nothing reaches a platform pod unless a policy below lets it.
        np("mtp-default-deny-ingress", json!({}), json!([])),
        // Users and gateways call the API from anywhere; Prometheus scrapes /metrics there too.
        np(
            "mtp-apiserver-ingress",
            json!({ "matchLabels": selector(APISERVER) }),
            from_anywhere(&[HTTP_PORT]),
        ),
        // The Kubernetes apiserver calls the webhook; its source address is not a pod, so the
        // port is open to every source. The probe port serves /metrics.
        np(
            "mtp-webhook-ingress",
            json!({ "matchLabels": selector(WEBHOOK) }),
            from_anywhere(&[WEBHOOK_PORT, HTTP_PORT]),
        ),
        // Only /metrics, /healthz and /readyz listen on the controller.
        np(
            "mtp-controller-ingress",
            json!({ "matchLabels": selector(CONTROLLER) }),
            from_anywhere(&[HTTP_PORT]),
        ),
    ];
    if args.with_dex {
        out.push(np(
            "dex-ingress",
            json!({ "matchLabels": selector(DEX) }),
            from_anywhere(&[DEX_PORT]),
        ));
    }
    out
}

fn apiserver_objects(args: &InstallArgs) -> Vec<Value> {
    let ns = args.namespace.as_str();
    let mut env = vec![
        database_env(),
        json!({ "name": "MTP_API_KEYS_FILE", "value": API_KEYS_FILE }),
    ];
    if args.with_dex {
        for (name, value) in [
            ("MTP_AUTH_MODE", "oidc".to_owned()),
            ("MTP_OIDC_ISSUER_URL", dex_issuer(ns)),
            ("MTP_OIDC_AUDIENCE", "mtpctl".to_owned()),
            ("MTP_OIDC_PUBLIC_CLIENT_ID", "mtpctl".to_owned()),
            ("MTP_OIDC_USERNAME_CLAIM", "email".to_owned()),
        ] {
            env.push(json!({ "name": name, "value": value }));
        }
    }
    let container = json!({
        "name": APISERVER,
        "image": image(args),
        "imagePullPolicy": "IfNotPresent",
        "command": ["/usr/local/bin/mtp-apiserver"],
        "args": [
            format!("--listen=0.0.0.0:{HTTP_PORT}"),
            "--log-format=json",
            "--cluster-status=auto",
        ],
        "env": env,
        // Explicit `env` above wins over the Secret's keys.
        "envFrom": [{ "secretRef": { "name": AUTH_SECRET, "optional": args.with_dex } }],
        "ports": [{ "name": "http", "containerPort": HTTP_PORT, "protocol": "TCP" }],
        "readinessProbe": http_probe("/readyz", "http"),
        "livenessProbe": http_probe("/healthz", "http"),
        "resources": resources("100m", "128Mi", "1", "512Mi"),
        "securityContext": container_security(),
        "volumeMounts": [
            { "name": "api-keys", "mountPath": "/etc/mtp/api-keys", "readOnly": true },
            tmp_mount(),
        ],
    });
    vec![
        service_account(APISERVER, ns),
        // Reads a Tenant's status (conditions, namespaces) to show it in the API.
        cluster_role(
            APISERVER,
            APISERVER,
            json!([{ "apiGroups": ["mtp.dev"], "resources": ["tenants"], "verbs": ["get"] }]),
        ),
        binding("ClusterRole", APISERVER, None, APISERVER, ns),
        deployment(DeploymentSpec {
            name: APISERVER,
            namespace: ns,
            replicas: args.replicas,
            user: NONROOT,
            container,
            volumes: json!([
                {
                    "name": "api-keys",
                    "secret": {
                        "secretName": API_KEYS_SECRET,
                        "optional": true,
                        "items": [{ "key": "api-keys", "path": "api-keys" }],
                    },
                },
                tmp_volume(),
            ]),
            metrics_port: Some(HTTP_PORT),
        }),
        service(APISERVER, ns, 80, "http", "http"),
        json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta(APISERVER, Some(ns), APISERVER),
            "spec": { "maxUnavailable": 1, "selector": { "matchLabels": selector(APISERVER) } },
        }),
    ]
}

fn controller_objects(args: &InstallArgs) -> Vec<Value> {
    let ns = args.namespace.as_str();
    // Exactly the verbs the controller's calls need; `mtp-bins/tests/rbac_shipped.rs` holds
    // every call its mocked-apiserver flows make against these rules, and fails on a verb no
    // call uses. The plan's objects are kept with server-side apply, which the apiserver
    // authorizes as `patch` and, when the object does not exist yet, also as `create`
    // (`PatchResource`'s `createAuthorizerAttributes`, in
    // k8s.io/apiserver/pkg/endpoints/handlers/patch.go); the caches list and watch them; the
    // prune deletes them.
    let owned = |group: &str, resources: &[&str]| {
        json!({
            "apiGroups": [group],
            "resources": resources,
            "verbs": ["list", "watch", "create", "patch", "delete"],
        })
    };
    let rules = json!([
        // The Tenant controller lists and watches Tenants; the finalizer is a merge patch; the
        // store sync applies (creates) Tenants and deletes those whose record is gone. `get`
        // (with `watch`) is what each tenant's ClusterRole `mtp-tenant-<name>` grants its members:
        // a role is stored only if its writer holds what it grants (or may `escalate`, which
        // would let it grant anything).
        {
            "apiGroups": ["mtp.dev"],
            "resources": ["tenants"],
            "verbs": ["get", "list", "watch", "create", "patch", "delete"],
        },
        { "apiGroups": ["mtp.dev"], "resources": ["tenants/status"], "verbs": ["patch"] },
        owned("", &["namespaces", "limitranges", "resourcequotas"]),
        owned("rbac.authorization.k8s.io", &["rolebindings"]),
        owned("networking.k8s.io", &["networkpolicies"]),
        // Each tenant's `mtp-tenant-<name>` ClusterRole and ClusterRoleBinding (its members may
        // get their Tenant): applied and cached like the plan's other objects, never pruned
        // (the garbage collector removes them with their Tenant). Binding that role needs no
        // `bind`: the controller holds all it grants.
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles", "clusterrolebindings"],
            "verbs": ["list", "watch", "create", "patch"],
        },
        // A RoleBinding to a ClusterRole is authorized as `bind` on it (or the writer must hold
        // all of its permissions): the tenant bindings refer to admin, edit and view.
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "resourceNames": ["admin", "edit", "view"],
            "verbs": ["bind"],
        },
    ]);
    let container = json!({
        "name": CONTROLLER,
        "image": image(args),
        "imagePullPolicy": "IfNotPresent",
        "command": ["/usr/local/bin/mtp-controller"],
        "args": [
            "run",
            format!("--platform-namespace={ns}"),
            format!("--probe-listen=0.0.0.0:{HTTP_PORT}"),
            format!("--lease-name={CONTROLLER}"),
            "--log-format=json",
        ],
        "env": [
            { "name": "POD_NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
            database_env(),
        ],
        "ports": [{ "name": "http", "containerPort": HTTP_PORT, "protocol": "TCP" }],
        "readinessProbe": http_probe("/readyz", "http"),
        "livenessProbe": http_probe("/healthz", "http"),
        "resources": resources("100m", "128Mi", "1", "512Mi"),
        "securityContext": container_security(),
        "volumeMounts": [tmp_mount()],
    });
    vec![
        service_account(CONTROLLER, ns),
        cluster_role(CONTROLLER, CONTROLLER, rules),
        binding("ClusterRole", CONTROLLER, None, CONTROLLER, ns),
        // Leader election: one Lease in the platform namespace.
        role(
            CONTROLLER,
            ns,
            CONTROLLER,
            json!([{
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": ["get", "create", "update"],
            }]),
        ),
        binding("Role", CONTROLLER, Some(ns), CONTROLLER, ns),
        // Events about Tenants (cluster-scoped) are recorded in `default`.
        role(
            "mtp-controller-events",
            "default",
            CONTROLLER,
            json!([{
                "apiGroups": ["events.k8s.io"],
                "resources": ["events"],
                "verbs": ["create", "patch"],
            }]),
        ),
        binding_named("mtp-controller-events", "default", CONTROLLER, ns),
        deployment(DeploymentSpec {
            name: CONTROLLER,
            namespace: ns,
            replicas: args.replicas,
            user: NONROOT,
            container,
            volumes: json!([tmp_volume()]),
            metrics_port: Some(HTTP_PORT),
        }),
    ]
}

fn binding_named(name: &str, namespace: &str, component: &str, sa_ns: &str) -> Value {
    binding("Role", name, Some(namespace), component, sa_ns)
}

fn webhook_objects(args: &InstallArgs) -> Vec<Value> {
    let ns = args.namespace.as_str();
    let container = json!({
        "name": WEBHOOK,
        "image": image(args),
        "imagePullPolicy": "IfNotPresent",
        "command": ["/usr/local/bin/mtp-webhook"],
        "args": [
            "--log-format=json",
            "serve",
            "--manage",
            format!("--listen=0.0.0.0:{WEBHOOK_PORT}"),
            format!("--probe-listen=0.0.0.0:{HTTP_PORT}"),
            "--cert-dir=/var/run/mtp/certs",
            format!("--platform-namespace={ns}"),
            format!("--service-name={WEBHOOK}"),
        ],
        "ports": [
            { "name": "https", "containerPort": WEBHOOK_PORT, "protocol": "TCP" },
            { "name": "http", "containerPort": HTTP_PORT, "protocol": "TCP" },
        ],
        "readinessProbe": http_probe("/readyz", "http"),
        "livenessProbe": http_probe("/healthz", "http"),
        "resources": resources("50m", "64Mi", "500m", "256Mi"),
        "securityContext": container_security(),
        "volumeMounts": [
            { "name": "certs", "mountPath": "/var/run/mtp/certs" },
            tmp_mount(),
        ],
    });
    vec![
        service_account(WEBHOOK, ns),
        cluster_role(
            WEBHOOK,
            WEBHOOK,
            json!([
                // Resolves each namespace to its tenant (a cache fed by a list and a watch).
                { "apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"] },
                // Each tenant's guardrails (its tier's with its spec.guardrails).
                { "apiGroups": ["mtp.dev"], "resources": ["tenants"], "verbs": ["list", "watch"] },
                // The hosts every Ingress serves: a tenant may not take another's.
                { "apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["list", "watch"] },
                // --manage keeps its own two configurations (and their caBundle) applied. An apply
                // that creates is authorized as `create` with the object's name (unlike a POST),
                // so `resourceNames` restricts it too.
                {
                    "apiGroups": ["admissionregistration.k8s.io"],
                    "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
                    "resourceNames": [WEBHOOK_CONFIGURATION],
                    "verbs": ["create", "patch"],
                },
            ]),
        ),
        binding("ClusterRole", WEBHOOK, None, WEBHOOK, ns),
        // --manage keeps its TLS Secret (read, then applied when missing or expiring) and its
        // Service (applied), and nothing else, in the platform namespace; both may be created by
        // the apply, which is authorized as `create` with the name.
        role(
            WEBHOOK,
            ns,
            WEBHOOK,
            json!([
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": [WEBHOOK_TLS_SECRET],
                    "verbs": ["get", "create", "patch"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["services"],
                    "resourceNames": [WEBHOOK],
                    "verbs": ["create", "patch"],
                },
            ]),
        ),
        binding("Role", WEBHOOK, Some(ns), WEBHOOK, ns),
        deployment(DeploymentSpec {
            name: WEBHOOK,
            namespace: ns,
            replicas: args.replicas,
            user: NONROOT,
            container,
            volumes: json!([
                { "name": "certs", "emptyDir": { "sizeLimit": "1Mi" } },
                tmp_volume(),
            ]),
            metrics_port: Some(HTTP_PORT),
        }),
        // The same Service `--manage` applies (port 443 to the HTTPS listener).
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(WEBHOOK, Some(ns), WEBHOOK),
            "spec": {
                "selector": selector(WEBHOOK),
                "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": WEBHOOK_PORT }],
            },
        }),
        json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta(WEBHOOK, Some(ns), WEBHOOK),
            "spec": { "maxUnavailable": 1, "selector": { "matchLabels": selector(WEBHOOK) } },
        }),
    ]
}

fn webhook_configurations(args: &InstallArgs) -> Result<Vec<Value>, InstallError> {
    let registry = crate::webhook::manifests::described_registry(&args.namespace)
        .map_err(|e| InstallError::Generate(format!("the webhook registry: {e:#}")))?;
    // No caBundle: `mtp-webhook serve --manage` fills it in with the CA it generates.
    let target = Target::service(&args.namespace, WEBHOOK).named(WEBHOOK_CONFIGURATION);
    let to_value = |what: &str, v: Result<Value, serde_json::Error>| {
        v.map_err(|e| InstallError::Generate(format!("the {what}: {e}")))
    };
    Ok(vec![
        to_value(
            "ValidatingWebhookConfiguration",
            serde_json::to_value(registry.validating_configuration(&target)),
        )?,
        to_value(
            "MutatingWebhookConfiguration",
            serde_json::to_value(registry.mutating_configuration(&target)),
        )?,
    ])
}

fn dex_issuer(namespace: &str) -> String {
    format!("http://{DEX}.{namespace}.svc:{DEX_PORT}/dex")
}

fn dex_objects(args: &InstallArgs) -> Vec<Value> {
    let ns = args.namespace.as_str();
    // Dex expands $VARS in its configuration: the user comes from the mtp-dex Secret.
    let config = format!(
        "issuer: {issuer}
storage:
  type: memory
web:
  http: 0.0.0.0:{DEX_PORT}
telemetry:
  http: 0.0.0.0:5558
oauth2:
  # mtpctl login --password: the resource-owner password grant against the static passwords.
  passwordConnector: local
  grantTypes:
  - authorization_code
  - refresh_token
  - password
  - urn:ietf:params:oauth:grant-type:device_code
  skipApprovalScreen: true
enablePasswordDB: true
staticPasswords:
- email: $DEX_ADMIN_EMAIL
  hash: $DEX_ADMIN_PASSWORD_HASH
  username: admin
  userID: 00000000-0000-0000-0000-000000000001
staticClients:
- id: mtpctl
  name: mtpctl
  public: true
  redirectURIs:
  - http://127.0.0.1
  - http://localhost
",
        issuer = dex_issuer(ns)
    );
    let secret_env = |name: &str, key: &str| json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": DEX_SECRET, "key": key } } });
    let container = json!({
        "name": DEX,
        "image": DEX_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/usr/local/bin/dex", "serve", "/etc/dex/config.yaml"],
        "env": [
            secret_env("DEX_ADMIN_EMAIL", "admin-email"),
            secret_env("DEX_ADMIN_PASSWORD_HASH", "admin-password-hash"),
        ],
        "ports": [
            { "name": "http", "containerPort": DEX_PORT, "protocol": "TCP" },
            { "name": "telemetry", "containerPort": 5558, "protocol": "TCP" },
        ],
        "readinessProbe": http_probe("/healthz/ready", "telemetry"),
        "livenessProbe": http_probe("/healthz/live", "telemetry"),
        "resources": resources("50m", "64Mi", "200m", "128Mi"),
        "securityContext": container_security(),
        "volumeMounts": [
            { "name": "config", "mountPath": "/etc/dex", "readOnly": true },
            tmp_mount(),
        ],
    });
    vec![
        service_account(DEX, ns),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(DEX, Some(ns), DEX),
            "data": { "config.yaml": config },
        }),
        deployment(DeploymentSpec {
            name: DEX,
            namespace: ns,
            // Memory storage: one replica, or logins would land on a replica that never saw them.
            replicas: 1,
            user: DEX_USER,
            container,
            volumes: json!([
                { "name": "config", "configMap": { "name": DEX } },
                tmp_volume(),
            ]),
            metrics_port: None,
        }),
        service(DEX, ns, DEX_PORT, "http", "http"),
    ]
}

/// Every object, in apply order.
pub(super) fn all(args: &InstallArgs) -> Result<Vec<Rendered>, InstallError> {
    let crd = serde_json::to_value(Tenant::crd())
        .map_err(|e| InstallError::Generate(format!("the Tenant CRD: {e}")))?;
    let mut out = Vec::new();
    let mut push = |part: Part, objects: Vec<Value>| {
        out.extend(objects.into_iter().map(|object| Rendered { part, object }));
    };
    push(Part::Namespace, namespace_objects(args));
    push(Part::Crd, vec![crd]);
    push(Part::Apiserver, apiserver_objects(args));
    push(Part::Controller, controller_objects(args));
    push(Part::Webhook, webhook_objects(args));
    push(Part::WebhookConfigurations, webhook_configurations(args)?);
    if args.with_dex {
        push(Part::Dex, dex_objects(args));
    }
    Ok(out)
}
