//! What clients send: the create body and the JSON Merge Patch (RFC 7396) body.
//!
//! Both refuse unknown fields, so `owner`, `id`, `version` and the timestamps can never be set by
//! a client (no mass assignment), and a typo is an error instead of a silent no-op.

use serde::{Deserialize, Deserializer, Serialize};

use crate::problem::FieldError;
use crate::recurrence::Recurrence;
use crate::task::{Due, Priority, Reminder, Status, Task, TaskId};
use crate::time::Timestamp;
use crate::validation;

/// The body of `POST /tasks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<Reminder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
}

impl NewTask {
    /// The task this command creates, or every field that is wrong with it.
    pub fn into_task(
        self,
        id: TaskId,
        owner: &str,
        now: Timestamp,
    ) -> Result<Task, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = validation::title(&self.title)
            .map_err(|e| errors.push(e))
            .ok();
        let notes = validation::notes(self.notes.as_deref())
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let tags = validation::tags(&self.tags)
            .map_err(|e| errors.extend(e))
            .unwrap_or_default();
        if let Err(e) = validation::reminders(&self.reminders) {
            errors.extend(e);
        }
        let recurrence = self
            .recurrence
            .as_ref()
            .and_then(|r| validation::recurrence(r).map_err(|e| errors.push(e)).ok());
        let series_id = recurrence.as_ref().map(|_| id);
        let task = Task {
            id,
            owner: owner.to_string(),
            title: title.unwrap_or_default(),
            notes,
            status: Status::Open,
            priority: self.priority.unwrap_or_default(),
            tags,
            due: self.due,
            reminders: self.reminders,
            recurrence,
            series_id,
            next_id: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
        };
        errors.extend(validation::cross_field(&task));
        if errors.is_empty() {
            Ok(task)
        } else {
            Err(errors)
        }
    }
}

/// Deserializes a present field, so that `Option<Option<T>>` tells absent (`None`) from `null`
/// (`Some(None)`), which is what a merge patch needs.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `PATCH /tasks/{id}`: a JSON Merge Patch over the writable fields.
///
/// Absent fields stay as they are; `null` removes a field (or resets it: `priority` to medium,
/// `tags` and `reminders` to empty); `title` cannot be removed. `due` is replaced as a whole:
/// a patch gives both `at` and `tz`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub priority: Option<Option<Priority>>,
    #[serde(default, deserialize_with = "present")]
    pub tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub due: Option<Option<Due>>,
    #[serde(default, deserialize_with = "present")]
    pub reminders: Option<Option<Vec<Reminder>>>,
    #[serde(default, deserialize_with = "present")]
    pub recurrence: Option<Option<Recurrence>>,
}

/// A patch whose fields each passed their own rules, normalized (trimmed title, lower-case tags,
/// nulls turned into the value they reset to). `None` still means "leave as is".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckedPatch {
    pub title: Option<String>,
    pub notes: Option<Option<String>>,
    pub priority: Option<Priority>,
    pub tags: Option<Vec<String>>,
    pub due: Option<Option<Due>>,
    pub reminders: Option<Vec<Reminder>>,
    pub recurrence: Option<Option<Recurrence>>,
}

impl TaskPatch {
    /// Checks every present field on its own; rules that span fields wait for [`CheckedPatch::apply`].
    pub fn check(self) -> Result<CheckedPatch, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = match self.title {
            None => None,
            Some(None) => {
                errors.push(FieldError::new(
                    "title",
                    "required",
                    "title cannot be removed",
                ));
                None
            }
            Some(Some(t)) => validation::title(&t).map_err(|e| errors.push(e)).ok(),
        };
        let notes = self.notes.and_then(|n| {
            validation::notes(n.as_deref())
                .map_err(|e| errors.push(e))
                .ok()
        });
        let tags = self.tags.and_then(|t| {
            validation::tags(&t.unwrap_or_default())
                .map_err(|e| errors.extend(e))
                .ok()
        });
        let reminders = self.reminders.map(Option::unwrap_or_default);
        if let Some(r) = &reminders
            && let Err(e) = validation::reminders(r)
        {
            errors.extend(e);
        }
        let recurrence = self.recurrence.map(|rule| {
            rule.and_then(|r| validation::recurrence(&r).map_err(|e| errors.push(e)).ok())
        });
        if errors.is_empty() {
            Ok(CheckedPatch {
                title,
                notes,
                priority: self.priority.map(Option::unwrap_or_default),
                tags,
                due: self.due,
                reminders,
                recurrence,
            })
        } else {
            Err(errors)
        }
    }
}

impl CheckedPatch {
    /// Whether the patch changes nothing at all (an empty object).
    pub fn is_empty(&self) -> bool {
        *self == CheckedPatch::default()
    }

