//! The properties of the template's triggers, checked against what Lambda accepts and what the
//! local cloud emulates, before anything starts: a value AWS would refuse, or a property the
//! local cloud would silently ignore, stops the start with a message naming it.
//!
//! Ranges (Lambda API reference, `CreateEventSourceMapping`): `BatchSize` 1-10000,
//! `MaximumBatchingWindowInSeconds` 0-300, `MaximumRetryAttempts` -1 (infinite) or 0-10000,
//! `MaximumRecordAgeInSeconds` -1 (infinite) or 60-604800, `FunctionResponseTypes`
//! `ReportBatchItemFailures`. For Kafka: "When you configure both infinite retries and an
//! on-failure destination, Lambda automatically applies a maximum of 10 retry attempts"
//! (Lambda developer guide, "Using a Kafka topic as an on-failure destination"); see
//! [`retries`].

use serde_json::Value;

/// The retry cap Lambda applies to a Kafka mapping with infinite retries and an on-failure
/// destination.
pub const KAFKA_INFINITE_RETRIES_WITH_DESTINATION: u32 = 10;

/// The largest payload of an asynchronous invocation (what EventBridge Scheduler makes).
pub const ASYNC_PAYLOAD_LIMIT: usize = 1024 * 1024;

/// Why a trigger cannot start locally.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{function} event {event}: {reason}")]
pub struct PropertyError {
    pub function: String,
    pub event: String,
    pub reason: String,
}

