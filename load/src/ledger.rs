//! What the load run knows it committed: per task, each change's version and operation in
//! commit order, and the reminders it expects in the inbox. The verification compares the
//! system's audit log and inbox against this, and nothing else.

use std::collections::BTreeMap;

use serde_json::Value;

/// One committed change: the version it produced and its event type.
pub type Change = (u64, &'static str);

/// A task this run created (or a recurring completion created for it).
#[derive(Debug, Clone)]
pub struct Tracked {
    /// The version of the last committed change.
    pub version: u64,
    pub completed: bool,
    pub deleted: bool,
    pub recurring: bool,
    /// Completing it created its successor already (set once, as the API promises).
    pub has_successor: bool,
    /// A request on it is in flight: no other command picks it (so conflicts mean a defect).
    pub busy: bool,
    /// A reminder task: created, then only read, so its reminder must reach the inbox.
    pub frozen: bool,
    pub changes: Vec<Change>,
}

impl Tracked {
    fn created(recurring: bool, frozen: bool) -> Self {
        Self {
            version: 1,
            completed: false,
            deleted: false,
            recurring,
            has_successor: false,
            busy: false,
            frozen,
            changes: vec![(1, "task.created")],
        }
    }

    /// Free for a command that needs the task in this state.
    pub fn free(&self) -> bool {
        !self.busy && !self.deleted && !self.frozen
    }
}

/// A reminder the inbox must hold exactly once.
#[derive(Debug, Clone)]
pub struct ExpectedReminder {
    pub task_id: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// One user's tasks and expectations.
#[derive(Debug, Default)]
pub struct Ledger {
    pub tasks: BTreeMap<String, Tracked>,
    pub reminders: Vec<ExpectedReminder>,
}

impl Ledger {
    /// Records a created task from its 201 body.
    pub fn created(&mut self, task: &Value, frozen: bool) -> Option<String> {
        let id = task["id"].as_str()?.to_string();
        let recurring = task.get("recurrence").is_some_and(|r| !r.is_null());
        self.tasks
            .insert(id.clone(), Tracked::created(recurring, frozen));
        Some(id)
    }

    /// Records the outcome of a change command answered with the task: a change when the
    /// version moved (a complete of a completed task records nothing), and a recurring
    /// completion's successor the first time one appears.
    pub fn changed(&mut self, id: &str, operation: &'static str, task: &Value) {
        let version = task["version"].as_u64().unwrap_or(0);
        let successor = task["next_id"].as_str().map(str::to_string);
        let Some(t) = self.tasks.get_mut(id) else {
            return;
        };
        if version > t.version {
            t.version = version;
            t.changes.push((version, operation));
        }
        t.completed = task["status"] == "completed";
        let new_successor = successor.filter(|_| !t.has_successor);
        if new_successor.is_some() {
            t.has_successor = true;
        }
        if let Some(next) = new_successor {
            self.tasks.insert(next, Tracked::created(true, false));
        }
    }

    /// Records a delete answered with 204: one past the last version.
    pub fn deleted(&mut self, id: &str) {
        if let Some(t) = self.tasks.get_mut(id) {
            t.version += 1;
            t.changes.push((t.version, "task.deleted"));
            t.deleted = true;
        }
    }

    pub fn committed(&self) -> usize {
        self.tasks.values().map(|t| t.changes.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_change_counts_only_when_the_version_moves_and_a_successor_only_once() {
        let mut l = Ledger::default();
        let id = l
            .created(
                &json!({"id": "a", "version": 1, "recurrence": "FREQ=DAILY"}),
                false,
            )
            .unwrap();
        l.changed(
            &id,
            "task.completed",
            &json!({"version": 2, "status": "completed", "next_id": "b"}),
        );
        l.changed(
            &id,
            "task.completed",
            &json!({"version": 2, "status": "completed", "next_id": "b"}),
        );
        l.changed(
            &id,
            "task.reopened",
            &json!({"version": 3, "status": "open"}),
        );
        l.changed(
            &id,
            "task.completed",
            &json!({"version": 4, "status": "completed", "next_id": "b"}),
        );
        l.deleted(&id);
        assert_eq!(
            l.tasks["a"].changes,
            vec![
                (1, "task.created"),
                (2, "task.completed"),
                (3, "task.reopened"),
                (4, "task.completed"),
                (5, "task.deleted")
            ]
        );
        assert_eq!(l.tasks["b"].changes, vec![(1, "task.created")]);
        assert_eq!(l.committed(), 6);
        assert!(!l.tasks["a"].free());
    }
}
