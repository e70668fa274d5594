//! The administrator's search: a plan (the most selective filter is the key of the index it
//! reads, the others filter), then Queries over that index, walking day partitions where the
//! index has them and gathering every shard of a sharded key (`gather`), within a bounded
//! number of Queries per page.

use std::collections::BTreeSet;
use std::future::Future;

use chrono::NaiveDate;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use todo_lambda::dynamodb::s;
use todo_lambda::table::TableError;
use todo_schema::audit::AuditEntry;
use todo_schema::{Actor, TaskId, Timestamp};

use super::gather::{Budget, Rest, gather};
use super::shards::{AUDIT_SHARDS, actor_partitions, partitions};
use super::{
    AuditStore, INDEX_BY_ACTOR, INDEX_BY_DAY, INDEX_BY_OPERATION, INDEX_BY_TASK, day_key, day_of,
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

/// Where the next page of a search starts: the day (for searches that walk days) and the sort
/// key within it, inclusive, the same in every shard: just after the last entry taken, or past
/// what the page read and found no match in.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchStart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<chrono::NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// One page of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<SearchStart>,
}

/// The most Queries one page of a search may cost, a shard's Query counting as one: a filtered
/// page or a walk over empty days ends early with a cursor, never runs on. Four days' fan-outs
/// over every shard and the legacy key: 404 Queries, about 200 read units when they find
/// nothing (half a unit each, eventually consistent).
pub const SEARCH_QUERIES_PER_PAGE: usize = 4 * (AUDIT_SHARDS as usize + 1);

/// The most rounds of Queries one page may wait for one after the other: a fan-out over the
/// shards is one round, reading further the shards that hold the merge up another. An unsharded
/// key (a task's, a user's) reads one Query a round, so this bounds its page as before.
pub const SEARCH_ROUNDS_PER_PAGE: usize = 32;

const _: () = assert!(
    SEARCH_QUERIES_PER_PAGE > AUDIT_SHARDS as usize,
    "a page can afford the fan-out over every partition of a key"
);

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
    Actor(Actor),
    Days { operation: Option<String> },
}

impl Plan {
    fn of(q: &Search) -> Self {
        match (&q.task, &q.actor) {
            (Some(task), _) => Plan::Task(*task),
            (None, Some(actor)) => Plan::Actor(actor.clone()),
            (None, None) => Plan::Days {
                operation: q.operation.clone(),
            },
        }
    }

    fn walks_days(&self) -> bool {
        matches!(self, Plan::Days { .. })
    }

