//! What the tests of the functions (and the benchmarks) build on, and `todo-local` itself never
//! runs: API Gateway events for handler tests, a Kafka broker behind TLS and SCRAM. Compiled
//! only with the `test-support` feature, which only dev-dependencies (and the benchmarks)
//! enable, so the local cloud's binary is built without it.

pub mod apigw;
#[cfg(feature = "test-support")]
pub mod secured_kafka;
