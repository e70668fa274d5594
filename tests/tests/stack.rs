//! The stack's custom resource, as CloudFormation drives it (#8 item 2): the local cloud
//! creates the Kafka topics by invoking `TopicsFunction` with a Create request and reading its
//! answer at the ResponseURL, sends an Update with the old properties when it starts again, and
//! refuses to start on a FAILED answer, with the function's reason.

use std::time::Duration;

use serde_json::json;
use todo_e2e::{DataDir, start_with};
use todo_kafka::config::KafkaConfig;
use todo_local::template::Template;
use todo_topics::cluster::reconcile;
use todo_topics::spec::TopicSpec;

fn wanted(task_event_hours: i64) -> Vec<TopicSpec> {
    let spec = |name: &str, partitions, hours: i64| TopicSpec {
        name: name.into(),
        partitions,
        replication_factor: 1,
        retention_ms: hours * 3_600_000,
    };
    vec![
        spec("todo.task.events", 3, task_event_hours),
        spec("todo.reminders", 3, 24),
        spec("todo.dead.letter", 1, 720),
    ]
}

/// What the cluster lacks of `wanted`: nothing, once the resource applied it.
async fn missing(bootstrap: String, wanted: &[TopicSpec]) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    reconcile(&KafkaConfig::plaintext(vec![bootstrap]), wanted, deadline)
        .await
        .unwrap()
        .changes
        .len()
}

#[tokio::test]
async fn the_topics_are_created_then_updated_through_the_custom_resource() {
    let data = DataDir::new("stack");
    let mut template = Template::workspace().unwrap();

    let cloud = start_with(&template, &data).await.unwrap();
    let applied: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.0.join("stack/KafkaTopics.json")).unwrap())
            .unwrap();
    assert_eq!(applied["PhysicalResourceId"], "kafka-topics");
    assert_eq!(missing(cloud.kafka.bootstrap(), &wanted(168)).await, 0);
    drop(cloud);

    // A changed parameter on the next start is an Update: the retention changes in place.
    template.root["Parameters"]["TaskEventsRetentionHours"]["Default"] = json!(48);
    let cloud = start_with(&template, &data).await.unwrap();
    assert_eq!(missing(cloud.kafka.bootstrap(), &wanted(48)).await, 0);
    drop(cloud);

    // An invalid value is answered FAILED, and the start is refused with the reason.
    template.root["Parameters"]["RemindersPartitions"]["Default"] = json!(0);
    let refused = start_with(&template, &data).await.err().expect("refused");
    let reason = refused.to_string();
    assert!(
        reason.contains("KafkaTopics") && reason.contains("Partitions must be between 1"),
        "{reason}"
    );
}
