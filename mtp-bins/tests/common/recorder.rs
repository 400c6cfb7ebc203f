//! The recording layer of the mocked apiservers: every request a `kube::Client` over a mock
//! sends is recorded, before the mock sees it, as the Kubernetes authorization checks it meets
//! (`mtp_bins::rbac::required_attributes`: verb, group, resource, subresource, namespace, name;
//! a server-side apply also as `create`, a binding write also as `bind`). `mock_client()` records
//! into [`recorded_by_mocks`]; `tests/rbac_shipped.rs` checks what its flows record against the
//! RBAC `mtpctl install` ships.

use std::sync::{Arc, LazyLock, Mutex};

use http::{Request, Response};
use kube::client::Body;
use mtp_bins::rbac::{Attributes, RbacError, required_attributes};
use serde_json::Value;
use tower::ServiceExt as _;

/// One request as the mock received it, and the checks it needs.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `METHOD /path?query`, for messages.
    pub request: String,
    /// The authorization checks it meets, or why the path is not a resource request.
    pub attributes: Result<Vec<Attributes>, RbacError>,
}

/// The requests of one client, in order.
#[derive(Debug, Clone, Default)]
pub struct Recording(Arc<Mutex<Vec<Recorded>>>);

impl Recording {
    /// Every request recorded so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn push(&self, r: Recorded) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }
}

static ALL: LazyLock<Recording> = LazyLock::new(Recording::default);

/// Everything the clients of [`super::mock_client`] sent in this test binary.
pub fn recorded_by_mocks() -> Recording {
    ALL.clone()
}

/// Records `request` (with its body, read in full) into `recording`.
fn record(recording: &Recording, parts: &http::request::Parts, body: &[u8]) {
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let query = parts.uri.query();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let json: Option<Value> = serde_json::from_slice(body).ok();
    recording.push(Recorded {
        request: format!("{method} {}", parts.uri),
        attributes: required_attributes(method, path, query, content_type, json.as_ref()),
    });
}

/// A client whose requests are recorded into `recording` and then handed to `mock`.
pub fn recording_client(
    mock: tower_test::mock::Mock<Request<Body>, Response<Body>>,
    recording: Recording,
) -> kube::Client {
    let service = tower::service_fn(move |request: Request<Body>| {
        let mock = mock.clone();
        let recording = recording.clone();
        async move {
            let (parts, body) = request.into_parts();
            let bytes = body
                .collect_bytes()
                .await
                .map_err(|e| -> tower::BoxError { Box::new(e) })?;
            record(&recording, &parts, &bytes);
            if !std::ptr::eq(Arc::as_ptr(&recording.0), Arc::as_ptr(&ALL.0)) {
                record(&ALL, &parts, &bytes);
            }
            let request = Request::from_parts(parts, Body::from(bytes.to_vec()));
            mock.oneshot(request).await
        }
    });
    kube::Client::new(service, "default")
}
