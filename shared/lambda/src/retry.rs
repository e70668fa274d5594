//! Retrying, written once: how long to wait after a number of failures ([`Backoff`]), and the
//! bookkeeping of a loop that tries again within an attempt limit and a deadline ([`Retries`]).
//!
//! Two kinds of caller share it. Loops inside one invocation (the audit table's unprocessed
//! writes, the topics resource's admin requests and its answer to CloudFormation) hand their
//! failures to [`Retries`].
//! Deliveries that outlive an invocation (the reminder channels, users' webhooks) record the
//! attempt and the time of the next one, and ask [`Backoff::delay_honouring`] for that time,
//! with the far end's `Retry-After` as its lower bound.
//!
//! Each caller keeps its own schedule (tests pin them); only the arithmetic and the loop are
//! shared. No dependency earns its place here: the `backon` crate covers in-process loops only,
//! not a schedule read back from a table, and each binary would carry it.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

/// The most doublings an exponential schedule makes: past them it grows no more (1 s doubled 16
/// times is 18 hours), whatever its cap.
const MAX_DOUBLINGS: u32 = 16;

/// How a schedule's waits grow from one failure to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Growth {
    /// `first`, then twice the wait before.
    Doubling,
    /// `first` times the number of failures.
    Linear,
}

/// How long to wait after each failure: a first wait growing to a cap, optionally with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    growth: Growth,
    jitter: bool,
}

impl Backoff {
    /// `first` after the first failure, doubling after each further one, at most `max`.
    pub const fn doubling(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            growth: Growth::Doubling,
            jitter: false,
        }
    }

    /// `step` after the first failure, `2 * step` after the second, and so on, at most `max`.
    pub const fn linear(step: Duration, max: Duration) -> Self {
        Self {
            first: step,
            max,
            growth: Growth::Linear,
            jitter: false,
        }
    }

    /// The same schedule with the cap `max` instead.
    pub const fn at_most(self, max: Duration) -> Self {
        Self { max, ..self }
    }

    /// The same schedule with "equal jitter": each wait drawn between half of it and all of it,
    /// so that many clients failing together do not all come back at the same instant.
    pub const fn with_jitter(self) -> Self {
        Self {
            jitter: true,
            ..self
        }
    }

    /// The wait after `failures` failed attempts (0 is treated as 1: a first retry waits
    /// `first`).
    pub fn delay(&self, failures: u32) -> Duration {
        let n = failures.max(1);
        let wait = match self.growth {
            Growth::Doubling => self.first.saturating_mul(1 << (n - 1).min(MAX_DOUBLINGS)),
            Growth::Linear => self.first.saturating_mul(n),
        }
        .min(self.max);
        if self.jitter { jittered(wait) } else { wait }
    }

    /// [`Backoff::delay`], or the far end's `Retry-After` when it asks for longer.
    pub fn delay_honouring(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        self.delay(failures).max(retry_after.unwrap_or_default())
    }
}

/// Between half of `wait` and all of it, at random (not for cryptography: the standard
/// library's randomly seeded hasher suffices, and no dependency is needed).
fn jittered(wait: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(wait.as_nanos());
    let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    wait / 2 + (wait / 2).mul_f64(fraction)
}

/// What one attempt came to, when it did not succeed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure<E> {
    /// Worth another try, after the schedule's wait.
    Transient(E),
    /// Worth another try, not before this long (the far end's `Retry-After`).
    Later(E, Duration),
    /// Retrying cannot help: returned at once.
    Permanent(E),
}

impl<E> Failure<E> {
    /// The error, whatever its kind.
    pub fn error(&self) -> &E {
        match self {
            Failure::Transient(e) | Failure::Later(e, _) | Failure::Permanent(e) => e,
        }
    }

    pub fn into_error(self) -> E {
        match self {
            Failure::Transient(e) | Failure::Later(e, _) | Failure::Permanent(e) => e,
        }
    }
}

/// When a retry loop gives up: after `attempts` attempts, or when the next attempt would
/// start at or after `deadline`.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub backoff: Backoff,
    /// Attempts in all, the first included; `None` for as many as the deadline allows.
    pub attempts: Option<u32>,
    pub deadline: Option<Instant>,
}

/// A retry loop's bookkeeping: the caller makes each attempt itself (so it may borrow and
/// change whatever it likes) and hands each failure to [`Retries::after`], which waits before
/// the next attempt or gives up:
///
/// ```ignore
/// let mut retries = Retries::new(POLICY);
/// loop {
///     match attempt().await {
///         Ok(value) => return Ok(value),
///         Err(failure) => retries.after(failure).await?,
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Retries {
    policy: Policy,
    failures: u32,
}

