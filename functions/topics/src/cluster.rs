//! The cluster side of the topics resource: what exists, and applying a plan, with retries of
//! what is transient until a deadline.
//!
//! Every request after the first metadata goes to the broker Metadata names as controller:
//! with ZooKeeper that is the broker that creates topics; with KRaft it is any broker, which
//! forwards. Each attempt observes afresh and plans again, so a retry after a half-applied plan
//! (a broker restart between two changes) only does what is still missing.

use std::collections::HashMap;
use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use todo_kafka::config::KafkaConfig;
use todo_lambda::retry::{Backoff, Failure, Policy, Retries};
use tokio::time::Instant;

use crate::connection::{AdminError, Connection};
use crate::plan::{Change, Observed, Plan, plan};
use crate::spec::TopicSpec;

/// The topic resource type in DescribeConfigs and IncrementalAlterConfigs.
const TOPIC_RESOURCE: i8 = 2;
/// IncrementalAlterConfigs' SET operation.
const SET: i8 = 0;
const RETENTION_MS: &str = "retention.ms";
/// How long the controller may take over one CreateTopics or CreatePartitions.
const OPERATION_TIMEOUT_MS: i32 = 30_000;
/// Kafka's UNKNOWN_TOPIC_OR_PARTITION and TOPIC_ALREADY_EXISTS.
const UNKNOWN_TOPIC: i16 = 3;
const TOPIC_ALREADY_EXISTS: i16 = 36;

/// What a reconciliation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub changes: Vec<Change>,
    /// What was asked for and kept as it is, with why.
    pub kept: Vec<String>,
}

/// Brings the cluster to `wanted`, retrying transient failures until `deadline`.
pub async fn reconcile(
    config: &KafkaConfig,
    wanted: &[TopicSpec],
    deadline: Instant,
) -> Result<Applied, AdminError> {
    let mut done = Vec::new();
    let mut retries = Retries::new(Policy {
        backoff: BACKOFF,
        attempts: None,
        deadline: Some(deadline),
    });
    loop {
        let attempt = async {
            let mut cluster = Cluster::connect(config, wanted).await?;
            let Plan { changes, kept } = plan(wanted, &cluster.observed);
            for change in &changes {
                cluster.apply(change).await?;
                done.push(change.clone());
            }
            Ok::<_, AdminError>(kept)
        };
        let failure = match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(kept)) => {
                return Ok(Applied {
                    changes: done,
                    kept,
                });
            }
            Ok(Err(e)) if e.is_transient() => Failure::Transient(e),
            Ok(Err(e)) => Failure::Permanent(e),
            Err(_) => Failure::Transient(AdminError::Transient("timed out".into())),
        };
        let Some(wait) = retries.next_wait(&failure) else {
            return Err(failure.into_error());
        };
        tracing::warn!(error = %failure.error(), "retrying the topics");
        tokio::time::sleep(wait).await;
    }
}

/// Waits between tries of the whole reconciliation: 200 ms, doubling, at most 5 s.
const BACKOFF: Backoff = Backoff::doubling(Duration::from_millis(200), Duration::from_secs(5));

/// A connection to the controller, and the wanted topics that exist.
struct Cluster {
    controller: Connection,
    observed: HashMap<String, Observed>,
}

