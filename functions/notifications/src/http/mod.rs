//! The inbox API: `GET /notifications` and `POST /notifications/{id}/read`.

pub mod list;
pub mod read;

/// The store, as problems name it.
pub(crate) const STORE: &str = "the inbox";
