//! AWS Identity and Access Management, enforced locally from `template.yaml`.
//!
//! Each function's execution role is expanded as SAM expands it ([`sam`]), every request a
//! function signs to a local AWS endpoint (DynamoDB, Secrets Manager, SES, Lambda's Invoke,
//! the API Gateway Management API) is evaluated against it by IAM's rules ([`policy`]) before it is served,
//! and what the triggers need of the role is checked when they start. A refusal is answered
//! in the service's own error shape, so a function meets locally what it would meet in AWS.
//! What was allowed, by which statement, and what was refused is kept in a ledger
//! ([`authority`]) that `todo-local iam-report` reads ([`report`]).

pub mod authority;
pub mod policy;
pub mod report;
pub mod requests;
pub mod sam;
pub mod triggers;

pub use authority::{Authority, Credentials, Gate, OPERATOR_ACCESS_KEY, Refusal};
pub use policy::Request;
