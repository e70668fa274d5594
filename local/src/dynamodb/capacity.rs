//! DynamoDB's capacity rules, as pure functions: what one read or write of an item costs, on
//! the table and on each secondary index, in AWS's units.
//!
//! The local engine would serve every request for free; these rules are what lets the local
//! cloud say what the same traffic would cost in AWS and which partition key would be hot.
//! Each rule quotes the AWS page it comes from. Item sizes are dynoxide's
//! [`dynoxide::types::item_size`], which follows "DynamoDB item sizes and formats"
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>):
//! attribute names count, numbers take about a byte per two significant digits plus one,
//! lists and maps 3 bytes plus one per element (pinned by the tests below).

use std::collections::BTreeSet;

use dynoxide::{AttributeValue, Item};
use serde_json::Value;

/// "A standard write request unit can write an item up to 1 KB"
/// (<https://aws.amazon.com/dynamodb/pricing/on-demand/>); DynamoDB's KB is 1,024 bytes.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// "A strongly consistent read request of an item up to 4 KB requires one read unit"
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html>).
pub const READ_UNIT_BYTES: usize = 4096;

/// "Transactional read requests require two RCUs to perform one read per second for items up
/// to 4 KB" and "Transactional write requests require 2 WCUs to perform one write per second
/// for items up to 1 KB" (<https://aws.amazon.com/dynamodb/pricing/provisioned/>).
pub const TRANSACTION_FACTOR: f64 = 2.0;

/// The size of an item in bytes, by "DynamoDB item sizes and formats".
pub fn item_size(item: &Item) -> usize {
    dynoxide::types::item_size(item)
}

/// Write units for writing `bytes`: one per started KB, never less than one.
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// Write units of a Put, Update or Delete on the table: "the larger of the item size before
/// and after the update" (read-write-operations.html, "Capacity unit consumption for write
/// operations": PutItem "the larger of the two", UpdateItem "the larger of the before and
/// after item sizes", DeleteItem "the size of the item being deleted"). A delete of an item
/// that does not exist still costs one unit.
pub fn table_write_units(before: Option<usize>, after: Option<usize>) -> f64 {
    write_units(before.unwrap_or(0).max(after.unwrap_or(0)))
}

/// How a read is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// The default of GetItem, Query, Scan and BatchGetItem; the only kind a GSI serves.
    Eventual,
    Strong,
    /// TransactGetItems.
    Transactional,
}

impl Consistency {
    /// `ConsistentRead: true` is strong; anything else eventual.
    pub fn of_request(consistent_read: Option<&Value>) -> Self {
        match consistent_read.and_then(Value::as_bool) {
            Some(true) => Self::Strong,
            _ => Self::Eventual,
        }
    }

    fn factor(self) -> f64 {
        match self {
            // "An eventually consistent read request of an item up to 4 KB requires one-half
            // read unit."
            Self::Eventual => 0.5,
            Self::Strong => 1.0,
            Self::Transactional => TRANSACTION_FACTOR,
        }
    }
}

/// Read units for reading `bytes` at once: "Item sizes for reads are rounded up to the next
/// 4 KB multiple" (read-write-operations.html). For a Query, `bytes` is the sum of every item
/// it read: "the total size of all items ... rounded up to the next 4 KB boundary" once, not
/// per item; a read that finds nothing still costs the minimum ("If you perform a read
/// operation on an item that doesn't exist, DynamoDB will still consume read throughput").
pub fn read_units(bytes: usize, consistency: Consistency) -> f64 {
    bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64 * consistency.factor()
}

/// A key schema: the partition (hash) key and the optional sort (range) key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySchema {
    pub hash: String,
    pub range: Option<String>,
}

impl KeySchema {
    /// From a `KeySchema` list (`[{AttributeName, KeyType}]`), as CreateTable and the template
    /// spell it.
    pub fn from_json(schema: &Value) -> Option<Self> {
        let name = |kind: &str| {
            schema.as_array()?.iter().find_map(|k| {
                (k["KeyType"] == kind).then(|| k["AttributeName"].as_str().map(String::from))?
            })
        };
        Some(Self {
            hash: name("HASH")?,
            range: name("RANGE"),
        })
    }

    fn attributes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.hash.as_str()).chain(self.range.as_deref())
    }
}

