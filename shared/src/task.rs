//! The task: what a user owns, edits and completes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::recurrence::Recurrence;
use crate::time::{TimeZone, Timestamp};

/// A task's identity: a UUIDv7, so ids sort by creation time (the default list order relies on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(Uuid);

impl TaskId {
    /// A fresh, time-ordered id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl From<Uuid> for TaskId {
    fn from(value: Uuid) -> Self {
        Self(value)
    }
}

/// Why a task id was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a task id: task ids are UUIDs")]
pub struct TaskIdError;

impl FromStr for TaskId {
    type Err = TaskIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(s).map(Self).map_err(|_| TaskIdError)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Whether a task still needs doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Completed,
}

impl Status {
    /// The wire name, also used in storage and filters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Completed => "completed",
        }
    }
}

impl FromStr for Status {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Status::Open),
            "completed" => Ok(Status::Completed),
            _ => Err(()),
        }
    }
}

/// How much a task matters. Ordered: `Low < Medium < High < Urgent`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Urgent,
    ];

    /// The wire name, also used in storage and filters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// A single digit that sorts like the priority (for sort keys).
    pub fn rank(&self) -> u8 {
        match self {
            Priority::Low => 0,
            Priority::Medium => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }
}

impl FromStr for Priority {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(())
    }
}

/// When a task is due: an instant plus the IANA zone it was meant in.
///
/// The zone matters for recurrence: "every Monday 09:00 in Europe/Berlin" stays at 09:00 local
/// across daylight-saving changes, which a bare UTC instant cannot express.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Due {
    /// The instant; any RFC 3339 offset is accepted and stored as UTC.
    pub at: Timestamp,
    /// The zone the due time is meant in.
    pub tz: TimeZone,
}

/// When to remind the owner of a task.
///
/// On the wire: `{"at": "2026-03-29T08:00:00Z"}` or `{"before_due_minutes": 30}`. Relative
/// reminders follow the due time when it moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Reminder {
    /// At a fixed instant.
    At(Timestamp),
    /// A number of minutes before the task's due time.
    BeforeDueMinutes(u32),
}

impl Reminder {
    /// The instant this reminder fires for the given due time; `None` for a relative reminder on a
    /// task without a due time.
    pub fn instant(&self, due: Option<&Due>) -> Option<Timestamp> {
        match self {
            Reminder::At(at) => Some(*at),
            Reminder::BeforeDueMinutes(minutes) => {
                due.and_then(|d| d.at.plus_minutes(-i64::from(*minutes)))
            }
        }
    }

    /// Whether the instant depends on the due time.
    pub fn is_relative(&self) -> bool {
        matches!(self, Reminder::BeforeDueMinutes(_))
    }
}

/// The earliest reminder instant strictly after `after`: the next one the sweep must deliver.
pub fn next_reminder(
    reminders: &[Reminder],
    due: Option<&Due>,
    after: Timestamp,
) -> Option<Timestamp> {
    reminders
        .iter()
        .filter_map(|r| r.instant(due))
        .filter(|t| *t > after)
        .min()
}

/// A task as stored and as returned by the API.
///
/// Consumers must ignore fields they do not know, so adding a field is not a breaking change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    /// The `sub` claim of the user who owns the task.
    pub owner: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub status: Status,
    pub priority: Priority,
    /// Lower-case, unique, in the order given.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
    #[serde(default)]
    pub reminders: Vec<Reminder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
    /// The id of the first task of a recurring series; every occurrence carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<TaskId>,
    /// The occurrence that completing this one created. Set once: completing the task again
    /// after a reopen creates no second successor, so a series never doubles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_id: Option<TaskId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// Starts at 1 and grows by one with every change; the ETag is derived from it.
    pub version: u64,
}

impl Task {
    /// The next reminder to deliver after `now`, if any (only open tasks remind).
    pub fn next_reminder_after(&self, now: Timestamp) -> Option<Timestamp> {
        match self.status {
            Status::Open => next_reminder(&self.reminders, self.due.as_ref(), now),
            Status::Completed => None,
        }
    }

    /// Whether the task is open and its due time lies before `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.status == Status::Open && self.due.is_some_and(|d| d.at < now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn task_round_trips_through_json() {
        let task = Task {
            id: TaskId::generate(),
            owner: "user-1".into(),
            title: "Pay rent".into(),
            notes: Some("before the 3rd".into()),
            status: Status::Open,
            priority: Priority::High,
            tags: vec!["home".into()],
            due: Some(Due {
                at: ts("2026-03-01T09:00:00Z"),
                tz: "Europe/Berlin".parse().unwrap(),
            }),
            reminders: vec![
                Reminder::BeforeDueMinutes(60),
                Reminder::At(ts("2026-02-28T18:00:00Z")),
            ],
            recurrence: Some("FREQ=MONTHLY;BYMONTHDAY=1".parse().unwrap()),
            series_id: None,
            next_id: None,
            created_at: ts("2026-02-01T10:00:00Z"),
            updated_at: ts("2026-02-01T10:00:00Z"),
            completed_at: None,
            version: 1,
        };
        let json = serde_json::to_string(&task).unwrap();
        assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), task);
    }

    #[test]
    fn reminder_wire_shapes() {
        assert_eq!(
            serde_json::to_value(Reminder::BeforeDueMinutes(15)).unwrap(),
            serde_json::json!({"before_due_minutes": 15})
        );
        assert_eq!(
            serde_json::to_value(Reminder::At(ts("2026-01-01T00:00:00Z"))).unwrap(),
            serde_json::json!({"at": "2026-01-01T00:00:00.000Z"})
        );
        assert!(serde_json::from_str::<Reminder>(r#"{"in": 5}"#).is_err());
    }

    #[test]
    fn relative_reminders_follow_the_due_time() {
        let due = Due {
            at: ts("2026-03-01T09:00:00Z"),
            tz: "UTC".parse().unwrap(),
        };
        let r = Reminder::BeforeDueMinutes(30);
        assert_eq!(r.instant(Some(&due)), Some(ts("2026-03-01T08:30:00Z")));
        assert_eq!(r.instant(None), None);
    }

    #[test]
    fn next_reminder_skips_the_past() {
        let due = Due {
            at: ts("2026-03-01T09:00:00Z"),
            tz: "UTC".parse().unwrap(),
        };
        let reminders = [
            Reminder::BeforeDueMinutes(120),
            Reminder::BeforeDueMinutes(10),
            Reminder::At(ts("2026-02-01T00:00:00Z")),
        ];
        assert_eq!(
            next_reminder(&reminders, Some(&due), ts("2026-03-01T07:30:00Z")),
            Some(ts("2026-03-01T08:50:00Z"))
        );
        assert_eq!(
            next_reminder(&reminders, Some(&due), ts("2026-03-01T09:00:00Z")),
            None
        );
    }

    #[test]
    fn ids_and_enums_parse_strictly() {
        assert!("not-a-uuid".parse::<TaskId>().is_err());
        let id = TaskId::generate();
        assert_eq!(id.to_string().parse::<TaskId>().unwrap(), id);
        assert_eq!("urgent".parse::<Priority>(), Ok(Priority::Urgent));
        assert!("URGENT".parse::<Priority>().is_err());
        assert!(Priority::Low < Priority::Urgent);
        assert_eq!("completed".parse::<Status>(), Ok(Status::Completed));
    }
}
