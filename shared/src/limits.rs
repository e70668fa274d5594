//! Limits are part of the contract: clients can rely on them and the edge enforces them with a
//! field-level error, long before DynamoDB's 400 KB item limit could be reached.

/// Longest title, in characters (Unicode scalar values).
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest notes text, in characters.
pub const NOTES_MAX_CHARS: usize = 4_000;
/// Most tags on one task.
pub const TAGS_MAX: usize = 20;
/// Longest tag, in characters.
pub const TAG_MAX_CHARS: usize = 40;
/// Most reminders on one task.
pub const REMINDERS_MAX: usize = 5;
/// The furthest a relative reminder may sit before its due time (30 days).
pub const REMINDER_MAX_MINUTES_BEFORE_DUE: u32 = 30 * 24 * 60;
/// Longest RRULE text accepted.
pub const RRULE_MAX_CHARS: usize = 200;
/// Largest page a list request may ask for.
pub const PAGE_SIZE_MAX: u32 = 100;
/// Page size when the client does not ask for one.
pub const PAGE_SIZE_DEFAULT: u32 = 20;
/// Largest request body accepted, in bytes.
pub const BODY_MAX_BYTES: usize = 16 * 1024;
/// Longest Idempotency-Key header value.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
/// Longest free-text search query.
pub const SEARCH_QUERY_MAX_CHARS: usize = 100;
/// Most values of a repeated filter (`priority`, `tag`).
pub const FILTER_VALUES_MAX: usize = 10;
