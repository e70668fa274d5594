//! `--capacity-url`: what the run cost in DynamoDB capacity, read from the local cloud's
//! accounting (`GET <DynamoDB endpoint>/_capacity`, see `todo_local::dynamodb::report`), and
//! each hot key projected to a target system rate.
//!
//! A key shared by every user (a day, a shard, an operation) takes its share of the whole
//! system's traffic, so it is projected at that share of the target rate: the key's units per
//! task event of this run times the target's task events a second. A key of one user (it
//! names the user, or one of the user's tasks) grows with that user's activity only, so it is
//! projected at a heavy user's rate instead: [`HEAVY_USER_COMMANDS_PER_SECOND`] times that
//! user's units per command in this run. A projection above half of DynamoDB's per-partition
//! limit (1,000 write and 3,000 read units a second) leaves no headroom and is marked FAIL.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

/// Commands a second that a heavy user issues.
pub const HEAVY_USER_COMMANDS_PER_SECOND: f64 = 10.0;

/// Half of DynamoDB's per-partition limits (write, read units a second): the most a key may
/// be projected to and keep its headroom.
pub const HEADROOM_LIMITS: (f64, f64) = (500.0, 1500.0);

/// How many keys each table or index lists, hottest first.
const TOP: usize = 5;

/// What the projection needs to know of the run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Task events the run committed (its ledger's changes).
    pub task_events: usize,
    pub commands: usize,
    /// The run's users by name, and each task id's owner.
    pub users: Vec<String>,
    pub task_owners: HashMap<String, String>,
    pub target_events_per_minute: f64,
}

impl Run {
    /// The user a key belongs to: one whose name it contains, or the owner of a task whose id
    /// it contains.
    fn owner(&self, key: &str) -> Option<&str> {
        if let Some(user) = self.users.iter().find(|u| key.contains(u.as_str())) {
            return Some(user);
        }
        self.task_owners
            .iter()
            .find(|(task, _)| key.contains(task.as_str()))
            .map(|(_, owner)| owner.as_str())
    }

    fn commands_per_user(&self) -> f64 {
        // The drive picks a user uniformly at random for each command.
        self.commands as f64 / self.users.len().max(1) as f64
    }
}

/// One key's line in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyLine {
    pub key: String,
    pub owner: Option<String>,
    pub units: f64,
    pub share: f64,
    pub peak_per_second: f64,
    pub projected_per_second: f64,
    pub fail: bool,
}

/// One table's or index's consumption of one kind, hottest keys first.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub table: String,
    pub index: Option<String>,
    pub write: bool,
    pub units: f64,
    pub keys: Vec<KeyLine>,
}

/// Groups the accounting's partitions by table, index and kind, and projects every key.
pub fn project(report: &Value, run: &Run) -> Vec<Group> {
    // (table, index, write) to each key's (key, units, peak per second).
    type Keys = Vec<(String, f64, f64)>;
    let mut groups: BTreeMap<(String, Option<String>, bool), Keys> = BTreeMap::new();
    for p in report["partitions"].as_array().into_iter().flatten() {
        let table = p["table"].as_str().unwrap_or_default().to_string();
        let index = p["index"].as_str().map(String::from);
        let key = p["key"].as_str().unwrap_or_default().to_string();
        for (kind, write) in [("write", true), ("read", false)] {
            let units = p[kind]["units"].as_f64().unwrap_or(0.0);
            if units > 0.0 {
                let peak = p[kind]["peak_per_second"].as_f64().unwrap_or(0.0);
                groups
                    .entry((table.clone(), index.clone(), write))
                    .or_default()
                    .push((key.clone(), units, peak));
            }
        }
    }
    let target_events_per_second = run.target_events_per_minute / 60.0;
    let events = run.task_events.max(1) as f64;
    groups
        .into_iter()
        .map(|((table, index, write), keys)| {
            let units: f64 = keys.iter().map(|k| k.1).sum();
            let limit = if write {
                HEADROOM_LIMITS.0
            } else {
                HEADROOM_LIMITS.1
            };
            let mut keys: Vec<KeyLine> = keys
                .into_iter()
                .map(|(key, key_units, peak)| {
                    let owner = run.owner(&key).map(String::from);
                    let projected = match owner {
                        Some(_) => {
                            HEAVY_USER_COMMANDS_PER_SECOND * key_units / run.commands_per_user()
                        }
                        None => key_units / events * target_events_per_second,
                    };
                    KeyLine {
                        key,
                        owner,
                        units: key_units,
                        share: key_units / units,
                        peak_per_second: peak,
                        projected_per_second: projected,
                        fail: projected > limit,
                    }
                })
                .collect();
            keys.sort_by(|a, b| b.projected_per_second.total_cmp(&a.projected_per_second));
            Group {
                table,
                index,
                write,
                units,
                keys,
            }
        })
        .collect()
}