    /// Whether the patch touches the fields the reminder schedule and the series depend on.
    pub fn touches_schedule(&self) -> bool {
        self.due.is_some() || self.reminders.is_some() || self.recurrence.is_some()
    }

    /// The task after the patch, checked as a whole; the version and `updated_at` advance.
    pub fn apply(&self, current: &Task, now: Timestamp) -> Result<Task, Vec<FieldError>> {
        let mut task = current.clone();
        if let Some(t) = &self.title {
            task.title = t.clone();
        }
        if let Some(n) = &self.notes {
            task.notes = n.clone();
        }
        if let Some(p) = self.priority {
            task.priority = p;
        }
        if let Some(t) = &self.tags {
            task.tags = t.clone();
        }
        if let Some(d) = self.due {
            task.due = d;
        }
        if let Some(r) = &self.reminders {
            task.reminders = r.clone();
        }
        if let Some(r) = &self.recurrence {
            task.recurrence = r.clone();
            if task.recurrence.is_some() && task.series_id.is_none() {
                task.series_id = Some(task.id);
            }
        }
        task.version += 1;
        task.updated_at = now;
        let errors = validation::cross_field(&task);
        if errors.is_empty() {
            Ok(task)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn create(body: serde_json::Value) -> Result<Task, Vec<FieldError>> {
        let cmd: NewTask = serde_json::from_value(body).unwrap();
        cmd.into_task(TaskId::generate(), "u1", now())
    }

    #[test]
    fn create_normalizes_and_defaults() {
        let t = create(json!({"title": "  Buy milk ", "tags": ["Home", "home", "shop"]})).unwrap();
        assert_eq!(t.title, "Buy milk");
        assert_eq!(t.tags, vec!["home", "shop"]);
        assert_eq!(t.priority, Priority::Medium);
        assert_eq!(t.status, Status::Open);
        assert_eq!(t.version, 1);
    }

    #[test]
    fn create_reports_every_bad_field() {
        let errors = create(json!({
            "title": " ",
            "notes": "x".repeat(5000),
            "tags": ["ok", ""],
            "reminders": [{"before_due_minutes": 5}],
            "recurrence": "FREQ=DAILY"
        }))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["title", "notes", "tags[1]", "reminders", "recurrence"]
        );
    }

    #[test]
    fn create_refuses_server_owned_fields() {
        for field in ["owner", "id", "version", "created_at", "status"] {
            let mut body = json!({"title": "x"});
            body[field] = json!("y");
            assert!(serde_json::from_value::<NewTask>(body).is_err(), "{field}");
        }
    }

    #[test]
    fn too_many_reminders_and_tags() {
        let reminders: Vec<_> = (0..6).map(|i| json!({"before_due_minutes": i})).collect();
        let tags: Vec<_> = (0..21).map(|i| format!("t{i}")).collect();
        let errors = create(json!({
            "title": "x", "reminders": reminders, "tags": tags,
            "due": {"at": "2026-02-01T00:00:00Z", "tz": "UTC"}
        }))
        .unwrap_err();
        let codes: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(codes, [("tags", "too_many"), ("reminders", "too_many")]);
    }

    #[test]
    fn patch_tells_absent_from_null() {
        let p: TaskPatch =
            serde_json::from_value(json!({"notes": null, "priority": "high"})).unwrap();
        assert_eq!(p.notes, Some(None));
        assert_eq!(p.title, None);
        let c = p.check().unwrap();
        assert_eq!(c.priority, Some(Priority::High));
        assert!(!c.touches_schedule());
    }

    #[test]
    fn patch_cannot_remove_title_or_set_owner() {
        let p: TaskPatch = serde_json::from_value(json!({"title": null})).unwrap();
        assert_eq!(p.check().unwrap_err()[0].code, "required");
        assert!(serde_json::from_value::<TaskPatch>(json!({"owner": "other"})).is_err());
        assert!(serde_json::from_value::<TaskPatch>(json!({"due": {"tz": "UTC"}})).is_err());
    }

    #[test]
    fn patch_applies_and_checks_the_whole_task() {
        let task = create(json!({
            "title": "x",
            "due": {"at": "2026-02-01T09:00:00Z", "tz": "UTC"},
            "recurrence": "FREQ=DAILY"
        }))
        .unwrap();
        let remove_due: TaskPatch = serde_json::from_value(json!({"due": null})).unwrap();
        let errors = remove_due.check().unwrap().apply(&task, now()).unwrap_err();
        assert_eq!(errors[0].field, "recurrence");

        let both: TaskPatch =
            serde_json::from_value(json!({"due": null, "recurrence": null, "tags": null})).unwrap();
        let after = both.check().unwrap().apply(&task, now()).unwrap();
        assert_eq!(after.due, None);
        assert_eq!(after.version, 2);
    }
}
