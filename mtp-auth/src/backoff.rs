//! Exponential backoff: the one delay policy of mtp's retry loops (the token broker here, the
//! controller's failed reconciles in `mtp-bins`).

use std::time::Duration;

/// Exponential backoff: `min` after the first failure, doubling with each further failure, at
/// most `max`; with [`Backoff::with_jitter`] each delay is spread by ±25 % so that many clients
/// failing together do not retry together.
///
/// ```
/// use std::time::Duration;
/// use mtp_auth::backoff::Backoff;
///
/// let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// assert_eq!(b.delay(1), Duration::from_secs(1));
/// assert_eq!(b.delay(3), Duration::from_secs(4));
/// assert_eq!(b.delay(10), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub min: Duration,
    /// The longest delay (before jitter).
    pub max: Duration,
    /// Whether delays are spread by ±25 %.
    pub jitter: bool,
}

impl Default for Backoff {
    /// 1 s doubling to 60 s, without jitter.
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

impl Backoff {
    /// `min` doubling to `max`, without jitter.
    pub const fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            jitter: false,
        }
    }

    /// The same, with each delay spread by ±25 %.
    #[must_use]
    pub const fn with_jitter(self) -> Self {
        Backoff {
            jitter: true,
            ..self
        }
    }

    /// The delay after `failures` failures in a row (1 = the first; 0 counts as 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let base = self.min.saturating_mul(1u32 << exp).min(self.max);
        if !self.jitter {
            return base;
        }
        let mut r = [0u8; 2];
        let frac = if aws_lc_rs::rand::fill(&mut r).is_ok() {
            f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX)
        } else {
            0.5
        };
        base.mul_f64(0.75 + 0.5 * frac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=8).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.delay(0), b.delay(1));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_spreads_by_a_quarter() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).with_jitter();
        for (failures, base) in [(1, 100), (2, 200), (5, 1000), (30, 1000)] {
            for _ in 0..50 {
                let d = b.delay(failures).as_secs_f64() * 1000.0;
                let base = f64::from(base);
                assert!(d >= base * 0.75 - 0.001 && d <= base * 1.25 + 0.001, "{d}");
            }
        }
    }
}
