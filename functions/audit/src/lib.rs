//! The audit log: every task event from `todo.task.events`, one entry per event, readable by
//! the task's owner (a deleted task's history included).
//!
//! `store` is the audit table; `consumer` applies MSK batches to it; `http` serves the history
//! and audit routes; the binaries only wire.

pub mod consumer;
pub mod http;
pub mod store;
pub mod wiring;
