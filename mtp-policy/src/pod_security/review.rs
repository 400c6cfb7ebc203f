//! Pod security on an `admission.k8s.io/v1` AdmissionReview, read through the admission module's
//! view with the objects read as [`Object`]s in the same pass.

use super::model::Object;
use super::{Error, Evaluation, Policy, Result};
use crate::admission::{AdmissionReview, Request, Response, ReviewError};

/// An AdmissionReview whose objects are read as the checks read them.
pub type ObjectReview<'a> = AdmissionReview<'a, Object<'a>>;

/// An AdmissionRequest whose objects are read as the checks read them.
pub type ObjectRequest<'a> = Request<'a, Object<'a>>;

impl From<ReviewError> for Error {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Malformed(detail) | ReviewError::Invalid(detail) => {
                Error::InvalidReview(detail)
            }
        }
    }
}

impl Policy {
    /// Evaluates the object of an AdmissionReview request. A request without an object (DELETE)
    /// is not applicable. For `pods/ephemeralcontainers` the whole pod in `request.object` is
    /// checked, ephemeral containers included.
    pub fn evaluate_request(&self, request: &ObjectRequest<'_>) -> Result<Evaluation> {
        match &request.object {
            Some(object) => self.evaluate(object),
            None => Ok(Evaluation::not_applicable()),
        }
    }

    /// The whole admission path for one request body: parse the AdmissionReview, evaluate its
    /// object, and write the AdmissionReview response (denied with 403 and every violation in
    /// the message).
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
        let review = ObjectReview::from_slice(body).map_err(Error::Parse)?;
        let request = review.request()?;
        let evaluation = self.evaluate_request(request)?;
        let response = if evaluation.allowed() {
            Response::allow()
        } else {
            Response::deny(evaluation.message(self.profile))
        };
        Ok((evaluation, response.to_review_bytes(request.uid())))
    }
}
