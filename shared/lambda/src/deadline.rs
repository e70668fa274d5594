//! When an invocation must stop taking new work: its function's deadline (from the Lambda
//! context) less a margin to answer in, and at most a budget. A batch handler that stops in
//! time reports what it did not do for retry; one that runs into the timeout is killed and its
//! whole batch retried.

use std::future::Future;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// The deadline of an invocation whose function must finish by `function_deadline_ms`
/// (milliseconds since the epoch, `lambda_runtime::Context::deadline`), keeping `margin` to
/// answer in and spending at most `budget`.
pub fn of_invocation(function_deadline_ms: u64, margin: Duration, budget: Duration) -> Instant {
    let left = at_epoch_ms(i64::try_from(function_deadline_ms).unwrap_or(i64::MAX))
        .saturating_duration_since(Instant::now())
        .saturating_sub(margin);
    Instant::now() + left.min(budget)
}

/// The instant of a wall-clock time in milliseconds since the Unix epoch (now, if it is past).
pub fn at_epoch_ms(epoch_ms: i64) -> Instant {
    let ahead = epoch_ms.saturating_sub(now_epoch_ms());
    Instant::now() + Duration::from_millis(u64::try_from(ahead).unwrap_or(0))
}

/// The wall-clock time of `at`, in milliseconds since the Unix epoch (what another process,
/// which has no use for this one's `Instant`, is told).
pub fn epoch_ms_of(at: Instant) -> i64 {
    let ahead = at.saturating_duration_since(Instant::now()).as_millis();
    now_epoch_ms().saturating_add(i64::try_from(ahead).unwrap_or(i64::MAX))
}

fn now_epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A deadline `after` from now (tests, and callers without a Lambda context).
pub fn after(after: Duration) -> Instant {
    Instant::now() + after
}

/// Serves a batch-triggered function's invocations with `handler` until the runtime stops the
/// process: each payload is handed the deadline its work must stop by ([`of_invocation`] with
/// `margin` and `budget`); an error fails the invocation. `kafka::serve` is this for MSK
/// batches; the publisher (stream batches), the channels (batches or their schedule's drain)
/// and the topics resource use it directly. State the handler needs is built once in `main`
/// and borrowed, as in the runtime's shared-resource example.
pub async fn serve<E, R, F, Fut>(
    margin: Duration,
    budget: Duration,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned,
    R: Serialize,
    F: Fn(E, Instant) -> Fut,
    Fut: Future<Output = Result<R, lambda_runtime::Error>> + Send,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| {
        let deadline = of_invocation(event.context.deadline, margin, budget);
        handler(event.payload, deadline)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_nearer_of_the_budget_and_the_function_deadline_less_the_margin() {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let budget = Duration::from_secs(10);
        let margin = Duration::from_secs(1);
        let within = |d: Instant, expected: Duration| {
            let left = d.saturating_duration_since(Instant::now());
            left <= expected && left + Duration::from_millis(500) >= expected
        };
        assert!(within(
            of_invocation(now_ms + 60_000, margin, budget),
            budget
        ));
        assert!(within(
            of_invocation(now_ms + 3_000, margin, budget),
            Duration::from_secs(2)
        ));
        assert!(of_invocation(now_ms.saturating_sub(5_000), margin, budget) <= Instant::now());
    }
}
