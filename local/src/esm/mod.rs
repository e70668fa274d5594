//! Event-source mappings, emulated with Lambda's semantics: DynamoDB Streams and MSK pollers and
//! the schedule, each invoking its function through the runtime API.

pub mod filter;
pub mod kafka;
pub mod schedule;
pub mod streams;
