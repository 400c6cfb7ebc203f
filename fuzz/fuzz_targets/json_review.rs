//! The admission JSON reader, differential: for any bytes, `AdmissionReview::from_slice` (the
//! crate's fast reader, falling back to serde_json) and plain serde_json give the same review
//! (the raw-JSON view the framework reads and the typed pod-security view), or both refuse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtp_policy::admission::AdmissionReview;
use mtp_policy::pod_security::model::Object;

fn same<'a, O>(data: &'a [u8])
where
    O: serde::Deserialize<'a> + std::fmt::Debug,
{
    let ours = AdmissionReview::<O>::from_slice(data);
    let theirs: serde_json::Result<AdmissionReview<'a, O>> = serde_json::from_slice(data);
    match (ours, theirs) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "the reviews differ"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "the errors differ"),
        (Ok(a), Err(b)) => panic!("read by mtp ({a:?}) but refused by serde_json ({b})"),
        (Err(a), Ok(b)) => panic!("refused by mtp ({a}) but read by serde_json ({b:?})"),
    }
}

fuzz_target!(|data: &[u8]| {
    same::<mtp_policy::admission::RawJson<'_>>(data);
    same::<Object<'_>>(data);
});
