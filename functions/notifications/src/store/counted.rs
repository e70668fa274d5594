//! Items a user may have only so many of (webhooks, push devices). Each is added or removed in
//! one transaction with the owner's count of them (an item `pk` `USER#<owner>`, `sk` the
//! count's name, attribute `n`), so the limit holds exactly however many requests race: a
//! check-then-write (or a write-then-check) either lets two through or refuses both.
//!
//! Transactions on one owner's count at the same moment conflict; the loser tries again after a
//! random pause, a few times, then says so ([`Added::Busy`]).

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use todo_lambda::dynamodb::{key, n, user_pk};
use todo_lambda::table::{Failure, Item, TableError, classify};

use super::InboxStore;

/// What adding a counted item came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    Stored,
    /// The owner has the most already.
    TooMany,
    /// An item with its key exists already.
    Exists,
    /// Other changes of the owner's kept winning the race.
    Busy,
}

/// How often a change that lost a race tries again.
const ATTEMPTS: u32 = 6;

/// A pause of 10 to 137 ms, different per caller, so racing changes spread out.
fn jitter() -> std::time::Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::getrandom(&mut byte);
    std::time::Duration::from_millis(10 + u64::from(byte[0] / 2))
}

fn count_key(owner: &str, count: &str) -> Item {
    key(user_pk(owner), count)
}

/// What a transaction came to.
enum Settled {
    Done,
    /// The condition of its item at this index failed.
    Refused(usize),
    /// Another transaction on the same items won the race (paused already: try again).
    Lost,
}

async fn settle(
    result: Result<TransactWriteItemsOutput, SdkError<TransactWriteItemsError, HttpResponse>>,
    attempt: u32,
) -> Result<Settled, TableError> {
    let failure = match result {
        Ok(_) => return Ok(Settled::Done),
        Err(e) => classify(e),
    };
    let conflict = match &failure {
        Failure::Cancelled(reasons) => {
            if let Some(i) = reasons
                .iter()
                .position(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                return Ok(Settled::Refused(i));
            }
            reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
        }
        Failure::Conflict(_) => true,
        _ => false,
    };
    if !conflict {
        return Err(failure.into());
    }
    if attempt + 1 < ATTEMPTS {
        tokio::time::sleep(jitter()).await;
    }
    Ok(Settled::Lost)
}

impl InboxStore {
    /// Adds `item` (new: its key must be free) unless `owner` has `max` counted as `count`.
    pub(crate) async fn add_counted(
        &self,
        owner: &str,
        count: &str,
        max: usize,
        item: Item,
    ) -> Result<Added, TableError> {
        for attempt in 0..ATTEMPTS {
            let counter = Update::builder()
                .table_name(&self.table)
                .set_key(Some(count_key(owner, count)))
                .update_expression("ADD n :one")
                .condition_expression("attribute_not_exists(n) OR n < :max")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(max))
                .build()
                .map_err(TableError::corrupt)?;
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(TableError::corrupt)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(counter).build())
                .transact_items(TransactWriteItem::builder().put(put).build())
                .send()
                .await;
            match settle(result, attempt).await? {
                Settled::Done => return Ok(Added::Stored),
                Settled::Refused(0) => return Ok(Added::TooMany),
                Settled::Refused(_) => return Ok(Added::Exists),
                Settled::Lost => {}
            }
        }
        Ok(Added::Busy)
    }

    /// Removes the item at `key` of `owner`'s, counted as `count`; `false` when there is none.
    pub(crate) async fn remove_counted(
        &self,
        owner: &str,
        count: &str,
        key: Item,
    ) -> Result<bool, TableError> {
        for attempt in 0..ATTEMPTS {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(TableError::corrupt)?;
            let counter = Update::builder()
                .table_name(&self.table)
                .set_key(Some(count_key(owner, count)))
                .update_expression("ADD n :minus")
                .expression_attribute_values(":minus", n(-1))
                .build()
                .map_err(TableError::corrupt)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().delete(delete).build())
                .transact_items(TransactWriteItem::builder().update(counter).build())
                .send()
                .await;
            match settle(result, attempt).await? {
                Settled::Done => return Ok(true),
                Settled::Refused(_) => return Ok(false),
                Settled::Lost => {}
            }
        }
        Err(TableError::Unavailable(
            "other changes of the owner's kept winning the race".into(),
        ))
    }
}
