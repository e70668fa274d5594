//! The DynamoDB front's capacity accounting, driven through the real SDK: what each call is
//! charged per table, index and partition key, and `ReturnConsumedCapacity` answered with
//! the same numbers.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, PutRequest, ReturnConsumedCapacity, TransactWriteItem, WriteRequest,
};
use std::time::{Duration, Instant};
use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::dynamodb::accounting::PartitionLimits;
use todo_local::dynamodb::latency::Latency;

const TASKS: &str = "TasksTable";
const REMINDERS: &str = "reminders-due";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A task item of `pk`/`sk` with `notes` of `bytes` characters, in the reminders index under
/// `rem_pk` when there is one.
fn task(pk: &str, sk: &str, rem_pk: Option<&str>, bytes: usize) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_string(), s(pk)),
        ("sk".to_string(), s(sk)),
        ("notes".to_string(), s(&"n".repeat(bytes))),
    ]);
    if let Some(rem_pk) = rem_pk {
        item.insert("rem_pk".into(), s(rem_pk));
        item.insert("rem_at".into(), s("2026-01-01T09:00:00Z"));
    }
    item
}

/// Puts `item` into the tasks table, asking for no capacity.
async fn put(client: &Client, item: HashMap<String, AttributeValue>) -> Result<(), PutItemError> {
    let put = client.put_item().table_name(TASKS).set_item(Some(item));
    put.send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error())
}

