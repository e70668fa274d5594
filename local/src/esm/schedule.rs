//! The schedule: invokes a function with a scheduled event at a fixed rate (the template's, or a
//! shorter one for local use).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::runtime::{FunctionHost, Outcome};

/// The rate of a `ScheduleV2`/`Schedule` event (`rate(N minute[s]|second[s]|hour[s])`).
pub fn rate_of(event: &Value) -> Option<Duration> {
    if !matches!(event["Type"].as_str(), Some("ScheduleV2" | "Schedule")) {
        return None;
    }
    let expr = event["Properties"]["ScheduleExpression"].as_str()?;
    let inner = expr.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    let seconds = match unit.trim_end_matches('s') {
        "second" => n,
        "minute" => n * 60,
        "hour" => n * 3600,
        "day" => n * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// What EventBridge Scheduler sends its Lambda target: the schedule's `Input`, verbatim (the
/// template always sets one; without it this sends `{}`).
pub fn scheduled_event(event: &Value) -> String {
    event["Properties"]["Input"]
        .as_str()
        .unwrap_or("{}")
        .to_string()
}

/// How long Lambda's asynchronous queue waits before retrying an event the function failed:
/// "if you invoke a function asynchronously and it returns an error, Lambda executes the
/// function up to two more times" (Lambda API reference, Invoke), a minute after the first
/// attempt and two after the second (Lambda developer guide, "Error handling and automatic
/// retries in Lambda").
pub const ASYNC_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];

/// Invokes `host` every `every` until the process ends. EventBridge Scheduler invokes Lambda
/// asynchronously, so a run the function fails is retried by Lambda's queue (twice, after a
/// minute and two more) while the schedule goes on.
pub async fn run(
    event: Value,
    host: Arc<FunctionHost>,
    every: Duration,
    observe: crate::gateway::InvocationObserver,
) {
    run_with_retries(event, host, every, observe, ASYNC_RETRY_DELAYS).await
}

async fn run_with_retries(
    event: Value,
    host: Arc<FunctionHost>,
    every: Duration,
    observe: crate::gateway::InvocationObserver,
    retries: [Duration; 2],
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let payload = scheduled_event(&event).into_bytes();
        let invocation = host.invoke(payload.clone()).await;
        observe(host.name(), "schedule", &invocation);
        if failed(&invocation.outcome) {
            let (host, observe) = (Arc::clone(&host), Arc::clone(&observe));
            tokio::spawn(async move {
                retry_async(&host, &payload, "schedule", &observe, &retries).await;
            });
        }
    }
}

/// After a failed asynchronous invocation, Lambda's retries (at most two, `retries` apart), each observed
/// as `<trigger> (async retry N)`, until one succeeds.
pub async fn retry_async(
    host: &FunctionHost,
    payload: &[u8],
    trigger: &str,
    observe: &crate::gateway::InvocationObserver,
    retries: &[Duration],
) {
    for (i, delay) in retries.iter().enumerate() {
        tokio::time::sleep(*delay).await;
        let retried = host.invoke(payload.to_vec()).await;
        observe(
            host.name(),
            &format!("{trigger} (async retry {})", i + 1),
            &retried,
        );
        if !failed(&retried.outcome) {
            break;
        }
    }
}

/// Whether Lambda's asynchronous queue retries the event: a function error, a crash or a
/// timeout (a throttled event waits in the queue; locally the invocation waits instead).
pub fn failed(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::FunctionError(_) | Outcome::Crashed(_) | Outcome::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_schedule_sends_the_templates_input_as_the_sample_event_has_it() {
        let template = crate::template::Template::workspace().unwrap();
        let sweep = template
            .functions()
            .into_iter()
            .find(|f| f.binary == "tasks-sweep-reminders")
            .unwrap();
        let (_, event) = sweep
            .events
            .iter()
            .find(|(_, e)| rate_of(e).is_some())
            .unwrap();
        let sent: Value = serde_json::from_str(&scheduled_event(event)).unwrap();
        let sample: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../events/schedule/every-minute.json"
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            sent, sample,
            "events/schedule/ is what the deployed schedule sends"
        );
    }

    /// A scheduled run the function fails is retried twice by Lambda's asynchronous queue,
    /// and no more; the schedule itself goes on.
    #[tokio::test]
    async fn a_failed_run_is_retried_twice_as_asynchronous_invocations_are() {
        // A binary that cannot start: every invocation crashes.
        let host = FunctionHost::with_environments(
            crate::runtime::FunctionSpec {
                name: "Broken".into(),
                binary: std::path::PathBuf::from("/nonexistent/bootstrap"),
                env: Vec::new(),
                timeout: Duration::from_secs(2),
                log_file: None,
                watch: None,
            },
            1,
        );
        let observe: crate::gateway::InvocationObserver = Arc::new(|_, _, _| {});
        let schedule = tokio::spawn(run_with_retries(
            json!({"Properties": {"Input": "{}"}}),
            Arc::clone(&host),
            Duration::from_secs(3600),
            observe,
            [Duration::from_millis(20), Duration::from_millis(20)],
        ));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        schedule.abort();
        assert_eq!(host.invocations(), 3, "the run and two retries");
    }

    #[test]
    fn rates() {
        let e = |x: &str| json!({"Type": "ScheduleV2", "Properties": {"ScheduleExpression": x}});
        assert_eq!(rate_of(&e("rate(1 minute)")), Some(Duration::from_secs(60)));
        assert_eq!(
            rate_of(&e("rate(5 minutes)")),
            Some(Duration::from_secs(300))
        );
        assert_eq!(rate_of(&e("cron(0 * * * ? *)")), None);
        assert_eq!(rate_of(&json!({"Type": "HttpApi"})), None);
    }
}
