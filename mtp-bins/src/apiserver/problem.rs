//! RFC 9457 `application/problem+json` errors of the API, each kind with a stable `type` URI
//! (`https://mtp.dev/problems/<kind>`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mtp_auth::layer::PROBLEM_BASE;
use mtp_core::StoreError;

pub use mtp_core::api::FieldError;
use mtp_core::api::Problem;

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or a header or query parameter is malformed.
    #[error("{detail}")]
    BadRequest {
        /// The problem kind (`malformed-json`, `invalid-parameter`, `invalid-header`).
        kind: &'static str,
        /// What is wrong.
        detail: String,
        /// The invalid parameters, if any.
        errors: Vec<FieldError>,
    },
    /// 415: the body has the wrong content type.
    #[error("unsupported content type: {0}")]
    UnsupportedMediaType(String),
    /// 413: the body is larger than the limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 422: fields are invalid; every one is listed.
    #[error("{} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// 404: no such resource (or one the caller may not see).
    #[error("{0}")]
    NotFound(String),
    /// 409: duplicate name, stale `If-Match`, member already present, namespace taken.
    #[error("{0}")]
    Conflict(String),
    /// 403: the caller may see the resource but not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 405: the path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 503: the database cannot be reached (retry later).
    #[error("the database is unavailable")]
    Unavailable,
    /// 503: the request took too long.
    #[error("the request timed out")]
    Timeout,
    /// 500: anything else (details in the server log only).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// A 400 `malformed-json`.
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            kind: "malformed-json",
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A 400 `invalid-parameter` about query parameter `name`.
    pub fn bad_parameter(name: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        ApiError::BadRequest {
            kind: "invalid-parameter",
            detail: format!("query parameter {name}: {detail}"),
            errors: vec![FieldError::new(format!("/{name}"), detail)],
        }
    }

    /// A 404 for tenant `name`.
    pub fn tenant_not_found(name: &str) -> Self {
        ApiError::NotFound(format!("tenant {name:?} not found"))
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable | ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem kind, the last segment of the `type` URI.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest { kind, .. } => kind,
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::Validation(_) => "validation",
            ApiError::NotFound(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Unavailable => "unavailable",
            ApiError::Timeout => "timeout",
            ApiError::Internal => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "Bad Request",
            ApiError::UnsupportedMediaType(_) => "Unsupported Media Type",
            ApiError::PayloadTooLarge(_) => "Payload Too Large",
            ApiError::Validation(_) => "Unprocessable Content",
            ApiError::NotFound(_) => "Not Found",
            ApiError::Conflict(_) => "Conflict",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::MethodNotAllowed => "Method Not Allowed",
            ApiError::Unavailable | ApiError::Timeout => "Service Unavailable",
            ApiError::Internal => "Internal Server Error",
        }
    }

    fn detail(&self) -> String {
        match self {
            // Each field once: `/tier: "gold" is not a tier; /name: ...` (also in `errors`).
            ApiError::Validation(errors) => errors
                .iter()
                .map(|e| {
                    if e.pointer.is_empty() {
                        e.detail.clone()
                    } else {
                        format!("{}: {}", e.pointer, e.detail)
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            ApiError::Unavailable => {
                "the database is unavailable; retry in a few seconds".to_string()
            }
            ApiError::Timeout => "the request took too long; retry later".to_string(),
            ApiError::Internal => {
                "an internal error happened; the server log has the details".to_string()
            }
            ApiError::MethodNotAllowed => "this path does not answer this method".to_string(),
            other => other.to_string(),
        }
    }

    fn errors(&self) -> Option<&[FieldError]> {
        match self {
            ApiError::Validation(errors) => Some(errors),
            ApiError::BadRequest { errors, .. } if !errors.is_empty() => Some(errors),
            _ => None,
        }
    }
}

/// The problem body of an error.
pub fn problem(err: &ApiError) -> Problem {
    Problem {
        type_: format!("{PROBLEM_BASE}{}", err.kind()),
        title: err.title().to_string(),
        status: err.status().as_u16(),
        detail: err.detail(),
        errors: err.errors().map(<[FieldError]>::to_vec),
    }
}

/// The problem body of an error, as JSON.
pub fn problem_body(err: &ApiError) -> serde_json::Value {
    serde_json::to_value(problem(err)).unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status(), problem_body(&self).to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, ApiError::Unavailable | ApiError::Timeout) {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        r
    }
}

/// A JSON pointer for a store field name (`displayName` → `/displayName`,
/// `spec.admins[2]` → `/admins/2`, `spec.quota.pods` → `/quota/pods`).
pub fn pointer_of(field: &str) -> String {
    let field = field
        .strip_prefix("spec.")
        .or_else(|| field.strip_prefix("metadata."))
        .unwrap_or(field);
    if let Some(key) = field.strip_prefix("quota.") {
        return mtp_core::api::pointer(["quota", key]);
    }
    let segments: Vec<&str> = field
        .split(['.', '['])
        .map(|s| s.trim_end_matches(']'))
        .collect();
    mtp_core::api::pointer(segments)
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { kind, key } => {
                ApiError::NotFound(format!("{kind} {key} not found"))
            }
            StoreError::Conflict(c) => ApiError::Conflict(c.to_string()),
            StoreError::Invalid { field, message } => {
                ApiError::Validation(vec![FieldError::new(pointer_of(&field), message)])
            }
            StoreError::Unavailable { source } => {
                tracing::warn!(error = %source, "store unavailable");
                ApiError::Unavailable
            }
            StoreError::Internal { source } => {
                tracing::error!(error = %source, "store error");
                ApiError::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_from_store_fields() {
        assert_eq!(pointer_of("displayName"), "/displayName");
        assert_eq!(pointer_of("spec.admins[2]"), "/admins/2");
        assert_eq!(pointer_of("spec.quota.pods"), "/quota/pods");
        assert_eq!(pointer_of("spec.quota.requests.cpu"), "/quota/requests.cpu");
        assert_eq!(pointer_of("metadata.name"), "/name");
        assert_eq!(pointer_of("spec.quota.a/b"), "/quota/a~1b");
    }
}
