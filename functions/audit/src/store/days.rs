//! The directory of days that hold sharded entries: one item a day (`pk` `DAYS`, `sk` the day),
//! written by the consumer before the day's first entries, read by the search before it walks.
//!
//! A search over a month walks 31 days, and every day's key has `AUDIT_SHARDS` shards: without
//! the directory a search of an empty month costs over 3,000 Queries. With it, a day without
//! sharded entries costs one Query (its legacy key, for entries written before sharding), and
//! the legacy keys of consecutive such days are read in one fan-out.
//!
//! The directory's key is written once a day per running consumer (each remembers the days it
//! has marked), a few hundred writes a day however busy the day is, and read once a search page.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::NaiveDate;
use todo_lambda::dynamodb::{n, s};
use todo_lambda::table::TableError;
use todo_schema::audit::AuditEntry;

use super::writer::BATCH_LIMIT;
use super::{AuditStore, day_key, day_of};

/// The directory's partition key. No entry's `pk` (`USER#...`) can be it.
pub const DAYS_PK: &str = "DAYS";

/// The marker of `day`: it expires with the day's last entries.
fn marker(day: NaiveDate, retention: Option<Duration>) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([("pk".into(), s(DAYS_PK)), ("sk".into(), s(day_key(day)))]);
    if let Some(keep) = retention {
        let end = day
            .succ_opt()
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp());
        if let Some(end) = end {
            item.insert("ttl".into(), n(end + keep.as_secs() as i64));
        }
    }
    item
}

impl AuditStore {
    /// Marks the days of `entries` this consumer has not marked yet.
    pub(super) async fn mark_days(&self, entries: &[AuditEntry]) -> Result<(), TableError> {
        let days: BTreeSet<NaiveDate> = {
            let marked = self.days_marked.lock().unwrap_or_else(|e| e.into_inner());
            entries
                .iter()
                .map(|e| day_of(e.time))
                .filter(|d| !marked.contains(d))
                .collect()
        };
        let requests: Vec<WriteRequest> = days
            .iter()
            .map(|day| {
                let put = PutRequest::builder()
                    .set_item(Some(marker(*day, self.retention)))
                    .build()
                    .map_err(TableError::corrupt)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, TableError>>()?;
        for chunk in requests.chunks(BATCH_LIMIT) {
            self.write_chunk(chunk.to_vec()).await?;
        }
        self.days_marked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(days);
        Ok(())
    }

    /// The marked days from `first` to `last`, inclusive.
    pub(super) async fn marked_days(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<BTreeSet<NaiveDate>, TableError> {
        let mut days = BTreeSet::new();
        let mut start = None;
        loop {
            let out = self
                .query()
                .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
                .expression_attribute_values(":pk", s(DAYS_PK))
                .expression_attribute_values(":first", s(day_key(first)))
                .expression_attribute_values(":last", s(day_key(last)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(TableError::of)?;
            for item in out.items() {
                if let Some(day) = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                {
                    days.insert(day);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(days);
            }
        }
    }
}
