//! Event filtering as event-source mappings apply `FilterCriteria`: a record passes when it
//! matches any pattern. Supported: nested objects, lists of allowed values, `{"exists": bool}`,
//! `{"prefix": "..."}` and `{"anything-but": [...]}`.

use serde_json::Value;

/// Whether `record` matches any of `patterns` (no patterns: everything matches).
pub fn passes(patterns: &[Value], record: &Value) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| matches(p, Some(record)))
}

fn matches(pattern: &Value, value: Option<&Value>) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(k, p)| matches(p, value.and_then(|v| v.get(k)))),
        Value::Array(allowed) => allowed.iter().any(|a| allows(a, value)),
        _ => false,
    }
}

fn allows(rule: &Value, value: Option<&Value>) -> bool {
    match rule {
        Value::Object(op) => {
            if let Some(exists) = op.get("exists").and_then(Value::as_bool) {
                return value.is_some() == exists;
            }
            if let Some(prefix) = op.get("prefix").and_then(Value::as_str) {
                return value
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with(prefix));
            }
            if let Some(Value::Array(excluded)) = op.get("anything-but") {
                return value.is_some_and(|v| !excluded.contains(v));
            }
            false
        }
        scalar => value == Some(scalar),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The template's own patterns, on records of the shapes the stream produces.
    #[test]
    fn the_publisher_patterns_pass_task_changes_and_user_deletes_only() {
        let template = crate::template::Template::workspace().unwrap();
        let publisher = template
            .functions()
            .into_iter()
            .find(|f| f.logical_id == "PublisherFunction")
            .unwrap();
        let patterns: Vec<Value> = publisher.events[0].1["Properties"]["FilterCriteria"]["Filters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap())
            .collect();
        let task_insert =
            json!({"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "task"}}}});
        let idem_insert = json!({"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "idempotency"}}}});
        let user_delete =
            json!({"eventName": "REMOVE", "dynamodb": {"OldImage": {"kind": {"S": "task"}}}});
        let ttl_delete = json!({"eventName": "REMOVE", "dynamodb": {"OldImage": {"kind": {"S": "task"}}},
                                "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}});
        assert!(passes(&patterns, &task_insert));
        assert!(!passes(&patterns, &idem_insert));
        assert!(passes(&patterns, &user_delete));
        assert!(!passes(&patterns, &ttl_delete));
    }

    #[test]
    fn operators() {
        assert!(passes(
            &[json!({"a": [{"prefix": "ta"}]})],
            &json!({"a": "task"})
        ));
        assert!(!passes(
            &[json!({"a": [{"anything-but": ["x"]}]})],
            &json!({"a": "x"})
        ));
        assert!(passes(
            &[json!({"a": [{"anything-but": ["x"]}]})],
            &json!({"a": "y"})
        ));
        assert!(passes(&[], &json!({})));
        assert!(!passes(&[json!({"a": {"b": [1]}})], &json!({"a": 1})));
    }
}
