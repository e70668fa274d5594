//! Write sharding of the index keys that every user's entries share: a day (`day_pk`), an
//! operation's day (`op_pk`) and a system actor (`actor_pk` of `system#...`).
//!
//! DynamoDB serves each partition key of a table and of each GSI at most 1,000 write units a
//! second, and a throttled index throttles the table's writes (developer guide, "Key range
//! throughput exceeded (hot partitions)"). Unsharded, one `by-day` key takes every entry of the
//! day, and the reminder sweep's `actor_pk` up to two in three. So each of those keys is
//! written as `<key>#<shard>`, the shard derived from the event id: deterministic, so a
//! redelivered event rewrites the item it wrote before. Readers query every shard and merge
//! (`gather`). Keys that belong to one user (`owner_pk`, `task_pk`, a user's `actor_pk`) move at
//! that user's rate and stay whole.
//!
//! Entries written before sharding keep the unsharded key (the *legacy* key). Readers query it
//! as one more partition, so an upgraded stack finds them without a migration; the legacy
//! partition empties as those entries expire (`AUDIT_RETENTION_DAYS` after the upgrade).

use todo_schema::Actor;
use uuid::Uuid;

use super::actor_key;

/// Shards of each shared key.
///
/// The target is 1,000,000 task events a minute: 16,700 audit entries a second. Every index
/// projects ALL, so an index write costs the entry's size in KB rounded up: 1-3 write units,
/// 2 assumed. `by-day` takes every entry: 16,700 × 2 = 33,400 WCU/s. Every key must stay under
/// half of AWS's 1,000 WCU/s per partition key, 500, so at least 33,400 / 500 = 67 shards.
/// 100 shards put 334 WCU/s on each key, and still 501 at 3 WCU an entry; the hash's
/// imbalance over 167 entries a second per shard is a few percent. `by-operation` and the
/// sweep's `by-actor` key get as many: one operation (a bulk import of creates) or the sweep
/// (two in three of all events) can carry nearly the whole rate.
///
/// Reading costs one Query per shard (plus the legacy key) per day of a search; see
/// `SEARCH_QUERIES_PER_PAGE`. Changing the count moves new entries to other keys: readers must
/// then read both counts' shards for the retention period, so treat it as fixed.
pub const AUDIT_SHARDS: u16 = 100;

/// The shard an event's entry is written to.
pub fn shard_of(event: Uuid) -> u16 {
    todo_lambda::dynamodb::shard_of(event.as_bytes(), AUDIT_SHARDS)
}

/// `<key>#<shard, two digits>`.
pub fn sharded(key: &str, shard: u16) -> String {
    format!("{key}#{shard:02}")
}

/// Every partition a shared key's entries may be under: each shard, then the legacy key.
pub fn partitions(key: &str) -> Vec<String> {
    (0..AUDIT_SHARDS)
        .map(|shard| sharded(key, shard))
        .chain([key.to_string()])
        .collect()
}

/// The `actor_pk` an actor's entry is written under: a user's whole, a system actor's sharded
/// (a system actor acts for every user).
pub fn actor_pk(actor: &Actor, shard: u16) -> String {
    match actor {
        Actor::User { .. } => actor_key(actor),
        Actor::System { .. } => sharded(&actor_key(actor), shard),
    }
}

/// The partitions that hold an actor's entries.
pub fn actor_partitions(actor: &Actor) -> Vec<String> {
    match actor {
        Actor::User { .. } => vec![actor_key(actor)],
        Actor::System { .. } => partitions(&actor_key(actor)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_spread_evenly_over_the_shards() {
        // UUIDv7s of one millisecond differ only in their random bits; of many, in time too.
        for ids in [
            (0..100_000).map(|_| Uuid::now_v7()).collect::<Vec<_>>(),
            (0..100_000u128)
                .map(|i| Uuid::from_u128((0x0192_f0c4_7b7e_7c3a_9d2e << 48) | i))
                .collect(),
        ] {
            let mut per_shard = vec![0usize; usize::from(AUDIT_SHARDS)];
            for id in &ids {
                per_shard[usize::from(shard_of(*id))] += 1;
            }
            let fair = ids.len() / per_shard.len();
            let (least, most) = (per_shard.iter().min(), per_shard.iter().max());
            assert!(
                most <= Some(&(fair * 2)) && least >= Some(&(fair / 2)),
                "shares from {least:?} to {most:?} of a fair {fair}"
            );
        }
    }

    #[test]
    fn shared_keys_are_sharded_and_a_users_stay_whole() {
        let sweep = Actor::System { id: "sweep".into() };
        let user = Actor::User { id: "u1".into() };
        assert_eq!(actor_pk(&sweep, 7), "system#sweep#07");
        assert_eq!(actor_pk(&user, 7), "user#u1");
        assert_eq!(actor_partitions(&user), ["user#u1"]);
        let all = actor_partitions(&sweep);
        assert_eq!(all.len(), usize::from(AUDIT_SHARDS) + 1);
        assert_eq!(all[0], "system#sweep#00");
        assert_eq!(all[99], "system#sweep#99");
        assert_eq!(all[100], "system#sweep", "the legacy key, last");
    }
}
