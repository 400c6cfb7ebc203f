//! The API's request and response types: the wire types of [`mtp_core::api`], shared with
//! mtpctl, and the problem+json responses of the OpenAPI document.

pub use mtp_core::api::*;

/// The problem+json responses of the API, one type per status, for the handlers'
/// `#[utoipa::path(responses(...))]` lists: each description is written once.
pub mod responses {
    use super::Problem;

    /// 400: bad request: malformed JSON, bad query parameter or If-Match.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 400,
        description = "bad request: malformed JSON, bad query parameter or If-Match",
        content_type = "application/problem+json"
    )]
    pub struct BadRequest(pub Problem);

    /// 401: missing or invalid credentials.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 401,
        description = "missing or invalid credentials",
        content_type = "application/problem+json"
    )]
    pub struct Unauthorized(pub Problem);

    /// 403: the caller may see the tenant but not do this.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 403,
        description = "the caller may see the tenant but not do this",
        content_type = "application/problem+json"
    )]
    pub struct Forbidden(pub Problem);

    /// 404: no such tenant or member (or one the caller may not see).
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 404,
        description = "no such tenant or member (or one the caller may not see)",
        content_type = "application/problem+json"
    )]
    pub struct NotFound(pub Problem);

    /// 409: duplicate name, stale If-Match, member already present, namespace taken.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 409,
        description = "duplicate name, stale If-Match, member already present, namespace taken",
        content_type = "application/problem+json"
    )]
    pub struct Conflict(pub Problem);

    /// 413: body larger than 1 MiB.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 413,
        description = "body larger than 1 MiB",
        content_type = "application/problem+json"
    )]
    pub struct TooLarge(pub Problem);

    /// 415: wrong Content-Type.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 415,
        description = "wrong Content-Type",
        content_type = "application/problem+json"
    )]
    pub struct UnsupportedMediaType(pub Problem);

    /// 422: invalid fields, all listed in errors[].
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 422,
        description = "invalid fields, all listed in errors[]",
        content_type = "application/problem+json"
    )]
    pub struct Unprocessable(pub Problem);

    /// 429: rate limited.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 429,
        description = "rate limited",
        content_type = "application/problem+json"
    )]
    pub struct RateLimited(pub Problem);

    /// 503: the database is unavailable, or the request timed out.
    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 503,
        description = "the database is unavailable, or the request timed out",
        content_type = "application/problem+json"
    )]
    pub struct Unavailable(pub Problem);
}
