//! The publisher: relays the tasks table's stream (the outbox) to Kafka.
//!
//! `relay` is the handler, over any [`relay::EventSink`]; `kafka` is the rskafka sink;
//! `partitioner` chooses partitions the way Kafka's Java client does.

pub mod kafka;
pub mod partitioner;
pub mod relay;
