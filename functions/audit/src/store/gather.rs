//! Scatter-gather over the partitions of a sharded key: one Query per partition, a bounded
//! number in flight, merged by sort key into one run, as if the partitions were one.
//!
//! Every partition is read in sort-key order from the same lower bound. An entry is taken only
//! when no partition can still hold an earlier one: each has an entry buffered, has been read
//! past it, or is exhausted. A partition that holds the merge up is read further from its own
//! `LastEvaluatedKey`. Where the reading stops, the rest starts at one sort key, the same for
//! every partition (everything before it was taken, or did not match), so a cursor carries one
//! key, not one per partition.
//!
//! Sort keys (`<time>#<event id>`, `V#<version>#<event id>`) end with a unique, fixed-length
//! id, so none is a prefix of another: `<key>~` sorts after `<key>` and before every later key,
//! and is how "strictly after" is said to a key condition that has only `BETWEEN` and `>=`.

use std::collections::VecDeque;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use futures_util::{StreamExt, TryStreamExt, stream};
use todo_lambda::dynamodb::s;
use todo_lambda::table::{Item, TableError};
use todo_schema::audit::AuditEntry;

use super::entry_of;

/// Queries in flight at once: a fan-out over 101 partitions takes four round trips.
const PARALLEL: usize = 32;

/// What a page may still spend: Queries, and rounds (a fan-out, or one read further of the
/// partitions that hold the merge up) whose latencies add up.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub queries: usize,
    pub rounds: usize,
}

impl Budget {
    /// Takes one round of `queries`, if the budget has it.
    pub fn spend(&mut self, queries: usize) -> bool {
        if self.rounds == 0 || self.queries < queries {
            return false;
        }
        self.rounds -= 1;
        self.queries -= queries;
        true
    }
}

/// What a gather took, and where the rest starts.
#[derive(Debug)]
pub struct Gathered {
    pub entries: Vec<AuditEntry>,
    pub rest: Rest,
}

/// Where the rest of the partitions' entries start.
#[derive(Debug, PartialEq)]
pub enum Rest {
    /// Nothing is left.
    Empty,
    /// At this sort key, inclusive (`None`: where the gather started, at the query's own bound).
    From(Option<String>),
}

/// How far a partition has been read.
enum Read {
    Unread,
    /// Up to and including the sort key of `LastEvaluatedKey`; the rest from that key on.
    Past {
        start: Item,
        at: String,
    },
    Done,
}

struct Partition {
    key: String,
    read: Read,
    /// Entries read and not yet taken, by sort key.
    buffer: VecDeque<(String, AuditEntry)>,
}

impl Partition {
    /// Whether the partition may hold an entry before `head` that it has not read.
    fn holds_up(&self, head: Option<&String>) -> bool {
        self.buffer.is_empty()
            && match &self.read {
                Read::Unread => true,
                Read::Past { at, .. } => head.is_none_or(|h| at < h),
                Read::Done => false,
            }
    }
}

/// Up to `want` entries of the `partitions` (the values of `:k` in `query`) in `sort_key`
/// order. `query` holds the table, index, key condition, filters and their values; `from` is the
/// lower bound it was built with (a cursor's), handed back if the budget allows no progress.
pub async fn gather(
    query: &QueryFluentBuilder,
    sort_key: &str,
    partitions: Vec<String>,
    from: Option<String>,
    want: usize,
    budget: &mut Budget,
) -> Result<Gathered, TableError> {
    let count = partitions.len();
    let mut parts: Vec<Partition> = partitions
        .into_iter()
        .map(|key| Partition {
            key,
            read: Read::Unread,
            buffer: VecDeque::new(),
        })
        .collect();
    let mut entries = Vec::new();
    while entries.len() < want {
        let head = parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.buffer.front().map(|(at, _)| (at, i)))
            .min();
        let held: Vec<usize> = (0..count)
            .filter(|&i| parts[i].holds_up(head.map(|(at, _)| at)))
            .collect();
        if held.is_empty() {
            let Some((_, i)) = head else { break };
            if let Some((_, entry)) = parts[i].buffer.pop_front() {
                entries.push(entry);
            }
            continue;
        }
        if !budget.spend(held.len()) {
            break;
        }
        let rest = want - entries.len();
        // A fan-out reads a few entries a partition (they share the page between them); a
        // partition read further is one that holds more, such as the legacy key on the day of
        // the upgrade, and is asked for the rest of the page.
        let fan_out = rest.min(2 * rest.div_ceil(count) + 1);
        // Made up front (not lazily in the stream): a lazy closure makes the future not `Send`.
        let reads: Vec<_> = held
            .into_iter()
            .map(|i| {
                let p = &parts[i];
                let (start, limit) = match &p.read {
                    Read::Past { start, .. } => (Some(start.clone()), rest),
                    _ => (None, fan_out),
                };
                let query = query
                    .clone()
                    .expression_attribute_values(":k", s(p.key.clone()))
                    .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                    .set_exclusive_start_key(start);
                async move { read(query, sort_key).await.map(|r| (i, r)) }
            })
            .collect();
        let pages: Vec<_> = stream::iter(reads)
            .buffer_unordered(PARALLEL)
            .try_collect()
            .await?;
        for (i, (items, read)) in pages {
            parts[i].buffer.extend(items);
            parts[i].read = read;
        }
    }
    let rest = if parts
        .iter()
        .all(|p| p.buffer.is_empty() && matches!(p.read, Read::Done))
    {
        Rest::Empty
    } else if parts.iter().any(|p| matches!(p.read, Read::Unread)) {
        Rest::From(from)
    } else {
        // The earliest entry not taken, or the earliest point a partition was not read past.
        Rest::From(
            parts
                .iter()
                .filter_map(|p| match (p.buffer.front(), &p.read) {
                    (Some((at, _)), _) => Some(at.clone()),
                    (None, Read::Past { at, .. }) => Some(format!("{at}~")),
                    (None, _) => None,
                })
                .min(),
        )
    };
    Ok(Gathered { entries, rest })
}

/// One Query: its entries by sort key, and how far it read.
async fn read(
    query: QueryFluentBuilder,
    sort_key: &str,
) -> Result<(Vec<(String, AuditEntry)>, Read), TableError> {
    let out = query.send().await.map_err(TableError::of)?;
    let sort_of = |item: &Item| {
        item.get(sort_key)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| TableError::corrupt(format!("an audit item without {sort_key}")))
    };
    let items = out
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| Ok((sort_of(&item)?, entry_of(item)?)))
        .collect::<Result<_, TableError>>()?;
    let read = match out.last_evaluated_key {
        Some(start) => Read::Past {
            at: sort_of(&start)?,
            start,
        },
        None => Read::Done,
    };
    Ok((items, read))
}
