//! The schedule: invokes a function with a scheduled event at a fixed rate (the template's, or a
//! shorter one for local use).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::runtime::FunctionHost;
use crate::template::FunctionDefinition;

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

/// The scheduled event payload.
pub fn scheduled_event(f: &FunctionDefinition) -> Value {
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "account": "000000000000", "time": chrono::Utc::now().to_rfc3339(),
        "region": "us-east-1", "resources": [format!("arn:aws:scheduler:us-east-1:000000000000:schedule/default/{}", f.logical_id)],
        "detail": {}
    })
}

/// Invokes `host` every `every` until the process ends.
pub async fn run(
    f: FunctionDefinition,
    host: Arc<FunctionHost>,
    every: Duration,
    observe: crate::gateway::InvocationObserver,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let invocation = host
            .invoke(scheduled_event(&f).to_string().into_bytes())
            .await;
        observe(host.name(), "schedule", &invocation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
