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
        let list = c.list.field();
        let mut path = String::with_capacity(self.spec_path.len() + list.len() + rest.len() + 8);
        path.push_str(self.spec_path);
        path.push('.');
        path.push_str(list);
        path.push('[');
        push_decimal(&mut path, c.index);
        path.push_str("].");
        path.push_str(rest);
        path
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

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: usize) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// `container "<name>"<rest...>`, the name quoted as `{:?}` quotes it.
pub(crate) fn container_message(name: &str, rest: &[&str]) -> String {
    let mut message =
        String::with_capacity(12 + name.len() + rest.iter().map(|r| r.len()).sum::<usize>());
    message.push_str("container ");
    // Printable ASCII other than `"` and `\` is written as it is by `{:?}`.
    if name
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        message.push('"');
        message.push_str(name);
        message.push('"');
    } else {
        use std::fmt::Write as _;
        let _ = write!(message, "{name:?}");
    }
    for part in rest {
        message.push_str(part);
    }
    message
}

#[cfg(test)]
mod tests {
    #[test]
    fn container_messages_quote_names_as_debug_does() {
        for name in [
            "",
            "app",
            "echo-server",
            "a b~!",
            "quote\"d",
            "back\\slash",
            "tab\t",
            "new\nline",
            "é日本",
            "\u{7f}",
            "'single'",
        ] {
            assert_eq!(
                super::container_message(name, &[" must ", "set x"]),
                format!("container {name:?} must set x")
            );
        }
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 99, 100, 12345, usize::MAX] {
            let mut out = String::new();
            super::push_decimal(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }
}
