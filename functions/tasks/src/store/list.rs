//! List: a Query over the owner's partition, on the base table (creation order: ids are
//! UUIDv7) or on the local secondary index of the requested sort, with filters as a
//! FilterExpression.
//!
//! An unfiltered page is one Query of exactly `limit` items. A filtered page reads batches until
//! it is full, at most [`MAX_QUERIES_PER_PAGE`] Queries; a page may then hold fewer than `limit`
//! tasks and still carry a cursor. The cursor is the key of the last item read, so pages never
//! skip or repeat a task. An item that cannot be read as a task is left out of the page and
//! logged as an error; the rest of the page is served.

use todo_schema::{Priority, Status, Task, Timestamp};

use super::errors::{classify, into_store_error};
use super::item::{
    INDEX_BY_DUE, INDEX_BY_PRIORITY, INDEX_BY_TITLE, INDEX_BY_UPDATED, Item, s, task_from_item,
    user_pk,
};
use super::{DynamoTaskStore, ListTasks, StoreError};
use todo_lambda::dynamodb::Expr;
use todo_lambda::dynamodb::{start_key_item, start_key_of};

/// The most Queries one filtered page may cost.
pub const MAX_QUERIES_PER_PAGE: usize = 3;
/// Items read per Query when filtering (each read is paid for, match or not).
const FILTERED_BATCH: i32 = 100;

/// The sort orders a list supports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortField {
    #[default]
    Created,
    Due,
    Priority,
    Title,
    Updated,
}

impl SortField {
    /// Every sort, with its query-string name.
    pub const ALL: [(SortField, &'static str); 5] = [
        (SortField::Created, "created"),
        (SortField::Due, "due"),
        (SortField::Priority, "priority"),
        (SortField::Title, "title"),
        (SortField::Updated, "updated"),
    ];

    /// The query-string name.
    pub fn as_str(&self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| f == self)
            .map(|(_, name)| *name)
            .unwrap_or("created")
    }

    /// The index and its sort-key attribute; `None` for the base table.
    fn index(&self) -> Option<(&'static str, &'static str)> {
        match self {
            SortField::Created => None,
            SortField::Due => Some((INDEX_BY_DUE, "s_due")),
            SortField::Priority => Some((INDEX_BY_PRIORITY, "s_prio")),
            SortField::Title => Some((INDEX_BY_TITLE, "s_title")),
            SortField::Updated => Some((INDEX_BY_UPDATED, "s_upd")),
        }
    }
}

/// `status` filter.
pub type StatusFilter = Status;

/// A list request, parsed and checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    pub status: Option<StatusFilter>,
    /// Any of these priorities.
    pub priorities: Vec<Priority>,
    /// All of these tags.
    pub tags: Vec<String>,
    /// Case-insensitive text in title or notes (already lower-case).
    pub text: Option<String>,
    pub due_before: Option<Timestamp>,
    pub due_after: Option<Timestamp>,
    /// `true`: open and past due; `false`: anything else.
    pub overdue: Option<bool>,
    pub sort: SortField,
    pub descending: bool,
    pub limit: u32,
}

impl ListQuery {
    fn is_filtered(&self) -> bool {
        self.status.is_some()
            || !self.priorities.is_empty()
            || !self.tags.is_empty()
            || self.text.is_some()
            || self.due_before.is_some()
            || self.due_after.is_some()
            || self.overdue.is_some()
    }
}

use todo_lambda::cursor::Paged;
pub use todo_lambda::cursor::StartKey;

/// One page of tasks; `next` is present when more tasks may follow.
pub type Page = Paged<Task>;

