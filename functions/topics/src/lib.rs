//! The Kafka topics custom resource (`Custom::KafkaTopics` in `template.yaml`): the stack
//! creates the topics it uses, with partitions, replication and retention as parameters.
//!
//! - `spec`: the resource's properties, as CloudFormation sends them.
//! - `plan`: from what exists to what is wanted (create, add partitions, set retention; never
//!   shrink or delete).
//! - `connection`, `cluster`: the admin requests over the publisher's TLS and SASL settings.
//! - `resource`: the request/response protocol with CloudFormation.

pub mod cluster;
pub mod connection;
pub mod plan;
pub mod resource;
pub mod spec;
