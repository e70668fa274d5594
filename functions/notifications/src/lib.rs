//! Reminder notifications: each `reminder.due` event from `todo.reminders` reaches its owner
//! through every channel, each channel a function of its own (see `channels`).
//!
//! `store` is the inbox table, with each channel's delivery on the notification; `channels`
//! apply MSK batches; `email_feedback` applies SES's bounces and complaints; `http` serves the
//! inbox routes; the binaries only wire.

pub mod channels;
pub mod email_feedback;
pub mod http;
pub mod store;
pub mod wiring;