    /// The attribute the index sorts by.
    fn sort_key(&self) -> &'static str {
        match self {
            Plan::Task(_) => "sk",
            _ => "owner_sk",
        }
    }

    /// The partition key values that hold the plan's entries (of `day`, for the day indexes).
    fn partitions(&self, day: NaiveDate) -> Vec<String> {
        match self {
            Plan::Task(task) => vec![task.to_string()],
            Plan::Actor(actor) => actor_partitions(actor),
            Plan::Days { .. } => partitions(&self.day_partition(day)),
        }
    }

    /// A day index's unsharded key of `day`: the base of its shards, and its legacy key.
    fn day_partition(&self, day: NaiveDate) -> String {
        match self {
            Plan::Days {
                operation: Some(op),
            } => format!("{op}#{}", day_key(day)),
            _ => day_key(day),
        }
    }

    /// The partitions of the next gather from `day`, and the last day it covers. A day the
    /// directory (`marked`) lists: every shard and the legacy key. Days it does not list hold
    /// at most entries written before sharding: the legacy keys of the run of such days from
    /// `day` (up to `last`, at most `most` of them) are gathered at once, their sort keys (times)
    /// ordering them across days.
    fn step(
        &self,
        day: NaiveDate,
        last: NaiveDate,
        marked: Option<&BTreeSet<NaiveDate>>,
        most: usize,
    ) -> (Vec<String>, NaiveDate) {
        let Some(marked) = marked.filter(|m| !m.contains(&day)) else {
            return (self.partitions(day), day);
        };
        let mut keys = vec![self.day_partition(day)];
        let mut end = day;
        while keys.len() < most {
            match end.succ_opt() {
                Some(next) if next <= last && !marked.contains(&next) => {
                    keys.push(self.day_partition(next));
                    end = next;
                }
                _ => break,
            }
        }
        (keys, end)
    }

    /// The Query of any one partition (`:k`), its sort key from `from` (inclusive) when given.
    fn query(&self, store: &AuditStore, q: &Search, from: Option<&str>) -> QueryFluentBuilder {
        let mut filters = Vec::new();
        // `~` sorts after the `#<event id>` suffix, so entries at `to` itself are included.
        let query = store
            .client
            .query()
            .table_name(&store.table)
            .expression_attribute_names("#t", "owner_sk")
            .expression_attribute_values(":to", s(format!("{}~", q.to)));
        let mut query = match self {
            Plan::Task(_) => {
                filters.push("#t BETWEEN :from AND :to");
                let query = query
                    .index_name(INDEX_BY_TASK)
                    .expression_attribute_values(":from", s(q.from.to_string()));
                match from {
                    Some(from) => query
                        .key_condition_expression("task_pk = :k AND sk >= :lo")
                        .expression_attribute_values(":lo", s(from)),
                    None => query.key_condition_expression("task_pk = :k"),
                }
            }
            _ => {
                let (index, key) = match self {
                    Plan::Actor(_) => (INDEX_BY_ACTOR, "actor_pk"),
                    Plan::Days { operation: Some(_) } => (INDEX_BY_OPERATION, "op_pk"),
                    _ => (INDEX_BY_DAY, "day_pk"),
                };
                let from = from.map_or_else(|| q.from.to_string(), str::to_string);
                query
                    .index_name(index)
                    .key_condition_expression(format!("{key} = :k AND #t BETWEEN :lo AND :to"))
                    .expression_attribute_values(":lo", s(from))
            }
        };
        if let (Some(actor), Plan::Task(_)) = (&q.actor, self) {
            // The actor as the entry records it: its `actor_pk` may be a shard's.
            let (kind, id) = match actor {
                Actor::User { id } => ("user", id),
                Actor::System { id } => ("system", id),
            };
            filters.push("#ac.#kind = :ak AND #ac.#id = :ai");
            query = query
                .expression_attribute_names("#ac", "actor")
                .expression_attribute_names("#kind", "kind")
                .expression_attribute_names("#id", "id")
                .expression_attribute_values(":ak", s(kind))
                .expression_attribute_values(":ai", s(id.clone()));
        }
        if let (Some(op), Plan::Task(_) | Plan::Actor(_)) = (&q.operation, self) {
            filters.push("#op = :op");
            query = query
                .expression_attribute_names("#op", "operation")
                .expression_attribute_values(":op", s(op.clone()));
        }
        query.set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
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
        let start = start.unwrap_or_default();
        let mut day = start.day.unwrap_or_else(|| day_of(q.from));
        let mut from = start.from;
        let mut budget = Budget {
            queries: SEARCH_QUERIES_PER_PAGE,
            rounds: SEARCH_ROUNDS_PER_PAGE,
        };
        // A walk over days first reads which days hold sharded entries (one Query).
        let marked = if plan.walks_days() && budget.spend(1) {
            Some(self.marked_days(day, last_day).await?)
        } else {
            None
        };
        let mut entries = Vec::new();
        loop {
            let query = plan.query(self, q, from.as_deref());
            let (partitions, step_end) = plan.step(day, last_day, marked.as_ref(), budget.queries);
            let got = gather(
                &query,
                plan.sort_key(),
                partitions,
                from.clone(),
                limit - entries.len(),
                &mut budget,
            )
            .await?;
            entries.extend(got.entries);
            // Unless the gather emptied its partitions, the page is full or out of budget.
            let stopped = got.rest != Rest::Empty;
            from = match got.rest {
                Rest::From(from) => from,
                // The lower bound stays: every later day's sort keys are above it.
                Rest::Empty => match step_end.succ_opt() {
                    Some(next) if plan.walks_days() && next <= last_day => {
                        day = next;
                        from
                    }
                    _ => {
                        return Ok(SearchPage {
                            entries,
                            next: None,
                        });
                    }
                },
            };
            if stopped || entries.len() >= limit {
                let next = SearchStart {
                    day: plan.walks_days().then_some(day),
                    from,
                };
                return Ok(SearchPage {
                    entries,
                    next: Some(next),
                });
            }
        }
    }
}
