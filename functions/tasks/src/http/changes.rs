//! `GET /tasks/changes?since=<token>`: delta sync.
//!
//! Without `since`, the answer is every current task, paged; with it, every task changed and
//! every task deleted at or after the token's instant, in the order of the changes. Each answer
//! carries `next_since`; `has_more: true` means "call again at once with it". A client that
//! applies the changes in order (an upsert replaces the task, a delete removes it) holds, after
//! a run of pages, every change made before the run began; what changed while it paged comes
//! with the next run, so once nothing changes it holds exactly what `GET /tasks` lists.
//!
//! A token is opaque, signed and bound to its caller. A run of pages resumes
//! [`SYNC_OVERLAP`] before the instant its first page was read, so no change that was stamped
//! earlier but committed later is skipped (see `store::changes`): a client may see, in its
//! current state, a task it already has. A token older than [`SYNC_TOKEN_VALIDITY`] could miss
//! a deletion whose tombstone has expired, so it is refused with 410 and the client syncs from
//! the start.

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{caller, json_response, only_known, page_limit, query, single};
use todo_schema::{Problem, Task, TaskId, Timestamp};

use super::store_problem;
use crate::store::{Change, ChangesFrom, SYNC_OVERLAP, SYNC_TOKEN_VALIDITY, StartKey, TaskChanges};

/// Where a sync stands, sealed into `since`.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    /// What this run reads: every task (`None`), or the changes since an instant.
    from: Option<Timestamp>,
    /// The instant the run's final token resumes from.
    resume: Timestamp,
    /// Where the next page of this run starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<StartKey>,
}

/// One change as a client reads it.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum WireChange {
    Upsert { task: Box<Task> },
    Delete { id: TaskId, deleted_at: Timestamp },
}

impl From<Change> for WireChange {
    fn from(c: Change) -> Self {
        match c {
            Change::Upsert(task) => WireChange::Upsert { task },
            Change::Delete { id, deleted_at } => WireChange::Delete { id, deleted_at },
        }
    }
}

#[derive(Debug, Serialize)]
struct Answer {
    changes: Vec<WireChange>,
    next_since: String,
    has_more: bool,
}

fn scope(owner: &str) -> Scope {
    Scope::new("changes", 1).part(owner)
}

/// Answers one page of the caller's changes after `since`, as read at `now`.
pub async fn task_changes<S: TaskChanges>(
    store: &S,
    tokens: &CursorCodec,
    req: Request,
    now: Timestamp,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let params = query(&req)?;
    only_known(&params, &["since", "limit"])?;
    let limit = page_limit(&params)?;
    let scope = scope(&caller.sub);
    let resume_now = now.before(SYNC_OVERLAP);
    let position = match single(&params, "since")? {
        None => Position {
            from: None,
            resume: resume_now,
            key: None,
        },
        Some(token) => {
            let mut p: Position = tokens.open(scope.as_str(), token).await.map_err(|e| {
                if e.status == 400 {
                    Problem::bad_request(
                        "query parameter since: not a token this route issued to you",
                    )
                } else {
                    e
                }
            })?;
            if p.key.is_none() {
                // A new run: it resumes from where this one is read, never earlier than before.
                p.resume = p.from.map_or(resume_now, |from| from.max(resume_now));
            }
            p
        }
    };
    if let Some(from) = position.from
        && from < now.before(SYNC_TOKEN_VALIDITY)
    {
        return Err(Problem::sync_token_expired(format!(
            "this token is more than {} days old, and deletions that old are forgotten: sync \
             again from the start (GET /tasks/changes without since) and replace the local copy",
            SYNC_TOKEN_VALIDITY.as_secs() / 86_400
        )));
    }
    let from = position.from.map_or(ChangesFrom::Start, ChangesFrom::Since);
    let page = store
        .changes(&caller.sub, &from, position.key, limit)
        .await
        .map_err(store_problem)?;
    let has_more = page.next.is_some();
    let next = match page.next {
        Some(key) => Position {
            from: position.from,
            resume: position.resume,
            key: Some(key),
        },
        None => Position {
            from: Some(position.resume),
            resume: position.resume,
            key: None,
        },
    };
    let next_since = tokens.seal(scope.as_str(), &next).await?;
    Ok(json_response(
        200,
        &Answer {
            changes: page.items.into_iter().map(WireChange::from).collect(),
            next_since,
            has_more,
        },
    ))
}
