//! What each data-plane action is charged, partition by partition, by the rules of
//! [`super::capacity`].
//!
//! Writes are sized from the item's images before and after, read straight from the engine
//! (a global secondary index's partition key is an attribute of the item, not of the
//! request, so the images are needed to know which index keys a write touched). Reads of
//! named keys are sized from the item read. Query and Scan take the engine's own figure
//! (dynoxide sums every item the query read, before any filter, and rounds once, as AWS
//! does; the front's tests check that figure against [`super::capacity::read_units`]),
//! charged to the partition key named by the key condition.

use std::collections::HashMap;

use dynoxide::{Database, Item};
use serde_json::{Map, Value, json};

use super::accounting::{Charge, Kind, Partition, SCAN_KEY};
use super::capacity::{
    Consistency, TRANSACTION_FACTOR, TableSchema, index_write, item_size, key_text, read_units,
    table_write_units,
};

/// The data-plane actions the accounting meters; anything else passes unmetered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    BatchGetItem,
    BatchWriteItem,
    TransactGetItems,
    TransactWriteItems,
}

impl Action {
    /// From `X-Amz-Target: DynamoDB_20120810.<Action>`.
    pub fn of_target(target: &str) -> Option<Self> {
        Some(match target.rsplit('.').next()? {
            "GetItem" => Self::GetItem,
            "PutItem" => Self::PutItem,
            "UpdateItem" => Self::UpdateItem,
            "DeleteItem" => Self::DeleteItem,
            "Query" => Self::Query,
            "Scan" => Self::Scan,
            "BatchGetItem" => Self::BatchGetItem,
            "BatchWriteItem" => Self::BatchWriteItem,
            "TransactGetItems" => Self::TransactGetItems,
            "TransactWriteItems" => Self::TransactWriteItems,
            _ => return None,
        })
    }

    /// Whether the action writes (and so needs the item's images either side).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Self::PutItem
                | Self::UpdateItem
                | Self::DeleteItem
                | Self::BatchWriteItem
                | Self::TransactWriteItems
        )
    }

    /// Whether the engine's own figure is used (the front asks the engine for it).
    pub fn engine_sized(self) -> bool {
        matches!(self, Self::Query | Self::Scan)
    }

    /// Whether DynamoDB answers `ConsumedCapacity` as a list (one per table), not one object.
    fn answers_a_list(self) -> bool {
        matches!(
            self,
            Self::BatchGetItem
                | Self::BatchWriteItem
                | Self::TransactGetItems
                | Self::TransactWriteItems
        )
    }
}

/// The tables' key schemas and indexes, by name.
#[derive(Clone, Debug, Default)]
pub struct Schemas(pub HashMap<String, TableSchema>);

/// How one item is touched.
#[derive(Clone, Debug)]
enum Op {
    Write {
        transactional: bool,
    },
    /// TransactWriteItems' ConditionCheck: charged as a write of the item it reads.
    Check,
    Read(Consistency),
}

/// One item a request touches: its table, its key (DynamoDB JSON) and how.
#[derive(Clone, Debug)]
struct Target {
    table: String,
    key: Value,
    op: Op,
    /// A Put's item, known before the write.
    new_item: Option<Item>,
}

/// The items a request names, read from its body.
#[derive(Clone, Debug, Default)]
pub struct Targets(Vec<Target>);

