//! The topics resource against a real Kafka-protocol broker (tansu on 127.0.0.1): what it
//! creates, reads back and changes, through the same admin requests it sends to MSK.

use std::time::Duration;

use todo_kafka::config::{KafkaConfig, Security};
use todo_local::kafka::{EmbeddedKafka, Storage};
use todo_local::testing::secured_kafka::SecuredKafka;
use todo_topics::cluster::reconcile;
use todo_topics::plan::Change;
use todo_topics::spec::TopicSpec;

fn spec(name: &str, partitions: i32, hours: i64) -> TopicSpec {
    TopicSpec {
        name: name.into(),
        partitions,
        replication_factor: 1,
        retention_ms: hours * 3_600_000,
    }
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30)
}

#[tokio::test]
async fn creates_what_is_missing_then_changes_only_what_differs() {
    let kafka = EmbeddedKafka::start(Storage::Memory).await.unwrap();
    let config = KafkaConfig::plaintext(vec![kafka.bootstrap()]);
    let wanted = [
        spec("todo.task.events", 3, 168),
        spec("todo.dead.letter", 1, 720),
    ];

    let first = reconcile(&config, &wanted, deadline()).await.unwrap();
    assert_eq!(
        first.changes,
        wanted
            .iter()
            .cloned()
            .map(Change::Create)
            .collect::<Vec<_>>()
    );
    let topics = kafka.client().await.unwrap().list_topics().await.unwrap();
    let partitions = |name: &str| {
        topics
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.partitions.len())
    };
    assert_eq!(partitions("todo.task.events"), Some(3));
    assert_eq!(partitions("todo.dead.letter"), Some(1));

    // The same request again: the broker reports the retention it was created with.
    let again = reconcile(&config, &wanted, deadline()).await;
    let again = again.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.changes, []);
    assert_eq!(again.kept, Vec::<String>::new());

    // An update of one retention changes that one, and reads back as applied.
    let update = [
        spec("todo.task.events", 3, 24),
        spec("todo.dead.letter", 1, 720),
    ];
    let changed = reconcile(&config, &update, deadline()).await.unwrap();
    assert_eq!(
        changed.changes,
        [Change::SetRetention {
            topic: "todo.task.events".into(),
            from: Some(168 * 3_600_000),
            to: 24 * 3_600_000
        }]
    );
    assert_eq!(
        reconcile(&config, &update, deadline())
            .await
            .unwrap()
            .changes,
        []
    );

    // Fewer partitions than exist (a rollback after a raise): kept, and said.
    let fewer = [
        spec("todo.task.events", 1, 24),
        spec("todo.dead.letter", 1, 720),
    ];
    let kept = reconcile(&config, &fewer, deadline()).await.unwrap();
    assert_eq!(kept.changes, []);
    assert!(
        kept.kept[0].contains("keeps its 3 partitions"),
        "{:?}",
        kept.kept
    );
}

/// tansu 0.6 has no CreatePartitions (API 37; MSK's Kafka has): raising partitions is
/// refused at once with what is missing, not retried until the deadline, and the unit tests of
/// `plan` and the request's encoding by kafka-protocol are what cover that change here.
#[tokio::test]
async fn a_broker_that_cannot_add_partitions_is_named_at_once() {
    let kafka = EmbeddedKafka::start(Storage::Memory).await.unwrap();
    let config = KafkaConfig::plaintext(vec![kafka.bootstrap()]);
    reconcile(&config, &[spec("a", 1, 1)], deadline())
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let refused = reconcile(&config, &[spec("a", 4, 1)], deadline())
        .await
        .unwrap_err();
    assert!(!refused.is_transient());
    assert!(refused.to_string().contains("API 37"), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// The SASL_SSL_SCRAM path (MSK's port 9096): TLS checked against the given authority, then
/// SCRAM-SHA-512, then the admin requests; a wrong password is refused for good at once.
#[tokio::test]
async fn creates_topics_over_tls_with_scram() {
    let broker = SecuredKafka::start("todo-topics", "scram-s3cret", &[]).await;
    let scram = |password: &str| {
        let mut config = KafkaConfig::plaintext(vec![broker.bootstrap.clone()]);
        config.security = Security::Scram {
            username: "todo-topics".into(),
            password: password.into(),
        };
        config.ca_file = Some(broker.ca_file.clone());
        config
    };
    let wanted = [spec("todo.reminders", 2, 24)];
    let applied = reconcile(&scram("scram-s3cret"), &wanted, deadline())
        .await
        .unwrap();
    assert_eq!(applied.changes, [Change::Create(wanted[0].clone())]);
    let again = reconcile(&scram("scram-s3cret"), &wanted, deadline())
        .await
        .unwrap();
    assert_eq!(again.changes, [], "read back over the secured connection");

    let started = tokio::time::Instant::now();
    let refused = reconcile(&scram("not-the-password"), &wanted, deadline())
        .await
        .unwrap_err();
    // tansu answers a wrong proof with SCRAM's own error (e=invalid-proof), MSK with an
    // authentication error code: refused for good, either way.
    assert!(!refused.is_transient(), "{refused}");
    assert!(
        refused.to_string().contains("SCRAM") || refused.to_string().contains("authentication")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut untrusted = scram("scram-s3cret");
    untrusted.ca_file = None;
    let short = tokio::time::Instant::now() + Duration::from_secs(2);
    assert!(reconcile(&untrusted, &wanted, short).await.is_err());
}
