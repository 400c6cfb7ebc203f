//! `GET /openapi.json`: the OpenAPI 3.1 description, generated from the Rust types and the
//! handlers' attributes by utoipa.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::handlers;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A static API key or an OIDC access token"))
                    .build(),
            ),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mtp-apiserver",
        description = "The REST API of mtp, a multi-tenant platform for Kubernetes: tenants, members, audit. Errors are RFC 9457 application/problem+json."
    ),
    paths(
        handlers::list_tenants,
        handlers::create_tenant,
        handlers::get_tenant,
        handlers::put_tenant,
        handlers::patch_tenant,
        handlers::delete_tenant,
        handlers::list_members,
        handlers::add_member,
        handlers::remove_member,
        handlers::list_audit,
        handlers::whoami,
        handlers::auth_config,
        handlers::healthz,
        handlers::readyz,
        handlers::metrics,
    ),
    // The error responses are `types::responses` types, whose bodies utoipa does not collect.
    components(schemas(super::types::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

static DOC: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
});

/// The document as JSON.
pub fn json() -> &'static str {
    &DOC
}

/// Serves the document.
pub async fn serve() -> Response {
    let mut r = json().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
