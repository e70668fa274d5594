//! What the stack asks for: the `Topics` property of the `Custom::KafkaTopics` resource.
//!
//! CloudFormation sends resource properties as the template resolved them, and `!Ref` of a
//! `Number` parameter resolves to a string, so every number here is accepted as a JSON number or
//! as a string of one. Anything else (a missing field, an unknown one, a name Kafka refuses, a
//! count out of bounds, one topic twice) is refused as a whole, before any topic is touched.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

/// The most partitions a topic may be given here: far above what this workload needs, and
/// below what a small MSK cluster allows per broker, so a typo fails the deploy instead.
pub const MAX_PARTITIONS: i32 = 1_000;
/// The most replicas (MSK clusters have at most a few dozen brokers).
pub const MAX_REPLICATION: i16 = 16;
/// The longest retention, in hours (ten years).
pub const MAX_RETENTION_HOURS: i64 = 87_600;

/// One topic as the stack wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    /// `retention.ms`.
    pub retention_ms: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RawTopic {
    name: String,
    partitions: Value,
    replication_factor: Value,
    retention_hours: Value,
}

/// The topics in a request's `ResourceProperties` (`ServiceToken`, `ServiceTimeout` and other
/// keys CloudFormation adds are ignored; `Topics` is required).
pub fn topics(properties: &Value) -> Result<Vec<TopicSpec>, String> {
    let raw = properties
        .get("Topics")
        .ok_or("ResourceProperties.Topics is missing")?;
    let raw: Vec<RawTopic> = serde_path_to_error::deserialize(raw)
        .map_err(|e| format!("ResourceProperties.Topics.{}: {}", e.path(), e.inner()))?;
    if raw.is_empty() {
        return Err("ResourceProperties.Topics is empty".into());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for t in raw {
        check_name(&t.name)?;
        if !seen.insert(t.name.clone()) {
            return Err(format!("topic {} is listed twice", t.name));
        }
        let field = |what: &str| format!("topic {}: {what}", t.name);
        let partitions = integer(&t.partitions, 1, MAX_PARTITIONS.into())
            .map_err(|e| field(&format!("Partitions {e}")))? as i32;
        let replication_factor = integer(&t.replication_factor, 1, MAX_REPLICATION.into())
            .map_err(|e| field(&format!("ReplicationFactor {e}")))?
            as i16;
        let hours = integer(&t.retention_hours, 1, MAX_RETENTION_HOURS)
            .map_err(|e| field(&format!("RetentionHours {e}")))?;
        out.push(TopicSpec {
            name: t.name,
            partitions,
            replication_factor,
            retention_ms: hours * 3_600_000,
        });
    }
    Ok(out)
}

/// Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, and not `.` or `..`.
fn check_name(name: &str) -> Result<(), String> {
    let legal = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if name.is_empty() || name.len() > 249 || !legal || name == "." || name == ".." {
        return Err(format!(
            "{name:?} is not a Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')"
        ));
    }
    Ok(())
}

/// An integer in `min..=max`, given as a JSON number or a string of decimal digits.
fn integer(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    let n = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("must be a whole number, not {value}"))?;
    if !(min..=max).contains(&n) {
        return Err(format!("must be between {min} and {max}, not {n}"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(topic: Value) -> Result<Vec<TopicSpec>, String> {
        topics(&json!({"ServiceToken": "arn:aws:lambda:...", "Topics": [topic]}))
    }

    #[test]
    fn numbers_arrive_as_strings_from_a_ref_and_as_numbers_from_a_literal() {
        let from_refs = one(json!({"Name": "todo.task.events", "Partitions": "3",
            "ReplicationFactor": "3", "RetentionHours": "168"}))
        .unwrap();
        let literal = one(json!({"Name": "todo.task.events", "Partitions": 3,
            "ReplicationFactor": 3, "RetentionHours": 168}))
        .unwrap();
        assert_eq!(from_refs, literal);
        assert_eq!(
            from_refs,
            [TopicSpec {
                name: "todo.task.events".into(),
                partitions: 3,
                replication_factor: 3,
                retention_ms: 604_800_000
            }]
        );
    }

    #[test]
    fn bad_properties_are_refused_with_the_field() {
        let topic = |name: &str, p: Value, r: Value, h: Value| {
            one(json!({"Name": name, "Partitions": p, "ReplicationFactor": r, "RetentionHours": h}))
                .unwrap_err()
        };
        let ok = || json!("1");
        assert!(topic("a", json!("0"), ok(), ok()).contains("Partitions must be between 1"));
        assert!(topic("a", json!("1001"), ok(), ok()).contains("Partitions"));
        assert!(topic("a", json!(-1), ok(), ok()).contains("Partitions"));
        assert!(topic("a", json!("3.5"), ok(), ok()).contains("whole number"));
        assert!(topic("a", json!(null), ok(), ok()).contains("whole number"));
        assert!(topic("a", ok(), json!("99999999999"), ok()).contains("ReplicationFactor"));
        assert!(topic("a", ok(), ok(), json!("87601")).contains("RetentionHours"));
        assert!(topic("a", ok(), ok(), json!("")).contains("RetentionHours"));
        for name in ["", ".", "..", "a b", "tâche", &"x".repeat(250), "a/b"] {
            assert!(
                topic(name, ok(), ok(), ok()).contains("not a Kafka topic name"),
                "{name:?}"
            );
        }
        let missing = one(json!({"Name": "a", "Partitions": "1", "ReplicationFactor": "1"}));
        assert!(missing.unwrap_err().contains("RetentionHours"));
        let unknown = one(
            json!({"Name": "a", "Partitions": "1", "ReplicationFactor": "1",
            "RetentionHours": "1", "Compaction": "true"}),
        );
        assert!(unknown.unwrap_err().contains("Compaction"));
        assert!(topics(&json!({})).unwrap_err().contains("missing"));
        assert!(
            topics(&json!({"Topics": []}))
                .unwrap_err()
                .contains("empty")
        );
        assert!(topics(&json!({"Topics": "todo"})).is_err());
        let t = json!({"Name": "a", "Partitions": "1", "ReplicationFactor": "1", "RetentionHours": "1"});
        assert!(
            topics(&json!({"Topics": [t.clone(), t]}))
                .unwrap_err()
                .contains("twice")
        );
    }
}
