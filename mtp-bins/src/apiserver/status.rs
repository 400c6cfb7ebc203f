//! Cluster status of tenants, read from their Tenant resources when a cluster is configured.
//! The API never writes to the cluster.

use async_trait::async_trait;
use kube::Api;
use mtp_core::Tenant;

use super::types::StatusView;

/// Where tenant status comes from.
#[async_trait]
pub trait StatusSource: Send + Sync {
    /// The cluster status of tenant `name`.
    async fn status(&self, name: &str) -> StatusView;
}

/// No cluster configured: the status is unknown and the API works fully.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCluster;

#[async_trait]
impl StatusSource for NoCluster {
    async fn status(&self, _name: &str) -> StatusView {
        StatusView::unknown("no cluster configured")
    }
}

/// Reads the Tenant resources of a cluster.
#[derive(Clone)]
pub struct KubeStatus {
    api: Api<Tenant>,
}

impl std::fmt::Debug for KubeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeStatus")
    }
}

impl KubeStatus {
    /// Status from the Tenant resources reachable with `client`.
    pub fn new(client: kube::Client) -> Self {
        KubeStatus {
            api: Api::all(client),
        }
    }
}

/// The view of a Tenant resource's status.
pub fn view_of(tenant: &Tenant) -> StatusView {
    let Some(status) = &tenant.status else {
        return StatusView {
            state: "pending".into(),
            message: Some("the controller has not reconciled the tenant yet".into()),
            conditions: Vec::new(),
            namespaces: Vec::new(),
        };
    };
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    let state = match ready.map(|c| c.status.as_str()) {
        Some("True") => "ready",
        Some("False") => "notReady",
        _ => "pending",
    };
    StatusView {
        state: state.into(),
        message: ready.and_then(|c| c.message.clone()),
        conditions: status.conditions.clone(),
        namespaces: status.namespaces.clone(),
    }
}

#[async_trait]
impl StatusSource for KubeStatus {
    async fn status(&self, name: &str) -> StatusView {
        match self.api.get_opt(name).await {
            Ok(Some(tenant)) => view_of(&tenant),
            Ok(None) => StatusView {
                state: "pending".into(),
                message: Some("the Tenant resource does not exist yet".into()),
                conditions: Vec::new(),
                namespaces: Vec::new(),
            },
            Err(e) => {
                tracing::debug!(error = %e, tenant = name, "cannot read the Tenant resource");
                StatusView::unknown("the cluster cannot be read")
            }
        }
    }
}
