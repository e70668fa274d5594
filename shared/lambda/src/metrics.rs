//! Outcome counts as CloudWatch metrics, through the embedded metric format (EMF): one JSON
//! object per line on standard output, which Lambda sends to CloudWatch Logs and CloudWatch
//! turns into metrics (CloudWatch user guide, "Using the embedded metric format with Lambda";
//! Lambda does not re-encode a line that is already JSON under the JSON log format). No API call
//! on the hot path, no extra permission, and alarms count what the code decided, not log text.

use serde_json::{Map, Value, json};

/// The namespace every metric of the stack is in.
pub const NAMESPACE: &str = "ServerlessTodo";

/// One EMF line: `counts` (name, value) as `Count` metrics with the dimension
/// `Function = function`, at `timestamp_ms`.
pub fn line(function: &str, counts: &[(&str, usize)], timestamp_ms: i64) -> String {
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
                "Dimensions": [["Function"]],
                "Metrics": metrics,
            }],
        }),
    );
    root.insert("Function".into(), json!(function));
    for (name, value) in counts {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root).to_string()
}

/// Writes the counts of one invocation as an EMF line on standard output.
pub fn emit(function: &str, counts: &[(&str, usize)]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    println!("{}", line(function, counts, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_follows_the_specification() {
        let text = line(
            "audit-consumer",
            &[("Applied", 3), ("Failed", 1)],
            1_767_225_600_000,
        );
        assert!(!text.contains('\n'), "one line");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_767_225_600_000i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ServerlessTodo");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Applied", "Unit": "Count"}, {"Name": "Failed", "Unit": "Count"}])
        );
        // Every dimension and metric named in the directive is a member of the root object.
        assert_eq!(v["Function"], "audit-consumer");
        assert_eq!(
            (v["Applied"].as_u64(), v["Failed"].as_u64()),
            (Some(3), Some(1))
        );
    }
}
