//! Who may do what: each function's credentials, every request checked against its role, and
//! the ledger of what was allowed (by which statements) and what was denied.
//!
//! Every function runs with credentials of its own (`ASIA...` access key ids, as Lambda's
//! temporary credentials are), so each request it signs says which function sent it. The
//! operator's credentials (`local`, what docs/local-cloud.md exports for `todo-admin`, and what the
//! tests' own clients sign with) are the account's administrator: allowed everything, as an
//! administrator's are. Any other key is refused as AWS refuses an unknown one.
//!
//! The ledger is kept in `<data>/iam/ledger.json`, rewritten whenever something new happens
//! (a statement's first use of an action or resource pattern, a denial), for
//! `todo-local iam-report`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::policy::{Decision, Request, evaluate};
use super::requests::denial_message;
use super::sam::Role;

/// The operator's access key id (and secret): the local account's administrator.
pub const OPERATOR_ACCESS_KEY: &str = "local";

/// A function's credentials, as Lambda puts them in its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not signed at all.
    #[error("Request is missing Authentication Token")]
    MissingToken,
    /// Signed with a key no principal has.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The principal's policies do not allow it (AWS's wording).
    #[error("{message}")]
    AccessDenied { message: String },
}

impl Refusal {
    /// The error code AWS's services give it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingToken => "MissingAuthenticationTokenException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::AccessDenied { .. } => "AccessDeniedException",
        }
    }
}

/// What the ledger holds: the roles, what each statement was needed for, what was denied.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Ledger {
    /// Whether refusals were enforced (`false`: `--no-iam`, recorded but allowed).
    pub enforced: bool,
    pub roles: Vec<Role>,
    /// Function -> statement index -> what of it allowed requests.
    pub used: BTreeMap<String, BTreeMap<usize, Used>>,
    /// Every distinct refusal, with how often it happened.
    pub denied: Vec<Denied>,
}

/// Which action and resource patterns of a statement allowed some request, and who asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Used {
    pub actions: BTreeSet<usize>,
    pub resources: BTreeSet<usize>,
    /// Set when a `NotAction`/`NotResource` statement allowed something.
    pub negated: bool,
    /// What needed it: "request" (the function's own call) or the trigger that needed it.
    pub by: BTreeSet<String>,
}

/// One refused request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Denied {
    pub function: String,
    pub action: String,
    pub resource: String,
    pub explicit: bool,
    pub count: u64,
}

/// The local cloud's IAM.
pub struct Authority {
    roles: Vec<Role>,
    by_key: HashMap<String, usize>,
    enforce: bool,
    ledger: Mutex<Ledger>,
    path: Option<PathBuf>,
}

impl Authority {
    /// The authority over `roles`; `enforce: false` records refusals but lets them through
    /// (debugging); the ledger is kept in `ledger_dir` when given.
    pub fn new(roles: Vec<Role>, enforce: bool, ledger_dir: Option<PathBuf>) -> Self {
        let by_key = roles
            .iter()
            .enumerate()
            .map(|(i, r)| (credentials_of(&r.function).access_key_id, i))
            .collect();
        let ledger = Ledger {
            enforced: enforce,
            roles: roles.clone(),
            ..Ledger::default()
        };
        let authority = Self {
            roles,
            by_key,
            enforce,
            ledger: Mutex::new(ledger),
            path: ledger_dir.map(|d| d.join("ledger.json")),
        };
        authority.save(&authority.lock());
        authority
    }

    /// The credentials `function` runs with.
    pub fn credentials(&self, function: &str) -> Credentials {
        credentials_of(function)
    }

    /// Whether refusals are enforced.
    pub fn enforced(&self) -> bool {
        self.enforce
    }

