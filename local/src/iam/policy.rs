//! Identity-based policy statements and how IAM evaluates them for one request.
//!
//! The rules (IAM User Guide, "Policy evaluation logic"): a request is denied unless a
//! statement allows it ("By default, all requests are implicitly denied"), and "an explicit
//! deny in any policy overrides any allows". A statement applies when its `Action` (or
//! `NotAction`) and `Resource` (or `NotResource`) cover the request; action names are
//! case-insensitive, resource ARNs case-sensitive, and both take the `*` and `?` wildcards.
//! A `Condition` is refused when the policy is read: the local cloud evaluates no condition
//! keys, and a statement it cannot evaluate must stop the start rather than allow.

use serde_json::Value;

/// Allow or Deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`Resource` (the listed patterns) or `NotAction`/`NotResource` (all but them).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Patterns {
    pub negated: bool,
    pub patterns: Vec<String>,
}

/// One statement of a function's role, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Patterns,
    pub resources: Patterns,
    /// Where the template (or SAM) put it: `Policies[2].Statement[0]`, `AWSLambdaBasicExecutionRole`, ...
    pub origin: String,
    /// Whether it is one of AWS's managed policies (judged by AWS, not by the least-privilege report).
    pub managed: bool,
}

/// One request as IAM sees it: an action on a resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub action: String,
    pub resource: String,
}

impl Request {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
        }
    }
}

/// A statement the local cloud cannot evaluate faithfully.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{origin}: {reason}")]
pub struct PolicyError {
    pub origin: String,
    pub reason: String,
}

/// What IAM decides for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, by these statements (indices into the role's list): each with the index of
    /// the action and resource pattern that matched (`None` under `NotAction`/`NotResource`).
    Allowed(Vec<Grant>),
    /// A Deny statement covers it.
    ExplicitDeny(usize),
    /// No statement allows it.
    ImplicitDeny,
}

/// Which statement, action pattern and resource pattern allowed a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Grant {
    pub statement: usize,
    pub action: Option<usize>,
    pub resource: Option<usize>,
}

impl Statement {
    /// Reads one statement of an identity-based policy (already resolved by CloudFormation's
    /// rules: no intrinsic functions left).
    pub fn parse(value: &Value, origin: String, managed: bool) -> Result<Self, PolicyError> {
        let fail = |reason: String| PolicyError {
            origin: origin.clone(),
            reason,
        };
        let Some(map) = value.as_object() else {
            return Err(fail("a statement must be an object".into()));
        };
        for key in map.keys() {
            match key.as_str() {
                "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" => {}
                "Condition" => {
                    let operators: Vec<&String> = map["Condition"]
                        .as_object()
                        .map(|c| c.keys().collect())
                        .unwrap_or_default();
                    return Err(fail(format!(
                        "Condition {operators:?} is not evaluated by the local cloud; it would allow or deny differently than IAM"
                    )));
                }
                "Principal" | "NotPrincipal" => {
                    return Err(fail(format!(
                        "{key} has no place in an identity-based policy"
                    )));
                }
                other => return Err(fail(format!("unknown statement element {other}"))),
            }
        }
        let effect = match map.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            other => return Err(fail(format!("Effect must be Allow or Deny, not {other:?}"))),
        };
        let actions = patterns(map, "Action", "NotAction").map_err(&fail)?;
        for action in &actions.patterns {
            if action != "*" && !action.contains(':') {
                return Err(fail(format!(
                    "action {action:?} is not of the form service:action"
                )));
            }
        }
        let resources = patterns(map, "Resource", "NotResource").map_err(&fail)?;
        Ok(Self {
            sid: map.get("Sid").and_then(Value::as_str).map(str::to_string),
            effect,
            actions,
            resources,
            origin,
            managed,
        })
    }

    /// Which action and resource pattern cover `request`, if the statement applies to it.
    fn covers(&self, request: &Request) -> Option<(Option<usize>, Option<usize>)> {
        let action = self.actions.find(|p| action_matches(p, &request.action))?;
        let resource = self.resources.find(|p| arn_matches(p, &request.resource))?;
        Some((action, resource))
    }
}

impl Patterns {
    /// `Some(Some(i))`: pattern `i` matches; `Some(None)`: a `Not...` list none of whose
    /// patterns match; `None`: the element does not cover it.
    fn find(&self, matches: impl Fn(&str) -> bool) -> Option<Option<usize>> {
        let hit = self.patterns.iter().position(|p| matches(p));
        match (self.negated, hit) {
            (false, Some(i)) => Some(Some(i)),
            (true, None) => Some(None),
            _ => None,
        }
    }
}

fn patterns(
    map: &serde_json::Map<String, Value>,
    key: &str,
    not_key: &str,
) -> Result<Patterns, String> {
    let (negated, value) = match (map.get(key), map.get(not_key)) {
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        (Some(_), Some(_)) => return Err(format!("both {key} and {not_key}")),
        (None, None) => return Err(format!("no {key}")),
    };
    let patterns = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{key} holds a non-string: {i}"))
            })
            .collect::<Result<_, _>>()?,
        other => return Err(format!("{key} must be a string or a list, not {other}")),
    };
    if patterns.is_empty() {
        return Err(format!("{key} is empty"));
    }
    Ok(Patterns { negated, patterns })
}

