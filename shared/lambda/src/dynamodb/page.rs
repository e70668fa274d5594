//! One page of a Query: its items read, and where the next page starts (the
//! `LastEvaluatedKey` a cursor carries).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::cursor::{Paged, StartKey};
use crate::table::{Item, TableError};

/// A page's start key as DynamoDB's `ExclusiveStartKey` (our keys are all strings).
pub fn start_key_item(key: StartKey) -> HashMap<String, AttributeValue> {
    key.into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect()
}

/// DynamoDB's `LastEvaluatedKey` as the start key a cursor carries.
pub fn start_key_of(item: HashMap<String, AttributeValue>) -> StartKey {
    item.into_iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k, v.clone())))
        .collect()
}

/// One page of `query` (table, key condition and order already given): at most `limit` items
/// from `start` on, every item read by `read`.
pub async fn query_page<T>(
    query: QueryFluentBuilder,
    limit: i32,
    start: Option<StartKey>,
    read: impl FnMut(Item) -> Result<T, TableError>,
) -> Result<Paged<T>, TableError> {
    let out = query
        .limit(limit)
        .set_exclusive_start_key(start.map(start_key_item))
        .send()
        .await
        .map_err(TableError::of)?;
    page(out, read)
}

/// The page a Query answered, every item read by `read`: one that cannot be read fails the page.
pub fn page<T, E>(out: QueryOutput, read: impl FnMut(Item) -> Result<T, E>) -> Result<Paged<T>, E> {
    Ok(Paged {
        items: out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(read)
            .collect::<Result<_, _>>()?,
        next: out.last_evaluated_key.map(start_key_of),
    })
}

/// The page a Query answered, read leniently: an item `read` makes nothing of (having logged
/// why) is left out, so one unreadable item never costs its owner the rest of the page.
pub fn lenient_page<T>(out: QueryOutput, read: impl FnMut(Item) -> Option<T>) -> Paged<T> {
    Paged {
        items: out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(read)
            .collect(),
        next: out.last_evaluated_key.map(start_key_of),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_keys_round_trip_through_dynamodb_keys() {
        let key = StartKey::from([
            ("pk".to_string(), "USER#a".to_string()),
            ("sk".to_string(), "TASK#1".to_string()),
        ]);
        assert_eq!(start_key_of(start_key_item(key.clone())), key);
    }
}
