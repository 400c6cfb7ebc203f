//! Kubeconfigs for the mtp binaries: the admin kubeconfig's server and CA with a ServiceAccount
//! token, so that each binary runs with exactly the RBAC the install grants it.

use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use kube::config::{
    AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};

/// The cluster entry of the admin kubeconfig's current context (or its only context).
pub fn current_cluster(admin: &Kubeconfig) -> anyhow::Result<&Cluster> {
    let context_name = match (&admin.current_context, admin.contexts.as_slice()) {
        (Some(name), _) if !name.is_empty() => name.clone(),
        (_, [only]) => only.name.clone(),
        _ => bail!(
            "the kubeconfig has no current-context and {} contexts; set current-context",
            admin.contexts.len()
        ),
    };
    let context = admin
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .with_context(|| format!("the kubeconfig has no context named {context_name:?}"))?;
    admin
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .with_context(|| {
            format!(
                "context {context_name:?} names cluster {:?}, which the kubeconfig does not hold",
                context.cluster
            )
        })
}

/// A kubeconfig for `user` with `token`, reaching the same server as `admin` (its current
/// context) and trusting the same CA. A CA given as a file (`certificate-authority`, relative to
/// `admin_dir`, the directory of the admin kubeconfig) is inlined, so the result stands alone.
pub fn token_kubeconfig(
    admin: &Kubeconfig,
    admin_dir: &Path,
    user: &str,
    token: &str,
) -> anyhow::Result<Kubeconfig> {
    let source = current_cluster(admin)?;
    let server = source
        .server
        .clone()
        .filter(|s| !s.is_empty())
        .context("the kubeconfig's cluster has no server")?;
    let ca_data = match (
        &source.certificate_authority_data,
        &source.certificate_authority,
    ) {
        (Some(data), _) => Some(data.clone()),
        (None, Some(file)) => {
            let path = admin_dir.join(file);
            let pem = std::fs::read(&path).with_context(|| {
                format!(
                    "cannot read the kubeconfig's certificate-authority {}",
                    path.display()
                )
            })?;
            Some(base64::engine::general_purpose::STANDARD.encode(pem))
        }
        (None, None) => None,
    };
    let cluster = Cluster {
        server: Some(server),
        insecure_skip_tls_verify: source.insecure_skip_tls_verify,
        certificate_authority_data: ca_data,
        tls_server_name: source.tls_server_name.clone(),
        proxy_url: source.proxy_url.clone(),
        ..Cluster::default()
    };
    // AuthInfo's token is a SecretString; going through serde keeps this crate off `secrecy`.
    let auth: AuthInfo = serde_json::from_value(serde_json::json!({ "token": token }))
        .context("cannot build the kubeconfig user")?;
    Ok(Kubeconfig {
        clusters: vec![NamedCluster {
            name: "e2e".to_owned(),
            cluster: Some(cluster),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: user.to_owned(),
            auth_info: Some(auth),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: "e2e".to_owned(),
            context: Some(Context {
                cluster: "e2e".to_owned(),
                user: Some(user.to_owned()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some("e2e".to_owned()),
        api_version: Some("v1".to_owned()),
        kind: Some("Config".to_owned()),
        ..Kubeconfig::default()
    })
}

/// Writes `kubeconfig` as YAML to `path`, readable by this user only (it holds a token).
pub fn write(kubeconfig: &Kubeconfig, path: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let yaml = serde_yaml::to_string(kubeconfig).context("cannot serialize the kubeconfig")?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(yaml.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use kube::config::KubeConfigOptions;
    use secret_view::token_of;

    mod secret_view {
        /// The token of the first user, through serde (the field is a SecretString).
        pub fn token_of(k: &kube::config::Kubeconfig) -> Option<String> {
            let v = serde_json::to_value(k).unwrap();
            v["users"][0]["user"]["token"].as_str().map(str::to_owned)
        }
    }

    const ADMIN: &str = "apiVersion: v1
kind: Config
current-context: kind-kind
clusters:
- name: other
  cluster: {server: https://10.9.9.9:6443}
- name: kind-kind
  cluster:
    server: https://127.0.0.1:40123
    certificate-authority-data: Q0EtUEVN
    tls-server-name: kubernetes
contexts:
- name: other
  context: {cluster: other, user: x}
- name: kind-kind
  context: {cluster: kind-kind, user: kind-kind}
users:
- name: kind-kind
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
";

    #[test]
    fn takes_server_and_ca_of_the_current_context_and_only_the_token() {
        let admin = Kubeconfig::from_yaml(ADMIN).unwrap();
        let k =
            token_kubeconfig(&admin, Path::new("/nowhere"), "mtp-controller", "tok.en").unwrap();
        let cluster = k.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:40123"));
        assert_eq!(
            cluster.certificate_authority_data.as_deref(),
            Some("Q0EtUEVN")
        );
        assert_eq!(cluster.tls_server_name.as_deref(), Some("kubernetes"));
        assert_eq!(token_of(&k).as_deref(), Some("tok.en"));
        let yaml = serde_yaml::to_string(&k).unwrap();
        assert!(!yaml.contains("client-key-data"), "{yaml}");
        assert!(!yaml.contains("10.9.9.9"), "{yaml}");
    }

    #[test]
    fn the_written_file_loads_as_a_kube_config_with_the_token_and_ca() {
        let ca = mtp_bins::webhook::certs::generate(&["localhost".to_owned()])
            .unwrap()
            .ca_pem;
        let ca_b64 = base64::engine::general_purpose::STANDARD.encode(&ca);
        let admin = Kubeconfig::from_yaml(&ADMIN.replace("Q0EtUEVN", &ca_b64)).unwrap();
        let k = token_kubeconfig(&admin, Path::new("/nowhere"), "mtp-webhook", "abc").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhook.kubeconfig");
        write(&k, &path).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let reread = Kubeconfig::read_from(&path).unwrap();
        assert_eq!(token_of(&reread).as_deref(), Some("abc"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let config = runtime
            .block_on(kube::Config::from_custom_kubeconfig(
                reread,
                &KubeConfigOptions::default(),
            ))
            .unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:40123/");
        assert_eq!(config.root_cert.map(|c| c.len()), Some(1));
        assert_eq!(config.tls_server_name.as_deref(), Some("kubernetes"));
    }

    #[test]
    fn a_ca_file_is_inlined_relative_to_the_admin_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "PEM").unwrap();
        let admin = Kubeconfig::from_yaml(
            "current-context: c\nclusters: [{name: c, cluster: {server: 'https://h:6443', certificate-authority: ca.pem}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: admin}}]\n",
        )
        .unwrap();
        let k = token_kubeconfig(&admin, dir.path(), "u2", "t").unwrap();
        let cluster = k.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("UEVN"));
        assert_eq!(cluster.certificate_authority, None);
    }

    #[test]
    fn missing_pieces_are_named() {
        let no_context = Kubeconfig::from_yaml(
            "clusters: [{name: a, cluster: {server: 'https://a'}}, {name: b, cluster: {server: 'https://b'}}]\ncontexts: [{name: a, context: {cluster: a}}, {name: b, context: {cluster: b}}]\n",
        )
        .unwrap();
        let err = token_kubeconfig(&no_context, Path::new("."), "u", "t").unwrap_err();
        assert!(
            err.to_string()
                .contains("no current-context and 2 contexts"),
            "{err}"
        );
        let dangling = Kubeconfig::from_yaml(
            "current-context: a\ncontexts: [{name: a, context: {cluster: gone}}]\n",
        )
        .unwrap();
        let err = token_kubeconfig(&dangling, Path::new("."), "u", "t").unwrap_err();
        assert!(err.to_string().contains("names cluster \"gone\""), "{err}");
        let missing_file = Kubeconfig::from_yaml(
            "current-context: a\nclusters: [{name: a, cluster: {server: 'https://a', certificate-authority: nope.pem}}]\ncontexts: [{name: a, context: {cluster: a}}]\n",
        )
        .unwrap();
        let err = token_kubeconfig(&missing_file, Path::new("/nonexistent"), "u", "t").unwrap_err();
        assert!(
            err.to_string()
                .contains("certificate-authority /nonexistent/nope.pem"),
            "{err}"
        );
    }
}
