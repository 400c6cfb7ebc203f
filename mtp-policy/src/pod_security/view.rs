//! A located pod spec: the spec, its metadata and the field paths that lead to them.

use super::Violation;
use super::model::{Container, ObjectMeta, Spec};

/// Which list of a pod spec a container sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerList {
    Containers,
    InitContainers,
    EphemeralContainers,
}

impl ContainerList {
    pub(crate) fn field(self) -> &'static str {
        match self {
            ContainerList::Containers => "containers",
            ContainerList::InitContainers => "initContainers",
            ContainerList::EphemeralContainers => "ephemeralContainers",
        }
    }
}

/// A container with where it stands.
pub(crate) struct Located<'o, 'a> {
    pub list: ContainerList,
    pub index: usize,
    pub container: &'o Container<'a>,
}

/// A pod spec found in an object, with the paths of its spec and metadata within that object.
pub(crate) struct PodView<'o, 'a> {
    pub meta: Option<&'o ObjectMeta<'a>>,
    pub spec: &'o Spec<'a>,
    pub spec_path: &'static str,
    pub meta_path: &'static str,
}

impl<'o, 'a> PodView<'o, 'a> {
    /// Containers, then init containers, then ephemeral containers, in order.
    pub fn containers(&self) -> impl Iterator<Item = Located<'o, 'a>> + 'o {
        let spec = self.spec;
        let lists = [
            (ContainerList::Containers, spec.containers.as_deref()),
            (
                ContainerList::InitContainers,
                spec.init_containers.as_deref(),
            ),
            (
                ContainerList::EphemeralContainers,
                spec.ephemeral_containers.as_deref(),
            ),
        ];
        lists.into_iter().flat_map(|(list, containers)| {
            containers
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(move |(index, container)| Located {
                    list,
                    index,
                    container,
                })
        })
    }

    /// `spec.hostUsers == false`: the pod runs in a user namespace.
    pub fn user_namespaced(&self) -> bool {
        self.spec.host_users == Some(false)
    }

    /// `spec.os.name == "windows"`.
    pub fn is_windows(&self) -> bool {
        self.spec.os.as_ref().and_then(|os| os.name.as_deref()) == Some("windows")
    }

    /// `<spec path>.<rest>`.
    pub fn spec_field(&self, rest: &str) -> String {
        format!("{}.{rest}", self.spec_path)
    }

    /// `<spec path>.<list>[<i>].<rest>`.
    pub fn container_field(&self, c: &Located<'_, '_>, rest: &str) -> String {
        format!("{}.{}[{}].{rest}", self.spec_path, c.list.field(), c.index)
    }

    /// `<metadata path>.annotations["<key>"]`.
    pub fn annotation_field(&self, key: &str) -> String {
        format!("{}.annotations[{key:?}]", self.meta_path)
    }

    /// The value of a pod annotation.
    pub fn annotation(&self, key: &str) -> Option<&'o str> {
        self.meta.and_then(|m| m.annotations.get(key))
    }
}

/// Collects violations for one check.
pub(crate) struct Out<'v> {
    pub check: &'static str,
    pub violations: &'v mut Vec<Violation>,
}

impl Out<'_> {
    pub fn pod(&mut self, path: String, message: String) {
        self.violations.push(Violation {
            check: self.check,
            path,
            container: None,
            message,
        });
    }

    pub fn container(&mut self, c: &Located<'_, '_>, path: String, message: String) {
        self.violations.push(Violation {
            check: self.check,
            path,
            container: Some(c.container.name().to_owned()),
            message,
        });
    }

    pub fn named(&mut self, container: &str, path: String, message: String) {
        self.violations.push(Violation {
            check: self.check,
            path,
            container: Some(container.to_owned()),
            message,
        });
    }
}
