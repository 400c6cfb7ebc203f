//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`, `0.5`), parsed far enough to tell their sign.
//!
//! The grammar is the apiserver's (`k8s.io/apimachinery/pkg/api/resource`):
//! `<sign>? (<digits> | <digits>.<digits>? | .<digits>) (<binarySI> | <decimalSI> | [eE]<sign>?<digits>)?`
//! with binary suffixes `Ki Mi Gi Ti Pi Ei` and decimal suffixes `n u m k M G T P E`.

use std::cmp::Ordering;

use thiserror::Error;

/// Why a quantity could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum QuantityError {
    /// The text is empty.
    #[error("empty quantity")]
    Empty,
    /// The text has no digits where a number must be.
    #[error("quantity {0:?} has no number")]
    NoNumber(String),
    /// The text ends in something that is not a Kubernetes suffix.
    #[error(
        "quantity {0:?} has an unknown suffix (expected one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or an exponent)"
    )]
    BadSuffix(String),
}

/// The sign of a quantity: `Less` for negative, `Equal` for zero, `Greater` for positive.
///
/// ```
/// use std::cmp::Ordering;
/// use mtp_policy::pod_security::quantity::sign;
/// assert_eq!(sign("500m"), Ok(Ordering::Greater));
/// assert_eq!(sign("0Mi"), Ok(Ordering::Equal));
/// assert_eq!(sign("0.0"), Ok(Ordering::Equal));
/// assert_eq!(sign("-1"), Ok(Ordering::Less));
/// assert!(sign("1 GB").is_err());
/// ```
pub fn sign(text: &str) -> Result<Ordering, QuantityError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(QuantityError::Empty);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let negative = match bytes[0] {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut digits = 0usize;
    let mut nonzero = false;
    let mut seen_dot = false;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => {
                digits += 1;
                nonzero |= bytes[i] != b'0';
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return Err(QuantityError::NoNumber(text.to_owned()));
    }
    if !valid_suffix(&s[i..]) {
        return Err(QuantityError::BadSuffix(text.to_owned()));
    }
    Ok(match (nonzero, negative) {
        (false, _) => Ordering::Equal,
        (true, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
    })
}

fn valid_suffix(suffix: &str) -> bool {
    match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        _ => {
            let Some(exponent) = suffix.strip_prefix(['e', 'E']) else {
                return false;
            };
            let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            !exponent.is_empty() && exponent.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_in_every_spelling() {
        for zero in [
            "0", "0Mi", "0.0", "0m", "00", ".0", "0.", "-0", "+0", "0e3", "0Ki", " 0 ",
        ] {
            assert_eq!(sign(zero), Ok(Ordering::Equal), "{zero}");
        }
    }

    #[test]
    fn positive_and_negative() {
        for positive in [
            "1",
            "500m",
            "1Gi",
            "0.5",
            ".5",
            "1e3",
            "1E-3",
            "2k",
            "1n",
            "+1",
            "128974848",
        ] {
            assert_eq!(sign(positive), Ok(Ordering::Greater), "{positive}");
        }
        assert_eq!(sign("-1m"), Ok(Ordering::Less));
    }

    #[test]
    fn invalid() {
        assert_eq!(sign(""), Err(QuantityError::Empty));
        assert_eq!(sign("Mi"), Err(QuantityError::NoNumber("Mi".into())));
        assert_eq!(sign("-"), Err(QuantityError::NoNumber("-".into())));
        for bad in ["1GB", "1 Gi", "1.2.3", "1e", "1e+", "1x", "1Mi5", "1kk"] {
            assert!(
                matches!(sign(bad), Err(QuantityError::BadSuffix(_))),
                "{bad}"
            );
        }
    }
}