/// Checks one event (its properties resolved) of `function`.
pub fn check(function: &str, event: &str, kind: &str, p: &Value) -> Result<(), PropertyError> {
    let fail = |reason: String| PropertyError {
        function: function.to_string(),
        event: event.to_string(),
        reason,
    };
    let known: &[&str] = match kind {
        "MSK" => &[
            "Stream",
            "Topics",
            "StartingPosition",
            "ConsumerGroupId",
            "SourceAccessConfigurations",
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "ProvisionedPollerConfig",
            "FunctionResponseTypes",
            "MaximumRetryAttempts",
            "MaximumRecordAgeInSeconds",
            "BisectBatchOnFunctionError",
            "DestinationConfig",
            "Enabled",
        ],
        "DynamoDB" => &[
            "Stream",
            "StartingPosition",
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "BisectBatchOnFunctionError",
            "MaximumRetryAttempts",
            "MaximumRecordAgeInSeconds",
            "FunctionResponseTypes",
            "DestinationConfig",
            "FilterCriteria",
            "Enabled",
        ],
        "ScheduleV2" | "Schedule" => &[
            "ScheduleExpression",
            "Input",
            "OmitName",
            "Name",
            "Description",
            "State",
            "Enabled",
            // Scheduler's own delivery to Lambda: retried, then dead-lettered. The local
            // schedule hands the event to the function's host in process, waiting for a free
            // environment rather than being throttled, so a delivery never fails and nothing
            // is ever dead-lettered; the values are checked as Scheduler checks them.
            "RetryPolicy",
            "DeadLetterConfig",
        ],
        // A topic's subscription (local/src/sns.rs): each message is one asynchronous
        // invocation.
        "SNS" => &["Topic"],
        // The APIs' events are the gateways'; other kinds have no local trigger.
        "HttpApi" => return Ok(()),
        other => return Err(fail(format!("the local cloud has no {other} trigger"))),
    };
    for key in p.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !known.contains(&key.as_str()) {
            return Err(fail(format!(
                "{key} is not emulated by the local cloud; emulate it (local/src/esm) or leave it out"
            )));
        }
    }
    let int = |key: &str| -> Result<Option<i64>, PropertyError> {
        match &p[key] {
            Value::Null => Ok(None),
            v => v
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_i64())
                .map(Some)
                .ok_or_else(|| fail(format!("{key} is not a whole number: {v}"))),
        }
    };
    let in_range = |key: &str, ok: &dyn Fn(i64) -> bool, range: &str| match int(key)? {
        Some(n) if !ok(n) => Err(fail(format!("{key} {n} is out of range ({range})"))),
        _ => Ok(()),
    };
    if kind == "MSK" || kind == "DynamoDB" {
        in_range("BatchSize", &|n| (1..=10_000).contains(&n), "1-10000")?;
        in_range(
            "MaximumBatchingWindowInSeconds",
            &|n| (0..=300).contains(&n),
            "0-300",
        )?;
        in_range(
            "MaximumRetryAttempts",
            &|n| n == -1 || (0..=10_000).contains(&n),
            "-1 or 0-10000",
        )?;
        in_range(
            "MaximumRecordAgeInSeconds",
            &|n| n == -1 || (60..=604_800).contains(&n),
            "-1 or 60-604800",
        )?;
        match p["StartingPosition"].as_str() {
            Some("TRIM_HORIZON") => {}
            Some("LATEST") if kind == "MSK" => {}
            other => {
                return Err(fail(format!(
                    "StartingPosition {other:?} is not emulated (TRIM_HORIZON{})",
                    if kind == "MSK" { " or LATEST" } else { "" }
                )));
            }
        }
        if let Some(types) = p.get("FunctionResponseTypes")
            && types != &serde_json::json!(["ReportBatchItemFailures"])
        {
            return Err(fail(format!(
                "FunctionResponseTypes {types} (only [ReportBatchItemFailures] exists)"
            )));
        }
        if let Some(b) = p.get("BisectBatchOnFunctionError")
            && b.as_str() != Some("true")
            && b.as_str() != Some("false")
            && !b.is_boolean()
        {
            return Err(fail(format!(
                "BisectBatchOnFunctionError {b} is not a boolean"
            )));
        }
    }
    if kind == "DynamoDB" && int("MaximumRecordAgeInSeconds")?.is_some_and(|n| n != -1) {
        return Err(fail(
            "a finite MaximumRecordAgeInSeconds is not emulated on stream mappings".into(),
        ));
    }
    if kind == "MSK" {
        let topics = p["Topics"].as_array().map_or(0, Vec::len);
        if topics != 1 {
            return Err(fail(format!(
                "Topics must name exactly one topic, not {topics}"
            )));
        }
        if let Some(d) = p["DestinationConfig"]["OnFailure"]["Destination"].as_str()
            && !d.starts_with("kafka://")
        {
            return Err(fail(format!(
                "on-failure destination {d} is not emulated for MSK (kafka:// only)"
            )));
        }
    }
    if matches!(kind, "ScheduleV2" | "Schedule") {
        let expression = p["ScheduleExpression"].as_str().unwrap_or_default();
        if !expression.starts_with("rate(") {
            return Err(fail(format!(
                "ScheduleExpression {expression:?} is not emulated (rate(...) only)"
            )));
        }
        // EventBridge Scheduler API reference, RetryPolicy: MaximumEventAgeInSeconds 60-86400,
        // MaximumRetryAttempts 0-185.
        let retry = &p["RetryPolicy"];
        if !retry.is_null() {
            let field = |key: &str, range: std::ops::RangeInclusive<i64>| match &retry[key] {
                Value::Null => Ok(()),
                v => match v
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| v.as_i64())
                {
                    Some(n) if range.contains(&n) => Ok(()),
                    _ => Err(fail(format!(
                        "RetryPolicy {key} {v} is out of range ({}-{})",
                        range.start(),
                        range.end()
                    ))),
                },
            };
            field("MaximumEventAgeInSeconds", 60..=86_400)?;
            field("MaximumRetryAttempts", 0..=185)?;
        }
        let dead_letter = &p["DeadLetterConfig"];
        if !dead_letter.is_null()
            && !dead_letter["Arn"].is_string()
            && dead_letter["Type"].as_str() != Some("SQS")
        {
            return Err(fail(format!(
                "DeadLetterConfig {dead_letter} names no queue (an Arn, or Type SQS)"
            )));
        }
        // Scheduler invokes Lambda asynchronously: "For asynchronous invocations, the maximum
        // payload size is 1 MB" (Lambda API reference, Invoke; it was 256 KB until 2025).
        if p["Input"].as_str().map_or(0, str::len) > ASYNC_PAYLOAD_LIMIT {
            return Err(fail(
                "Input is over the 1 MB payload of an asynchronous invocation".into(),
            ));
        }
    }
    Ok(())
}

