//! Real-time task updates over the API Gateway WebSocket API.
//!
//! - `authorizer`: the `$connect` route's Lambda REQUEST authorizer. It accepts exactly the
//!   tokens the HTTP API's JWT authorizer accepts (`todo_lambda::jwt`), verified against the
//!   issuer's JWKS (found through its OIDC discovery document, cached per process), the token
//!   taken from the `Authorization` header or the `token` query parameter (browsers cannot set
//!   headers on a WebSocket).
//! - `routes`: `$connect` records the connection (user, connection id, TTL), `$disconnect`
//!   removes it, and a message answers `{"action":"ping"}` with a pong.
//! - `channel`: the `realtime` consumer on `todo.task.events` (its own consumer group) posts
//!   each event, as the CloudEvents JSON a Kafka reader sees, to every connection of the task's
//!   owner through the Management API (`PostToConnection`), and drops connections that answer
//!   410 Gone.
//!
//! The crate owns the connections table; nothing else writes it.

pub mod authorizer;
pub mod channel;
pub mod management;
pub mod routes;
pub mod store;
pub mod wiring;
