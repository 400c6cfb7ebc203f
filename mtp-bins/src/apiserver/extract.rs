//! Typed request bodies: [`JsonBody`] (`application/json`) and [`MergePatch`]
//! (`application/merge-patch+json`), whose rejection is the API's problem+json ([`ApiError`]).
//!
//! A body is deserialized into its [`mtp_core::api`] type with `serde_path_to_error`, so each
//! type error has a JSON pointer. To report every invalid field at once, a field that does not
//! deserialize is noted and replaced by its placeholder (the type's `Default`), an unknown field
//! is noted and dropped, and deserialization goes on; the value rules then run in the type's
//! validator, and [`Typed::merge`] puts both lists together.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::BODY_LIMIT;
use super::problem::{ApiError, FieldError};

/// A body of type `T`, with the fields that did not deserialize (their placeholders are in
/// `value`).
#[derive(Debug, Clone)]
pub struct Typed<T> {
    /// The body; fields listed in `errors` hold placeholders.
    pub value: T,
    /// The fields that did not deserialize: wrong type, unknown value or field, missing.
    pub errors: Vec<FieldError>,
}

impl<T> Typed<T> {
    /// The result of the value rules of `value`, after the type errors: every invalid field
    /// once (a field with a type error is not checked again).
    pub fn merge<V>(
        self,
        validate: impl FnOnce(T) -> Result<V, Vec<FieldError>>,
    ) -> Result<V, ApiError> {
        let Typed { value, mut errors } = self;
        let replaced: Vec<String> = errors.iter().map(|e| top_level(&e.pointer)).collect();
        match validate(value) {
            Ok(v) if errors.is_empty() => Ok(v),
            Ok(_) => Err(ApiError::Validation(errors)),
            Err(more) => {
                errors.extend(
                    more.into_iter()
                        .filter(|e| !replaced.contains(&top_level(&e.pointer))),
                );
                Err(ApiError::Validation(errors))
            }
        }
    }
}

/// The first segment of a JSON pointer (`/admins/2` → `/admins`).
fn top_level(pointer: &str) -> String {
    match pointer.get(1..).and_then(|rest| rest.find('/')) {
        Some(i) => pointer[..i + 1].to_string(),
        None => pointer.to_string(),
    }
}

/// A JSON body (`Content-Type: application/json`) of type `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub Typed<T>);

/// A JSON merge patch (`Content-Type: application/merge-patch+json`), an object.
#[derive(Debug, Clone)]
pub struct MergePatch(pub Map<String, Value>);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Serialize + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let value = json_value(req, state, "application/json").await?;
        deserialize_all(value).map(JsonBody)
    }
}

impl<S> FromRequest<S> for MergePatch
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match json_value(req, state, "application/merge-patch+json").await? {
            Value::Object(map) => Ok(MergePatch(map)),
            _ => Err(ApiError::Validation(vec![FieldError::new(
                "",
                "a merge patch must be a JSON object",
            )])),
        }
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Reads a JSON body of media type `expected`: 415, 413 or 400 when it is not one.
async fn json_value<S: Send + Sync>(
    req: Request,
    state: &S,
    expected: &str,
) -> Result<Value, ApiError> {
    match media_type(req.headers()) {
        Some(t) if t == expected => {}
        Some(t) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "{t:?}; send Content-Type: {expected}"
            )));
        }
        None => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "none given; send Content-Type: {expected}"
            )));
        }
    }
    let body = match Bytes::from_request(req, state).await {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::PayloadTooLarge(BODY_LIMIT));
        }
        Err(_) => return Err(ApiError::malformed_json("the request body cannot be read")),
    };
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::malformed_json(format!(
            "the body is not valid JSON: {} at line {} column {}",
            match e.classify() {
                serde_json::error::Category::Eof => "unexpected end of input",
                _ => "syntax error",
            },
            e.line(),
            e.column()
        ))
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The name between the first pair of backticks of a serde message.
fn quoted(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next().map(str::to_string)
}