/// Which attributes an index copies from the table (`Projection.ProjectionType`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Projection {
    All,
    KeysOnly,
    /// `INCLUDE` with its `NonKeyAttributes`.
    Include(BTreeSet<String>),
}

/// A secondary index: its key, its projection, and whether it is global.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexSchema {
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
    pub global: bool,
}

/// A table's keys and indexes: what the rules need to size each index's copy of an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSchema {
    pub name: String,
    pub key: KeySchema,
    pub indexes: Vec<IndexSchema>,
}

impl TableSchema {
    /// From CreateTable's (or the template's) `KeySchema`, `GlobalSecondaryIndexes` and
    /// `LocalSecondaryIndexes`.
    pub fn from_json(name: &str, properties: &Value) -> Option<Self> {
        let mut indexes = Vec::new();
        for (list, global) in [
            ("GlobalSecondaryIndexes", true),
            ("LocalSecondaryIndexes", false),
        ] {
            for index in properties[list].as_array().into_iter().flatten() {
                let projection = &index["Projection"];
                let projection = match projection["ProjectionType"].as_str() {
                    Some("KEYS_ONLY") => Projection::KeysOnly,
                    Some("INCLUDE") => Projection::Include(
                        projection["NonKeyAttributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|a| a.as_str().map(String::from))
                            .collect(),
                    ),
                    _ => Projection::All,
                };
                indexes.push(IndexSchema {
                    name: index["IndexName"].as_str()?.to_string(),
                    key: KeySchema::from_json(&index["KeySchema"])?,
                    projection,
                    global,
                });
            }
        }
        Some(Self {
            name: name.to_string(),
            key: KeySchema::from_json(&properties["KeySchema"])?,
            indexes,
        })
    }

    /// The index named `name`.
    pub fn index(&self, name: &str) -> Option<&IndexSchema> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The item's copy in `index`, or `None` when the item lacks one of the index's key
    /// attributes (a sparse index holds no copy of it). "The table's primary key attributes
    /// and the index's key attributes are always projected" (GSI.html, "Attribute
    /// projections").
    pub fn index_entry(&self, index: &IndexSchema, item: &Item) -> Option<Item> {
        if !index.key.attributes().all(|a| item.contains_key(a)) {
            return None;
        }
        let keys: BTreeSet<&str> = self
            .key
            .attributes()
            .chain(index.key.attributes())
            .collect();
        Some(
            item.iter()
                .filter(|(name, _)| match &index.projection {
                    Projection::All => true,
                    Projection::KeysOnly => keys.contains(name.as_str()),
                    Projection::Include(extra) => {
                        keys.contains(name.as_str()) || extra.contains(name.as_str())
                    }
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        )
    }
}

/// What one write costs one index, charged to the partition keys it touches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexWrite {
    /// The entry taken out of the index: its partition key value and units.
    pub delete: Option<(String, f64)>,
    /// The entry put into (or updated in) the index.
    pub put: Option<(String, f64)>,
}

impl IndexWrite {
    /// The units of the whole index write.
    pub fn units(&self) -> f64 {
        self.delete.as_ref().map_or(0.0, |d| d.1) + self.put.as_ref().map_or(0.0, |p| p.1)
    }
}

/// What a write that turns `before` into `after` (either absent) costs `index`, by the rules of
/// "Global secondary indexes", "Write capacity units"
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes>),
/// each sized on the projected entry ("the size of the index entry", not the table item):
/// - a new entry: "one write operation is required to put the item into the index";
/// - "If an update to the table changes the value of an indexed key attribute (from A to B),
///   two writes are required, one to delete the previous item from the index and another
///   write to put the new item into the index";
/// - an entry whose key attribute went away: "one write is required to delete the old item
///   projection from the index";
/// - "If an item is not present in the index before or after the item is updated, there is no
///   additional write cost for the index", and a write that leaves the projected entry as it
///   was changes nothing in the index, so costs it nothing;
/// - a changed projected attribute under the same key: "one write is required to update the
///   values of the projected attributes into the index", on the larger entry, as on the table.
pub fn index_write(
    table: &TableSchema,
    index: &IndexSchema,
    before: Option<&Item>,
    after: Option<&Item>,
) -> IndexWrite {
    let entry = |item: Option<&Item>| {
        let entry = table.index_entry(index, item?)?;
        let partition = key_text(entry.get(&index.key.hash)?);
        Some((entry, partition))
    };
    let (old, new) = (entry(before), entry(after));
    let units = |e: &Item| write_units(item_size(e));
    match (old, new) {
        (None, None) => IndexWrite::default(),
        (None, Some((new, key))) => IndexWrite {
            delete: None,
            put: Some((key, units(&new))),
        },
        (Some((old, key)), None) => IndexWrite {
            delete: Some((key, units(&old))),
            put: None,
        },
        (Some((old, old_key)), Some((new, new_key))) => {
            let moved = index
                .key
                .attributes()
                .any(|a| !same(old.get(a), new.get(a)));
            if moved {
                IndexWrite {
                    delete: Some((old_key, units(&old))),
                    put: Some((new_key, units(&new))),
                }
            } else if entries_equal(&old, &new) {
                IndexWrite::default()
            } else {
                IndexWrite {
                    delete: None,
                    put: Some((new_key, units(&old).max(units(&new)))),
                }
            }
        }
    }
}

fn same(a: Option<&AttributeValue>, b: Option<&AttributeValue>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => value_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Equal in DynamoDB's terms: sets are unordered, lists ordered.
fn value_eq(a: &AttributeValue, b: &AttributeValue) -> bool {
    fn set<T: Ord>(x: &[T], y: &[T]) -> bool {
        x.iter().collect::<BTreeSet<_>>() == y.iter().collect::<BTreeSet<_>>()
    }
    match (a, b) {
        (AttributeValue::SS(x), AttributeValue::SS(y)) => set(x, y),
        (AttributeValue::NS(x), AttributeValue::NS(y)) => set(x, y),
        (AttributeValue::BS(x), AttributeValue::BS(y)) => set(x, y),
        (AttributeValue::L(x), AttributeValue::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| value_eq(p, q))
        }
        (AttributeValue::M(x), AttributeValue::M(y)) => entries_equal(x, y),
        _ => a == b,
    }
}

fn entries_equal(a: &Item, b: &Item) -> bool {
    a.len() == b.len() && a.iter().all(|(name, v)| same(Some(v), b.get(name)))
}

/// A key attribute's value as the accounting names a partition: the string, the number as
/// written, or the binary's base64.
pub fn key_text(value: &AttributeValue) -> String {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => match map.into_iter().next() {
            Some((_, Value::String(s))) => s,
            Some((_, other)) => other.to_string(),
            None => String::new(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Item {
        serde_json::from_value(value).unwrap()
    }

    /// An item of exactly `bytes` bytes: `pk` (2 + 1) and `d` (1 + the rest).
    fn sized(bytes: usize) -> Item {
        item(json!({"pk": {"S": "a"}, "d": {"S": "x".repeat(bytes - 4)}}))
    }

    const KB: usize = 1024;

    /// "Item sizes and formats": "The size of a string is (number of UTF-8-encoded bytes of
    /// attribute name) + (number of UTF-8-encoded bytes)"; a number "(1 byte per two
    /// significant digits) + (1 byte)" with "Leading and trailing zeroes ... trimmed"; "The
    /// size of a null attribute or a Boolean attribute is (...) + (1 byte)"; "An attribute of
    /// type List or Map requires 3 bytes of overhead" and "Each List or Map element also
    /// requires 1 byte of overhead".
    #[test]
    fn item_sizes_follow_item_sizes_and_formats() {
        assert_eq!(item_size(&item(json!({"name": {"S": "héllo"}}))), 4 + 6);
        assert_eq!(item_size(&item(json!({"n": {"N": "12345"}}))), 1 + 3 + 1);
        assert_eq!(item_size(&item(json!({"n": {"N": "0012300"}}))), 1 + 2 + 1);
        assert_eq!(item_size(&item(json!({"b": {"BOOL": true}}))), 1 + 1);
        assert_eq!(item_size(&item(json!({"z": {"NULL": true}}))), 1 + 1);
        assert_eq!(item_size(&item(json!({"l": {"L": []}}))), 1 + 3);
        assert_eq!(
            item_size(&item(json!({"l": {"L": [{"S": "ab"}, {"S": "c"}]}}))),
            1 + 3 + (2 + 1) + (1 + 1)
        );
        assert_eq!(item_size(&sized(3500)), 3500);
    }

    /// Pricing, on-demand: "a strongly consistent read request of an 8 KB item requires two
    /// read request units, an eventually consistent read of an 8 KB item requires one read
    /// request unit, and a transactional read of an 8 KB item requires four read request
    /// units" (<https://aws.amazon.com/dynamodb/pricing/on-demand/>).
    #[test]
    fn an_eventually_consistent_read_of_an_8_kb_item_is_1_rcu() {
        assert_eq!(read_units(8 * KB, Consistency::Strong), 2.0);
        assert_eq!(read_units(8 * KB, Consistency::Eventual), 1.0);
        assert_eq!(read_units(8 * KB, Consistency::Transactional), 4.0);
    }

    /// read-write-operations.html: "reading a 3,500-byte item consumes the same throughput as
    /// reading a 4 KB item"; "if you read an item that is 3.5 KB, DynamoDB rounds the item
    /// size to 4 KB. If you read a 10 KB item, DynamoDB rounds the item size to 12 KB"; a
    /// missing item still costs the minimum.
    #[test]
    fn reads_round_up_to_the_next_4_kb() {
        assert_eq!(read_units(3500, Consistency::Strong), 1.0);
        assert_eq!(read_units(10 * KB, Consistency::Strong), 3.0);
        assert_eq!(read_units(0, Consistency::Eventual), 0.5);
    }

    /// read-write-operations.html, Query: "DynamoDB ... sums the size of all items ... and
    /// then rounds up to the next 4 KB boundary", once; BatchGetItem: "if BatchGetItem reads
    /// a 1.5 KB item and a 6.5 KB item, DynamoDB will calculate the size as 12 KB (4 KB + 8
    /// KB), not 8 KB (1.5 KB + 6.5 KB)" (per item).
    #[test]
    fn a_query_rounds_its_sum_once_and_a_batch_get_each_item() {
        let (a, b) = (1536, 6656);
        assert_eq!(read_units(a + b, Consistency::Strong), 2.0);
        assert_eq!(
            read_units(a, Consistency::Strong) + read_units(b, Consistency::Strong),
            3.0
        );
    }

    /// Pricing: "A standard write request unit can write an item up to 1 KB"; so a 3.5 KB
    /// item takes 4 (the developer guide's own example: "If you need to write an item that is
    /// larger than 1 KB, DynamoDB needs to consume additional write units").
    #[test]
    fn a_3_5_kb_item_write_is_4_wcu() {
        assert_eq!(write_units(3 * KB + 512), 4.0);
        assert_eq!(table_write_units(None, Some(item_size(&sized(3584)))), 4.0);
        assert_eq!(write_units(1), 1.0);
        assert_eq!(write_units(KB), 1.0);
        assert_eq!(write_units(KB + 1), 2.0);
    }

    /// read-write-operations.html: UpdateItem "consumes ... the larger of the before and after
    /// item sizes"; DeleteItem of an item that does not exist still costs one.
    #[test]
    fn a_write_costs_the_larger_of_its_before_and_after_images() {
        assert_eq!(table_write_units(Some(5 * KB), Some(KB)), 5.0);
        assert_eq!(table_write_units(Some(KB), Some(2 * KB + 1)), 3.0);
        assert_eq!(table_write_units(Some(2 * KB), None), 2.0);
        assert_eq!(table_write_units(None, None), 1.0);
    }

    /// Pricing, provisioned: "Transactional write requests require 2 WCUs to perform one write
    /// per second for items up to 1 KB".
    #[test]
    fn a_transactional_write_of_a_1_kb_item_is_2_wcu() {
        assert_eq!(TRANSACTION_FACTOR * table_write_units(None, Some(KB)), 2.0);
    }

    fn tasks() -> TableSchema {
        TableSchema::from_json(
            "T",
            &json!({
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "sk", "KeyType": "RANGE"}],
                "GlobalSecondaryIndexes": [
                    {"IndexName": "all", "Projection": {"ProjectionType": "ALL"},
                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]},
                    {"IndexName": "keys", "Projection": {"ProjectionType": "KEYS_ONLY"},
                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                   {"AttributeName": "at", "KeyType": "RANGE"}]},
                    {"IndexName": "some", "Projection": {"ProjectionType": "INCLUDE",
                                                         "NonKeyAttributes": ["title"]},
                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}
                ],
                "LocalSecondaryIndexes": [
                    {"IndexName": "local", "Projection": {"ProjectionType": "ALL"},
                     "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "at", "KeyType": "RANGE"}]}
                ]
            }),
        )
        .unwrap()
    }

