//! `admission.k8s.io/v1` AdmissionReview: the request fields pod security reads, and the response.

use serde::Serialize;

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

/// The parts of an AdmissionRequest that pod security reads.
#[derive(Debug, Default)]
pub struct AdmissionRequest<'a> {
    /// The request's uid, echoed in the response.
    pub uid: Option<Text<'a>>,
    /// The kind of the object.
    pub kind: Option<GroupVersionKind<'a>>,
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
}

deserialize_fields!(AdmissionRequest<'a>, "an AdmissionRequest", {
    "uid" => uid,
    "kind" => kind,
    "subResource" => sub_resource,
    "operation" => operation,
    "namespace" => namespace,
    "name" => name,
    "object" => object,
});

impl<'a> AdmissionReview<'a> {
    /// Parses the body of an admission request.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(Error::Parse)
    }

    /// The request, after checking apiVersion, kind and uid.
    pub fn request(&self) -> Result<&AdmissionRequest<'a>> {
        match self.api_version.as_deref() {
            Some("admission.k8s.io/v1") => {}
            Some(other) => {
                return Err(Error::InvalidReview(format!(
                    "apiVersion is {other:?}, expected \"admission.k8s.io/v1\""
                )));
            }
            None => return Err(Error::InvalidReview("apiVersion is missing".into())),
        }
        match self.kind.as_deref() {
            Some("AdmissionReview") => {}
            Some(other) => {
                return Err(Error::InvalidReview(format!(
                    "kind is {other:?}, expected \"AdmissionReview\""
                )));
            }
            None => return Err(Error::InvalidReview("kind is missing".into())),
        }
        let request = self
            .request
            .as_ref()
            .ok_or_else(|| Error::InvalidReview("request is missing".into()))?;
        if request.uid.as_deref().is_none_or(str::is_empty) {
            return Err(Error::InvalidReview("request.uid is missing".into()));
        }
        Ok(request)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut<'r> {
    api_version: &'static str,
    kind: &'static str,
    response: ResponseOut<'r>,
}

#[derive(Serialize)]
struct ResponseOut<'r> {
    uid: &'r str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusOut>,
}

#[derive(Serialize)]
struct StatusOut {
    code: u16,
    reason: &'static str,
    message: String,
}

/// The AdmissionReview response for `uid`: allowed, or denied with 403 Forbidden and `message`.
pub fn response_json(uid: &str, denial: Option<String>) -> Vec<u8> {
    let review = ReviewOut {
        api_version: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: ResponseOut {
            uid,
            allowed: denial.is_none(),
            status: denial.map(|message| StatusOut {
                code: 403,
                reason: "Forbidden",
                message,
            }),
        },
    };
    // Serializing plain strings, bools and integers into a Vec cannot fail.
    serde_json::to_vec(&review).unwrap_or_default()
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