/// Deserializes `value` into `T`, noting every field that does not fit (see the module doc).
/// A body that is not a JSON object is a 422 at pointer ``.
pub fn deserialize_all<T>(value: Value) -> Result<Typed<T>, ApiError>
where
    T: DeserializeOwned + Serialize + Default,
{
    let Value::Object(mut object) = value else {
        return Err(ApiError::Validation(vec![FieldError::new(
            "",
            format!("the body must be a JSON object, not {}", type_name(&value)),
        )]));
    };
    let placeholders = match serde_json::to_value(T::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut errors: Vec<FieldError> = Vec::new();
    // Each round fixes one top-level field, so there are at most as many rounds as fields.
    for _ in 0..=(object.len() + placeholders.len() + 1) {
        let err = match serde_path_to_error::deserialize::<_, T>(&Value::Object(object.clone())) {
            Ok(value) => return Ok(Typed { value, errors }),
            Err(e) => e,
        };
        let mut path: Vec<String> = err
            .path()
            .iter()
            .map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => index.to_string(),
                serde_path_to_error::Segment::Map { key } => key.clone(),
                serde_path_to_error::Segment::Enum { variant } => variant.clone(),
                serde_path_to_error::Segment::Unknown => "?".to_string(),
            })
            .collect();
        let message = err.into_inner().to_string();
        if let Some(field) = quoted(&message, "unknown field `") {
            if path.last() != Some(&field) {
                path.push(field);
            }
            let known = message
                .split_once(", expected ")
                .map(|(_, k)| format!("unknown field; expected {}", k.replace('`', "")))
                .unwrap_or_else(|| "unknown field".to_string());
            errors.push(FieldError::new(
                mtp_core::api::pointer(path.iter().map(String::as_str)),
                known,
            ));
        } else if let Some(field) = quoted(&message, "missing field `") {
            path.push(field);
            errors.push(FieldError::new(
                mtp_core::api::pointer(path.iter().map(String::as_str)),
                "required",
            ));
        } else {
            errors.push(FieldError::new(
                mtp_core::api::pointer(path.iter().map(String::as_str)),
                message,
            ));
        }
        // Replace the top-level field with its placeholder (or drop it) and go on.
        let Some(top) = path.first().cloned() else {
            return Err(ApiError::Validation(errors));
        };
        match placeholders.get(&top) {
            Some(p) => {
                object.insert(top, p.clone());
            }
            None => {
                if object.remove(&top).is_none() {
                    return Err(ApiError::Validation(errors));
                }
            }
        }
    }
    Err(ApiError::Validation(errors))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mtp_core::api::{MemberInput, TenantCreate};
    use serde_json::json;

    fn pointers(r: Result<(), ApiError>) -> Vec<String> {
        match r {
            Err(ApiError::Validation(errors)) => {
                let mut p: Vec<String> = errors.into_iter().map(|e| e.pointer).collect();
                p.sort();
                p
            }
            other => panic!("{other:?}"),
        }
    }

    fn tenant(v: Value) -> Vec<String> {
        pointers(
            deserialize_all::<TenantCreate>(v)
                .and_then(|t| t.merge(TenantCreate::validate))
                .map(|_| ()),
        )
    }

    #[test]
    fn every_invalid_field_at_once() {
        assert_eq!(
            tenant(
                json!({"name": "Not_A_Label", "tier": "gold", "ownerEmail": "nope",
                   "displayName": "", "admins": ["ok", " padded"], "viewers": ["ok"],
                   "egress": "everywhere", "namespaces": ["ci", "ci", "Bad"],
                   "quota": {"pods": "many", "gpus": "1"}, "colour": "blue"})
            ),
            [
                "/admins/1",
                "/colour",
                "/displayName",
                "/egress",
                "/name",
                "/namespaces/1",
                "/namespaces/2",
                "/ownerEmail",
                "/quota/gpus",
                "/quota/pods",
                "/tier",
                "/viewers/0"
            ]
        );
        assert_eq!(tenant(json!({})), ["/name", "/ownerEmail", "/tier"]);
        assert_eq!(tenant(json!([1, 2])), [""]);
        assert_eq!(
            tenant(json!({"name": 5, "tier": "pro", "ownerEmail": "a@b.c", "admins": "alice"})),
            ["/admins", "/name"]
        );
        assert_eq!(
            tenant(json!({"name": "a", "tier": "pro", "ownerEmail": "a@b.c", "admins": ["x", 3]})),
            ["/admins/1"]
        );
        assert_eq!(
            tenant(json!({"name": "a", "tier": "pro", "ownerEmail": "a@b.c", "quota": {"a/b": 1}})),
            ["/quota/a~1b"]
        );
    }

    #[test]
    fn members() {
        let r = deserialize_all::<MemberInput>(json!({"userId": "", "role": "owner"}))
            .and_then(|t| t.merge(MemberInput::validate))
            .map(|_| ());
        assert_eq!(pointers(r), ["/role", "/userId"]);
    }

    #[test]
    fn top_levels() {
        assert_eq!(top_level("/admins/2"), "/admins");
        assert_eq!(top_level("/name"), "/name");
        assert_eq!(top_level(""), "");
    }
}
