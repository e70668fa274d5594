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

/// Opens (creating) the engine's database at `path`: a file, or a SQLite URI such as
/// [`memory_path`], with its stream records indexed ([`index_stream_records`]).
pub(super) fn open(path: &str) -> Result<Database, DynamoError> {
    let db = Database::new(path).map_err(|e| DynamoError::Engine(e.to_string()))?;
    index_stream_records(path)?;
    Ok(db)
}

/// A private in-memory database, as a SQLite URI a second connection can open too (while the
/// engine's own stays open, the database lives).
pub(super) fn memory_path() -> String {
    format!(
        "file:todo-local-{}?mode=memory&cache=shared",
        uuid::Uuid::new_v4().simple()
    )
}

/// Indexes dynoxide's stream records by table, shard and sequence number.
///
/// dynoxide keeps every stream record in one SQLite table without such an index, and each
/// write finds its record's sequence number with a `MAX` over that table, each stream read its
/// records with a filter over it: every call then reads every record the stream ever held,
/// inside the engine's one lock. The engine slowed as it filled: measured with `sqlite3`, 54 ms
/// a lookup at 30,000 records (images of 2.5 KB each), and `scripts/bench-sweep` recorded 1,000
/// reminders in 1.9 s but 10,000 in 197 s. With these indexes each lookup is a seek (under
/// 1 ms there). The query planner uses an index on the same expression the queries use.
fn index_stream_records(path: &str) -> Result<(), DynamoError> {
    let engine = |e: rusqlite::Error| DynamoError::Engine(format!("indexing stream records: {e}"));
    let conn = rusqlite::Connection::open(path).map_err(engine)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(engine)?;
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS todo_local_stream_sequence
             ON _stream_records (table_name, CAST(sequence_number AS INTEGER));
         CREATE INDEX IF NOT EXISTS todo_local_stream_shard_sequence
             ON _stream_records (table_name, shard_id, CAST(sequence_number AS INTEGER));",
    )
    .map_err(engine)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite picks for dynoxide's lookups (its SQL, as of dynoxide 3.2), on a
    /// database [`open`] opened: a seek on the index, never a scan of every record.
    #[test]
    fn stream_lookups_seek_an_index_not_every_record() {
        let dir = std::env::temp_dir().join(format!("todo-engine-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite").to_string_lossy().to_string();
        for path in [path.as_str(), &memory_path()] {
            let _db = open(path).unwrap();
            let conn = rusqlite::Connection::open(path).unwrap();
            for sql in [
                "SELECT COALESCE(MAX(CAST(sequence_number AS INTEGER)), 0) + 1 FROM _stream_records WHERE table_name = ?1",
                "SELECT event_name FROM _stream_records WHERE table_name = ?1 AND shard_id = ?2 AND CAST(sequence_number AS INTEGER) > ?3 ORDER BY CAST(sequence_number AS INTEGER) ASC LIMIT ?4",
                "SELECT MIN(CAST(sequence_number AS INTEGER)), MAX(CAST(sequence_number AS INTEGER)) FROM _stream_records WHERE table_name = ?1 AND shard_id = ?2",
            ] {
                let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let unbound = vec![rusqlite::types::Null; plan.parameter_count()];
                let plan: Vec<String> = plan
                    .query_map(rusqlite::params_from_iter(unbound), |row| {
                        row.get::<_, String>(3)
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let plan = plan.join(" / ");
                assert!(
                    plan.contains("USING") && plan.contains("INDEX todo_local_stream"),
                    "{sql}: {plan}"
                );
                assert!(!plan.contains("SCAN _stream_records"), "{sql}: {plan}");
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
