//! The REST API's request bodies, through the server's own extractor (`JsonBody`: JSON, then
//! every field into the `mtp_core::api` type with serde_path_to_error, then the type's
//! validator, merged as the handlers merge them): any bytes give a value or a problem+json 4xx
//! whose field errors carry JSON pointers; never a panic and never a 5xx.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use mtp_bins::apiserver::extract::JsonBody;
use mtp_bins::apiserver::problem::ApiError;
use mtp_core::api::{MemberInput, TenantCreate, TenantReplace};
use serde::Serialize;
use serde::de::DeserializeOwned;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

fn refused(e: ApiError) {
    if let ApiError::Validation(errors) = &e {
        assert!(!errors.is_empty(), "a 422 without a field");
        for f in errors {
            assert!(f.pointer.is_empty() || f.pointer.starts_with('/'), "{f:?}");
            assert!(!f.detail.is_empty(), "{f:?}");
        }
    }
    let status = e.into_response().status();
    assert!(status.is_client_error(), "{status}");
}

fn read<T, V>(data: &[u8], validate: impl FnOnce(T) -> Result<V, Vec<mtp_core::api::FieldError>>)
where
    T: DeserializeOwned + Serialize + Default,
{
    let Ok(request) = Request::builder()
        .method("POST")
        .uri("/api/v1/tenants")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(data.to_vec()))
    else {
        return;
    };
    match RUNTIME.block_on(JsonBody::<T>::from_request(request, &())) {
        Ok(JsonBody(typed)) => {
            if let Err(e) = typed.merge(validate) {
                refused(e);
            }
        }
        Err(e) => refused(e),
    }
}

fuzz_target!(|data: &[u8]| {
    read::<TenantCreate, _>(data, TenantCreate::validate);
    read::<TenantReplace, _>(data, |t| t.validate("acme"));
    read::<MemberInput, _>(data, MemberInput::validate);
});
