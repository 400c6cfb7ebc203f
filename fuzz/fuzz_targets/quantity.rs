//! Kubernetes quantities: mtp-policy's parser against the grammar the apiserver documents
//! (`k8s.io/apimachinery/pkg/api/resource`, `Quantity`), read the way a manifest's JSON is
//! (`UnmarshalJSON` trims white space). For any text, mtp accepts exactly what the grammar
//! accepts (unless the value is beyond what mtp compares, reported as too large), never panics,
//! and compares consistently.
#![no_main]

use std::cmp::Ordering;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mtp_policy::pod_security::quantity::{QuantityError, compare, sign};

/// `<signedNumber><suffix>`: `[+-]? (digits | digits.digits? | .digits)` then a binary SI
/// suffix, a decimal SI suffix (the documented `m k M G T P E` and the accepted `n u`), an
/// exponent `[eE][+-]?digits`, or nothing.
fn grammar() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
            .unwrap_or_else(|e| panic!("the oracle's regex: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\u{0}').unwrap_or((text, "1"));
    let by_grammar = grammar().is_match(a.trim());
    match sign(a) {
        Ok(_) => assert!(by_grammar, "mtp accepts {a:?}, the grammar does not"),
        Err(e) => assert!(!by_grammar, "mtp refuses {a:?} ({e}), the grammar accepts it"),
    }
    match (compare(a, b), compare(b, a)) {
        (Ok(x), Ok(y)) => assert_eq!(x, y.reverse(), "compare({a:?}, {b:?}) is not antisymmetric"),
        (Err(QuantityError::TooLarge(_)), _) | (_, Err(QuantityError::TooLarge(_))) => {}
        (Err(_), Err(_)) => {}
        (x, y) => panic!("compare({a:?}, {b:?}) = {x:?} but compare({b:?}, {a:?}) = {y:?}"),
    }
    if let Ok(o) = compare(a, a) {
        assert_eq!(o, Ordering::Equal, "{a:?} is not equal to itself");
    }
});
