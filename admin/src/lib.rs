//! `todo-admin`: the operator's way back from the dead-letter topic and the publisher's failure
//! queue. It points at the local cloud or at AWS with the usual configuration: the publisher's
//! Kafka settings (`KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_SECURITY_PROTOCOL`, ...) and the AWS SDK's
//! credentials, region and endpoint variables. Everything that writes is a dry run unless told
//! `--apply`; redriving twice is harmless because every consumer applies an event once.

pub mod dead_letters;
pub mod failures;