/// The printed report: per table and index and kind, the total, the units per task event,
/// and the keys with the highest projections (with every failing key), and the count of
/// failing keys.
pub fn render(groups: &[Group], run: &Run, throttled: u64) -> (String, usize) {
    let mut out = String::new();
    let per_second = run.target_events_per_minute / 60.0;
    let _ = writeln!(
        out,
        "DynamoDB capacity, as AWS would charge it: {} task events from {} commands of {} users \
         (includes the verification's reads); {throttled} requests throttled",
        run.task_events,
        run.commands,
        run.users.len()
    );
    let _ = writeln!(
        out,
        "projected to {:.0} task events a minute ({per_second:.0}/s); a user's key at {} commands/s; \
         FAIL above {} WCU/s or {} RCU/s (half a partition's limit)",
        run.target_events_per_minute,
        HEAVY_USER_COMMANDS_PER_SECOND,
        HEADROOM_LIMITS.0,
        HEADROOM_LIMITS.1
    );
    let mut fails = 0;
    for g in groups {
        let name = match &g.index {
            Some(index) => format!("{}/{index}", g.table),
            None => g.table.clone(),
        };
        let unit = if g.write { "WCU" } else { "RCU" };
        let _ = writeln!(
            out,
            "\n{name} {unit}: {:.1} in all, {:.2} per task event, {} keys",
            g.units,
            g.units / run.task_events.max(1) as f64,
            g.keys.len()
        );
        let _ = writeln!(
            out,
            "  {:<52} {:>7} {:>9} {:>8} {:>13}",
            "key (hottest projected first)", "share", "units", "peak/s", "projected/s"
        );
        fails += g.keys.iter().filter(|k| k.fail).count();
        for (n, k) in g.keys.iter().enumerate() {
            if n >= TOP && !k.fail {
                continue;
            }
            let key = match &k.owner {
                Some(_) => format!("{} (one user's)", shorten(&k.key)),
                None => shorten(&k.key),
            };
            let _ = writeln!(
                out,
                "  {key:<52} {:>6.1}% {:>9.1} {:>8.1} {:>13.1}{}",
                k.share * 100.0,
                k.units,
                k.peak_per_second,
                k.projected_per_second,
                if k.fail { "  FAIL" } else { "" }
            );
        }
    }
    let _ = write!(
        out,
        "\n{fails} projected keys over half their partition's limit"
    );
    (out, fails)
}

fn shorten(key: &str) -> String {
    if key.chars().count() <= 40 {
        return key.to_string();
    }
    let head: String = key.chars().take(37).collect();
    format!("{head}...")
}

/// Reads the accounting (`reset`: and starts it afresh).
pub async fn fetch(http: &reqwest::Client, url: &str, reset: bool) -> Result<Value, String> {
    let url = if reset {
        format!("{url}?reset=true")
    } else {
        url.to_string()
    };
    let answer = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    answer.json().await.map_err(|e| format!("{url}: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run() -> Run {
        Run {
            task_events: 100,
            commands: 200,
            users: vec!["load-x-0".into(), "load-x-1".into()],
            task_owners: HashMap::from([("t-1".into(), "load-x-1".into())]),
            target_events_per_minute: 1_000_000.0,
        }
    }

    fn partition(index: Option<&str>, key: &str, write: f64, peak: f64) -> Value {
        json!({"table": "T", "index": index, "key": key,
               "write": {"units": write, "peak_per_second": peak},
               "read": {"units": 0.0, "peak_per_second": 0.0}})
    }

    #[test]
    fn a_shared_key_is_projected_at_its_share_of_the_target_and_a_users_at_a_heavy_users_rate() {
        let report = json!({"partitions": [
            partition(Some("by-day"), "2026-12-06", 100.0, 9.0),
            partition(None, "USER#load-x-0", 30.0, 3.0),
            partition(None, "USER#load-x-1#TASK#t-1", 10.0, 1.0),
            partition(None, "t-1", 10.0, 1.0),
        ]});
        let groups = project(&report, &run());
        assert_eq!(groups.len(), 2);
        let day = &groups.iter().find(|g| g.index.is_some()).unwrap().keys[0];
        // 1 unit per event, 16,667 events a second.
        assert!((day.projected_per_second - 16_666.7).abs() < 0.1);
        assert!(day.fail && day.owner.is_none() && day.share == 1.0);
        let table = groups.iter().find(|g| g.index.is_none()).unwrap();
        let user = table
            .keys
            .iter()
            .find(|k| k.key == "USER#load-x-0")
            .unwrap();
        // 30 units over 100 commands per user, at 10 commands a second.
        assert_eq!(user.projected_per_second, 3.0);
        assert_eq!(user.owner.as_deref(), Some("load-x-0"));
        assert!(!user.fail);
        assert_eq!(user.share, 0.6);
        let task = table.keys.iter().find(|k| k.key == "t-1").unwrap();
        assert_eq!(task.owner.as_deref(), Some("load-x-1"));
        let (text, fails) = render(&groups, &run(), 0);
        assert_eq!(fails, 1);
        assert!(
            text.contains("T/by-day WCU: 100.0 in all, 1.00 per task event"),
            "{text}"
        );
        assert!(text.contains("FAIL"));
    }
}
