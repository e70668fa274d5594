//! The verification after the drive: wait until the pipeline has drained (every user's audit
//! total and inbox reach what the ledger expects, or the drain timeout passes), then compare
//! exactly: each task's audit history against its committed changes in commit order, each
//! user's audit total, and each expected reminder's inbox entry.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::drive::User;

/// What the verification found.
#[derive(Debug, Default)]
pub struct Verification {
    pub committed: usize,
    pub audited: usize,
    pub reminders_expected: usize,
    pub reminders_found: usize,
    /// Reminder delivery delays (the notification's `created_at` after its `reminder_at`), ms.
    pub reminder_delays_ms: Vec<f64>,
    pub drained_after: Duration,
    /// Everything expected had arrived when verified (else the drain timed out).
    pub drained: bool,
    pub problems: Vec<String>,
}

/// Waits for the drain, then verifies every user.
pub async fn verify(users: &[User], drain_timeout: Duration) -> Verification {
    let started = Instant::now();
    let mut v = Verification::default();
    let mut expected = Vec::new();
    let mut last_reminder = None;
    for user in users {
        let ledger = user.ledger.lock().await;
        expected.push((ledger.committed(), ledger.reminders.len()));
        v.committed += ledger.committed();
        v.reminders_expected += ledger.reminders.len();
        last_reminder = ledger
            .reminders
            .iter()
            .map(|r| r.at)
            .chain(last_reminder)
            .max();
    }
    // Drained: every user's audit total and inbox at least what was committed and expected.
    loop {
        let mut drained = last_reminder.is_none_or(|at| chrono::Utc::now() > at);
        for (user, (changes, reminders)) in users.iter().zip(&expected) {
            if !drained {
                break;
            }
            let audit = user.client.all_items("/audit").await.map(|i| i.len());
            let inbox = user
                .client
                .all_items("/notifications")
                .await
                .map(|i| i.len());
            drained = matches!((audit, inbox), (Ok(a), Ok(n)) if a >= *changes && n >= *reminders);
        }
        if drained || started.elapsed() > drain_timeout {
            v.drained = drained;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    v.drained_after = started.elapsed();
    if !v.drained {
        v.problems.push(format!(
            "the pipeline did not drain within {} s: what had arrived is verified below",
            drain_timeout.as_secs()
        ));
    }

    for user in users {
        check_user(user, &mut v).await;
    }
    v
}

async fn check_user(user: &User, v: &mut Verification) {
    let name = &user.client.name;
    let ledger = user.ledger.lock().await;
    match user.client.all_items("/audit").await {
        Ok(entries) => {
            v.audited += entries.len();
            if entries.len() != ledger.committed() {
                v.problems.push(format!(
                    "{name}: {} audit entries for {} committed changes",
                    entries.len(),
                    ledger.committed()
                ));
            }
        }
        Err(e) => v.problems.push(format!("{name}: {e}")),
    }
    for (id, task) in &ledger.tasks {
        let history = match user.client.all_items(&format!("/tasks/{id}/history")).await {
            Ok(h) => h,
            Err(e) => {
                v.problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let found: Vec<(u64, String)> = history
            .iter()
            .map(|e| {
                (
                    e["version"].as_u64().unwrap_or(0),
                    e["operation"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let wanted: Vec<(u64, String)> = task
            .changes
            .iter()
            .map(|(version, op)| (*version, op.to_string()))
            .collect();
        if found != wanted {
            v.problems.push(format!(
                "{name}: task {id}: audit history {found:?}, committed {wanted:?}"
            ));
        }
    }
    match user.client.all_items("/notifications").await {
        Ok(inbox) => {
            v.reminders_found += inbox.len();
            let mut per_task: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
            for n in &inbox {
                per_task
                    .entry(n["task_id"].as_str().unwrap_or(""))
                    .or_default()
                    .push(n);
            }
            for r in &ledger.reminders {
                match per_task.get(r.task_id.as_str()).map(Vec::as_slice) {
                    Some([n]) => {
                        if let Some(delay) = delay_ms(n) {
                            v.reminder_delays_ms.push(delay);
                        }
                    }
                    Some(many) => v.problems.push(format!(
                        "{name}: the reminder of task {} at {} is in the inbox {} times",
                        r.task_id,
                        r.at,
                        many.len()
                    )),
                    None => v.problems.push(format!(
                        "{name}: the reminder of task {} at {} never reached the inbox",
                        r.task_id, r.at
                    )),
                }
            }
            for task_id in per_task.keys() {
                if !ledger.reminders.iter().any(|r| r.task_id == *task_id) {
                    v.problems.push(format!(
                        "{name}: a notification for task {task_id}, which had no reminder"
                    ));
                }
            }
        }
        Err(e) => v.problems.push(format!("{name}: {e}")),
    }
}

fn delay_ms(notification: &Value) -> Option<f64> {
    let at = |field: &str| {
        notification[field]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    };
    let delay = at("created_at")? - at("reminder_at")?;
    Some(delay.num_milliseconds() as f64)
}