    /// GSI.html, "Attribute projections": KEYS_ONLY holds "the index and primary keys", INCLUDE
    /// those and the named attributes, ALL everything; an item without the index's keys is
    /// not in it.
    #[test]
    fn each_projection_sizes_its_own_entry() {
        let t = tasks();
        let big = item(json!({"pk": {"S": "p"}, "sk": {"S": "s"}, "g": {"S": "G"},
                              "at": {"N": "1"}, "title": {"S": "t"},
                              "notes": {"S": "n".repeat(3000)}}));
        let size = |name: &str| item_size(&t.index_entry(t.index(name).unwrap(), &big).unwrap());
        assert_eq!(size("all"), item_size(&big));
        assert_eq!(size("keys"), (2 + 1) + (2 + 1) + (1 + 1) + (2 + 2));
        assert_eq!(size("some"), (2 + 1) + (2 + 1) + (1 + 1) + (5 + 1));
        assert!(t.global_indexes_hold_none_of(&item(json!({"pk": {"S": "p"}, "sk": {"S": "s"}}))));
        assert!(!t.index("local").unwrap().global);
    }

    impl TableSchema {
        fn global_indexes_hold_none_of(&self, item: &Item) -> bool {
            self.indexes
                .iter()
                .all(|i| !i.global || self.index_entry(i, item).is_none())
        }
    }