impl Retries {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            failures: 0,
        }
    }

    /// After a failed attempt: sleeps the schedule's wait (or the `Retry-After`, when longer)
    /// and returns, for another attempt; or gives up with the attempt's error when it failed
    /// for good, was the last one allowed, or the wait would reach the deadline (it never
    /// sleeps into it).
    pub async fn after<E>(&mut self, failure: Failure<E>) -> Result<(), E> {
        match self.next_wait(&failure) {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            None => Err(failure.into_error()),
        }
    }

    /// [`Retries::after`] without the sleep, for a loop that says something before it waits:
    /// the wait before the next attempt, or `None` to give up.
    pub fn next_wait<E>(&mut self, failure: &Failure<E>) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        let wait = match failure {
            Failure::Permanent(_) => return None,
            Failure::Transient(_) => self.policy.backoff.delay(self.failures),
            Failure::Later(_, after) => self
                .policy
                .backoff
                .delay_honouring(self.failures, Some(*after)),
        };
        let out_of_attempts = self.policy.attempts.is_some_and(|n| self.failures >= n);
        let out_of_time = self
            .policy
            .deadline
            .is_some_and(|deadline| Instant::now() + wait >= deadline);
        (!out_of_attempts && !out_of_time).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(backoff: Backoff, failures: impl IntoIterator<Item = u32>) -> Vec<u64> {
        failures
            .into_iter()
            .map(|n| backoff.delay(n).as_secs())
            .collect()
    }

    #[test]
    fn doubling_from_first_to_the_cap() {
        let b = Backoff::doubling(Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(secs(b, 1..=9), [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.delay(0).as_secs(), 1);
        assert_eq!(b.delay(u32::MAX).as_secs(), 60);
        let uncapped = b.at_most(Duration::MAX);
        assert_eq!(
            uncapped.delay(u32::MAX).as_secs(),
            1 << 16,
            "doubling stops"
        );
    }

    #[test]
    fn linear_steps() {
        let b = Backoff::linear(Duration::from_millis(300), Duration::from_secs(1));
        let ms: Vec<u128> = (1..=4).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(ms, [300, 600, 900, 1000]);
    }

    #[test]
    fn retry_after_is_a_lower_bound() {
        let b = Backoff::doubling(Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(
            b.delay_honouring(1, Some(Duration::from_secs(120)))
                .as_secs(),
            120
        );
        assert_eq!(
            b.delay_honouring(2, Some(Duration::from_secs(30)))
                .as_secs(),
            120
        );
        assert_eq!(b.delay_honouring(3, None).as_secs(), 240);
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let b = Backoff::doubling(Duration::from_secs(8), Duration::from_secs(8)).with_jitter();
        for _ in 0..100 {
            let d = b.delay(1);
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }

    fn fast(attempts: Option<u32>, deadline: Option<Instant>) -> Policy {
        Policy {
            backoff: Backoff::doubling(Duration::from_millis(1), Duration::from_millis(4)),
            attempts,
            deadline,
        }
    }

    /// Attempts `outcomes` in turn through [`Retries`]; what it returned, and how many ran.
    async fn run<T: Copy>(
        policy: Policy,
        outcomes: &[Result<T, Failure<&'static str>>],
    ) -> (Result<T, &'static str>, usize) {
        let mut retries = Retries::new(policy);
        let mut tries = 0;
        loop {
            let outcome = match &outcomes[tries.min(outcomes.len() - 1)] {
                Ok(v) => Ok(*v),
                Err(Failure::Transient(e)) => Err(Failure::Transient(*e)),
                Err(Failure::Later(e, d)) => Err(Failure::Later(*e, *d)),
                Err(Failure::Permanent(e)) => Err(Failure::Permanent(*e)),
            };
            tries += 1;
            match outcome {
                Ok(v) => return (Ok(v), tries),
                Err(failure) => {
                    if let Err(e) = retries.after(failure).await {
                        return (Err(e), tries);
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn transient_failures_are_tried_again_up_to_the_limit() {
        let outcomes = [
            Err(Failure::Transient("try 0")),
            Err(Failure::Transient("try 1")),
            Err(Failure::Transient("try 2")),
            Ok(()),
        ];
        assert_eq!(
            run(fast(Some(3), None), &outcomes).await,
            (Err("try 2"), 3),
            "the last attempt's error"
        );
    }

    #[tokio::test]
    async fn success_and_permanent_failures_end_at_once() {
        let ok = [Err(Failure::Transient("not yet")), Ok(7)];
        assert_eq!(run(fast(None, None), &ok).await, (Ok(7), 2));
        let refused: [Result<(), _>; 1] = [Err(Failure::Permanent("refused"))];
        assert_eq!(
            run(fast(Some(5), None), &refused).await,
            (Err("refused"), 1)
        );
    }

    #[tokio::test]
    async fn no_wait_reaches_into_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let busy: [Result<(), _>; 1] = [Err(Failure::Later("busy", Duration::from_secs(60)))];
        assert_eq!(
            run(fast(None, Some(deadline)), &busy).await,
            (Err("busy"), 1),
            "a minute's Retry-After ends it"
        );
    }
}
