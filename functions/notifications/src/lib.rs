//! Reminder notifications: each `reminder.due` event from `todo.reminders` becomes one inbox
//! notification and, when a webhook is configured, one signed POST.
//!
//! `store` is the inbox table; `webhook` the signed delivery; `consumer` applies MSK batches;
//! `http` serves the inbox routes; the binaries only wire.

pub mod consumer;
pub mod http;
pub mod store;
pub mod webhook;
pub mod wiring;