/// A BatchWriteItem's puts of `items` into the tasks table.
fn batch_puts(items: Vec<HashMap<String, AttributeValue>>) -> Vec<WriteRequest> {
    items
        .into_iter()
        .map(|item| {
            let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect()
}

/// Sets `SET <attribute> = :v` on the task `USER#a`/`TASK#1`, asking for `capacity`.
async fn set(
    client: &Client,
    attribute: &str,
    value: &str,
    capacity: Option<ReturnConsumedCapacity>,
) -> aws_sdk_dynamodb::operation::update_item::UpdateItemOutput {
    client
        .update_item()
        .table_name(TASKS)
        .key("pk", s("USER#a"))
        .key("sk", s("TASK#1"))
        .update_expression(format!("SET {attribute} = :v"))
        .expression_attribute_values(":v", s(value))
        .set_return_consumed_capacity(capacity)
        .send()
        .await
        .unwrap()
}

async fn engine() -> (EmbeddedDynamo, Client) {
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let client = engine.client().await;
    (engine, client)
}

#[tokio::test]
async fn writes_are_charged_to_the_table_and_index_keys_they_touch() {
    let (engine, client) = engine().await;
    // About 1.5 KB: two write units on the table and two on the reminders index (ALL).
    let put = client
        .put_item()
        .table_name(TASKS)
        .set_item(Some(task("USER#a", "TASK#1", Some("REM#0"), 1500)))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let consumed = put.consumed_capacity().unwrap();
    assert_eq!(consumed.capacity_units(), Some(4.0));
    assert_eq!(consumed.table().unwrap().capacity_units(), Some(2.0));
    let gsi = consumed.global_secondary_indexes().unwrap();
    assert_eq!(gsi[REMINDERS].capacity_units(), Some(2.0));
    assert!(!gsi.contains_key("changes"), "no s_chg: not in that index");

    // Moving the index key is a delete under the old key and a put under the new one.
    let moved = set(
        &client,
        "rem_pk",
        "REM#1",
        Some(ReturnConsumedCapacity::Total),
    )
    .await;
    let consumed = moved.consumed_capacity().unwrap();
    assert_eq!(consumed.capacity_units(), Some(6.0));
    assert!(consumed.table().is_none(), "TOTAL has no per-index detail");

    // Not asked: not shown.
    let quiet = set(&client, "title", "x", None).await;
    assert!(quiet.consumed_capacity().is_none());

    let report = engine.capacity();
    let write = |index: Option<&str>, key: &str| report.key(TASKS, index, key).unwrap().write.units;
    assert_eq!(write(None, "USER#a"), 2.0 + 2.0 + 2.0);
    assert_eq!(write(Some(REMINDERS), "REM#0"), 2.0 + 2.0);
    assert_eq!(write(Some(REMINDERS), "REM#1"), 2.0 + 2.0);
    assert_eq!(report.units(TASKS, Some(REMINDERS), true), 8.0);
    let peak = report
        .key(TASKS, None, "USER#a")
        .unwrap()
        .write
        .peak_per_second;
    assert!((2.0..=6.0).contains(&peak), "peak {peak}");

    // A delete is charged on the item it removes, from the table and the index.
    client
        .delete_item()
        .table_name(TASKS)
        .key("pk", s("USER#a"))
        .key("sk", s("TASK#1"))
        .send()
        .await
        .unwrap();
    let report = engine.capacity();
    assert_eq!(report.key(TASKS, None, "USER#a").unwrap().write.units, 8.0);
    assert_eq!(
        report
            .key(TASKS, Some(REMINDERS), "REM#1")
            .unwrap()
            .write
            .units,
        6.0
    );
}

#[tokio::test]
async fn reads_are_charged_to_the_key_they_name() {
    let (engine, client) = engine().await;
    for n in 0..3 {
        let item = task("USER#b", &format!("TASK#{n}"), Some("REM#9"), 1900);
        put(&client, item).await.unwrap();
    }
    engine.reset_capacity();
    // About 5.9 KB in all: rounded once, 2 units strongly consistent (3 if rounded per item).
    let strong = client
        .query()
        .table_name(TASKS)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", "pk")
        .expression_attribute_values(":p", s("USER#b"))
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(
        strong.consumed_capacity().unwrap().capacity_units(),
        Some(2.0)
    );
    let on_index = client
        .query()
        .table_name(TASKS)
        .index_name(REMINDERS)
        .key_condition_expression("rem_pk = :r")
        .expression_attribute_values(":r", s("REM#9"))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let consumed = on_index.consumed_capacity().unwrap();
    assert_eq!(consumed.capacity_units(), Some(1.0));
    assert_eq!(
        consumed.global_secondary_indexes().unwrap()[REMINDERS].capacity_units(),
        Some(1.0)
    );
    let get = client
        .get_item()
        .table_name(TASKS)
        .key("pk", s("USER#b"))
        .key("sk", s("TASK#0"))
        .send()
        .await
        .unwrap();
    assert!(get.item().is_some() && get.consumed_capacity().is_none());
    client.scan().table_name(TASKS).send().await.unwrap();

    let report = engine.capacity();
    let read = |index: Option<&str>, key: &str| report.key(TASKS, index, key).unwrap().read.units;
    assert_eq!(read(None, "USER#b"), 2.0 + 0.5);
    assert_eq!(read(Some(REMINDERS), "REM#9"), 1.0);
    assert_eq!(read(None, "(scan)"), 1.0);
    assert!(report.partitions.iter().all(|p| p.write.units == 0.0));
}

#[tokio::test]
async fn transactions_are_doubled_and_batches_charged_per_item() {
    let (engine, client) = engine().await;
    // Under 1 KB: one unit, doubled in a transaction.
    let put = Put::builder()
        .table_name(TASKS)
        .set_item(Some(task("USER#c", "TASK#1", None, 900)))
        .build()
        .unwrap();
    let tx = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(tx.consumed_capacity()[0].capacity_units(), Some(2.0));
    let writes = ["TASK#2", "TASK#3"].map(|sk| task("USER#d", sk, None, 1100));
    let batch = client
        .batch_write_item()
        .request_items(TASKS, batch_puts(writes.to_vec()))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(batch.consumed_capacity()[0].capacity_units(), Some(4.0));
    let report = engine.capacity();
    assert_eq!(report.key(TASKS, None, "USER#c").unwrap().write.units, 2.0);
    assert_eq!(report.key(TASKS, None, "USER#d").unwrap().write.units, 4.0);
}

#[tokio::test]
async fn the_injected_latency_delays_every_call() {
    let (engine, client) = engine().await;
    let call = || client.describe_table().table_name(TASKS).send();
    call().await.unwrap();
    let delay = Duration::from_millis(150);
    engine.set_latency(Some(Latency::fixed(delay)));
    let started = Instant::now();
    for _ in 0..3 {
        call().await.unwrap();
    }
    assert!(started.elapsed() >= 3 * delay, "{:?}", started.elapsed());
    engine.set_latency(None);
    let started = Instant::now();
    call().await.unwrap();
    assert!(started.elapsed() < delay, "{:?}", started.elapsed());
}

/// A client of `engine` that retries as `retry` says.
async fn client_retrying(engine: &EmbeddedDynamo, retry: RetryConfig) -> Client {
    let config = todo_local::dynamodb::sdk_config(&engine.endpoint()).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&config)
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

/// An engine whose partition keys take at most 3 write units a second; a client of it that
/// retries with the SDK's standard backoff (10 attempts: more than a second of backoff, so
/// one lands in the next second), and one that does not retry, to see the throttle itself.
async fn throttling_engine() -> (EmbeddedDynamo, Client, Client) {
    let (engine, _) = engine().await;
    engine.set_partition_limits(Some(PartitionLimits {
        write: 3.0,
        read: 3000.0,
    }));
    let patient = client_retrying(&engine, RetryConfig::standard().with_max_attempts(10)).await;
    let impatient = client_retrying(&engine, RetryConfig::disabled()).await;
    (engine, patient, impatient)
}

/// Puts `item(n)` for n = 0, 1, ... until one is throttled: the exception, and after how
/// many puts.
async fn burst(
    client: &Client,
    item: impl Fn(usize) -> HashMap<String, AttributeValue>,
) -> (ProvisionedThroughputExceededException, usize) {
    for n in 0..50 {
        match put(client, item(n)).await {
            Ok(()) => {}
            Err(PutItemError::ProvisionedThroughputExceededException(e)) => return (e, n),
            Err(e) => panic!("{e:?}"),
        }
    }
    panic!("50 writes and none throttled");
}

/// 1 KB tasks of `USER#hot`.
fn hot(n: usize) -> HashMap<String, AttributeValue> {
    task("USER#hot", &format!("TASK#{n}"), None, 900)
}

#[tokio::test]
async fn a_hot_key_past_its_limit_is_throttled_as_dynamodb_does_and_others_are_not() {
    let (engine, patient, client) = throttling_engine().await;
    let (throttled, after) = burst(&client, hot).await;
    assert!(
        after >= 3,
        "throttled after {after} writes of 1 unit, limit 3"
    );
    let reason = &throttled.throttling_reasons()[0];
    assert_eq!(
        reason.reason(),
        Some("TableWriteKeyRangeThroughputExceeded")
    );
    assert_eq!(
        reason.resource(),
        Some("arn:aws:dynamodb:us-east-1:000000000000:table/TasksTable")
    );
    assert!(throttled.message().unwrap().contains("hot key"));
    // Another key of the same table is not throttled.
    put(&client, task("USER#cold", "TASK#1", None, 900))
        .await
        .unwrap();
    // A batch gives the hot key's write back as unprocessed and does the rest (tried again
    // in the rare case that the second turned between the burst and the batch).
    let mut unprocessed = Vec::new();
    for attempt in 0..3 {
        if attempt > 0 {
            burst(&client, hot).await;
        }
        let writes = [("USER#hot", "TASK#b1"), ("USER#cold", "TASK#b2")]
            .map(|(pk, sk)| task(pk, sk, None, 900));
        let batch = client
            .batch_write_item()
            .request_items(TASKS, batch_puts(writes.to_vec()))
            .send()
            .await
            .unwrap();
        unprocessed = batch
            .unprocessed_items
            .and_then(|mut u| u.remove(TASKS))
            .unwrap_or_default();
        if !unprocessed.is_empty() {
            break;
        }
    }
    assert_eq!(unprocessed.len(), 1);
    let item = unprocessed[0].put_request().unwrap().item();
    assert_eq!(item["pk"], s("USER#hot"));
    // The SDK's retries, with backoff, get the hot key's write through.
    put(&patient, task("USER#hot", "TASK#later", None, 900))
        .await
        .unwrap();
    assert!(engine.capacity().throttled_requests >= 1);
}

#[tokio::test]
async fn a_hot_index_key_throttles_the_table_write() {
    let (_engine, _, client) = throttling_engine().await;
    // Every write has its own table key, and all share one reminders-index key.
    let (e, _) = burst(&client, |n| {
        task(&format!("USER#{n}"), "TASK#1", Some("REM#hot"), 900)
    })
    .await;
    let reason = &e.throttling_reasons()[0];
    assert_eq!(
        reason.reason(),
        Some("IndexWriteKeyRangeThroughputExceeded")
    );
    assert_eq!(
        reason.resource(),
        Some("arn:aws:dynamodb:us-east-1:000000000000:table/TasksTable/index/reminders-due")
    );
}
