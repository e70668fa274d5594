//! The administrator's search: a plan (the most selective filter is the key of the index it
//! reads, the others filter), then Queries over that index, walking day partitions where the
//! index has them, within a bounded number of Queries per page.

use std::collections::HashMap;
use std::future::Future;

use todo_lambda::cursor::StartKey;
use todo_lambda::dynamodb::{query_page, s};
use todo_lambda::table::TableError;
use todo_schema::audit::AuditEntry;
use todo_schema::{Actor, TaskId, Timestamp};

use super::{
    AuditStore, INDEX_BY_ACTOR, INDEX_BY_DAY, INDEX_BY_OPERATION, INDEX_BY_TASK, actor_key,
    day_key, day_of, entry_of,
};

/// What an administrator searches for: every entry matching all the given filters, within
/// `from` and `to` (inclusive).
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    pub actor: Option<Actor>,
    pub task: Option<TaskId>,
    /// An event type's wire name (`task.updated`).
    pub operation: Option<String>,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// Where the next page of a search starts: the day partition (for searches that walk days) and
/// the key within the query.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchStart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<chrono::NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<StartKey>,
}

/// One page of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<SearchStart>,
}

/// The most Queries one page of a search may cost: a filtered page or a walk over empty days
/// ends early with a cursor, never runs on.
pub const SEARCH_QUERIES_PER_PAGE: usize = 32;

/// Searches every user's entries (the administrator's route).
pub trait SearchEntries {
    /// One page of the entries matching `search`, oldest first (a task's in version order).
    fn search(
        &self,
        search: &Search,
        limit: usize,
        start: Option<SearchStart>,
    ) -> impl Future<Output = Result<SearchPage, TableError>> + Send;
}

/// The index a search reads and how: the most selective filter is the key, the rest filter.
enum Plan {
    Task(TaskId),
    Actor(String),
    Days { operation: Option<String> },
}

impl Plan {
    fn of(q: &Search) -> Self {
        match (&q.task, &q.actor) {
            (Some(task), _) => Plan::Task(*task),
            (None, Some(actor)) => Plan::Actor(actor_key(actor)),
            (None, None) => Plan::Days {
                operation: q.operation.clone(),
            },
        }
    }
}

impl SearchEntries for AuditStore {
    async fn search(
        &self,
        q: &Search,
        limit: usize,
        start: Option<SearchStart>,
    ) -> Result<SearchPage, TableError> {
        let plan = Plan::of(q);
        let last_day = day_of(q.to);
        let mut day = start
            .as_ref()
            .and_then(|s| s.day)
            .unwrap_or_else(|| day_of(q.from));
        let mut key = start.and_then(|s| s.key);
        let mut entries = Vec::new();
        for _ in 0..SEARCH_QUERIES_PER_PAGE {
            let mut names = HashMap::new();
            let mut values = HashMap::new();
            let mut filters = Vec::new();
            let from = s(q.from.to_string());
            // `~` sorts after the `#<event id>` suffix, so entries at `to` itself are included.
            let to = s(format!("{}~", q.to));
            names.insert("#t".to_string(), "owner_sk".to_string());
            values.insert(":from".to_string(), from);
            values.insert(":to".to_string(), to);
            let (index, key_condition) = match &plan {
                Plan::Task(task) => {
                    values.insert(":k".into(), s(task.to_string()));
                    filters.push("#t BETWEEN :from AND :to");
                    (INDEX_BY_TASK, "task_pk = :k")
                }
                Plan::Actor(actor) => {
                    values.insert(":k".into(), s(actor.clone()));
                    (INDEX_BY_ACTOR, "actor_pk = :k AND #t BETWEEN :from AND :to")
                }
                Plan::Days {
                    operation: Some(op),
                } => {
                    values.insert(":k".into(), s(format!("{op}#{}", day_key(day))));
                    (
                        INDEX_BY_OPERATION,
                        "op_pk = :k AND #t BETWEEN :from AND :to",
                    )
                }
                Plan::Days { operation: None } => {
                    values.insert(":k".into(), s(day_key(day)));
                    (INDEX_BY_DAY, "day_pk = :k AND #t BETWEEN :from AND :to")
                }
            };
            if let (Some(actor), Plan::Task(_)) = (&q.actor, &plan) {
                values.insert(":a".into(), s(actor_key(actor)));
                filters.push("actor_pk = :a");
            }
            if let (Some(op), Plan::Task(_) | Plan::Actor(_)) = (&q.operation, &plan) {
                names.insert("#op".into(), "operation".into());
                values.insert(":op".into(), s(op.clone()));
                filters.push("#op = :op");
            }
            let query = self
                .query()
                .index_name(index)
                .key_condition_expression(key_condition)
                .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values));
            let got =
                query_page(query, (limit - entries.len()) as i32, key.take(), entry_of).await?;
            entries.extend(got.items);
            key = got.next;
            let walking = matches!(plan, Plan::Days { .. });
            if key.is_none() {
                match day.succ_opt() {
                    Some(next) if walking && next <= last_day => day = next,
                    _ => {
                        return Ok(SearchPage {
                            entries,
                            next: None,
                        });
                    }
                }
            }
            if entries.len() >= limit {
                break;
            }
        }
        let next = SearchStart {
            day: matches!(plan, Plan::Days { .. }).then_some(day),
            key,
        };
        Ok(SearchPage {
            entries,
            next: Some(next),
        })
    }
}
