//! The publisher's SASL_SSL_SCRAM path against a real Kafka-protocol broker that requires
//! authentication: tansu with `--authentication` and a SCRAM-SHA-512 user, reached over TLS
//! (`todo_local::testing::secured_kafka`).

use std::path::PathBuf;
use std::time::Duration;

use rskafka::client::partition::UnknownTopicHandling;
use todo_kafka::config::{KafkaConfig, Security};
use todo_kafka::producer::KafkaSink;
use todo_kafka::relay::{EventSink, Outgoing};
use todo_local::testing::secured_kafka::SecuredKafka;

const USER: &str = "todo-publisher";
const PASSWORD: &str = "scram-s3cret";

fn scram(bootstrap: String, password: &str, ca_file: Option<PathBuf>) -> KafkaConfig {
    let mut config = KafkaConfig::plaintext(vec![bootstrap]);
    config.security = Security::Scram {
        username: USER.into(),
        password: password.into(),
    };
    config.ca_file = ca_file;
    config
}

fn record(key: &str) -> Outgoing {
    Outgoing {
        topic: "todo.task.events",
        key: key.into(),
        value: br#"{"specversion":"1.0"}"#.to_vec(),
        headers: vec![("ce_type", b"task.created".to_vec())],
        time: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn the_publisher_produces_over_tls_with_scram_and_is_refused_without_them() {
    let broker = SecuredKafka::start(USER, PASSWORD, &[("todo.task.events", 1)]).await;
    let ca = broker.ca_file.clone();
    let bootstrap = broker.bootstrap.clone();
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(10);

    // TLS verified against the private authority, then SCRAM-SHA-512: produced.
    let sink = KafkaSink::new(scram(bootstrap.clone(), PASSWORD, Some(ca.clone())));
    let results = sink.publish(&[record("task-1")], deadline()).await;
    assert_eq!(results, vec![Ok(())]);
    let reader = scram(bootstrap.clone(), PASSWORD, Some(ca.clone()))
        .connect("test-reader", Duration::from_secs(10))
        .await
        .unwrap();
    let (records, _) = reader
        .partition_client("todo.task.events", 0, UnknownTopicHandling::Error)
        .await
        .unwrap()
        .fetch_records(0, 1..1_000_000, 1_000)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record.key.as_deref(), Some(&b"task-1"[..]));

    // A wrong password is refused by the broker.
    let wrong = KafkaSink::new(scram(
        bootstrap.clone(),
        "not-the-password",
        Some(ca.clone()),
    ));
    let results = wrong.publish(&[record("task-2")], deadline()).await;
    assert!(results[0].is_err(), "{results:?}");
    // Without the authority the certificate is not trusted: TLS is really checked.
    let untrusted = KafkaSink::new(scram(bootstrap.clone(), PASSWORD, None));
    let results = untrusted.publish(&[record("task-3")], deadline()).await;
    assert!(results[0].is_err(), "{results:?}");
    // And the broker itself refuses a client that does not authenticate.
    let anonymous = KafkaSink::new(KafkaConfig::plaintext(vec![broker.plaintext.clone()]));
    let results = anonymous.publish(&[record("task-4")], deadline()).await;
    assert!(results[0].is_err(), "{results:?}");
}