/// IAM's decision for `request` under `statements` (one principal's identity-based policies).
pub fn evaluate(statements: &[Statement], request: &Request) -> Decision {
    let mut grants = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let Some((action, resource)) = statement.covers(request) else {
            continue;
        };
        match statement.effect {
            Effect::Deny => return Decision::ExplicitDeny(i),
            Effect::Allow => grants.push(Grant {
                statement: i,
                action,
                resource,
            }),
        }
    }
    if grants.is_empty() {
        Decision::ImplicitDeny
    } else {
        Decision::Allowed(grants)
    }
}

/// Whether an action pattern (`dynamodb:Get*`, `*`) covers `action`; action names are not
/// case-sensitive.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    glob(
        pattern.to_ascii_lowercase().as_bytes(),
        action.to_ascii_lowercase().as_bytes(),
    )
}

/// Whether an IAM resource pattern (`*` and `?` wildcards, any segment) covers `arn`.
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    glob(pattern.as_bytes(), arn.as_bytes())
}

fn glob(p: &[u8], a: &[u8]) -> bool {
    // Iterative wildcard matching with one backtrack point: linear in practice, no recursion
    // depth to exhaust on a long ARN.
    let (mut pi, mut ai) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ai < a.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ai));
                pi += 1;
            }
            Some(b'?') => {
                pi += 1;
                ai += 1;
            }
            Some(c) if *c == a[ai] => {
                pi += 1;
                ai += 1;
            }
            _ => match star {
                Some((sp, sa)) => {
                    pi = sp + 1;
                    ai = sa + 1;
                    star = Some((sp, sa + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement(v: Value) -> Statement {
        Statement::parse(&v, "test".into(), false).unwrap()
    }

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/T";

    #[test]
    fn wildcards_match_as_iam_documents_them() {
        assert!(action_matches("dynamodb:Get*", "dynamodb:GetItem"));
        assert!(action_matches("DynamoDB:getitem", "dynamodb:GetItem"));
        assert!(action_matches("*", "ses:SendEmail"));
        assert!(!action_matches("dynamodb:Get*", "dynamodb:Query"));
        assert!(arn_matches(
            &format!("{TABLE}/index/*"),
            &format!("{TABLE}/index/by-day")
        ));
        assert!(!arn_matches(&format!("{TABLE}/index/*"), TABLE));
        assert!(!arn_matches(TABLE, &format!("{TABLE}/index/by-day")));
        assert!(arn_matches("arn:aws:dynamodb:*:*:table/?", TABLE));
        assert!(
            !arn_matches(&TABLE.to_lowercase(), TABLE),
            "ARNs are case-sensitive"
        );
        assert!(arn_matches("a*b*c", "aXXbYYc"));
        assert!(!arn_matches("a*b*c", "aXXbYY"));
    }

    #[test]
    fn an_allow_is_needed_and_a_deny_wins() {
        let allow = statement(
            json!({"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": TABLE}),
        );
        let deny = statement(json!({"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}));
        let put = Request::new("dynamodb:PutItem", TABLE);
        assert_eq!(
            evaluate(std::slice::from_ref(&allow), &put),
            Decision::Allowed(vec![Grant {
                statement: 0,
                action: Some(0),
                resource: Some(0)
            }])
        );
        assert_eq!(
            evaluate(
                std::slice::from_ref(&allow),
                &Request::new("dynamodb:Query", TABLE)
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(evaluate(&[allow, deny], &put), Decision::ExplicitDeny(1));
    }

    #[test]
    fn not_action_and_not_resource_allow_everything_else() {
        let s = statement(
            json!({"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "NotResource": format!("{TABLE}/index/*")}),
        );
        assert!(matches!(
            evaluate(
                std::slice::from_ref(&s),
                &Request::new("dynamodb:PutItem", TABLE)
            ),
            Decision::Allowed(_)
        ));
        assert_eq!(
            evaluate(
                std::slice::from_ref(&s),
                &Request::new("dynamodb:DeleteItem", TABLE)
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(
                &[s],
                &Request::new("dynamodb:Query", format!("{TABLE}/index/by-day"))
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn what_cannot_be_evaluated_is_refused_with_its_origin() {
        let e = Statement::parse(
            &json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}),
            "Policies[0].Statement[1]".into(),
            false,
        )
        .unwrap_err();
        assert_eq!(e.origin, "Policies[0].Statement[1]");
        assert!(e.reason.contains("StringEquals"), "{e}");
        for bad in [
            json!({"Effect": "Maybe", "Action": "s3:GetObject", "Resource": "*"}),
            json!({"Effect": "Allow", "Resource": "*"}),
            json!({"Effect": "Allow", "Action": "GetObject", "Resource": "*"}),
            json!({"Effect": "Allow", "Action": [], "Resource": "*"}),
            json!({"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:PutObject", "Resource": "*"}),
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}),
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": [1]}),
        ] {
            assert!(Statement::parse(&bad, "x".into(), false).is_err(), "{bad}");
        }
    }
}
