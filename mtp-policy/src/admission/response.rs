//! A webhook's answer and the one writer of the `admission.k8s.io/v1` AdmissionReview response.

use serde::Serialize;
use serde_json::Value;

use crate::json::push_str;

/// One JSON Patch (RFC 6902) operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    /// `add`, `replace`, `remove`...
    pub op: &'static str,
    /// A JSON pointer.
    pub path: String,
    /// The value, for `add` and `replace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOp {
    /// `add` (which also replaces an existing member of an object).
    pub fn add(path: impl Into<String>, value: Value) -> PatchOp {
        PatchOp {
            op: "add",
            path: path.into(),
            value: Some(value),
        }
    }
}

/// Escapes one JSON-pointer reference token (`~` → `~0`, `/` → `~1`).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A webhook's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// Allowed or not.
    pub allowed: bool,
    /// The HTTP-like status code of a denial (403 by default).
    pub code: u16,
    /// The denial message.
    pub message: Option<String>,
    /// The JSON Patch of a mutating webhook.
    pub patch: Vec<PatchOp>,
    /// Warnings shown to the user (kubectl prints them).
    pub warnings: Vec<String>,
    /// The check ids behind a denial, for metrics.
    pub checks: Vec<String>,
}

impl Response {
    /// Allowed, nothing to say.
    pub fn allow() -> Response {
        Response {
            allowed: true,
            code: 200,
            ..Response::default()
        }
    }

    /// Denied with 403 Forbidden and `message`.
    pub fn deny(message: impl Into<String>) -> Response {
        Response {
            allowed: false,
            code: 403,
            message: Some(message.into()),
            ..Response::default()
        }
    }

    /// Denied because the object could not be read (400).
    pub fn invalid(message: impl Into<String>) -> Response {
        Response {
            allowed: false,
            code: 400,
            message: Some(message.into()),
            ..Response::default()
        }
    }

    /// With a JSON Patch.
    pub fn with_patch(mut self, patch: Vec<PatchOp>) -> Response {
        self.patch = patch;
        self
    }

    /// With a warning.
    pub fn with_warning(mut self, warning: impl Into<String>) -> Response {
        self.warnings.push(warning.into());
        self
    }

    /// With the check ids behind a denial.
    pub fn with_checks(mut self, checks: Vec<String>) -> Response {
        self.checks = checks;
        self
    }

    /// The `admission.k8s.io/v1` AdmissionReview response for the request `uid`, as bytes: the
    /// one writer of the crate (the router, the hooks and `Policy::review_json` all answer with
    /// it). The envelope is constant bytes, strings are escaped as serde_json escapes them, keys
    /// come in the order of the AdmissionReview type (`uid`, `allowed`, `status`, `patchType`,
    /// `patch`, `warnings`), so the document is byte for byte the one serde_json would write.
    pub fn to_review_bytes(&self, uid: &str) -> Vec<u8> {
        let patch = (!self.patch.is_empty()).then(|| {
            let json = serde_json::to_vec(&self.patch).unwrap_or_default();
            base64(&json)
        });
        // Sized once: the envelope is under 200 bytes; the message and patch are escaped JSON.
        let size = 200
            + uid.len()
            + self.message.as_ref().map_or(0, |m| m.len() + m.len() / 8)
            + patch.as_ref().map_or(0, String::len)
            + self.warnings.iter().map(|w| w.len() + 4).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        let reason = match self.code {
            400 => "BadRequest",
            403 => "Forbidden",
            _ => "InternalError",
        };
        out.extend_from_slice(
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"#,
        );
        push_str(&mut out, uid);
        if self.allowed {
            out.extend_from_slice(br#","allowed":true"#);
        } else {
            out.extend_from_slice(br#","allowed":false,"status":{"code":"#);
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.extend_from_slice(br#","reason":"#);
            push_str(&mut out, reason);
            out.extend_from_slice(br#","message":"#);
            push_str(&mut out, self.message.as_deref().unwrap_or_default());
            out.push(b'}');
        }
        if let Some(patch) = &patch {
            out.extend_from_slice(br#","patchType":"JSONPatch","patch":"#);
            push_str(&mut out, patch);
        }
        if !self.warnings.is_empty() {
            out.extend_from_slice(br#","warnings":["#);
            for (i, warning) in self.warnings.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(&mut out, warning);
            }
            out.push(b']');
        }
        out.extend_from_slice(b"}}");
        out
    }
}

/// Standard base64 (RFC 4648, padded), for the `patch` of a response.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32, shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        out.push(sextet(n, 18));
        out.push(sextet(n, 12));
        out.push(if chunk.len() > 1 { sextet(n, 6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(n, 0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod review_bytes_tests {
    #![allow(clippy::unwrap_used)]
    use serde::Serialize;

    use super::{PatchOp, Response};

    // What `to_review_bytes` wrote with serde_json before it wrote the bytes itself.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ReviewOut<'r> {
        api_version: &'static str,
        kind: &'static str,
        response: ResponseOut<'r>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ResponseOut<'r> {
        uid: &'r str,
        allowed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<StatusOut<'r>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        patch_type: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        patch: Option<String>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        warnings: &'r [String],
    }

    #[derive(Serialize)]
    struct StatusOut<'r> {
        code: u16,
        reason: &'static str,
        message: &'r str,
    }

    fn with_serde(response: &Response, uid: &str) -> Vec<u8> {
        let patch = (!response.patch.is_empty()).then(|| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .encode(serde_json::to_vec(&response.patch).unwrap())
        });
        serde_json::to_vec(&ReviewOut {
            api_version: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            response: ResponseOut {
                uid,
                allowed: response.allowed,
                status: (!response.allowed).then(|| StatusOut {
                    code: response.code,
                    reason: match response.code {
                        400 => "BadRequest",
                        403 => "Forbidden",
                        _ => "InternalError",
                    },
                    message: response.message.as_deref().unwrap_or_default(),
                }),
                patch_type: patch.is_some().then_some("JSONPatch"),
                patch,
                warnings: &response.warnings,
            },
        })
        .unwrap()
    }

    #[test]
    fn base64_is_rfc_4648() {
        // The test vectors of RFC 4648, section 10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
        let all: Vec<u8> = (0..=255).collect();
        assert!(super::base64(&all).ends_with("+/w=="));
        assert!(super::base64(&[0xfb, 0xff]).starts_with("+/"));
    }

    #[test]
    fn the_bytes_are_what_serde_json_wrote() {
        let patch = vec![PatchOp::add(
            "/metadata/labels",
            serde_json::json!({"a": "b \"c\""}),
        )];
        let message = "violates the \"mtp\" profile:\ncontainer \"x\" \\ é 😀 \u{1}\t\u{7f}";
        let cases = [
            Response::allow(),
            Response::allow().with_warning("no tenant for namespace \"x\""),
            Response::allow().with_warning("a").with_warning("b\n"),
            Response::deny(message),
            Response::deny("").with_checks(vec!["limits".into()]),
            Response::invalid("cannot read request.object: EOF at line 1"),
            Response::allow().with_patch(patch.clone()),
            Response::allow().with_patch(patch).with_warning("w"),
        ];
        for response in &cases {
            for uid in ["", "0c9a8d74-9cb7-44dd-b98e-09fd62def2f4", "a\"b"] {
                assert_eq!(
                    String::from_utf8(response.to_review_bytes(uid)).unwrap(),
                    String::from_utf8(with_serde(response, uid)).unwrap(),
                );
            }
        }
        let mut internal = Response::deny("boom");
        internal.code = 500;
        assert_eq!(internal.to_review_bytes("u"), with_serde(&internal, "u"));
    }
}
