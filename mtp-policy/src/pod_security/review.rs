//! `admission.k8s.io/v1` AdmissionReview: the request fields pod security reads, and the response.

use super::model::{Object, Text};
use super::{Error, Evaluation, Policy, Result};

/// An `admission.k8s.io/v1` AdmissionReview as the apiserver sends it, borrowed from the body.
#[derive(Debug, Default)]
pub struct AdmissionReview<'a> {
    /// Must be `admission.k8s.io/v1`.
    pub api_version: Option<Text<'a>>,
    /// Must be `AdmissionReview`.
    pub kind: Option<Text<'a>>,
    /// The request.
    pub request: Option<AdmissionRequest<'a>>,
}

deserialize_fields!(AdmissionReview<'a>, "an AdmissionReview", {
    "apiVersion" => api_version,
    "kind" => kind,
    "request" => request,
});

/// The API group, version and kind of the object under review.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GroupVersionKind<'a> {
    /// Group (`""` for core).
    pub group: Option<Text<'a>>,
    /// Version.
    pub version: Option<Text<'a>>,
    /// Kind.
    pub kind: Option<Text<'a>>,
}

deserialize_fields!(GroupVersionKind<'a>, "a group, version and kind", {
    "group" => group,
    "version" => version,
    "kind" => kind,
});

/// The API group, version and resource of the request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GroupVersionResource<'a> {
    /// Group (`""` for core).
    pub group: Option<Text<'a>>,
    /// Version.
    pub version: Option<Text<'a>>,
    /// Resource (plural, e.g. `pods`).
    pub resource: Option<Text<'a>>,
}

deserialize_fields!(GroupVersionResource<'a>, "a group, version and resource", {
    "group" => group,
    "version" => version,
    "resource" => resource,
});

/// The parts of an AdmissionRequest that pod security reads.
#[derive(Debug, Default)]
pub struct AdmissionRequest<'a> {
    /// The request's uid, echoed in the response.
    pub uid: Option<Text<'a>>,
    /// The kind of the object.
    pub kind: Option<GroupVersionKind<'a>>,
    /// The resource (`pods`, `deployments`...).
    pub resource: Option<GroupVersionResource<'a>>,
    /// The subresource (`ephemeralcontainers`), if any.
    pub sub_resource: Option<Text<'a>>,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: Option<Text<'a>>,
    /// The namespace of the object.
    pub namespace: Option<Text<'a>>,
    /// The name of the object.
    pub name: Option<Text<'a>>,
    /// The object as it would be stored (absent for DELETE).
    pub object: Option<Object<'a>>,
    /// The object as it is stored (UPDATE and DELETE).
    pub old_object: Option<Object<'a>>,
}

deserialize_fields!(AdmissionRequest<'a>, "an AdmissionRequest", {
    "uid" => uid,
    "kind" => kind,
    "resource" => resource,
    "subResource" => sub_resource,
    "operation" => operation,
    "namespace" => namespace,
    "name" => name,
    "object" => object,
    "oldObject" => old_object,
});

impl AdmissionRequest<'_> {
    /// The resource (`pods`), or `""`.
    pub fn resource(&self) -> &str {
        self.resource
            .as_ref()
            .and_then(|r| r.resource.as_deref())
            .unwrap_or("")
    }

    /// The subresource (`ephemeralcontainers`), or `""`.
    pub fn sub_resource(&self) -> &str {
        self.sub_resource.as_deref().unwrap_or("")
    }

    /// Whether this is an UPDATE of a pod itself (not of a subresource), the one update Pod
    /// Security Admission re-evaluates only when containers, images or annotations change.
    pub fn is_pod_update(&self) -> bool {
        self.operation.as_deref() == Some("UPDATE")
            && self.resource() == "pods"
            && self.sub_resource().is_empty()
    }
}

impl<'a> AdmissionReview<'a> {
    /// Parses the body of an admission request. The value is the one serde_json gives, read
    /// by a faster reader where it can (see the crate's `json` module); errors are serde_json's.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self> {
        crate::json::from_slice(bytes)
            .or_else(|_| serde_json::from_slice(bytes))
            .map_err(Error::Parse)
    }

    /// The request, after checking apiVersion, kind and uid.
    pub fn request(&self) -> Result<&AdmissionRequest<'a>> {
        check_envelope(
            self.api_version.as_deref(),
            self.kind.as_deref(),
            self.request.as_ref().map(|r| r.uid.as_deref()),
        )
        .map_err(Error::InvalidReview)?;
        self.request
            .as_ref()
            .ok_or_else(|| Error::InvalidReview("request is missing".into()))
    }
}

/// Checks the envelope of an AdmissionReview: `apiVersion` `admission.k8s.io/v1`, `kind`
/// `AdmissionReview`, a request (`Some`) with a non-empty uid. The error says what is wrong.
pub(crate) fn check_envelope(
    api_version: Option<&str>,
    kind: Option<&str>,
    request_uid: Option<Option<&str>>,
) -> std::result::Result<(), String> {
    match api_version {
        Some("admission.k8s.io/v1") => {}
        Some(other) => {
            return Err(format!(
                "apiVersion is {other:?}; this webhook speaks admission.k8s.io/v1"
            ));
        }
        None => {
            return Err("apiVersion is missing; this webhook speaks admission.k8s.io/v1".into());
        }
    }
    match kind {
        Some("AdmissionReview") => {}
        Some(other) => return Err(format!("kind is {other:?}, expected \"AdmissionReview\"")),
        None => return Err("kind is missing, expected \"AdmissionReview\"".into()),
    }
    match request_uid {
        None => Err("request is missing".into()),
        Some(uid) if uid.is_none_or(str::is_empty) => Err("request.uid is missing".into()),
        Some(_) => Ok(()),
    }
}

/// The AdmissionReview response for `uid`: allowed, or denied with 403 Forbidden and `message`.
/// Written as bytes, strings escaped as serde_json escapes them.
pub fn response_json(uid: &str, denial: Option<String>) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(160 + uid.len() + denial.as_ref().map_or(0, |m| m.len() + m.len() / 8));
    crate::json::open_review(
        &mut out,
        uid,
        denial.as_deref().map(|message| (403, "Forbidden", message)),
    );
    out.extend_from_slice(b"}}");
    out
}

impl Policy {
    /// The whole admission path for one request body: parse the AdmissionReview, evaluate its
    /// object, and build the AdmissionReview response (denied with every violation in the message).
    ///
    /// ```
    /// use mtp_policy::pod_security::{Policy, Profile};
    /// let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
    ///   "uid":"u1","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod",
    ///   "spec":{"hostNetwork":true,"containers":[]}}}}"#;
    /// let (evaluation, response) = Policy::new(Profile::Baseline).review_json(body).unwrap();
    /// assert!(!evaluation.allowed());
    /// let response: serde_json::Value = serde_json::from_slice(&response).unwrap();
    /// assert_eq!(response["response"]["uid"], "u1");
    /// assert_eq!(response["response"]["status"]["code"], 403);
    /// ```
    pub fn review_json(&self, body: &[u8]) -> Result<(Evaluation, Vec<u8>)> {
        let review = AdmissionReview::from_slice(body)?;
        let request = review.request()?;
        let evaluation = self.evaluate_request(request)?;
        let denial = (!evaluation.allowed()).then(|| evaluation.message(self.profile));
        let uid = request.uid.as_deref().unwrap_or_default();
        Ok((evaluation, response_json(uid, denial)))
    }
}
