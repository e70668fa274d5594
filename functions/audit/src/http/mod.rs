//! The audit read API: `GET /tasks/{id}/history` and `GET /audit`, the caller's entries only.

pub mod audit;
pub mod history;

/// The store, as problems name it.
pub(crate) const STORE: &str = "the audit log";
