//! When and how long to wait before repeating a request.
//!
//! Invariants: only calls that are safe to repeat are retried on 503/502/504, timeouts and
//! `UNABLE_TO_LOCK_ROW` (a repeated create could create a record twice); a connection that was
//! never established is always safe to retry, since nothing reached Salesforce. Delays grow
//! exponentially with "equal jitter" (half fixed, half random) so that several workers hitting
//! the same locked row do not retry in lockstep, and a delay is never zero.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first delay's ceiling.
    pub base_delay: Duration,
    /// No delay exceeds this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The delay before retry number `attempt` (0 for the first retry): a ceiling of
    /// `base * 2^attempt` (capped at `max_delay`), then a uniform value in `[ceiling/2, ceiling]`.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.max_delay);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_micros() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rng.random_range(0..=spread)
        };
        half + Duration::from_micros(jitter)
    }
}

/// Whether repeating a call can change the outcome beyond the first attempt's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, PATCH of given fields, DELETE, upsert by external id.
    Safe,
    /// POST creating records or jobs, CSV uploads.
    Unsafe,
}

/// Why a failed attempt might succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transient {
    /// Nothing reached the server (connect failure): safe for any call.
    NotSent,
    /// 502/503/504, a timeout, or `UNABLE_TO_LOCK_ROW`: safe only for idempotent calls.
    MaybeApplied,
}

pub(crate) fn may_retry(transient: Transient, idempotency: Idempotency) -> bool {
    match transient {
        Transient::NotSent => true,
        Transient::MaybeApplied => idempotency == Idempotency::Safe,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_bounds() {
        let policy = RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..8 {
            let ceiling =
                (Duration::from_millis(100) * 2u32.pow(attempt)).min(Duration::from_secs(2));
            for _ in 0..50 {
                let d = policy.delay(attempt, &mut rng);
                assert!(
                    d >= ceiling / 2 && d <= ceiling,
                    "attempt {attempt}: {d:?} not in [{:?}, {ceiling:?}]",
                    ceiling / 2
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let delays: std::collections::BTreeSet<_> =
            (0..20).map(|_| policy.delay(3, &mut rng)).collect();
        assert!(delays.len() > 10, "expected spread, got {delays:?}");
    }

    #[test]
    fn only_safe_calls_are_retried_after_the_request_may_have_applied() {
        assert!(may_retry(Transient::MaybeApplied, Idempotency::Safe));
        assert!(!may_retry(Transient::MaybeApplied, Idempotency::Unsafe));
        assert!(may_retry(Transient::NotSent, Idempotency::Unsafe));
    }
}
