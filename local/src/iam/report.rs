//! Least privilege, both ways: from the ledger of a run, every request a function was denied
//! (there must be none) and every part of an `Allow` statement of the template that no
//! request needed (there must be none either, unless the template says why beside it).
//!
//! An unused statement is explained by a comment containing `unused locally:` directly above
//! its anchor in `template.yaml`: the `- Sid: <Sid>` line of an inline statement, or the
//! `- <PolicyTemplate>:` line of a policy template. AWS's managed policies, which SAM attaches
//! and AWS writes, are not judged.

use std::collections::HashMap;

use super::authority::{Ledger, Used};
use super::policy::Statement;

/// The marker of an explanation.
pub const EXPLAINED: &str = "unused locally:";

/// What the report found.
#[derive(Debug, Default)]
pub struct Report {
    /// The printable report.
    pub lines: Vec<String>,
    /// Denied requests.
    pub denied: usize,
    /// Unused grants without a comment saying why.
    pub unexplained: usize,
    /// Unused grants with one.
    pub explained: usize,
}

impl Report {
    /// Whether a run is clean: nothing denied, nothing unused without a reason.
    pub fn clean(&self) -> bool {
        self.denied == 0 && self.unexplained == 0
    }
}

/// The report of one or more runs' ledgers (the first one's roles are judged; a statement of
/// another run counts as the same when its function and text are) against the template's text.
pub fn report(ledgers: &[Ledger], template_text: &str) -> Report {
    let mut r = Report::default();
    let Some(first) = ledgers.first() else {
        r.lines.push("no ledger to report on".into());
        r.unexplained = 1;
        return r;
    };
    if ledgers.iter().any(|l| !l.enforced) {
        r.lines
            .push("note: a run did not enforce IAM (--no-iam): refusals were let through".into());
    }
    let used = merged_use(ledgers);
    let denied: Vec<&super::authority::Denied> =
        ledgers.iter().flat_map(|l| l.denied.iter()).collect();
    let mut roles = first.roles.clone();
    roles.sort_by(|a, b| a.function.cmp(&b.function));
    for role in &roles {
        let mut lines = Vec::new();
        for d in denied.iter().filter(|d| d.function == role.function) {
            r.denied += 1;
            lines.push(format!(
                "  DENIED {} on {} ({} time{}{})",
                d.action,
                d.resource,
                d.count,
                if d.count == 1 { "" } else { "s" },
                if d.explicit { ", explicit deny" } else { "" }
            ));
        }
        for s in &role.statements {
            if s.managed || s.effect != super::policy::Effect::Allow {
                continue;
            }
            let u = used.get(&statement_key(&role.function, s));
            let unused = unused_parts(s, u);
            if unused.is_empty() {
                continue;
            }
            let why = explanation(template_text, &role.function, s);
            let what = format!("{} ({})", unused.join("; "), s.origin);
            match why {
                Some(why) => {
                    r.explained += 1;
                    lines.push(format!("  unused, explained: {what}\n      why: {why}"));
                }
                None => {
                    r.unexplained += 1;
                    lines.push(format!("  UNUSED: {what}"));
                }
            }
        }
        if !lines.is_empty() {
            r.lines.push(format!("{}:", role.function));
            r.lines.extend(lines);
        }
    }
    r.lines.push(format!(
        "{} denied request(s), {} unused grant(s) without a reason, {} with one, over {} function(s) and {} run(s)",
        r.denied,
        r.unexplained,
        r.explained,
        roles.len(),
        ledgers.len()
    ));
    r
}

/// A statement's identity across runs: its function and its text.
fn statement_key(function: &str, s: &Statement) -> String {
    format!(
        "{function}\n{}",
        serde_json::to_string(&(&s.effect, &s.actions, &s.resources)).unwrap_or_default()
    )
}

/// What of each statement any run used, by [`statement_key`].
fn merged_use(ledgers: &[Ledger]) -> HashMap<String, Used> {
    let mut merged: HashMap<String, Used> = HashMap::new();
    for ledger in ledgers {
        for role in &ledger.roles {
            let Some(used) = ledger.used.get(&role.function) else {
                continue;
            };
            for (i, u) in used {
                let Some(s) = role.statements.get(*i) else {
                    continue;
                };
                let entry = merged.entry(statement_key(&role.function, s)).or_default();
                entry.actions.extend(&u.actions);
                entry.resources.extend(&u.resources);
                entry.negated |= u.negated;
                entry.by.extend(u.by.iter().cloned());
            }
        }
    }
    merged
}

