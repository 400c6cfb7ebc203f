//! Which tenant a namespace belongs to: a cache fed by a watch (in the binary) or directly (tests).

use std::collections::HashMap;
use std::sync::RwLock;

/// Answers which tenant owns a namespace.
pub trait TenantLookup: Send + Sync + 'static {
    /// The tenant of `namespace`, or `None` when the namespace is unknown or not a tenant's.
    fn tenant_of(&self, namespace: &str) -> Option<String>;
}

/// An in-memory map from namespace to tenant.
///
/// ```
/// use mtp_policy::admission::hooks::{NamespaceCache, TenantLookup};
/// let cache = NamespaceCache::default();
/// cache.set("tenant-shop", Some("shop"));
/// assert_eq!(cache.tenant_of("tenant-shop").as_deref(), Some("shop"));
/// cache.set("tenant-shop", None);
/// assert_eq!(cache.tenant_of("tenant-shop"), None);
/// ```
#[derive(Debug, Default)]
pub struct NamespaceCache {
    tenants: RwLock<HashMap<String, String>>,
}

impl NamespaceCache {
    /// Records the tenant of `namespace` (`None`: not a tenant namespace, or deleted).
    pub fn set(&self, namespace: &str, tenant: Option<&str>) {
        let mut map = match self.tenants.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        match tenant {
            Some(t) => {
                map.insert(namespace.to_owned(), t.to_owned());
            }
            None => {
                map.remove(namespace);
            }
        }
    }

    /// Replaces everything (after a relist).
    pub fn replace_all(&self, entries: impl IntoIterator<Item = (String, String)>) {
        let fresh: HashMap<String, String> = entries.into_iter().collect();
        match self.tenants.write() {
            Ok(mut map) => *map = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    /// How many tenant namespaces are known.
    pub fn len(&self) -> usize {
        self.tenants
            .read()
            .map(|m| m.len())
            .unwrap_or_else(|p| p.into_inner().len())
    }

    /// No tenant namespace is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TenantLookup for NamespaceCache {
    fn tenant_of(&self, namespace: &str) -> Option<String> {
        match self.tenants.read() {
            Ok(map) => map.get(namespace).cloned(),
            Err(poisoned) => poisoned.into_inner().get(namespace).cloned(),
        }
    }
}