/// The retries a Kafka mapping makes after a failed invocation, as Lambda applies them:
/// `MaximumRetryAttempts` (absent: infinite), capped at 10 when infinite with an on-failure
/// destination.
pub fn kafka_retries(p: &Value) -> u32 {
    let configured = match &p["MaximumRetryAttempts"] {
        Value::Null => -1,
        v => v
            .as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| v.as_i64())
            .unwrap_or(-1),
    };
    let has_destination = p["DestinationConfig"]["OnFailure"]["Destination"].is_string();
    match configured {
        -1 if has_destination => KAFKA_INFINITE_RETRIES_WITH_DESTINATION,
        n if n < 0 => u32::MAX,
        n => u32::try_from(n).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msk(extra: Value) -> Value {
        let mut p = json!({"Stream": "arn:c", "Topics": ["t"], "StartingPosition": "TRIM_HORIZON"});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    }

    #[test]
    fn infinite_retries_with_a_destination_are_ten_on_kafka() {
        let dlt = json!({"OnFailure": {"Destination": "kafka://todo.dead.letter"}});
        assert_eq!(
            kafka_retries(&msk(
                json!({"MaximumRetryAttempts": -1, "DestinationConfig": dlt})
            )),
            10
        );
        assert_eq!(kafka_retries(&msk(json!({"DestinationConfig": dlt}))), 10);
        assert_eq!(
            kafka_retries(&msk(
                json!({"MaximumRetryAttempts": "200", "DestinationConfig": dlt})
            )),
            200
        );
        assert_eq!(
            kafka_retries(&msk(json!({"MaximumRetryAttempts": -1}))),
            u32::MAX
        );
    }

    #[test]
    fn values_aws_refuses_and_properties_not_emulated_stop_the_start() {
        for bad in [
            json!({"BatchSize": 0}),
            json!({"BatchSize": 10_001}),
            json!({"MaximumBatchingWindowInSeconds": 301}),
            json!({"MaximumRetryAttempts": -2}),
            json!({"MaximumRetryAttempts": 10_001}),
            json!({"MaximumRecordAgeInSeconds": 59}),
            json!({"MaximumRecordAgeInSeconds": 604_801}),
            json!({"FunctionResponseTypes": ["Whatever"]}),
            json!({"FilterCriteria": {"Filters": []}}),
            json!({"StartingPosition": "AT_TIMESTAMP"}),
            json!({"Topics": ["a", "b"]}),
            json!({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:0:q"}}}),
        ] {
            let e = check("F", "E", "MSK", &msk(bad.clone())).unwrap_err();
            assert_eq!(e.function, "F", "{bad}");
        }
        assert!(
            check(
                "F",
                "E",
                "MSK",
                &msk(json!({"MaximumRecordAgeInSeconds": -1, "BatchSize": "50"}))
            )
            .is_ok()
        );
        assert!(check("F", "S", "DynamoDB", &json!({"Stream": "s", "StartingPosition": "TRIM_HORIZON", "MaximumRecordAgeInSeconds": 3600})).is_err());
        assert!(
            check(
                "F",
                "S",
                "ScheduleV2",
                &json!({"ScheduleExpression": "cron(0 9 * * ? *)"})
            )
            .is_err()
        );
        assert!(
            check(
                "F",
                "S",
                "ScheduleV2",
                &json!({"ScheduleExpression": "rate(1 minute)", "FlexibleTimeWindow": {}})
            )
            .is_err()
        );
        let schedule = |extra: serde_json::Value| {
            let mut p = json!({"ScheduleExpression": "rate(1 minute)"});
            p.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            check("F", "S", "ScheduleV2", &p)
        };
        assert!(schedule(json!({"RetryPolicy": {"MaximumRetryAttempts": "3", "MaximumEventAgeInSeconds": 300}, "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:Q"}})).is_ok());
        assert!(schedule(json!({"RetryPolicy": {"MaximumRetryAttempts": 186}})).is_err());
        assert!(schedule(json!({"RetryPolicy": {"MaximumEventAgeInSeconds": 59}})).is_err());
        assert!(schedule(json!({"DeadLetterConfig": {}})).is_err());
        assert!(check("F", "S", "SQS", &json!({})).is_err());
    }

    /// Every trigger of the workspace's template is one the local cloud runs as AWS would.
    #[test]
    fn the_workspace_template_passes() {
        let template = crate::template::Template::workspace().unwrap();
        let values = std::collections::HashMap::new();
        for f in template.functions() {
            for (name, event) in &f.events {
                let kind = event["Type"].as_str().unwrap_or_default();
                let p = template.resolve(&values, &event["Properties"]);
                check(&f.logical_id, name, kind, &p).unwrap();
            }
        }
    }
}
