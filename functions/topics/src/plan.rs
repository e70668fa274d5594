//! From what the cluster has to what the stack wants: the changes to make. Pure, so every rule
//! is unit tested; `cluster` only observes and applies.
//!
//! The rules: a missing topic is created with its partitions, replication and retention; an
//! existing one gains partitions and has its retention set, and is never shrunk, re-replicated
//! or deleted. Kafka cannot lower a partition count, and changing replication is a reassignment
//! that moves data, so a request for either keeps what the cluster has and says so, rather than
//! failing: CloudFormation rolls a failed update back by sending the old properties as another
//! update, and a refusal there (the old, lower partition count after a raise) would leave the
//! stack in UPDATE_ROLLBACK_FAILED.

use std::collections::HashMap;

use crate::spec::TopicSpec;

/// An existing topic, as the cluster describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub partitions: i32,
    pub replication_factor: i16,
    /// `retention.ms`, when the cluster reported it.
    pub retention_ms: Option<i64>,
}

/// One change to the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Create(TopicSpec),
    AddPartitions {
        topic: String,
        from: i32,
        to: i32,
    },
    SetRetention {
        topic: String,
        from: Option<i64>,
        to: i64,
    },
}

/// What to do, and what was asked for but is kept as it is (with why).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub kept: Vec<String>,
}

/// The changes that bring `observed` (the wanted topics that exist, by name) to `wanted`:
/// every missing topic is created first, so a change the cluster refuses later (a broker
/// without CreatePartitions) never leaves a topic missing.
pub fn plan(wanted: &[TopicSpec], observed: &HashMap<String, Observed>) -> Plan {
    let mut plan = Plan::default();
    let mut adjustments = Vec::new();
    for spec in wanted {
        let Some(now) = observed.get(&spec.name) else {
            plan.changes.push(Change::Create(spec.clone()));
            continue;
        };
        if spec.partitions < now.partitions {
            plan.kept.push(format!(
                "{} keeps its {} partitions: Kafka cannot lower a partition count (asked for {})",
                spec.name, now.partitions, spec.partitions
            ));
        } else if spec.partitions > now.partitions {
            adjustments.push(Change::AddPartitions {
                topic: spec.name.clone(),
                from: now.partitions,
                to: spec.partitions,
            });
        }
        if spec.replication_factor != now.replication_factor {
            plan.kept.push(format!(
                "{} keeps replication factor {} (asked for {}): changing it is a partition \
                 reassignment (kafka-reassign-partitions.sh), not a stack update",
                spec.name, now.replication_factor, spec.replication_factor
            ));
        }
        if now.retention_ms != Some(spec.retention_ms) {
            adjustments.push(Change::SetRetention {
                topic: spec.name.clone(),
                from: now.retention_ms,
                to: spec.retention_ms,
            });
        }
    }
    plan.changes.extend(adjustments);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, partitions: i32, replication_factor: i16, hours: i64) -> TopicSpec {
        TopicSpec {
            name: name.into(),
            partitions,
            replication_factor,
            retention_ms: hours * 3_600_000,
        }
    }

    fn observed(entries: &[(&str, i32, i16, Option<i64>)]) -> HashMap<String, Observed> {
        entries
            .iter()
            .map(|(n, p, r, ms)| {
                (
                    n.to_string(),
                    Observed {
                        partitions: *p,
                        replication_factor: *r,
                        retention_ms: *ms,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn missing_topics_are_created_and_matching_ones_left_alone() {
        let wanted = [spec("a", 3, 3, 168), spec("b", 1, 3, 720)];
        let p = plan(&wanted, &observed(&[("b", 1, 3, Some(720 * 3_600_000))]));
        assert_eq!(p.changes, [Change::Create(spec("a", 3, 3, 168))]);
        assert_eq!(p.kept, Vec::<String>::new());
        let all_there = observed(&[
            ("a", 3, 3, Some(168 * 3_600_000)),
            ("b", 1, 3, Some(720 * 3_600_000)),
        ]);
        assert_eq!(plan(&wanted, &all_there), Plan::default());
    }

    #[test]
    fn partitions_grow_and_retention_changes_in_place() {
        let p = plan(&[spec("a", 6, 3, 24)], &observed(&[("a", 3, 3, None)]));
        assert_eq!(
            p.changes,
            [
                Change::AddPartitions {
                    topic: "a".into(),
                    from: 3,
                    to: 6
                },
                Change::SetRetention {
                    topic: "a".into(),
                    from: None,
                    to: 24 * 3_600_000
                },
            ]
        );
    }

    #[test]
    fn missing_topics_are_created_before_existing_ones_change() {
        let p = plan(
            &[spec("a", 6, 3, 1), spec("b", 1, 3, 1)],
            &observed(&[("a", 3, 3, Some(3_600_000))]),
        );
        assert_eq!(
            p.changes,
            [
                Change::Create(spec("b", 1, 3, 1)),
                Change::AddPartitions {
                    topic: "a".into(),
                    from: 3,
                    to: 6
                },
            ]
        );
    }

    #[test]
    fn shrinking_or_re_replicating_keeps_the_topic_and_says_why() {
        // The rollback of a partition raise: the old, lower count comes back as an update.
        let p = plan(
            &[spec("a", 2, 3, 1), spec("b", 3, 2, 2)],
            &observed(&[("a", 3, 3, Some(3_600_000)), ("b", 3, 3, Some(3_600_000))]),
        );
        assert_eq!(
            p.changes,
            [Change::SetRetention {
                topic: "b".into(),
                from: Some(3_600_000),
                to: 7_200_000
            }]
        );
        assert_eq!(p.kept.len(), 2, "{:?}", p.kept);
        assert!(p.kept[0].contains("a keeps its 3 partitions"));
        assert!(p.kept[1].contains("b keeps replication factor 3 (asked for 2)"));
    }
}
