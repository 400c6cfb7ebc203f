//! `admission.k8s.io/v1` AdmissionReview: the request fields pod security reads, and the response.

use serde::{Deserialize, Serialize};

use super::model::{Object, Text};
use super::{Error, Evaluation, Policy, Result};

/// An `admission.k8s.io/v1` AdmissionReview as the apiserver sends it, borrowed from the body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview<'a> {
    /// Must be `admission.k8s.io/v1`.
    #[serde(borrow)]
    pub api_version: Option<Text<'a>>,
    /// Must be `AdmissionReview`.
    #[serde(borrow)]
    pub kind: Option<Text<'a>>,
    /// The request.
    #[serde(borrow)]
    pub request: Option<AdmissionRequest<'a>>,
}

/// The API group, version and kind of the object under review.
#[derive(Debug, Default, Deserialize, Clone, PartialEq, Eq)]
pub struct GroupVersionKind {
    /// Group (`""` for core).
    #[serde(default)]
    pub group: String,
    /// Version.
    #[serde(default)]
    pub version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
}

/// The parts of an AdmissionRequest that pod security reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
    /// The request's uid, echoed in the response.
    #[serde(borrow)]
    pub uid: Option<Text<'a>>,
    /// The kind of the object.
    pub kind: Option<GroupVersionKind>,
    /// The subresource (`ephemeralcontainers`), if any.
    #[serde(borrow)]
    pub sub_resource: Option<Text<'a>>,
    /// CREATE, UPDATE, DELETE or CONNECT.
    #[serde(borrow)]
    pub operation: Option<Text<'a>>,
    /// The namespace of the object.
    #[serde(borrow)]
    pub namespace: Option<Text<'a>>,
    /// The name of the object.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    /// The object as it would be stored (absent for DELETE).
    #[serde(borrow)]
    pub object: Option<Object<'a>>,
}

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
