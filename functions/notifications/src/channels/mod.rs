//! The reminder channels. Each is its own Kafka-triggered function with its own consumer group
//! on `todo.reminders`, so a channel that is down or slow delays only itself, and a redelivery
//! to one channel never re-sends on another.
//!
//! - `in_app`: places the notification in the user's inbox (the unread feed).
//! - `webhook`: a signed POST to the operator's webhook.
//! - `email`: an e-mail through Amazon SES to the address in the user's settings.
//! - `push`: Web Push to every device the user subscribed.
//!
//! `delivery` is the engine the sending channels share; `serving` runs a channel as a Lambda
//! function.
//!
//! Every channel but the inbox sends through a [`Sender`] and records each attempt on the
//! notification (see `store`): a delivery that is recorded as delivered or failed for good is
//! never sent again; a transient failure is recorded and reported, so the mapping retries the
//! record (and dead-letters it after its retries) without holding any other channel.
//!
//! A Kafka mapping retries a reported record at once, so the backoff is the channel's: a
//! retried delivery waits, inside the invocation, until the time its last attempt set (1 s
//! after the first failure, doubling up to a minute, or the far end's `Retry-After` when
//! longer). An outage of an hour costs a far end about seventy attempts per stuck partition,
//! not one every few hundred milliseconds; an invocation whose deadline comes first reports
//! the record again and the next one waits out the rest.
//!
//! E-mail and Web Push honour the owner's quiet hours: a reminder that comes due in them is
//! parked until they end (see `store::Parking`), every destination recorded as deferred, and
//! the channel's scheduled drain (`parked`) sends it then. The partition moves on at once.

pub mod delivery;
pub mod email;
mod http_delivery;
pub mod in_app;
pub mod parked;
pub mod public_dns;
pub mod push;
pub mod serving;
pub mod user_webhooks;
pub mod webhook;