impl Targets {
    /// The items `request` writes or reads by key (none for Query and Scan).
    pub fn of(action: Action, request: &Value, schemas: &Schemas) -> Self {
        let mut targets = Vec::new();
        let table = |v: &Value| v["TableName"].as_str().unwrap_or_default().to_string();
        let write = Op::Write {
            transactional: false,
        };
        let mut push = |table: String, key: Option<Value>, op: Op, new: Option<&Value>| {
            if let Some(key) = key {
                let new_item = new.and_then(|i| serde_json::from_value(i.clone()).ok());
                targets.push(Target {
                    table,
                    key,
                    op,
                    new_item,
                });
            }
        };
        match action {
            Action::PutItem => push(
                table(request),
                key_of_item(schemas, &table(request), &request["Item"]),
                write,
                Some(&request["Item"]),
            ),
            Action::UpdateItem | Action::DeleteItem => {
                push(table(request), Some(request["Key"].clone()), write, None)
            }
            Action::GetItem => push(
                table(request),
                Some(request["Key"].clone()),
                Op::Read(Consistency::of_request(request.get("ConsistentRead"))),
                None,
            ),
            Action::BatchWriteItem => {
                for (name, writes) in objects(&request["RequestItems"]) {
                    for w in writes.as_array().into_iter().flatten() {
                        let (key, new) = match (&w["PutRequest"], &w["DeleteRequest"]) {
                            (Value::Object(put), _) => {
                                (key_of_item(schemas, name, &put["Item"]), Some(&put["Item"]))
                            }
                            (_, Value::Object(delete)) => (Some(delete["Key"].clone()), None),
                            _ => (None, None),
                        };
                        push(name.clone(), key, write.clone(), new);
                    }
                }
            }
            Action::BatchGetItem => {
                for (name, reads) in objects(&request["RequestItems"]) {
                    let consistency = Consistency::of_request(reads.get("ConsistentRead"));
                    for key in reads["Keys"].as_array().into_iter().flatten() {
                        push(name.clone(), Some(key.clone()), Op::Read(consistency), None);
                    }
                }
            }
            Action::TransactGetItems => {
                for item in request["TransactItems"].as_array().into_iter().flatten() {
                    let get = &item["Get"];
                    push(
                        table(get),
                        Some(get["Key"].clone()),
                        Op::Read(Consistency::Transactional),
                        None,
                    );
                }
            }
            Action::TransactWriteItems => {
                let write = Op::Write {
                    transactional: true,
                };
                for item in request["TransactItems"].as_array().into_iter().flatten() {
                    if let Value::Object(put) = &item["Put"] {
                        let name = put["TableName"].as_str().unwrap_or_default().to_string();
                        let key = key_of_item(schemas, &name, &put["Item"]);
                        push(name, key, write.clone(), Some(&put["Item"]));
                    }
                    for kind in ["Update", "Delete"] {
                        if item[kind].is_object() {
                            let w = &item[kind];
                            push(table(w), Some(w["Key"].clone()), write.clone(), None);
                        }
                    }
                    if item["ConditionCheck"].is_object() {
                        let c = &item["ConditionCheck"];
                        push(table(c), Some(c["Key"].clone()), Op::Check, None);
                    }
                }
            }
            Action::Query | Action::Scan => {}
        }
        Self(targets)
    }

    /// The stripes (of `n`) the targets' items fall in, in order: a hash of each item's table
    /// and key, the key's attributes in name order so every spelling of it agrees.
    pub fn stripes(&self, n: usize) -> std::collections::BTreeSet<usize> {
        use std::hash::{Hash, Hasher};
        self.0
            .iter()
            .map(|t| {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                t.table.hash(&mut hasher);
                let mut attributes: Vec<_> = objects(&t.key).collect();
                attributes.sort_by(|a, b| a.0.cmp(b.0));
                for (name, value) in attributes {
                    name.hash(&mut hasher);
                    value.to_string().hash(&mut hasher);
                }
                hasher.finish() as usize % n.max(1)
            })
            .collect()
    }

    /// Each target's item as the engine holds it now.
    pub fn images(&self, db: &Database) -> Vec<Option<Item>> {
        self.0
            .iter()
            .map(|t| {
                let request = serde_json::from_value(json!({
                    "TableName": t.table, "Key": t.key, "ConsistentRead": true,
                }))
                .ok()?;
                db.get_item(request).ok()?.item
            })
            .collect()
    }

    /// The partitions the request will consume on, as far as they are known before it runs:
    /// each item's table key and, for writes, each global index's key of the item before
    /// (`before`, by target) and of a Put's new item, since "if a request performs heavy write
    /// activity on the table, but a global secondary index on that table has insufficient
    /// write capacity, then the write activity on the table will be throttled"
    /// (<https://docs.aws.amazon.com/whitepapers/latest/comparing-dynamodb-and-hbase-for-nosql/global-secondary-index-considerations.html>).
    /// A local index lives in its table's partitions and is left to the table's key.
    pub fn touched(&self, schemas: &Schemas, before: &[Option<Item>]) -> Vec<(Partition, Kind)> {
        let mut touched = Vec::new();
        for (n, t) in self.0.iter().enumerate() {
            let Some(schema) = schemas.0.get(&t.table) else {
                continue;
            };
            let kind = match t.op {
                Op::Read(_) => Kind::Read,
                _ => Kind::Write,
            };
            if let Some(key) = partition_key(&t.key, &schema.key.hash) {
                touched.push((table_partition(t, key), kind));
            }
            if kind == Kind::Read {
                continue;
            }
            let new = t.new_item.as_ref();
            let images = before
                .get(n)
                .and_then(Option::as_ref)
                .into_iter()
                .chain(new);
            for item in images {
                for index in schema.indexes.iter().filter(|i| i.global) {
                    if let Some(entry) = schema.index_entry(index, item)
                        && let Some(key) = entry.get(&index.key.hash)
                    {
                        let partition = Partition {
                            table: t.table.clone(),
                            index: Some(index.name.clone()),
                            key: key_text(key),
                        };
                        if !touched.iter().any(|(p, _)| *p == partition) {
                            touched.push((partition, kind));
                        }
                    }
                }
            }
        }
        touched
    }

