//! Bounded polling: every wait has a deadline and says, when it runs out, what it waited for and
//! what the cluster showed last.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;

/// How often a condition is looked at again.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// The answer of one look: done with a value, or not yet with what was seen.
pub enum Poll<T> {
    /// The condition holds.
    Ready(T),
    /// Not yet; what the cluster (or process) showed.
    Pending(String),
}

/// Calls `look` every [`POLL_EVERY`] until it is [`Poll::Ready`], an error (returned at once), or
/// `timeout` has passed (an error naming `what` and the last thing seen).
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut look: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Poll<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let seen = match look().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(seen) => seen,
        };
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}; last seen: {seen}");
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_value_once_ready() {
        let mut n = 0;
        let v = until("three looks", Duration::from_secs(10), || {
            n += 1;
            let n = n;
            async move {
                Ok(if n == 3 {
                    Poll::Ready(n)
                } else {
                    Poll::Pending(format!("look {n}"))
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
    }

    #[tokio::test]
    async fn times_out_naming_what_and_the_last_state() {
        let err = until::<(), _, _>(
            "the Tenant to be Ready",
            Duration::from_millis(10),
            || async { Ok(Poll::Pending("Ready=False (Forbidden)".into())) },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "timed out after 10ms waiting for the Tenant to be Ready; last seen: Ready=False (Forbidden)"
        );
    }

    #[tokio::test]
    async fn an_error_stops_at_once() {
        let err = until::<(), _, _>("x", Duration::from_secs(60), || async {
            anyhow::bail!("the webhook exited")
        })
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "the webhook exited");
    }
}
