//! Outcome counts as CloudWatch metrics, through the embedded metric format (EMF): one JSON
//! object per line on standard output, which Lambda sends to CloudWatch Logs and CloudWatch
//! turns into metrics (CloudWatch user guide, "Using the embedded metric format with Lambda";
//! Lambda does not re-encode a line that is already JSON under the JSON log format). No API call
//! on the hot path, no extra permission, and alarms count what the code decided, not log text.
//!
//! Every metric carries the dimensions `Stack` and `Function`: the namespace is the same for
//! every deployment, so without the stack's name a staging and a production stack in one
//! account and region would add up into one metric and trip each other's alarms.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// The namespace every metric of the stack is in.
pub const NAMESPACE: &str = "ServerlessTodo";

/// The `Stack` of a function deployed without `STACK_NAME`: its metrics still count, under a
/// value no alarm watches (`local/tests/alarms.rs` checks that every function gets the variable).
pub const UNKNOWN_STACK: &str = "unset";

/// One EMF line: `counts` (name, value) as `Count` metrics with the dimensions
/// `Stack = stack` and `Function = function`, at `timestamp_ms`.
pub fn line(stack: &str, function: &str, counts: &[(&str, usize)], timestamp_ms: i64) -> String {
    let metrics: Vec<Value> = counts
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stack", "Function"]],
                "Metrics": metrics,
            }],
        }),
    );
    root.insert("Stack".into(), json!(stack));
    root.insert("Function".into(), json!(function));
    for (name, value) in counts {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root).to_string()
}

/// The stack this process belongs to: `STACK_NAME` (the template's Globals give every function
/// `!Ref AWS::StackName`), read once.
fn stack() -> &'static str {
    static STACK: OnceLock<String> = OnceLock::new();
    STACK.get_or_init(|| {
        std::env::var("STACK_NAME")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| UNKNOWN_STACK.to_string())
    })
}

/// Writes the counts of one invocation as an EMF line on standard output.
pub fn emit(function: &str, counts: &[(&str, usize)]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    println!("{}", line(stack(), function, counts, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_follows_the_specification() {
        let text = line(
            "todo-prod",
            "audit-consumer",
            &[("Applied", 3), ("Failed", 1)],
            1_767_225_600_000,
        );
        assert!(!text.contains('\n'), "one line");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_767_225_600_000i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ServerlessTodo");
        assert_eq!(directive["Dimensions"], json!([["Stack", "Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Applied", "Unit": "Count"}, {"Name": "Failed", "Unit": "Count"}])
        );
        // Every dimension and metric named in the directive is a member of the root object,
        // and nothing else is.
        assert_eq!(
            v,
            json!({
                "_aws": v["_aws"].clone(),
                "Stack": "todo-prod",
                "Function": "audit-consumer",
                "Applied": 3,
                "Failed": 1,
            })
        );
    }

    /// Two stacks' lines differ only in `Stack`, so CloudWatch keeps them apart: an alarm of
    /// one never counts the other's failures.
    #[test]
    fn two_stacks_never_share_a_metric() {
        let staging: Value =
            serde_json::from_str(&line("todo-staging", "publisher", &[("Failed", 1)], 0)).unwrap();
        let production: Value =
            serde_json::from_str(&line("todo-prod", "publisher", &[("Failed", 1)], 0)).unwrap();
        assert_eq!(staging["_aws"], production["_aws"]);
        assert_ne!(staging["Stack"], production["Stack"]);
    }
}