impl Cluster {
    async fn connect(config: &KafkaConfig, wanted: &[TopicSpec]) -> Result<Self, AdminError> {
        let mut last = AdminError::Refused("no bootstrap servers".into());
        let mut bootstrap = None;
        for address in &config.bootstrap {
            match Connection::open(config, address).await {
                Ok(c) => {
                    bootstrap = Some(c);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut bootstrap = bootstrap.ok_or(last)?;
        let metadata = bootstrap
            .send(
                &MetadataRequest::default()
                    .with_topics(Some(
                        wanted
                            .iter()
                            .map(|t| {
                                MetadataRequestTopic::default().with_name(Some(TopicName(
                                    StrBytes::from_string(t.name.clone()),
                                )))
                            })
                            .collect(),
                    ))
                    // A metadata request must never create what it asks about.
                    .with_allow_auto_topic_creation(false),
            )
            .await?;
        let mut observed = HashMap::new();
        for topic in &metadata.topics {
            let name = topic.name.as_ref().map_or("", |n| n.0.as_str()).to_string();
            if topic.error_code == UNKNOWN_TOPIC {
                continue;
            }
            if let Some(e) = AdminError::from_code(topic.error_code, &name, None) {
                return Err(e);
            }
            let replication_factor = topic
                .partitions
                .iter()
                .map(|p| p.replica_nodes.len())
                .max()
                .unwrap_or(0) as i16;
            observed.insert(
                name,
                Observed {
                    partitions: topic.partitions.len() as i32,
                    replication_factor,
                    retention_ms: None,
                },
            );
        }
        let controller = metadata
            .brokers
            .iter()
            .find(|b| b.node_id == metadata.controller_id)
            .map(|b| format!("{}:{}", b.host.as_str(), b.port))
            .ok_or_else(|| AdminError::Transient("the cluster names no controller yet".into()))?;
        let controller = if controller == bootstrap.address() {
            bootstrap
        } else {
            Connection::open(config, &controller).await?
        };
        let mut cluster = Self {
            controller,
            observed,
        };
        cluster.describe_retention().await?;
        Ok(cluster)
    }

    /// Fills in `retention.ms` of every observed topic.
    async fn describe_retention(&mut self) -> Result<(), AdminError> {
        if self.observed.is_empty() {
            return Ok(());
        }
        let resources = self
            .observed
            .keys()
            .map(|name| {
                DescribeConfigsResource::default()
                    .with_resource_type(TOPIC_RESOURCE)
                    .with_resource_name(StrBytes::from_string(name.clone()))
                    // All of them: a broker sends a few dozen, and tansu 0.6 cannot decode a
                    // request that names keys.
                    .with_configuration_keys(None)
            })
            .collect();
        let response = self
            .controller
            .send(&DescribeConfigsRequest::default().with_resources(resources))
            .await?;
        for result in &response.results {
            let name = result.resource_name.as_str();
            if let Some(e) =
                AdminError::from_code(result.error_code, name, result.error_message.as_ref())
            {
                return Err(e);
            }
            let retention = result
                .configs
                .iter()
                .find(|c| c.name.as_str() == RETENTION_MS)
                .and_then(|c| c.value.as_ref())
                .and_then(|v| v.as_str().parse().ok());
            if let Some(topic) = self.observed.get_mut(name) {
                topic.retention_ms = retention;
            }
        }
        Ok(())
    }

    async fn apply(&mut self, change: &Change) -> Result<(), AdminError> {
        tracing::info!(?change, "applying");
        match change {
            Change::Create(spec) => {
                let topic = CreatableTopic::default()
                    .with_name(TopicName(StrBytes::from_string(spec.name.clone())))
                    .with_num_partitions(spec.partitions)
                    .with_replication_factor(spec.replication_factor)
                    .with_configs(vec![
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_static_str(RETENTION_MS))
                            .with_value(Some(StrBytes::from_string(spec.retention_ms.to_string()))),
                    ]);
                let response = self
                    .controller
                    .send(
                        &CreateTopicsRequest::default()
                            .with_topics(vec![topic])
                            .with_timeout_ms(OPERATION_TIMEOUT_MS),
                    )
                    .await?;
                for t in &response.topics {
                    // Created meanwhile by someone else: the next attempt sees and adjusts it.
                    if t.error_code == TOPIC_ALREADY_EXISTS {
                        return Err(AdminError::Transient(format!(
                            "{} was created meanwhile",
                            spec.name
                        )));
                    }
                    if let Some(e) =
                        AdminError::from_code(t.error_code, &spec.name, t.error_message.as_ref())
                    {
                        return Err(e);
                    }
                }
            }
            Change::AddPartitions { topic, to, .. } => {
                let response = self
                    .controller
                    .send(
                        &CreatePartitionsRequest::default()
                            .with_topics(vec![
                                CreatePartitionsTopic::default()
                                    .with_name(TopicName(StrBytes::from_string(topic.clone())))
                                    .with_count(*to),
                            ])
                            .with_timeout_ms(OPERATION_TIMEOUT_MS),
                    )
                    .await?;
                for r in &response.results {
                    if let Some(e) =
                        AdminError::from_code(r.error_code, topic, r.error_message.as_ref())
                    {
                        return Err(e);
                    }
                }
            }
            Change::SetRetention { topic, to, .. } => {
                let response = self
                    .controller
                    .send(
                        &IncrementalAlterConfigsRequest::default().with_resources(vec![
                            AlterConfigsResource::default()
                                .with_resource_type(TOPIC_RESOURCE)
                                .with_resource_name(StrBytes::from_string(topic.clone()))
                                .with_configs(vec![
                                    AlterableConfig::default()
                                        .with_name(StrBytes::from_static_str(RETENTION_MS))
                                        .with_config_operation(SET)
                                        .with_value(Some(StrBytes::from_string(to.to_string()))),
                                ]),
                        ]),
                    )
                    .await?;
                for r in &response.responses {
                    if let Some(e) =
                        AdminError::from_code(r.error_code, topic, r.error_message.as_ref())
                    {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}