    /// A function's role, by logical id.
    pub fn role(&self, function: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.function == function)
    }

    /// Checks a call (all its IAM requests) signed with `access_key`: the operator is allowed
    /// everything; a function as its role says.
    pub fn authorize(&self, access_key: Option<&str>, requests: &[Request]) -> Result<(), Refusal> {
        let key = access_key.ok_or(Refusal::MissingToken)?;
        if key == OPERATOR_ACCESS_KEY {
            return Ok(());
        }
        let role = self
            .by_key
            .get(key)
            .map(|i| &self.roles[*i])
            .ok_or(Refusal::UnrecognizedClient)?;
        self.check(role, requests, "request")
    }

    /// Checks what a trigger needs of `function`'s role (Lambda checks the execution role
    /// when a mapping starts polling): `Err` is AWS's message for the first missing grant.
    pub fn check_role(&self, function: &str, requests: &[Request], by: &str) -> Result<(), String> {
        let role = self
            .role(function)
            .ok_or_else(|| format!("{function} has no execution role"))?;
        // A trigger's needs are checked whatever `--no-iam` says: Lambda would not run it.
        self.check_as(role, requests, by, true)
            .map_err(|r| r.to_string())
    }

    fn check(&self, role: &Role, requests: &[Request], by: &str) -> Result<(), Refusal> {
        self.check_as(role, requests, by, self.enforce)
    }

    fn check_as(
        &self,
        role: &Role,
        requests: &[Request],
        by: &str,
        enforce: bool,
    ) -> Result<(), Refusal> {
        let decisions: Vec<(&Request, Decision)> = requests
            .iter()
            .map(|r| (r, evaluate(&role.statements, r)))
            .collect();
        let mut ledger = self.lock();
        let mut changed = false;
        let mut refusal = None;
        for (request, decision) in &decisions {
            let explicit = match decision {
                Decision::Allowed(_) => continue,
                Decision::ExplicitDeny(_) => true,
                Decision::ImplicitDeny => false,
            };
            changed = true;
            match ledger.denied.iter_mut().find(|d| {
                d.function == role.function
                    && d.action == request.action
                    && d.resource == request.resource
            }) {
                Some(d) => d.count += 1,
                None => ledger.denied.push(Denied {
                    function: role.function.clone(),
                    action: request.action.clone(),
                    resource: request.resource.clone(),
                    explicit,
                    count: 1,
                }),
            }
            refusal.get_or_insert(Refusal::AccessDenied {
                message: denial_message(&role.principal(), request, explicit),
            });
        }
        if refusal.is_none() || !enforce {
            for (_, decision) in &decisions {
                let Decision::Allowed(grants) = decision else {
                    continue;
                };
                let used = ledger.used.entry(role.function.clone()).or_default();
                for g in grants {
                    let entry = used.entry(g.statement).or_default();
                    let before = entry.clone();
                    match g.action {
                        Some(a) => {
                            entry.actions.insert(a);
                        }
                        None => entry.negated = true,
                    }
                    match g.resource {
                        Some(r) => {
                            entry.resources.insert(r);
                        }
                        None => entry.negated = true,
                    }
                    entry.by.insert(by.to_string());
                    changed |= *entry != before;
                }
            }
        }
        if changed {
            self.save(&ledger);
        }
        match refusal {
            Some(r) if enforce => {
                if let Refusal::AccessDenied { message } = &r {
                    eprintln!("todo-local: IAM: AccessDenied: {message}");
                }
                Err(r)
            }
            Some(Refusal::AccessDenied { message }) => {
                eprintln!("todo-local: IAM (not enforced): would deny: {message}");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A copy of the ledger as it stands.
    pub fn ledger(&self) -> Ledger {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, ledger: &Ledger) {
        let Some(path) = &self.path else {
            return;
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = path.with_extension("json.tmp");
        if let Ok(text) = serde_json::to_vec_pretty(ledger)
            && std::fs::write(&tmp, text).is_ok()
        {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

/// `function`'s credentials: an `ASIA` key id (Lambda's are temporary credentials) unique to
/// the function, and the same every run.
pub fn credentials_of(function: &str) -> Credentials {
    // FNV-1a: a stable, dependency-free 64-bit digest of the name.
    let digest = function.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Credentials {
        access_key_id: format!("ASIA{digest:016X}"),
        secret_access_key: format!("local-secret-{function}"),
        session_token: format!("local-session-{function}"),
    }
}

/// An endpoint's link to the authority, set once the cloud has read the roles. Unset (the
/// engines the crates' own tests start), the endpoint answers every caller.
#[derive(Clone, Default)]
pub struct Gate(Arc<OnceLock<Arc<Authority>>>);

impl Gate {
    /// From now on, requests are checked by `authority`.
    pub fn set(&self, authority: Arc<Authority>) {
        let _ = self.0.set(authority);
    }

    /// Checks one call from its `Authorization` header and what it asks.
    pub fn check(&self, authorization: Option<&str>, requests: &[Request]) -> Result<(), Refusal> {
        match self.0.get() {
            Some(authority) => {
                authority.authorize(super::requests::access_key(authorization), requests)
            }
            None => Ok(()),
        }
    }

    /// Whether an authority is set.
    pub fn is_set(&self) -> bool {
        self.0.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::policy::Statement;
    use serde_json::json;

    const T: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/T";

    fn authority(enforce: bool) -> Authority {
        let statements = vec![
            Statement::parse(
                &json!({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": [T, format!("{T}/index/*")]}),
                "F Policies[0].Statement[0]".into(),
                false,
            )
            .unwrap(),
        ];
        Authority::new(
            vec![Role {
                function: "F".into(),
                statements,
            }],
            enforce,
            None,
        )
    }

    #[test]
    fn each_function_signs_as_itself() {
        let a = credentials_of("CreateTaskFunction");
        assert_eq!(a.access_key_id.len(), 20);
        assert!(a.access_key_id.starts_with("ASIA"));
        assert_ne!(a, credentials_of("GetTaskFunction"));
        assert_eq!(a, credentials_of("CreateTaskFunction"));
    }

    #[test]
    fn requests_are_refused_as_aws_refuses_them() {
        let iam = authority(true);
        let key = credentials_of("F").access_key_id;
        assert_eq!(iam.authorize(None, &[]), Err(Refusal::MissingToken));
        assert_eq!(
            iam.authorize(Some("AKIAUNKNOWN"), &[]),
            Err(Refusal::UnrecognizedClient)
        );
        assert_eq!(
            iam.authorize(
                Some(OPERATOR_ACCESS_KEY),
                &[Request::new("dynamodb:DeleteTable", T)]
            ),
            Ok(())
        );
        assert_eq!(
            iam.authorize(Some(&key), &[Request::new("dynamodb:GetItem", T)]),
            Ok(())
        );
        let denied = iam
            .authorize(
                Some(&key),
                &[
                    Request::new("dynamodb:PutItem", T),
                    Request::new("dynamodb:DeleteItem", T),
                ],
            )
            .unwrap_err();
        assert_eq!(
            denied.to_string(),
            "User: arn:aws:sts::000000000000:assumed-role/FRole/F is not authorized to perform: dynamodb:DeleteItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/T because no identity-based policy allows the dynamodb:DeleteItem action"
        );
        let ledger = iam.ledger();
        assert_eq!(ledger.denied.len(), 1);
        let used = &ledger.used["F"][&0];
        assert_eq!(
            used.actions,
            BTreeSet::from([0]),
            "the refused call used nothing"
        );
    }

    #[test]
    fn without_enforcement_a_refusal_is_recorded_and_allowed() {
        let iam = authority(false);
        let key = credentials_of("F").access_key_id;
        assert_eq!(
            iam.authorize(Some(&key), &[Request::new("dynamodb:Query", T)]),
            Ok(())
        );
        assert_eq!(iam.ledger().denied[0].action, "dynamodb:Query");
        assert!(
            iam.check_role("F", &[Request::new("dynamodb:Query", T)], "test")
                .is_err(),
            "a trigger's check is never waived"
        );
    }
}
