//! The `admission.k8s.io/v1` AdmissionReview request, read once and borrowed from the body.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::pod_security::model::Text;

/// An `admission.k8s.io/v1` AdmissionReview, borrowed from the request body.
#[derive(Debug, Default)]
pub struct AdmissionReview<'a> {
    /// Must be `admission.k8s.io/v1`.
    pub api_version: Option<Text<'a>>,
    /// Must be `AdmissionReview`.
    pub kind: Option<Text<'a>>,
    /// The request.
    pub request: Option<Request<'a>>,
}

deserialize_fields!(AdmissionReview<'a>, "an AdmissionReview", {
    "apiVersion" => api_version,
    "kind" => kind,
    "request" => request,
});

impl<'a> AdmissionReview<'a> {
    /// The request, after checking the envelope: `apiVersion` `admission.k8s.io/v1`, `kind`
    /// `AdmissionReview`, a request with a non-empty uid. The error says what is wrong.
    pub fn request(&self) -> Result<&Request<'a>, String> {
        crate::pod_security::review::check_envelope(
            self.api_version.as_deref(),
            self.kind.as_deref(),
            self.request.as_ref().map(|r| r.uid.as_deref()),
        )?;
        self.request
            .as_ref()
            .ok_or_else(|| "request is missing".to_owned())
    }
}

/// Group, version and kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Gvk<'a> {
    /// API group (`""` for core).
    pub group: Option<Text<'a>>,
    /// Version.
    pub version: Option<Text<'a>>,
    /// Kind.
    pub kind: Option<Text<'a>>,
}

deserialize_fields!(Gvk<'a>, "a group, version and kind", {
    "group" => group,
    "version" => version,
    "kind" => kind,
});

/// Group, version and resource.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Gvr<'a> {
    /// API group (`""` for core).
    pub group: Option<Text<'a>>,
    /// Version.
    pub version: Option<Text<'a>>,
    /// Resource (plural, e.g. `pods`).
    pub resource: Option<Text<'a>>,
}

deserialize_fields!(Gvr<'a>, "a group, version and resource", {
    "group" => group,
    "version" => version,
    "resource" => resource,
});

/// Who makes the request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserInfo<'a> {
    /// User name (`system:serviceaccount:<ns>:<name>` for service accounts).
    pub username: Option<Text<'a>>,
    /// Groups.
    pub groups: Option<Vec<Text<'a>>>,
}

deserialize_fields!(UserInfo<'a>, "userInfo", {
    "username" => username,
    "groups" => groups,
});

impl UserInfo<'_> {
    /// The user name, or `""`.
    pub fn username(&self) -> &str {
        self.username.as_deref().unwrap_or("")
    }

    /// The groups.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().flatten().map(|g| &**g)
    }
}

/// The admission operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    /// CREATE.
    Create,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// CONNECT.
    Connect,
}

impl Operation {
    /// The wire name (`CREATE`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }

    fn parse(s: &str) -> Option<Operation> {
        match s {
            "CREATE" => Some(Operation::Create),
            "UPDATE" => Some(Operation::Update),
            "DELETE" => Some(Operation::Delete),
            "CONNECT" => Some(Operation::Connect),
            _ => None,
        }
    }
}

/// An AdmissionRequest. `object` and `oldObject` stay raw JSON: each hook reads only what it needs.
#[derive(Debug, Default)]
pub struct Request<'a> {
    /// Echoed in the response.
    pub uid: Option<Text<'a>>,
    /// The kind of the object.
    pub kind: Option<Gvk<'a>>,
    /// The resource.
    pub resource: Option<Gvr<'a>>,
    /// The subresource (`ephemeralcontainers`, `status`...).
    pub sub_resource: Option<Text<'a>>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: Option<Text<'a>>,
    /// The namespace (for a Namespace itself, its name).
    pub namespace: Option<Text<'a>>,
    /// The object's name.
    pub name: Option<Text<'a>>,
    /// Who asks.
    pub user_info: Option<UserInfo<'a>>,
    /// The object as it would be stored.
    pub object: Option<&'a RawValue>,
    /// The object as it is stored (UPDATE, DELETE).
    pub old_object: Option<&'a RawValue>,
    /// Whether this is a dry run.
    pub dry_run: Option<bool>,
}

deserialize_fields!(Request<'a>, "an AdmissionRequest", {
    "uid" => uid,
    "kind" => kind,
    "resource" => resource,
    "subResource" => sub_resource,
    "operation" => operation,
    "namespace" => namespace,
    "name" => name,
    "userInfo" => user_info,
    "object" => object,
    "oldObject" => old_object,
    "dryRun" => dry_run,
});

impl<'a> Request<'a> {
    /// The request's uid.
    pub fn uid(&self) -> &str {
        self.uid.as_deref().unwrap_or("")
    }

    /// The operation, if it is one of the four.
    pub fn operation(&self) -> Option<Operation> {
        self.operation.as_deref().and_then(Operation::parse)
    }

    /// The namespace, or `""`.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }

    /// The name, or `""`.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// The resource (`pods`), or `""`.
    pub fn resource(&self) -> &str {
        self.resource
            .as_ref()
            .and_then(|r| r.resource.as_deref())
            .unwrap_or("")
    }

    /// The subresource, or `""`.
    pub fn sub_resource(&self) -> &str {
        self.sub_resource.as_deref().unwrap_or("")
    }

    /// The kind (`Pod`), or `""`.
    pub fn kind(&self) -> &str {
        self.kind
            .as_ref()
            .and_then(|k| k.kind.as_deref())
            .unwrap_or("")
    }

    /// The user info (empty when absent).
    pub fn user(&self) -> UserInfo<'a> {
        self.user_info.clone().unwrap_or_default()
    }

    /// The raw `object`, unless absent or `null`.
    pub fn object_json(&self) -> Option<&'a str> {
        self.object.map(RawValue::get).filter(|s| *s != "null")
    }

    /// The raw `oldObject`, unless absent or `null`.
    pub fn old_object_json(&self) -> Option<&'a str> {
        self.old_object.map(RawValue::get).filter(|s| *s != "null")
    }
}
