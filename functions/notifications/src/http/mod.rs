//! The inbox API (`GET /notifications`, `POST /notifications/{id}/read`) and the caller's
//! notification settings (`GET/PUT /settings/notifications`).

pub mod list;
pub mod push;
pub mod read;
pub mod settings;
pub mod webhooks;

/// The store, as problems name it.
pub(crate) const STORE: &str = "the inbox";
