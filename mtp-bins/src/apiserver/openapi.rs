//! `GET /openapi.json`: the OpenAPI 3.1 description, generated from the Rust types and the
//! handlers' attributes by utoipa.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mtp_core::store::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use utoipa::openapi::RefOr;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
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

/// A continue token of a tenant list: `<name>.<uuid>` (empty: the first page).
pub const TENANT_CURSOR_PATTERN: &str = "^([a-z0-9]([-a-z0-9]{0,54}[a-z0-9])?\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$";
/// A continue token of an audit list: a record id (empty: the first page).
pub const AUDIT_CURSOR_PATTERN: &str = "^([+-]?[0-9]{1,18})?$";
/// An `If-Match` header: `*` or the ETag of a GET (empty: as if absent).
pub const IF_MATCH_PATTERN: &str = "^(|\\*|(W/)?\"[+-]?[0-9]{1,18}\")$";

/// What the server enforces on query parameters and headers, stated in the document (the
/// derive cannot take constants): page sizes, continue tokens, If-Match.
struct Parameters;

fn string_param(pattern: &str) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .build(),
    )
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.patch.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

impl Modify for Parameters {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let audit = path.ends_with("/audit");
            for op in operations(item) {
                for p in op.parameters.iter_mut().flatten() {
                    let schema = match p.name.as_str() {
                        "limit" => Schema::Object(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                                    utoipa::openapi::KnownFormat::Int32,
                                )))
                                .minimum(Some(1))
                                .maximum(Some(MAX_PAGE_SIZE))
                                .default(Some(DEFAULT_PAGE_SIZE.into()))
                                .build(),
                        ),
                        "continue" if audit => string_param(AUDIT_CURSOR_PATTERN),
                        "continue" => string_param(TENANT_CURSOR_PATTERN),
                        "If-Match" => string_param(IF_MATCH_PATTERN),
                        _ => continue,
                    };
                    p.schema = Some(RefOr::T(schema));
                }
            }
        }
    }
}

/// OpenAPI links from the create operations to the operations on what they created, so that
/// clients (and stateful testers) can follow them.
struct Links;

/// A link: its name, the operation it leads to and that operation's parameters (name,
/// runtime expression).
type LinkSpec<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

fn add_links(op: Option<&mut Operation>, status: &str, links: &[LinkSpec<'_>]) {
    let Some(op) = op else { return };
    let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) else {
        return;
    };
    for (name, operation_id, params) in links {
        let mut link = LinkBuilder::new().operation_id(*operation_id);
        for (param, expr) in *params {
            link = link.parameter(*param, *expr);
        }
        response
            .links
            .insert((*name).to_string(), RefOr::T(link.build()));
    }
}

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let name: &[(&str, &str)] = &[("name", "$response.body#/name")];
        if let Some(item) = openapi.paths.paths.get_mut("/api/v1/tenants") {
            add_links(
                item.post.as_mut(),
                "201",
                &[
                    ("GetTenant", "get_tenant", name),
                    ("ReplaceTenant", "put_tenant", name),
                    ("PatchTenant", "patch_tenant", name),
                    ("DeleteTenant", "delete_tenant", name),
                    ("ListMembers", "list_members", name),
                    ("AddMember", "add_member", name),
                    ("ListAudit", "list_audit", name),
                ],
            );
        }
        let member: &[(&str, &str)] = &[
            ("name", "$request.path.name"),
            ("userId", "$response.body#/userId"),
        ];
        let tenant: &[(&str, &str)] = &[("name", "$request.path.name")];
        if let Some(item) = openapi
            .paths
            .paths
            .get_mut("/api/v1/tenants/{name}/members")
        {
            add_links(
                item.post.as_mut(),
                "201",
                &[
                    ("RemoveMember", "remove_member", member),
                    ("ListMembers", "list_members", tenant),
                    ("GetTenant", "get_tenant", tenant),
                ],
            );
        }
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
    modifiers(&BearerAuth, &Parameters, &Links)
)]
pub struct ApiDoc;

static DOC: LazyLock<String> = LazyLock::new(|| {
    let mut doc = match serde_json::to_value(ApiDoc::openapi()) {
        Ok(v) => v,
        Err(e) => return format!("{{\"error\": \"{e}\"}}"),
    };
    fix_link_keys(&mut doc);
    doc.to_string()
});

/// utoipa 5 writes a link's `operationId`, `operationRef` and `requestBody` in snake case;
/// OpenAPI names them in camel case.
fn fix_link_keys(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for op in paths.values_mut().filter_map(|i| i.as_object_mut()) {
        for operation in op.values_mut() {
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut())
            else {
                continue;
            };
            for response in responses.values_mut() {
                let Some(links) = response.get_mut("links").and_then(|l| l.as_object_mut()) else {
                    continue;
                };
                for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                    for (from, to) in [
                        ("operation_id", "operationId"),
                        ("operation_ref", "operationRef"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(v) = link.remove(from) {
                            link.insert(to.to_string(), v);
                        }
                    }
                }
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn doc() -> serde_json::Value {
        serde_json::from_str(json()).unwrap()
    }

    #[test]
    fn limits_and_rules_are_in_the_document() {
        let d = doc();
        let params = &d["paths"]["/api/v1/tenants"]["get"]["parameters"];
        let limit = params
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], MAX_PAGE_SIZE);
        let create = &d["components"]["schemas"]["TenantCreate"];
        assert_eq!(create["additionalProperties"], false, "{create}");
        assert_eq!(
            create["properties"]["name"]["maxLength"],
            mtp_core::rules::MAX_TENANT_NAME_LEN
        );
        assert_eq!(
            create["properties"]["ownerEmail"]["pattern"],
            mtp_core::rules::EMAIL_PATTERN
        );
        assert_eq!(
            create["properties"]["ownerEmail"]["minLength"],
            mtp_core::rules::MIN_EMAIL_LEN
        );
        assert_eq!(
            create["properties"]["namespaces"]["items"]["maxLength"],
            mtp_core::rules::MAX_NAMESPACE_SUFFIX_LEN
        );
        assert_eq!(
            create["properties"]["admins"]["maxItems"],
            mtp_core::rules::MAX_USERS_PER_ROLE
        );
        let mut required: Vec<&str> = create["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort();
        assert_eq!(required, ["name", "ownerEmail", "tier"]);
    }

    #[test]
    fn create_operations_link_to_what_they_created() {
        let d = doc();
        let links = &d["paths"]["/api/v1/tenants"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            links["GetTenant"]["operationId"], "get_tenant",
            "{}",
            d["paths"]["/api/v1/tenants"]["post"]["responses"]["201"]
        );
        assert_eq!(
            links["GetTenant"]["parameters"]["name"],
            "$response.body#/name"
        );
        let ids: Vec<String> = d["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str().map(str::to_string))
            .collect();
        for link in links.as_object().unwrap().values() {
            assert!(ids.contains(&link["operationId"].as_str().unwrap().to_string()));
        }
        let member = &d["paths"]["/api/v1/tenants/{name}/members"]["post"]["responses"]["201"]["links"]
            ["RemoveMember"];
        assert_eq!(member["parameters"]["userId"], "$response.body#/userId");
    }
}
