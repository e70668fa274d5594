//! Lambda and AWS glue that every serverless-todo function shares.
//!
//! Kept apart from the schema crate so that clients of the contract never pull in the AWS SDK or
//! the Lambda runtime. Everything here is wiring or the HTTP edge: configuration, clients,
//! tracing, identity, and turning results into HTTP responses.

pub mod admin;
pub mod aws;
pub mod config;
pub mod cursor;
pub mod deadline;
pub mod dynamodb;
pub mod http;
pub mod json;
pub mod jwt;
pub mod kafka;
pub mod metrics;
pub mod retry;
pub mod secrets;
pub mod table;
pub mod wiring;

/// Installs the runtime's tracing subscriber: JSON when the function's log format is JSON
/// (`AWS_LAMBDA_LOG_FORMAT`), level from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`.
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}
