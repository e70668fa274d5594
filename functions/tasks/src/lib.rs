//! The tasks function: the todo command API over the tasks table.
//!
//! `store` is the table behind one trait per operation; `http` holds one handler per route,
//! each a plain async function over a request and its explicit dependencies. The binaries in
//! `src/bin` only wire the runtime, the configuration and the clients, then call a handler.

pub mod http;
pub mod store;
pub mod sweep;
pub mod wiring;
