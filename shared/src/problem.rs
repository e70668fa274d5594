//! RFC 9457 problem details: the one error body every HTTP route returns.
//!
//! Clients switch on `type` (stable) and show `detail` (human); validation problems list every
//! offending field in `errors`, so a form can mark all of them at once.

use serde::{Deserialize, Serialize};

/// Media type of a problem body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One field that failed validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// JSON path of the field, such as `title` or `reminders[2]`.
    pub field: String,
    /// Stable, machine-readable reason: `required`, `too_long`, `too_many`, `invalid`,
    /// `unknown_field`, `requires_due`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    /// A field error from its parts.
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem details body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI reference that names the kind of problem; stable across releases.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem; the same for every occurrence of it.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level errors, for validation problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

macro_rules! problem_kinds {
    ($($(#[$doc:meta])* $fn_name:ident => ($slug:literal, $status:literal, $title:literal);)*) => {
        impl Problem {
            $(
                $(#[$doc])*
                pub fn $fn_name(detail: impl Into<String>) -> Self {
                    Self {
                        kind: concat!("urn:serverless-todo:problem:", $slug).to_string(),
                        title: $title.to_string(),
                        status: $status,
                        detail: Some(detail.into()),
                        errors: Vec::new(),
                    }
                }
            )*
        }
    };
}

problem_kinds! {
    /// The request is malformed: bad JSON, bad query parameter, bad header.
    bad_request => ("bad-request", 400, "Bad request");
    /// No identity reached the function (no `sub` claim).
    unauthorized => ("unauthorized", 401, "Unauthorized");
    /// The caller is known but may not use this route (an administrator's route).
    forbidden => ("forbidden", 403, "Forbidden");
    /// The resource does not exist for this caller (another user's task included).
    not_found => ("not-found", 404, "Not found");
    /// The route exists but not with this method.
    method_not_allowed => ("method-not-allowed", 405, "Method not allowed");
    /// A concurrent request holds the same resource; retrying later will succeed.
    conflict => ("conflict", 409, "Conflict");
    /// `If-Match` named a version that is no longer current.
    precondition_failed => ("precondition-failed", 412, "Precondition failed");
    /// A sync token is older than the changes it relies on are kept: sync again from the start.
    sync_token_expired => ("sync-token-expired", 410, "Sync token expired");
    /// The body exceeds the contract's size limit.
    payload_too_large => ("payload-too-large", 413, "Payload too large");
    /// The body is not JSON (or merge-patch JSON for PATCH).
    unsupported_media_type => ("unsupported-media-type", 415, "Unsupported media type");
    /// The body is well-formed but its content is not acceptable.
    unprocessable => ("unprocessable", 422, "Unprocessable content");
    /// A dependency is throttled or down; retry after the advertised delay.
    service_unavailable => ("service-unavailable", 503, "Service unavailable");
    /// A bug on our side; the detail never leaks internals.
    internal => ("internal", 500, "Internal error");
}

impl Problem {
    /// A validation failure listing every offending field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            kind: "urn:serverless-todo:problem:validation".to_string(),
            title: "Validation failed".to_string(),
            status: 422,
            detail: Some(match errors.len() {
                1 => "1 field is invalid".to_string(),
                n => format!("{n} fields are invalid"),
            }),
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_shape_is_pinned() {
        let p = Problem::validation(vec![FieldError::new(
            "title",
            "required",
            "title is required",
        )]);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({
                "type": "urn:serverless-todo:problem:validation",
                "title": "Validation failed",
                "status": 422,
                "detail": "1 field is invalid",
                "errors": [{"field": "title", "code": "required", "message": "title is required"}]
            })
        );
        let back: Problem = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn simple_problems_omit_errors() {
        let p = Problem::not_found("no task with that id");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["status"], 404);
        assert!(v.get("errors").is_none());
    }
}