fn filter_expression(q: &ListQuery, e: &mut Expr, now: Timestamp) {
    if let Some(status) = q.status {
        e.require_eq("status", s(status.as_str()));
    }
    if !q.priorities.is_empty() {
        let name = e.name("priority");
        let values: Vec<_> = q
            .priorities
            .iter()
            .map(|p| e.value(s(p.as_str())))
            .collect();
        e.condition(format!("{name} IN ({})", values.join(", ")));
    }
    for tag in &q.tags {
        let name = e.name("tags");
        let v = e.value(s(tag));
        e.condition(format!("contains({name}, {v})"));
    }
    if let Some(text) = &q.text {
        let title = e.name("q_title");
        let notes = e.name("q_notes");
        let v = e.value(s(text));
        e.condition(format!(
            "(contains({title}, {v}) OR contains({notes}, {v}))"
        ));
    }
    let due_at = |e: &mut Expr| format!("{}.{}", e.name("due"), e.name("at"));
    if let Some(before) = q.due_before {
        let path = due_at(e);
        let v = e.value(s(before.to_string()));
        e.condition(format!("{path} < {v}"));
    }
    if let Some(after) = q.due_after {
        let path = due_at(e);
        let v = e.value(s(after.to_string()));
        e.condition(format!("{path} >= {v}"));
    }
    if let Some(overdue) = q.overdue {
        let path = due_at(e);
        let status = e.name("status");
        let open = e.value(s(Status::Open.as_str()));
        let now = e.value(s(now.to_string()));
        let cond = format!("({status} = {open} AND {path} < {now})");
        e.condition(if overdue { cond } else { format!("NOT {cond}") });
    }
}

/// The key a query would return as LastEvaluatedKey for this item.
fn key_of(item: &Item, sort: SortField) -> StartKey {
    let mut names = vec!["pk", "sk"];
    if let Some((_, attr)) = sort.index() {
        names.push(attr);
    }
    names
        .into_iter()
        .filter_map(|n| {
            item.get(n)
                .and_then(|v| v.as_s().ok())
                .map(|v| (n.to_string(), v.clone()))
        })
        .collect()
}

impl ListTasks for DynamoTaskStore {
    async fn list(
        &self,
        owner: &str,
        q: &ListQuery,
        start: Option<StartKey>,
        now: Timestamp,
    ) -> Result<Page, StoreError> {
        let mut e = Expr::default();
        let pk = e.name("pk");
        let owner_pk = e.value(s(user_pk(owner)));
        let key_condition = match q.sort.index() {
            None => {
                let sk = e.name("sk");
                let prefix = e.value(s("TASK#"));
                format!("{pk} = {owner_pk} AND begins_with({sk}, {prefix})")
            }
            Some(_) => format!("{pk} = {owner_pk}"),
        };
        filter_expression(q, &mut e, now);

        let limit = q.limit as usize;
        let mut tasks = Vec::with_capacity(limit);
        let mut start = start.map(start_key_item);
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let batch = if q.is_filtered() {
                FILTERED_BATCH
            } else {
                (limit - tasks.len()) as i32
            };
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(q.sort.index().map(|(i, _)| i.to_string()))
                .key_condition_expression(&key_condition)
                .set_filter_expression(e.condition_expression())
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(!q.descending)
                .limit(batch)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| into_store_error(classify(err)))?;
            let items = out.items.unwrap_or_default();
            for item in items {
                if tasks.len() == limit {
                    // A full page: resume right after the last task returned.
                    return Ok(Page {
                        next: tasks.last().map(|(_, key): &(Task, StartKey)| key.clone()),
                        items: tasks.into_iter().map(|(t, _)| t).collect(),
                    });
                }
                let key = key_of(&item, q.sort);
                match task_from_item(item) {
                    Ok(task) => tasks.push((task, key)),
                    // One unreadable item (written by an older, laxer version) must not cost
                    // its owner every page: it is left out and reported.
                    Err(e) => tracing::error!(?key, error = %e, "unreadable task item left out"),
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() || tasks.len() == limit {
                break;
            }
        }
        Ok(Page {
            items: tasks.into_iter().map(|(t, _)| t).collect(),
            next: start.map(start_key_of),
        })
    }
}
