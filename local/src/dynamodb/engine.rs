//! The engine behind the front: dynoxide, with the template's tables created as CloudFormation
//! would create them.

use dynoxide::Database;
use serde_json::{Value, json};

use super::DynamoError;
use crate::template::TableDefinition;

/// The CreateTable properties the engine understands; the rest of a CloudFormation table
/// (PointInTimeRecovery, deletion policy, ...) has no local meaning.
const CREATE_TABLE_KEYS: [&str; 6] = [
    "AttributeDefinitions",
    "KeySchema",
    "LocalSecondaryIndexes",
    "GlobalSecondaryIndexes",
    "StreamSpecification",
    "BillingMode",
];

pub(super) fn create_table(db: &Database, table: &TableDefinition) -> Result<(), DynamoError> {
    let mut request = serde_json::Map::new();
    request.insert("TableName".into(), json!(table.logical_id));
    for key in CREATE_TABLE_KEYS {
        if let Some(v) = table.properties.get(key) {
            request.insert(key.into(), v.clone());
        }
    }
    // CloudFormation implies `StreamEnabled` where the API wants it said.
    if let Some(Value::Object(stream)) = request.get_mut("StreamSpecification") {
        stream.insert("StreamEnabled".into(), json!(true));
    }
    let request = serde_json::from_value(Value::Object(request))
        .map_err(|e| DynamoError::Engine(format!("{}: {e}", table.logical_id)))?;
    db.create_table(request)
        .map_err(|e| DynamoError::Engine(format!("{}: {e}", table.logical_id)))?;
    if let Some(ttl) = table.properties.get("TimeToLiveSpecification") {
        let request = serde_json::from_value(json!({
            "TableName": table.logical_id,
            "TimeToLiveSpecification": ttl,
        }))
        .map_err(|e| DynamoError::Engine(format!("{} TTL: {e}", table.logical_id)))?;
        db.update_time_to_live(request)
            .map_err(|e| DynamoError::Engine(format!("{} TTL: {e}", table.logical_id)))?;
    }
    Ok(())
}
