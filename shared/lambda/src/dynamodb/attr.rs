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

/// The shard of `id` among `shards` (0 to `shards - 1`): FNV-1a (64 bits) of the bytes, modulo
/// the count. Spelled out here rather than taken from `std::hash`, whose algorithm may change
/// between Rust releases: a key written from it must come out the same from every build, so
/// that an id written again (a redelivered event) lands on the item it wrote before.
pub fn shard_of(id: &[u8], shards: u16) -> u16 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = id
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME));
    (hash % u64::from(shards.max(1))) as u16
}

/// The primary key `pk`, `sk`.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_in_range() {
        // Pinned to FNV-1a's published value for "a" (0xaf63dc4c8601ec8c): a change to the
        // function would move every stored key.
        assert_eq!(
            shard_of(b"a", u16::MAX),
            (0xaf63_dc4c_8601_ec8c_u64 % 65_535) as u16
        );
        assert_eq!(shard_of(b"a", 100), 96);
        assert_eq!(shard_of(&[0; 16], 7), shard_of(&[0; 16], 7));
        assert!((0..1_000u32).all(|i| shard_of(&i.to_be_bytes(), 100) < 100));
        assert_eq!(shard_of(b"anything", 0), 0, "no shards: one partition");
    }
}
