//! Who is an administrator: a caller whose token puts them in the admin group.
//!
//! The group claim (`cognito:groups` by default, `ADMIN_GROUPS_CLAIM`) and the group
//! (`admin`, `ADMIN_GROUP`) are parameters of the stack, because identity providers name groups
//! differently. The HTTP API's JWT authorizer passes every claim as a string: an array claim
//! such as `["admin", "ops"]` arrives as `[admin ops]` (bracketed, space-separated; measured on
//! API Gateway, see floci-io/floci#2011 and aws-solutions-library-samples/
//! guidance-for-claude-code-with-amazon-bedrock#802), and a string claim as it is. So a value
//! in brackets is that list, split at single spaces (a Cognito group name has no whitespace);
//! any other value is one group name. Nothing else is loosened: `"admin"` in quotes,
//! `ops,admin` or ` admin` name other groups than `admin`.

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
    pub fn from_env() -> Self {
        let read = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Self {
            claim: read("ADMIN_GROUPS_CLAIM", "cognito:groups"),
            group: read("ADMIN_GROUP", "admin"),
        }
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
    match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(list) => list.split(' ').filter(|g| !g.is_empty()).collect(),
        None if value.is_empty() => Vec::new(),
        None => vec![value],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_as_api_gateway_flattens_it_or_one_name() {
        assert_eq!(groups("[admin ops]"), ["admin", "ops"]);
        assert_eq!(groups("[admin]"), ["admin"]);
        assert_eq!(groups("admin"), ["admin"]);
        assert_eq!(groups("[]"), Vec::<&str>::new());
        assert_eq!(groups(""), Vec::<&str>::new());
        // Near misses name other groups: the rule compares whole names, loosens nothing.
        for claim in [
            "[administrators admin-ish]",
            "admin,ops",
            "ops,admin",
            "[ops,admin]",
            r#"["admin"]"#,
            "[\"admin\" ops]",
            " admin",
            "admin ",
            "admin\t",
            "[\u{a0}admin]",
            "Admin",
        ] {
            assert!(!groups(claim).contains(&"admin"), "{claim:?}");
        }
    }
}
