//! The local cloud: the resources `template.yaml` declares, on embedded engines on 127.0.0.1.
//!
//! The tests of every function use it to get a real DynamoDB API with the deployed table design
//! (keys, indexes, stream, TTL read from the template, never restated), one isolated database
//! per test and no external service to start.

pub mod apigw;
pub mod artifacts;
pub mod auth;
pub mod cloud;
pub mod connections;
pub mod console;
pub mod console_page;
pub mod custom_resources;
pub mod dynamodb;
pub mod esm;
pub mod far_end;
pub mod function_log;
pub mod gateway;
pub mod iam;
pub mod invoke;
pub mod kafka;
pub mod lambda_api;
pub mod loopback;
pub mod process;
pub mod push_service;
pub mod runtime;
pub mod secrets;
pub mod ses;
pub mod sns;
pub mod streams;
pub mod template;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod webhook;
pub mod websocket;
