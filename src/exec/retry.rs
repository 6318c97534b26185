//! `[run] retry` in the executor: whether a failed attempt is sent again,
//! how long to wait first, and what the record says about the attempts.
//! Only an HTTP reply with a listed status is retried (nothing was
//! streamed, so nothing measured is thrown away); the wait is the server's
//! Retry-After when the policy honours it, else a doubling backoff, never
//! more than `max_wait`.

use super::request::ms;
use crate::experiment::RetryPolicy;
use crate::record::{FailedAttempt, Retries};
use std::time::{Duration, Instant};

/// The attempts of one request so far.
#[derive(Debug, Default)]
pub(super) struct Attempts {
    /// When the first attempt was sent.
    first_t0: Option<Instant>,
    failed: Vec<FailedAttempt>,
    waited: Duration,
}

impl Attempts {
    /// An attempt was sent at `t0`.
    pub(super) fn started(&mut self, t0: Instant) {
        self.first_t0.get_or_insert(t0);
    }

    pub(super) fn first_t0(&self) -> Option<Instant> {
        self.first_t0
    }

    /// The wait before the next attempt, after one answered with `status`
    /// (`None`: a failure that is not an HTTP status, or not retried, or no
    /// retries left, or a Retry-After longer than the policy allows).
    pub(super) fn wait(
        &self,
        policy: &RetryPolicy,
        status: Option<u16>,
        retry_after_s: Option<u64>,
    ) -> Option<Duration> {
        let status = status?;
        let done = u32::try_from(self.failed.len()).unwrap_or(u32::MAX);
        if !policy.on.contains(&status) || done >= policy.max {
            return None;
        }
        match retry_after_s.filter(|_| policy.honour_retry_after) {
            Some(seconds) => {
                let asked = Duration::from_secs(seconds);
                (asked <= policy.max_wait).then_some(asked)
            }
            None => Some(
                policy
                    .backoff
                    .saturating_mul(1 << done.min(20))
                    .min(policy.max_wait),
            ),
        }
    }

    /// The attempt answered `status` and is followed by another after `wait`.
    pub(super) fn failed(&mut self, status: u16, retry_after_s: Option<u64>, wait: Duration) {
        self.failed.push(FailedAttempt {
            http_status: status,
            retry_after_s,
            wait_ms: ms(wait),
        });
        self.waited += wait;
    }

    /// What the record says: nothing for a request sent once.
    pub(super) fn into_record(
        self,
        run_start: Instant,
        final_t0: Instant,
        final_e2e: Option<Duration>,
    ) -> Option<Retries> {
        if self.failed.is_empty() {
            return None;
        }
        let first = self.first_t0.unwrap_or(final_t0);
        let before_final = final_t0.saturating_duration_since(first);
        Some(Retries {
            attempts: u32::try_from(self.failed.len() + 1).unwrap_or(u32::MAX),
            failed: self.failed,
            first_offset_ms: ms(first.saturating_duration_since(run_start)),
            total_ms: final_e2e.map(|e2e| ms(before_final + e2e)),
            waited_ms: ms(self.waited),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max: 3,
            on: vec![429, 503],
            honour_retry_after: true,
            max_wait: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
        }
    }

    #[test]
    fn only_listed_statuses_are_retried_and_at_most_max_times() {
        let mut attempts = Attempts::default();
        assert_eq!(attempts.wait(&policy(), Some(500), None), None);
        assert_eq!(attempts.wait(&policy(), None, None), None);
        for _ in 0..3 {
            assert!(attempts.wait(&policy(), Some(429), None).is_some());
            attempts.failed(429, None, Duration::ZERO);
        }
        assert_eq!(attempts.wait(&policy(), Some(429), None), None);
    }

    #[test]
    fn the_wait_is_retry_after_or_a_doubling_backoff_within_max_wait() {
        let mut attempts = Attempts::default();
        let secs = Duration::from_secs;
        assert_eq!(attempts.wait(&policy(), Some(429), Some(7)), Some(secs(7)));
        assert_eq!(attempts.wait(&policy(), Some(429), Some(11)), None);
        assert_eq!(attempts.wait(&policy(), Some(503), None), Some(secs(1)));
        attempts.failed(503, None, secs(1));
        attempts.failed(503, None, secs(2));
        assert_eq!(attempts.wait(&policy(), Some(503), None), Some(secs(4)));
        let ignore = RetryPolicy {
            honour_retry_after: false,
            max_wait: secs(3),
            ..policy()
        };
        assert_eq!(attempts.wait(&ignore, Some(429), Some(1)), Some(secs(3)));
    }
}
