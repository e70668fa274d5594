//! The `from` and `to` query parameters every audit route shares.

use std::time::Duration;

use lambda_http::aws_lambda_events::query_map::QueryMap;
use todo_lambda::http::single;
use todo_schema::{Problem, Timestamp};

pub use crate::store::Range;

fn instant(params: &QueryMap, name: &str) -> Result<Option<Timestamp>, Problem> {
    single(params, name)?
        .map(|v| {
            v.parse()
                .map_err(|e| Problem::bad_request(format!("query parameter {name}: {e}")))
        })
        .transpose()
}

impl Range {
    /// The range the query string asks for: `from` and `to` (RFC 3339); `to` defaults to `now`, `from` to `default_span` before
    /// `to` (`None`: the Unix epoch). `from` after `to` is a 400.
    pub fn of(
        params: &QueryMap,
        now: Timestamp,
        default_span: Option<Duration>,
    ) -> Result<Self, Problem> {
        let to = instant(params, "to")?.unwrap_or(now);
        let epoch =
            Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH).unwrap_or(Timestamp::MIN);
        let given_from = instant(params, "from")?;
        let from = given_from.unwrap_or_else(|| default_span.map_or(epoch, |span| to.before(span)));
        if from > to {
            return Err(Problem::bad_request(match given_from {
                Some(_) => "query parameter from: must not be after to".to_string(),
                None => format!("query parameter to: must not be before from (by default {from})"),
            }));
        }
        Ok(Self { from, to })
    }
}
