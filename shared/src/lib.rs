//! The serverless-todo contract, shared by every function and by any client.
//!
//! This crate is the single source of truth for what crosses a boundary: the task model and its
//! validation limits, the command inputs accepted by the HTTP API, the event envelope published on
//! Kafka, and the problem-details error body. It deliberately has no AWS SDK and no Lambda runtime
//! dependency, so a chatbot, a web app or another service can depend on it cheaply.

pub mod audit;
pub mod command;
pub mod event;
pub mod limits;
pub mod notification;
pub mod problem;
pub mod push;
pub mod quiet_hours;
pub mod recurrence;
pub mod settings;
pub mod task;
pub mod time;
pub mod user_webhook;
pub mod validation;
pub mod webhook;
pub mod wire;

pub use command::{NewTask, TaskPatch};
pub use event::{Actor, EventEnvelope, EventPayload, EventType};
pub use problem::{FieldError, Problem};
pub use recurrence::Recurrence;
pub use task::{Due, Priority, Reminder, Status, Task, TaskId};
pub use time::{TimeZone, Timestamp};
