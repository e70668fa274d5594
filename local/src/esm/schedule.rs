//! The schedule: invokes a function with a scheduled event at a fixed rate (the template's, or a
//! shorter one for local use).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::runtime::FunctionHost;

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

/// Invokes `host` every `every` until the process ends.
pub async fn run(
    event: Value,
    host: Arc<FunctionHost>,
    every: Duration,
    observe: crate::gateway::InvocationObserver,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let invocation = host.invoke(scheduled_event(&event).into_bytes()).await;
        observe(host.name(), "schedule", &invocation);
    }
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
