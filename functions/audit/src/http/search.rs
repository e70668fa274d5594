//! `GET /admin/audit?actor=&actor_kind=&task=&operation=&from=&to=`: the administrator's search
//! over every user's audit entries (compliance). Only members of the admin group (see
//! `todo_lambda::admin`) may call it; everyone else gets 403.
//!
//! Every query is served by an index, never a scan: a task's entries by `by-task`, an actor's
//! by `by-actor`, otherwise one day at a time by `by-operation` or `by-day`; the other filters
//! narrow those. Keys that every user shares (a day, an operation's day, a system actor) are
//! written in shards, and a search reads them all and merges (`crate::store`). `from` defaults
//! to 31 days before `to` (default: now).

use std::time::Duration;

use lambda_http::{Body, Request, Response};
use todo_lambda::admin::AdminPolicy;
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{Page, json_response, only_known, page_limit, query, single};
use todo_schema::event::EventType;
use todo_schema::{Actor, Problem, TaskId, Timestamp};

use super::STORE;
use super::range::Range;
use crate::store::{Search, SearchEntries, SearchStart};

/// `from`'s default distance before `to`.
pub const DEFAULT_SPAN: Duration = Duration::from_secs(31 * 86_400);
/// The widest range a search without `task` or `actor` may ask for (ten years): it walks the
/// range a day at a time, and that walk stays bounded.
pub const MAX_SPAN_DAYS: i64 = 3_660;

fn bad(name: &str, what: &str) -> Problem {
    Problem::bad_request(format!("query parameter {name}: {what}"))
}

const PARAMS: [&str; 8] = [
    "actor",
    "actor_kind",
    "task",
    "operation",
    "from",
    "to",
    "limit",
    "cursor",
];

/// One page of the entries matching the query, oldest first (a task's in version order).
pub async fn admin_audit<S: SearchEntries>(
    store: &S,
    cursors: &CursorCodec,
    admins: &AdminPolicy,
    req: Request,
    now: Timestamp,
) -> Result<Response<Body>, Problem> {
    let admin = admins.admit(&req)?;
    let params = query(&req)?;
    only_known(&params, &PARAMS)?;
    let limit = page_limit(&params)?;
    let actor = match (single(&params, "actor")?, single(&params, "actor_kind")?) {
        (None, None) => None,
        (None, Some(_)) => return Err(bad("actor_kind", "give it with actor")),
        (Some(""), _) => return Err(bad("actor", "must not be empty")),
        (Some(id), None | Some("user")) => Some(Actor::User { id: id.into() }),
        (Some(id), Some("system")) => Some(Actor::System { id: id.into() }),
        (Some(_), Some(_)) => return Err(bad("actor_kind", "user (the default) or system")),
    };
    let task = single(&params, "task")?
        .map(|t| {
            t.parse::<TaskId>()
                .ok()
                .filter(|id| id.to_string() == t)
                .ok_or_else(|| bad("task", "a task id (a lower-case UUID)"))
        })
        .transpose()?;
    let operation = single(&params, "operation")?
        .map(|op| match EventType::from_wire(op) {
            Some(kind) if kind != EventType::ReminderDue => Ok(op.to_string()),
            _ => Err(bad(
                "operation",
                "one of task.created, task.updated, task.completed, task.reopened, task.deleted",
            )),
        })
        .transpose()?;
    let range = Range::of(&params, now, Some(DEFAULT_SPAN))?;
    let walks_days = task.is_none() && actor.is_none();
    if walks_days && (range.to.as_datetime() - range.from.as_datetime()).num_days() > MAX_SPAN_DAYS
    {
        return Err(bad(
            "from",
            &format!(
                "from and to may be at most {MAX_SPAN_DAYS} days apart unless task or actor is given"
            ),
        ));
    }
    // Bound to the parameters as given: a default `to` (now) moves between pages. Version 2: the
    // position is one sort key for every shard, no longer a start key.
    let mut scope = Scope::new("admin-audit", 2).part(&admin.sub);
    for name in &PARAMS[..6] {
        scope = scope.part(params.first(name).unwrap_or("-"));
    }
    let start: Option<SearchStart> = match single(&params, "cursor")? {
        Some(c) => Some(cursors.open(scope.as_str(), c).await?),
        None => None,
    };
    let search = Search {
        actor,
        task,
        operation,
        from: range.from,
        to: range.to,
    };
    let page = store
        .search(&search, limit as usize, start)
        .await
        .map_err(|e| e.problem(STORE))?;
    let next_cursor = match page.next {
        Some(n) => Some(cursors.seal(scope.as_str(), &n).await?),
        None => None,
    };
    Ok(json_response(
        200,
        &Page {
            items: page.entries,
            next_cursor,
        },
    ))
}