    /// What the request cost, from each item before and after it (`after` for reads: the item
    /// read).
    pub fn charges(
        &self,
        schemas: &Schemas,
        before: &[Option<Item>],
        after: &[Option<Item>],
    ) -> Vec<Charge> {
        let mut charges = Vec::new();
        for ((t, before), after) in self.0.iter().zip(before).zip(after) {
            let Some(schema) = schemas.0.get(&t.table) else {
                continue;
            };
            let key = partition_key(&t.key, &schema.key.hash).unwrap_or_default();
            let size = |i: &Option<Item>| i.as_ref().map(item_size);
            let (kind, units) = match &t.op {
                Op::Read(consistency) => (
                    Kind::Read,
                    read_units(size(after).unwrap_or(0), *consistency),
                ),
                Op::Check => (
                    Kind::Write,
                    TRANSACTION_FACTOR * table_write_units(size(before), None),
                ),
                Op::Write { transactional } => {
                    let factor = if *transactional {
                        TRANSACTION_FACTOR
                    } else {
                        1.0
                    };
                    (
                        Kind::Write,
                        factor * table_write_units(size(before), size(after)),
                    )
                }
            };
            charges.push(Charge {
                partition: table_partition(t, key),
                kind,
                units,
            });
            if !matches!(t.op, Op::Write { .. }) {
                continue;
            }
            // Index writes are not doubled in a transaction: dynoxide's capture of DynamoDB's
            // own ConsumedCapacity shows the factor on the table arm only.
            for index in &schema.indexes {
                let w = index_write(schema, index, before.as_ref(), after.as_ref());
                for (key, units) in w.delete.into_iter().chain(w.put) {
                    charges.push(Charge {
                        partition: Partition {
                            table: t.table.clone(),
                            index: Some(index.name.clone()),
                            key,
                        },
                        kind: Kind::Write,
                        units,
                    });
                }
            }
        }
        charges
    }
}

/// The partition a Query or Scan reads: the queried index's (or table's) partition key, from
/// the key condition; a Scan's is [`SCAN_KEY`]; a condition the front cannot read is charged
/// to [`UNKNOWN_KEY`] rather than lost.
pub fn searched(action: Action, request: &Value, schemas: &Schemas) -> Option<Partition> {
    let table = request["TableName"].as_str()?.to_string();
    let index = request["IndexName"].as_str().map(String::from);
    let key = match action {
        Action::Scan => Some(SCAN_KEY.to_string()),
        _ => {
            let schema = schemas.0.get(&table);
            let hash = match &index {
                Some(name) => schema.and_then(|s| s.index(name)).map(|i| &i.key.hash),
                None => schema.map(|s| &s.key.hash),
            };
            hash.and_then(|hash| key_condition_value(request, hash))
        }
    };
    let key = key.unwrap_or_else(|| UNKNOWN_KEY.to_string());
    Some(Partition { table, index, key })
}

/// The key a Query is charged to when its key condition names none the front can read.
pub const UNKNOWN_KEY: &str = "(unknown)";

/// What the engine said a Query or Scan read (`ConsumedCapacity` under `INDEXES`), charged to
/// `partition`'s table or index.
pub fn searched_charges(partition: &Partition, consumed: &Value) -> Vec<Charge> {
    let units = |v: &Value| v["CapacityUnits"].as_f64().unwrap_or(0.0);
    let charge = |index: Option<String>, units: f64| Charge {
        partition: Partition {
            index,
            ..partition.clone()
        },
        kind: Kind::Read,
        units,
    };
    let mut arms = vec![(None, units(&consumed["Table"]))];
    for list in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        for (name, detail) in objects(&consumed[list]) {
            arms.push((Some(name.clone()), units(detail)));
        }
    }
    let charges: Vec<Charge> = arms
        .into_iter()
        .filter(|(_, u)| *u > 0.0)
        .map(|(index, u)| charge(index, u))
        .collect();
    if charges.is_empty() {
        return vec![charge(partition.index.clone(), units(consumed))];
    }
    charges
}