    /// GSI.html, "Write capacity units": a put into the index is one write of the entry; a
    /// key change "(from A to B), two writes are required, one to delete the previous item
    /// from the index and another write to put the new item"; an item in neither image costs
    /// the index nothing.
    #[test]
    fn an_index_key_change_costs_a_delete_plus_a_put() {
        let t = tasks();
        let all = t.index("all").unwrap();
        let a = item(json!({"pk": {"S": "p"}, "sk": {"S": "s"}, "g": {"S": "A"},
                            "notes": {"S": "n".repeat(1500)}}));
        let b = item(json!({"pk": {"S": "p"}, "sk": {"S": "s"}, "g": {"S": "B"},
                            "notes": {"S": "n".repeat(1500)}}));
        let put = index_write(&t, all, None, Some(&a));
        assert_eq!(put.put, Some(("A".into(), 2.0)));
        assert_eq!(put.delete, None);
        let moved = index_write(&t, all, Some(&a), Some(&b));
        assert_eq!(moved.delete, Some(("A".into(), 2.0)));
        assert_eq!(moved.put, Some(("B".into(), 2.0)));
        assert_eq!(moved.units(), 4.0);
        let gone = index_write(&t, all, Some(&a), None);
        assert_eq!(gone.delete, Some(("A".into(), 2.0)));
        let outside = item(json!({"pk": {"S": "p"}, "sk": {"S": "s"}}));
        assert_eq!(
            index_write(&t, all, Some(&outside), Some(&outside)),
            IndexWrite::default()
        );
    }

    /// GSI.html: "one write is required to update the values of the projected attributes into
    /// the index"; a write that changes only what an index does not project leaves its entry
    /// as it was, and costs it nothing.
    #[test]
    fn only_an_index_whose_projection_changed_is_written() {
        let t = tasks();
        let before = item(json!({"pk": {"S": "p"}, "sk": {"S": "s"}, "g": {"S": "A"},
                                 "at": {"N": "1"}, "title": {"S": "t"}, "notes": {"S": "x"}}));
        let mut after = before.clone();
        after.insert("notes".into(), AttributeValue::S("y".repeat(2000)));
        let cost =
            |name: &str| index_write(&t, t.index(name).unwrap(), Some(&before), Some(&after));
        assert_eq!(cost("all").put, Some(("A".into(), 2.0)));
        assert_eq!(cost("keys"), IndexWrite::default());
        assert_eq!(cost("some"), IndexWrite::default());
        assert_eq!(cost("local").put, Some(("p".into(), 2.0)));
    }

    #[test]
    fn key_values_are_named_by_their_text() {
        assert_eq!(key_text(&AttributeValue::S("USER#a".into())), "USER#a");
        assert_eq!(key_text(&AttributeValue::N("12".into())), "12");
    }
}
