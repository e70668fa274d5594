//! Field rules shared by create and update, so both enforce exactly the same contract.

use crate::limits::*;
use crate::problem::FieldError;
use crate::recurrence::Recurrence;
use crate::task::{Reminder, Task};

/// Whether a title may not hold `c`: a control character, a line or paragraph separator
/// (U+2028, U+2029), or a bidirectional embedding, override or isolate (U+202A to U+202E,
/// U+2066 to U+2069). A title is one line of text that other software shows (an e-mail's
/// subject, a push notification): a separator breaks that line, and a bidi control reorders
/// what follows it, so `Invoice\u{202E}fdp.exe` reads as `Invoiceexe.pdf`. Titles stored
/// before this rule may still hold them: whoever shows a title replaces them.
pub fn not_in_a_title(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Trims a title and checks it is present, short enough and one line of plain text (see
/// [`not_in_a_title`]).
pub fn title(raw: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(FieldError::new(
            "title",
            "required",
            "title must not be empty",
        ));
    }
    if t.chars().count() > TITLE_MAX_CHARS {
        return Err(FieldError::new(
            "title",
            "too_long",
            format!("title must be at most {TITLE_MAX_CHARS} characters"),
        ));
    }
    if t.chars().any(not_in_a_title) {
        return Err(FieldError::new(
            "title",
            "invalid",
            "title must not contain control characters, line or paragraph separators (U+2028, \
             U+2029) or bidirectional controls (U+202A to U+202E, U+2066 to U+2069)",
        ));
    }
    Ok(t.to_string())
}

/// Checks notes length; empty notes are the same as none.
pub fn notes(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim_end) {
        None | Some("") => Ok(None),
        Some(n) if n.chars().count() > NOTES_MAX_CHARS => Err(FieldError::new(
            "notes",
            "too_long",
            format!("notes must be at most {NOTES_MAX_CHARS} characters"),
        )),
        Some(n) => Ok(Some(n.to_string())),
    }
}

/// Normalizes one tag (trimmed, lower-case) or explains why it is not a tag.
pub fn tag(raw: &str, field: &str) -> Result<String, FieldError> {
    let t = raw.trim().to_lowercase();
    if t.is_empty() {
        return Err(FieldError::new(field, "required", "tags must not be empty"));
    }
    if t.chars().count() > TAG_MAX_CHARS {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("tags must be at most {TAG_MAX_CHARS} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() || c == ',') {
        return Err(FieldError::new(
            field,
            "invalid",
            "tags must not contain commas or control characters",
        ));
    }
    Ok(t)
}

/// Normalizes a tag list: each tag normalized, duplicates dropped, order kept.
pub fn tags(raw: &[String]) -> Result<Vec<String>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        match tag(t, &format!("tags[{i}]")) {
            Ok(t) if !out.contains(&t) => out.push(t),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if out.len() > TAGS_MAX {
        errors.push(FieldError::new(
            "tags",
            "too_many",
            format!("a task has at most {TAGS_MAX} tags"),
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Checks the reminder list on its own (count, offsets); whether relative reminders have a due
/// time to follow is checked on the whole task.
pub fn reminders(raw: &[Reminder]) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if raw.len() > REMINDERS_MAX {
        errors.push(FieldError::new(
            "reminders",
            "too_many",
            format!("a task has at most {REMINDERS_MAX} reminders"),
        ));
    }
    for (i, r) in raw.iter().enumerate() {
        if let Reminder::BeforeDueMinutes(m) = r
            && *m > REMINDER_MAX_MINUTES_BEFORE_DUE
        {
            errors.push(FieldError::new(
                format!("reminders[{i}]"),
                "invalid",
                format!(
                    "a reminder can be at most {REMINDER_MAX_MINUTES_BEFORE_DUE} minutes before due"
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A new or changed recurrence rule, checked against the contract and normalized.
pub fn recurrence(raw: &Recurrence) -> Result<Recurrence, FieldError> {
    raw.checked()
        .map_err(|e| FieldError::new("recurrence", "invalid", e.to_string()))
}

/// Rules that span fields: relative reminders and recurrence need a due time, every reminder
/// must fall within the instants the system stores, and the recurrence must be valid when
/// anchored at the due time.
pub fn cross_field(task: &Task) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if task.due.is_none() && task.reminders.iter().any(Reminder::is_relative) {
        errors.push(FieldError::new(
            "reminders",
            "requires_due",
            "a reminder relative to the due time needs a due time",
        ));
    }
    if let Some(due) = &task.due {
        for (i, r) in task.reminders.iter().enumerate() {
            if r.instant(Some(due)).is_none() {
                errors.push(FieldError::new(
                    format!("reminders[{i}]"),
                    "out_of_range",
                    "the reminder would fall before 0000-01-01T00:00:00Z",
                ));
            }
        }
    }
    match (&task.recurrence, &task.due) {
        (Some(_), None) => errors.push(FieldError::new(
            "recurrence",
            "requires_due",
            "a recurring task needs a due time to anchor the series",
        )),
        (Some(rule), Some(due)) => {
            if let Err(e) = rule.validate_for(due) {
                errors.push(FieldError::new("recurrence", "invalid", e.to_string()));
            }
        }
        (None, _) => {}
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_one_line_without_bidirectional_controls() {
        for c in [
            '\n', '\r', '\u{7}', '\u{85}', '\u{2028}', '\u{2029}', '\u{202A}', '\u{202B}',
            '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            let e = title(&format!("Pay invoice{c}fdp.exe")).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code.as_str()),
                ("title", "invalid"),
                "{c:?}"
            );
        }
        // Right-to-left text itself, marks and joiners stay titles.
        for ok in ["שלום עולם", "مرحبا", "a\u{200F}b", "👩\u{200D}💻 ship it"] {
            assert_eq!(title(ok).as_deref(), Ok(ok));
        }
    }
}
