//! Attribute values and keys, as every table here writes them: string keys `pk` and `sk`, a
//! user's items under `USER#<owner>`.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::table::Item;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The partition key of what a user owns, in every table that keeps items per user: one
/// spelling, so no two stores can disagree about whose items are whose.
pub fn user_pk(owner: &str) -> String {
    format!("USER#{owner}")
}

/// The owner a [`user_pk`] names; `None` for another partition key.
pub fn user_of_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix("USER#")
}

/// The primary key `pk`, `sk`.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}