/// The `ConsumedCapacity` DynamoDB answers for `charges` under `mode` (`TOTAL` or
/// `INDEXES`; anything else: none): one object, or a list of one per table for the batch and
/// transaction actions.
pub fn consumed_capacity(
    action: Action,
    charges: &[Charge],
    schemas: &Schemas,
    mode: &str,
) -> Option<Value> {
    if mode != "TOTAL" && mode != "INDEXES" {
        return None;
    }
    let mut tables: Vec<&str> = Vec::new();
    for c in charges {
        if !tables.contains(&c.partition.table.as_str()) {
            tables.push(&c.partition.table);
        }
    }
    let per_table = tables.iter().map(|table| {
        let mine = charges.iter().filter(|c| c.partition.table == *table);
        let total: f64 = mine.clone().map(|c| c.units).sum();
        let mut out = Map::new();
        out.insert("TableName".into(), json!(table));
        out.insert("CapacityUnits".into(), json!(total));
        if mode == "INDEXES" {
            let mut arms: [Map<String, Value>; 2] = Default::default();
            let mut table_units = 0.0;
            for c in mine {
                let Some(index) = &c.partition.index else {
                    table_units += c.units;
                    continue;
                };
                let global = schemas
                    .0
                    .get(*table)
                    .and_then(|s| s.index(index))
                    .is_none_or(|i| i.global);
                let arm = &mut arms[usize::from(!global)];
                let sum = arm.get(index).and_then(|v| v["CapacityUnits"].as_f64());
                arm.insert(
                    index.clone(),
                    json!({"CapacityUnits": sum.unwrap_or(0.0) + c.units}),
                );
            }
            out.insert("Table".into(), json!({"CapacityUnits": table_units}));
            for (name, arm) in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"]
                .into_iter()
                .zip(arms)
            {
                if !arm.is_empty() {
                    out.insert(name.into(), Value::Object(arm));
                }
            }
        }
        Value::Object(out)
    });
    let mut all: Vec<Value> = per_table.collect();
    if action.answers_a_list() {
        Some(Value::Array(all))
    } else if all.is_empty() {
        None
    } else {
        Some(all.swap_remove(0))
    }
}

fn objects(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
    v.as_object().into_iter().flatten()
}

fn table_partition(t: &Target, key: String) -> Partition {
    Partition {
        table: t.table.clone(),
        index: None,
        key,
    }
}

/// A Put's item reduced to its table key.
fn key_of_item(schemas: &Schemas, table: &str, item: &Value) -> Option<Value> {
    let schema = schemas.0.get(table)?;
    let mut key = Map::new();
    for name in std::iter::once(&schema.key.hash).chain(&schema.key.range) {
        key.insert(name.clone(), item.get(name)?.clone());
    }
    Some(Value::Object(key))
}

/// The partition key's value in a key (DynamoDB JSON).
fn partition_key(key: &Value, hash: &str) -> Option<String> {
    attribute_text(key.get(hash)?)
}

fn attribute_text(value: &Value) -> Option<String> {
    serde_json::from_value(value.clone())
        .ok()
        .map(|v| key_text(&v))
}

/// The value `hash = :v` names in a Query's `KeyConditionExpression` (or the legacy
/// `KeyConditions`' `EQ`).
fn key_condition_value(request: &Value, hash: &str) -> Option<String> {
    let Some(condition) = request["KeyConditionExpression"].as_str() else {
        let legacy = &request["KeyConditions"][hash];
        return attribute_text(&legacy["AttributeValueList"][0]);
    };
    let name = |token: &str| -> Option<String> {
        let token = token.trim().trim_matches(|c| c == '(' || c == ')').trim();
        match token.strip_prefix('#') {
            Some(_) => request["ExpressionAttributeNames"][token]
                .as_str()
                .map(String::from),
            None => Some(token.to_string()),
        }
    };
    let value = |token: &str| {
        let token = token.trim().trim_matches(|c| c == '(' || c == ')').trim();
        attribute_text(&request["ExpressionAttributeValues"][token])
    };
    let upper = condition.to_ascii_uppercase();
    let mut clauses = Vec::new();
    let mut rest = 0;
    while let Some(at) = upper[rest..].find(" AND ") {
        clauses.push(&condition[rest..rest + at]);
        rest += at + 5;
    }
    clauses.push(&condition[rest..]);
    clauses.into_iter().find_map(|clause| {
        let (left, right) = clause.split_once('=')?;
        if left.ends_with(['<', '>', '!']) {
            return None;
        }
        if name(left).as_deref() == Some(hash) {
            value(right)
        } else if name(right).as_deref() == Some(hash) {
            value(left)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_condition_names_the_partition() {
        let q = json!({
            "KeyConditionExpression": "#p = :p AND begins_with(sk, :s)",
            "ExpressionAttributeNames": {"#p": "pk"},
            "ExpressionAttributeValues": {":p": {"S": "USER#a"}, ":s": {"S": "T"}},
        });
        assert_eq!(key_condition_value(&q, "pk").as_deref(), Some("USER#a"));
        let q = json!({
            "KeyConditionExpression": "sk BETWEEN :a and :b and (:d = day_pk)",
            "ExpressionAttributeValues": {":a": {"S": "1"}, ":b": {"S": "2"}, ":d": {"N": "20"}},
        });
        assert_eq!(key_condition_value(&q, "day_pk").as_deref(), Some("20"));
        let q = json!({"KeyConditions": {"pk": {"AttributeValueList": [{"S": "x"}],
                                                "ComparisonOperator": "EQ"}}});
        assert_eq!(key_condition_value(&q, "pk").as_deref(), Some("x"));
    }
}
