//! Kafka glue shared by the publisher, the topics function, the operator's CLI (`todo-admin`),
//! the end-to-end tests and the benchmarks: one place that knows where the brokers are, how to
//! authenticate to them and how to produce, so no crate depends on a function to reach Kafka.
//!
//! - `config`: brokers and security from the environment.
//! - `error`: Kafka's failures, transient or refused.
//! - `tls`, `client`: the TLS settings and the rskafka client (SCRAM, MSK IAM).
//! - `partitioner`: Kafka's default partitioner, as the Java client computes it.
//! - `producer`: the producer, [`producer::KafkaSink`].
//! - `relay`: the outbox relay, stream records to Kafka records, which the publisher runs and
//!   `todo-admin` redrives failed batches through.
//!
//! Consuming (the MSK event-source mapping's batches) is not here: a Kafka-triggered function
//! reads no broker, only the events Lambda hands it (`todo_lambda::kafka`).

pub mod client;
pub mod config;
pub mod error;
pub mod partitioner;
pub mod producer;
pub mod relay;
pub mod tls;
