//! Who is an administrator: a caller whose token puts them in the admin group.
//!
//! The group claim (`cognito:groups` by default, `ADMIN_GROUPS_CLAIM`) and the group
//! (`admin`, `ADMIN_GROUP`) are parameters of the stack, because identity providers name groups
//! differently. The HTTP API's JWT authorizer passes every claim as a string: an array claim
//! such as `["admin", "ops"]` arrives as `[admin ops]` (bracketed, space-separated; measured on
//! API Gateway, see floci-io/floci#2011 and aws-solutions-library-samples/
//! guidance-for-claude-code-with-amazon-bedrock#802). A provider that emits a single string, a
//! comma-separated list or a JSON array text is read the same way; a group name never contains
//! whitespace, brackets, quotes or commas (Cognito's own pattern excludes whitespace).

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use todo_schema::Problem;

use crate::http::{Caller, caller};

/// The admin group rule, read once per process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminPolicy {
    /// The claim that lists the caller's groups.
    pub claim: String,
    /// The group whose members are administrators.
    pub group: String,
}

impl AdminPolicy {
    /// `ADMIN_GROUPS_CLAIM` (default `cognito:groups`) and `ADMIN_GROUP` (default `admin`).
    pub fn from_env() -> &'static Self {
        let read = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Box::leak(Box::new(Self {
            claim: read("ADMIN_GROUPS_CLAIM", "cognito:groups"),
            group: read("ADMIN_GROUP", "admin"),
        }))
    }

    /// The caller when they are an administrator; 401 without a verified subject, 403 for
    /// everyone else.
    pub fn admit(&self, req: &Request) -> Result<Caller, Problem> {
        let caller = caller(req)?;
        let groups = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .and_then(|jwt| jwt.claims.get(&self.claim))
                .map(|v| groups(v))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if groups.iter().any(|g| *g == self.group) {
            Ok(caller)
        } else {
            Err(Problem::forbidden(format!(
                "this route is for members of the {} group",
                self.group
            )))
        }
    }
}

/// The group names in a claim as the authorizer passed it.
pub fn groups(value: &str) -> Vec<&str> {
    let inner = value
        .trim()
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    inner
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|g| g.trim_matches('"'))
        .filter(|g| !g.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_group_list_is_read() {
        assert_eq!(groups("[admin ops]"), ["admin", "ops"]);
        assert_eq!(groups("[admin]"), ["admin"]);
        assert_eq!(groups("admin"), ["admin"]);
        assert_eq!(groups("admin,ops"), ["admin", "ops"]);
        assert_eq!(groups(r#"["admin","ops"]"#), ["admin", "ops"]);
        assert_eq!(groups("[]"), Vec::<&str>::new());
        assert_eq!(groups(""), Vec::<&str>::new());
        // A near miss is no match: the rule compares whole names.
        assert!(!groups("[administrators admin-ish]").contains(&"admin"));
    }
}
