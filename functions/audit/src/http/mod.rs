//! The audit read API: `GET /tasks/{id}/history`, `GET /audit` and `GET /audit/export`, the
//! caller's entries only; and `GET /admin/audit`, every user's, for administrators.

pub mod audit;
pub mod export;
pub mod history;
pub mod range;
pub mod search;

/// The store, as problems name it.
pub(crate) const STORE: &str = "the audit log";