/// The parts of `s` no request needed: everything when it was never used, else the action
/// and resource patterns that never matched.
fn unused_parts(s: &Statement, used: Option<&Used>) -> Vec<String> {
    let Some(u) = used else {
        return vec![format!(
            "no request needed {} on {}",
            s.actions.patterns.join(", "),
            s.resources.patterns.join(", ")
        )];
    };
    if u.negated {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let actions: Vec<&str> = (0..s.actions.patterns.len())
        .filter(|i| !u.actions.contains(i))
        .map(|i| s.actions.patterns[i].as_str())
        .collect();
    if !actions.is_empty() {
        parts.push(format!("actions never needed: {}", actions.join(", ")));
    }
    let resources: Vec<&str> = (0..s.resources.patterns.len())
        .filter(|i| !u.resources.contains(i))
        .map(|i| s.resources.patterns[i].as_str())
        .collect();
    if !resources.is_empty() {
        parts.push(format!("resources never needed: {}", resources.join(", ")));
    }
    parts
}

/// The `unused locally:` comment above the statement's anchor in the function's block.
fn explanation(template_text: &str, function: &str, s: &Statement) -> Option<String> {
    let lines: Vec<&str> = template_text.lines().collect();
    let start = lines.iter().position(|l| *l == format!("  {function}:"))?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.trim().is_empty())
        .map_or(lines.len(), |p| start + 1 + p);
    let block = &lines[start..end];
    let anchor = match (&s.sid, template_name(&s.origin)) {
        (Some(sid), _) => format!("Sid: {sid}"),
        (None, Some(name)) => format!("{name}:"),
        (None, None) => return None,
    };
    let at = block
        .iter()
        .position(|l| l.trim_start().trim_start_matches("- ") == anchor)?;
    let comments: Vec<&str> = block[..at]
        .iter()
        .rev()
        .take_while(|l| l.trim_start().starts_with('#'))
        .map(|l| l.trim_start().trim_start_matches('#').trim())
        .collect();
    let text = comments.into_iter().rev().collect::<Vec<_>>().join(" ");
    let at = text.to_ascii_lowercase().find(EXPLAINED)?;
    Some(text[at + EXPLAINED.len()..].trim().to_string())
}

/// The policy template a statement came from (`F Policies[1] (Name).Statement[0]`).
fn template_name(origin: &str) -> Option<&str> {
    let open = origin.find(" (")?;
    let close = origin[open..].find(')')?;
    Some(&origin[open + 2..open + close])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::authority::{Authority, credentials_of};
    use crate::iam::policy::Request;
    use crate::iam::sam::role;
    use serde_json::json;

    const TEMPLATE: &str = "Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        # The key is read only when SCRAM is on. Unused locally: the local broker is PLAINTEXT.
        - AWSSecretsManagerGetSecretValuePolicy:
            SecretArn: arn:s
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:PutItem]
              Resource: arn:t
            # unused locally: kafka-cluster actions are the broker's to check.
            - Sid: Kafka
              Effect: Allow
              Action: kafka-cluster:Connect
              Resource: arn:c
            - Sid: Other
              Effect: Allow
              Action: kafka-cluster:ReadData
              Resource: arn:c
  G:
    Type: AWS::Serverless::Function
";

    #[test]
    fn unused_grants_need_a_reason_and_denials_are_listed() {
        let f = role(
            "F",
            &json!({"Policies": [
                {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": "arn:s"}},
                {"Statement": [
                    {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": "arn:t"},
                    {"Sid": "Kafka", "Effect": "Allow", "Action": "kafka-cluster:Connect", "Resource": "arn:c"},
                    {"Sid": "Other", "Effect": "Allow", "Action": "kafka-cluster:ReadData", "Resource": "arn:c"},
                ]},
            ]}),
        )
        .unwrap();
        let iam = Authority::new(vec![f], true, None);
        let key = credentials_of("F").access_key_id;
        iam.authorize(Some(&key), &[Request::new("dynamodb:GetItem", "arn:t")])
            .unwrap();
        let _ = iam.authorize(Some(&key), &[Request::new("dynamodb:Query", "arn:t")]);
        let r = report(&[iam.ledger()], TEMPLATE);
        let text = r.lines.join("\n");
        assert_eq!(r.denied, 1, "{text}");
        assert!(text.contains("DENIED dynamodb:Query on arn:t"), "{text}");
        assert!(
            text.contains("UNUSED: actions never needed: dynamodb:PutItem"),
            "{text}"
        );
        assert!(
            text.contains("UNUSED: no request needed kafka-cluster:ReadData"),
            "{text}"
        );
        assert!(
            text.contains("why: kafka-cluster actions are the broker's to check."),
            "{text}"
        );
        assert!(
            text.contains("why: the local broker is PLAINTEXT."),
            "{text}"
        );
        assert_eq!((r.unexplained, r.explained), (2, 2), "{text}");
        assert!(!r.clean());
    }
}
