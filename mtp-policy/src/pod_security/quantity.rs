//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`, `0.5`), parsed far enough to tell their
//! sign and to compare them.
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
    /// The quantity does not fit in 128 bits of nano-units (beyond about 10^29).
    #[error("quantity {0:?} is too large to compare")]
    TooLarge(String),
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

/// Compares two quantities by value, to the nano-unit (the finest precision Kubernetes keeps;
/// finer fractions are rounded up, as the apiserver does).
///
/// ```
/// use std::cmp::Ordering;
/// use mtp_policy::pod_security::quantity::compare;
/// assert_eq!(compare("1Gi", "1024Mi"), Ok(Ordering::Equal));
/// assert_eq!(compare("0.5", "500m"), Ok(Ordering::Equal));
/// assert_eq!(compare("2", "1500m"), Ok(Ordering::Greater));
/// assert_eq!(compare("1G", "1Gi"), Ok(Ordering::Less));
/// assert!(compare("1e40", "1").is_err());
/// ```
pub fn compare(a: &str, b: &str) -> Result<Ordering, QuantityError> {
    Ok(nanos(a)?.cmp(&nanos(b)?))
}

/// The value of a quantity in nano-units, rounded up (away from zero) to the nano-unit.
fn nanos(text: &str) -> Result<i128, QuantityError> {
    sign(text)?; // validates the grammar
    let s = text.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(end);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let too_large = || QuantityError::TooLarge(text.to_owned());
    let mut mantissa: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    let (decimal, binary): (i64, u32) = match suffix {
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "" => (0, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        exponent => {
            let digits = exponent.get(1..).unwrap_or_default();
            (digits.parse::<i64>().map_err(|_| too_large())?, 0)
        }
    };
    let value = mantissa
        .checked_mul(1i128.checked_shl(binary).ok_or_else(too_large)?)
        .ok_or_else(too_large)?;
    let frac_len = i64::try_from(frac.len()).map_err(|_| too_large())?;
    // Saturating: the extremes are too large, or round up to one nano-unit, below.
    let scale = decimal.saturating_add(9).saturating_sub(frac_len);
    let magnitude = if scale >= 0 {
        let factor = u32::try_from(scale)
            .ok()
            .and_then(|e| 10i128.checked_pow(e))
            .ok_or_else(too_large)?;
        value.checked_mul(factor).ok_or_else(too_large)?
    } else {
        match scale
            .checked_neg()
            .and_then(|e| u32::try_from(e).ok())
            .and_then(|e| 10i128.checked_pow(e))
        {
            // Smaller than a nano-unit per digit: round up.
            Some(divisor) => value / divisor + i128::from(value % divisor != 0),
            None => i128::from(value != 0),
        }
    };
    Ok(if negative { -magnitude } else { magnitude })
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
    fn compares_by_value() {
        for (a, b) in [
            ("1Gi", "1073741824"),
            ("1Gi", "1024Mi"),
            ("500m", "0.5"),
            ("1k", "1000"),
            ("1e3", "1k"),
            ("1E-3", "1m"),
            ("100m", ".1"),
            ("2", "2.000"),
            ("1Ei", "1152921504606846976"),
            ("0", "-0"),
            ("0.1n", "1n"),
        ] {
            assert_eq!(compare(a, b), Ok(Ordering::Equal), "{a} = {b}");
        }
        for (a, b) in [
            ("2", "1"),
            ("1001m", "1"),
            ("1Gi", "1G"),
            ("1Mi", "1M"),
            ("257Mi", "256Mi"),
            ("1", "-1"),
            ("1n", "0"),
        ] {
            assert_eq!(compare(a, b), Ok(Ordering::Greater), "{a} > {b}");
            assert_eq!(compare(b, a), Ok(Ordering::Less), "{b} < {a}");
        }
        assert!(matches!(
            compare("1e30", "1"),
            Err(QuantityError::TooLarge(_))
        ));
        assert!(matches!(
            compare("1", "99999999999999999999999999999999999999999"),
            Err(QuantityError::TooLarge(_))
        ));
        assert!(matches!(
            compare("1GB", "1"),
            Err(QuantityError::BadSuffix(_))
        ));
        // Exponents at the ends of i64 neither panic nor wrap.
        assert_eq!(compare("1e-9223372036854775808", "1n"), Ok(Ordering::Equal));
        assert_eq!(
            compare("0.0000000001e-9223372036854775808", "1n"),
            Ok(Ordering::Equal)
        );
        assert!(matches!(
            compare("1e9223372036854775807", "1"),
            Err(QuantityError::TooLarge(_))
        ));
        assert!(matches!(
            compare("1e99999999999999999999", "1"),
            Err(QuantityError::TooLarge(_))
        ));
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
