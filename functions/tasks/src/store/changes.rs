//! Delta sync's reads: one Query per page.
//!
//! - From the start: the owner's task items on the base table (strongly consistent), which
//!   holds every task, those written before the `changes` index existed included.
//! - Since an instant: the `changes` GSI (`pk`, `s_chg`), which holds each task once, at the
//!   instant of its last change, and each deleted task's tombstone, at the instant of its
//!   deletion. A task changed twice since the instant appears once, as it is now.
//!
//! A GSI is eventually consistent, and a change is stamped when its handler starts, not when
//! it commits; so a change can become visible with a stamp slightly before a sync that has
//! already passed it. Callers therefore resume [`SYNC_OVERLAP`] before the time they read at
//! (see `http::changes`), and a client may see a change it already has, in its current state:
//! applying it again changes nothing.

use std::time::Duration;

use todo_schema::{Task, TaskId, Timestamp};

use todo_lambda::cursor::Paged;
use todo_lambda::dynamodb::{Expr, lenient_page, start_key_item};

use super::errors::{classify, into_store_error};
use super::item::{INDEX_CHANGES, Item, KIND_TOMBSTONE, changes_from, s, task_from_item, user_pk};
use super::{DynamoTaskStore, StartKey, StoreError, TaskChanges};

/// How far before the instant it read at a sync resumes: more than a command's Lambda timeout
/// (10 s, so a change stamped before the read commits within it), plus the GSI's replication
/// lag and the clock skew between functions, with a wide margin.
pub const SYNC_OVERLAP: Duration = Duration::from_secs(60);

/// How long a sync token stays valid: a day less than tombstones are kept
/// ([`super::item::TOMBSTONE_DAYS`]), so no deletion after a valid token has been forgotten.
pub const SYNC_TOKEN_VALIDITY: Duration = Duration::from_secs(30 * 86_400);

/// Where a sync reads from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangesFrom {
    /// Every current task (a first or fresh sync).
    Start,
    /// Every task and tombstone changed at or after this instant.
    Since(Timestamp),
}

/// One change, as a client applies it.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The task as it is now: insert or replace.
    Upsert(Box<Task>),
    /// The task was deleted at this instant: remove it.
    Delete { id: TaskId, deleted_at: Timestamp },
}

/// One page of changes; `next` is present when more changes may follow.
pub type ChangePage = Paged<Change>;

/// The change an item stands for; `None` for an item that is neither (or unreadable, logged).
fn change_of(item: Item) -> Option<Change> {
    let kind = item.get("kind").and_then(|v| v.as_s().ok()).cloned();
    if kind.as_deref() == Some(KIND_TOMBSTONE) {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let id = text("id").and_then(|v| v.parse().ok());
        let at = text("deleted_at").and_then(|v| v.parse().ok());
        return match (id, at) {
            (Some(id), Some(deleted_at)) => Some(Change::Delete { id, deleted_at }),
            _ => {
                tracing::error!(sk = ?item.get("sk"), "unreadable tombstone left out");
                None
            }
        };
    }
    let sk = item.get("sk").cloned();
    match task_from_item(item) {
        Ok(task) => Some(Change::Upsert(Box::new(task))),
        Err(e) => {
            // One unreadable item must not cost its owner every sync.
            tracing::error!(?sk, error = %e, "unreadable task item left out of a sync");
            None
        }
    }
}

impl TaskChanges for DynamoTaskStore {
    async fn changes(
        &self,
        owner: &str,
        from: &ChangesFrom,
        start: Option<StartKey>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        let mut e = Expr::default();
        let pk = e.name("pk");
        let owner_pk = e.value(s(user_pk(owner)));
        let (index, key_condition) = match from {
            ChangesFrom::Start => {
                let sk = e.name("sk");
                let prefix = e.value(s("TASK#"));
                (
                    None,
                    format!("{pk} = {owner_pk} AND begins_with({sk}, {prefix})"),
                )
            }
            ChangesFrom::Since(at) => {
                let chg = e.name("s_chg");
                let from = e.value(changes_from(*at));
                (
                    Some(INDEX_CHANGES.to_string()),
                    format!("{pk} = {owner_pk} AND {chg} >= {from}"),
                )
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.clone())
            // The base table answers consistently; a GSI cannot (and refuses to be asked).
            .consistent_read(index.is_none())
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .limit(limit as i32)
            .set_exclusive_start_key(start.map(start_key_item))
            .send()
            .await
            .map_err(|err| into_store_error(classify(err)))?;
        Ok(lenient_page(out, change_of))
    }
}
