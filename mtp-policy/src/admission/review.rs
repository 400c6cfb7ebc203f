//! The `admission.k8s.io/v1` AdmissionReview request, read once and borrowed from the body: the
//! one wire model of the crate, for the webhook framework and for every policy.
//!
//! The view is generic over how `request.object` and `request.oldObject` are read: as raw JSON
//! ([`RawJson`], the default: each hook reads only what it needs), or straight into a typed view
//! in the same pass (the pod-security checks read `AdmissionReview<'_, Object<'_>>`).
//! [`AdmissionReview::from_slice`] reads the body with the crate's fast JSON reader and falls back
//! to serde_json, whose value (and error) it gives either way.

use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::value::RawValue;
use thiserror::Error;

pub use crate::de::Text;

/// The only AdmissionReview version spoken.
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// An `admission.k8s.io/v1` AdmissionReview, borrowed from the request body; `O` is how the
/// objects are read (raw JSON by default).
#[derive(Debug)]
pub struct AdmissionReview<'a, O = RawJson<'a>> {
    /// Must be `admission.k8s.io/v1`.
    pub api_version: Option<Text<'a>>,
    /// Must be `AdmissionReview`.
    pub kind: Option<Text<'a>>,
    /// The request.
    pub request: Option<Request<'a, O>>,
}

impl<O> Default for AdmissionReview<'_, O> {
    fn default() -> Self {
        AdmissionReview {
            api_version: None,
            kind: None,
            request: None,
        }
    }
}

deserialize_fields!(AdmissionReview<'a, O>, "an AdmissionReview", {
    "apiVersion" => api_version,
    "kind" => kind,
    "request" => request,
});

impl<'a, O: Deserialize<'a>> AdmissionReview<'a, O> {
    /// Parses the body of an admission request. The value is the one serde_json gives, read by a
    /// faster reader where it can; errors are serde_json's.
    pub fn from_slice(body: &'a [u8]) -> serde_json::Result<Self> {
        crate::json::from_slice(body).or_else(|_| serde_json::from_slice(body))
    }
}

impl<'a, O> AdmissionReview<'a, O> {
    /// The request, after checking the envelope: `apiVersion` `admission.k8s.io/v1`, `kind`
    /// `AdmissionReview`, a request with a non-empty uid. The error says what is wrong.
    pub fn request(&self) -> Result<&Request<'a, O>, ReviewError> {
        match self.api_version.as_deref() {
            Some(API_VERSION) => {}
            Some(other) => {
                return Err(ReviewError::Invalid(format!(
                    "apiVersion is {other:?}; this webhook speaks {API_VERSION}"
                )));
            }
            None => {
                return Err(ReviewError::Invalid(format!(
                    "apiVersion is missing; this webhook speaks {API_VERSION}"
                )));
            }
        }
        match self.kind.as_deref() {
            Some("AdmissionReview") => {}
            Some(other) => {
                return Err(ReviewError::Invalid(format!(
                    "kind is {other:?}, expected \"AdmissionReview\""
                )));
            }
            None => {
                return Err(ReviewError::Invalid(
                    "kind is missing, expected \"AdmissionReview\"".into(),
                ));
            }
        }
        match &self.request {
            None => Err(ReviewError::Invalid("request is missing".into())),
            Some(request) if request.uid().is_empty() => {
                Err(ReviewError::Invalid("request.uid is missing".into()))
            }
            Some(request) => Ok(request),
        }
    }
}

/// Why an AdmissionReview body could not be answered (a webhook answers HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReviewError {
    /// The body is not JSON, or not shaped like an AdmissionReview.
    #[error("the body is not a valid AdmissionReview: {0}")]
    Malformed(String),
    /// The envelope is wrong: apiVersion, kind, a missing request or uid.
    #[error("{0}")]
    Invalid(String),
}

/// A JSON value kept as its text, borrowed from the body (`request.object` as the default
/// AdmissionReview view reads it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    /// The value's JSON text, exactly as in the body.
    pub fn get(self) -> &'a str {
        self.0
    }

    /// Reads the value as `T`, borrowing from the body: the value (and error) serde_json gives,
    /// read by the crate's faster reader where it can.
    pub fn read<T: Deserialize<'a>>(self) -> serde_json::Result<T> {
        crate::json::from_slice(self.0.as_bytes()).or_else(|_| serde_json::from_str(self.0))
    }
}

impl fmt::Debug for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

struct RawJsonVisitor;

impl<'de> Visitor<'de> for RawJsonVisitor {
    type Value = RawJson<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    // From the crate's JSON reader: the value's text.
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(RawJson(v))
    }
    // From serde_json: read as its `RawValue`, the same text.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        <&'de RawValue>::deserialize(d).map(|raw| RawJson(raw.get()))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(crate::json::RAW_JSON, RawJsonVisitor)
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

/// An AdmissionRequest; `O` is how `object` and `oldObject` are read (raw JSON by default: each
/// hook reads only what it needs).
#[derive(Debug)]
pub struct Request<'a, O = RawJson<'a>> {
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
    /// The object as it would be stored (absent for DELETE).
    pub object: Option<O>,
    /// The object as it is stored (UPDATE, DELETE).
    pub old_object: Option<O>,
    /// Whether this is a dry run.
    pub dry_run: Option<bool>,
}

impl<O> Default for Request<'_, O> {
    fn default() -> Self {
        Request {
            uid: None,
            kind: None,
            resource: None,
            sub_resource: None,
            operation: None,
            namespace: None,
            name: None,
            user_info: None,
            object: None,
            old_object: None,
            dry_run: None,
        }
    }
}

deserialize_fields!(Request<'a, O>, "an AdmissionRequest", {
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

impl<'a, O> Request<'a, O> {
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
}

impl<'a> Request<'a> {
    /// The raw `object`, unless absent or `null`.
    pub fn object_json(&self) -> Option<&'a str> {
        self.object.map(RawJson::get).filter(|s| *s != "null")
    }

    /// The raw `oldObject`, unless absent or `null`.
    pub fn old_object_json(&self) -> Option<&'a str> {
        self.old_object.map(RawJson::get).filter(|s| *s != "null")
    }
}
