//! A burst handed to worker invocations.
//!
//! The scheduled sweep is small (128 MB: a fourteenth of a vCPU) because it runs all minute,
//! and a sweep is bound by its CPU (about 0.65 ms a reminder, almost all of it the SDK's request
//! path): alone it records about 1,100 reminders in the 10 s between sweeps. A burst (everyone's
//! reminder at 9:00) needs more CPU than that only while it lasts, so the sweep buys it then:
//! each sweep first reads the first page of every shard (its *census*, which it would read
//! anyway), and when more is due than it records alone, it splits the shards into [`Part`]s and
//! hands each to a worker invocation of the sweep-worker function (Lambda's asynchronous
//! Invoke), sized for the work. A worker sweeps its shards until the next sweep is due; what it
//! leaves stays in the index for the next census. A part that cannot be handed on is swept by
//! the sweep itself: nothing is lost, only slower.
//!
//! Shards are spread by task id, so an owner's reminders are in every part: each part gets
//! its owner's share and writes in flight divided by the number of parts, and one owner's
//! thousands still never take more than their turn of a sweep (docs/capacity.md, "The
//! reminder sweep at a burst").

use std::future::Future;

use serde::{Deserialize, Serialize};
use todo_schema::Timestamp;

use crate::store::item::REMINDER_SHARDS;

/// A worker's part of one sweep: the sweep-worker function's event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// The index shards this worker sweeps, each below [`REMINDER_SHARDS`], none twice.
    pub shards: Vec<u8>,
    /// How many parts the sweep was split into: each owner's share of the sweep and writes in
    /// flight are divided by it.
    pub parts: usize,
    /// The sweep's instant: the reminders due at or before it.
    pub now: Timestamp,
    /// When the next sweep starts, in milliseconds since the Unix epoch: the worker takes no
    /// new work after it (the next sweep reads every shard afresh).
    pub until_ms: i64,
}

/// Why a worker refuses a part (its invocation fails, and the error alarm shows it).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadPart {
    #[error("a part names no shard")]
    NoShards,
    #[error("shard {0} is not one of the index's {REMINDER_SHARDS}")]
    NoSuchShard(u8),
    #[error("shard {0} is named twice")]
    Twice(u8),
    #[error("a sweep is split into 1 to {REMINDER_SHARDS} parts, not {0}")]
    Parts(usize),
    /// A part swept at a later instant than the worker's clock would record reminders before
    /// their time (and they would then never go out at it).
    #[error("the part's instant {now} is later than the worker's clock ({clock})")]
    FromTheFuture { now: Timestamp, clock: Timestamp },
}

/// How far a part's instant may be ahead of the worker's clock: the sweep and its workers read
/// Lambda's clock, which is synchronised; this covers the skew between two hosts.
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(5);

impl Part {
    /// Whether the part can be swept as it stands, by a worker whose clock reads `clock`.
    pub fn check(&self, clock: Timestamp) -> Result<(), BadPart> {
        if self.now.as_datetime() > clock.as_datetime() + CLOCK_SKEW {
            return Err(BadPart::FromTheFuture {
                now: self.now,
                clock,
            });
        }
        if self.shards.is_empty() {
            return Err(BadPart::NoShards);
        }
        if self.parts == 0 || self.parts > usize::from(REMINDER_SHARDS) {
            return Err(BadPart::Parts(self.parts));
        }
        let mut seen = [false; 256];
        for &shard in &self.shards {
            if shard >= REMINDER_SHARDS {
                return Err(BadPart::NoSuchShard(shard));
            }
            if std::mem::replace(&mut seen[usize::from(shard)], true) {
                return Err(BadPart::Twice(shard));
            }
        }
        Ok(())
    }
}

/// Hands a part to a worker. The deployed one is Lambda's asynchronous Invoke of the
/// sweep-worker function ([`super::invoke`]).
pub trait Dispatch {
    fn dispatch(&self, part: &Part) -> impl Future<Output = Result<(), DispatchError>> + Send;
}

/// A part that could not be handed on; the sweep sweeps it itself.
#[derive(Debug, thiserror::Error)]
#[error("a sweep part was not handed to a worker: {0}")]
pub struct DispatchError(pub String);

/// No workers: the sweep sweeps everything itself.
pub struct Alone;

impl Dispatch for Alone {
    async fn dispatch(&self, _: &Part) -> Result<(), DispatchError> {
        Err(DispatchError("no sweep workers".into()))
    }
}

/// When a sweep hands its work on, and to how many workers at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fanout {
    /// Workers at most (`SWEEP_WORKERS`; 0: never).
    pub workers: usize,
    /// The most reminders a sweep records itself (`SWEEP_ALONE_UP_TO`): about what it records
    /// in the time between sweeps at its memory.
    pub alone_up_to: usize,
}

impl Fanout {
    /// Never hand on.
    pub const ALONE: Fanout = Fanout {
        workers: 0,
        alone_up_to: usize::MAX,
    };
}

/// What a census saw of one shard: the reminders on its first page, and whether it has more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub shard: u8,
    pub due: usize,
    pub more: bool,
}

/// The shards of each worker's part, or none when the sweep sweeps alone.
///
/// A shard with a second page means a burst far past anything one sweep records alone (the
/// shards are even, so every shard holds about as many), and every worker is called; otherwise
/// a worker for each `alone_up_to` reminders seen. Shards are dealt round the parts in turn, so
/// the parts are even too.
pub fn plan(census: &[Seen], fanout: Fanout) -> Vec<Vec<u8>> {
    let due: usize = census.iter().map(|s| s.due).sum();
    let more = census.iter().any(|s| s.more);
    if fanout.workers == 0 || (!more && due <= fanout.alone_up_to) {
        return Vec::new();
    }
    let wanted = if more {
        fanout.workers
    } else {
        due.div_ceil(fanout.alone_up_to.max(1))
    };
    let with_work: Vec<u8> = census
        .iter()
        .filter(|s| s.due > 0 || s.more)
        .map(|s| s.shard)
        .collect();
    let parts = wanted.clamp(1, fanout.workers).min(with_work.len());
    let mut out = vec![Vec::new(); parts];
    for (i, shard) in with_work.into_iter().enumerate() {
        out[i % parts].push(shard);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(due: &[(usize, bool)]) -> Vec<Seen> {
        due.iter()
            .enumerate()
            .map(|(i, &(due, more))| Seen {
                shard: i as u8,
                due,
                more,
            })
            .collect()
    }

    const EIGHT: Fanout = Fanout {
        workers: 8,
        alone_up_to: 1_000,
    };

    #[test]
    fn up_to_what_it_records_alone_a_sweep_keeps_its_work() {
        assert!(plan(&census(&[(0, false); 128]), EIGHT).is_empty());
        assert!(plan(&census(&[(7, false); 128]), EIGHT).is_empty(), "896");
        assert!(plan(&census(&[(100, true); 128]), Fanout::ALONE).is_empty());
    }

    #[test]
    fn past_it_a_worker_for_each_share_and_every_worker_once_a_shard_has_more() {
        let some = plan(&census(&[(20, false); 128]), EIGHT);
        assert_eq!(some.len(), 3, "2,560 seen: three workers of 1,000");
        let all = plan(&census(&[(100, true); 128]), EIGHT);
        assert_eq!(all.len(), 8);
        let mut shards: Vec<u8> = all.concat();
        shards.sort_unstable();
        assert_eq!(shards, (0..128).collect::<Vec<u8>>(), "every shard once");
        assert!(all.iter().all(|p| p.len() == 16), "even parts");
    }

    #[test]
    fn only_shards_with_work_are_handed_on_and_never_more_parts_than_shards() {
        let mut seen = census(&[(0, false); 128]);
        seen[5] = Seen {
            shard: 5,
            due: 100,
            more: true,
        };
        assert_eq!(plan(&seen, EIGHT), vec![vec![5]]);
    }

    #[test]
    fn a_part_is_checked_before_it_is_swept() {
        let clock: Timestamp = "2031-01-01T09:00:00Z".parse().unwrap();
        let part = |shards: Vec<u8>, parts| Part {
            shards,
            parts,
            now: clock,
            until_ms: 0,
        };
        assert_eq!(part(vec![0, 127], 2).check(clock), Ok(()));
        assert_eq!(part(vec![], 2).check(clock), Err(BadPart::NoShards));
        assert_eq!(
            part(vec![128], 2).check(clock),
            Err(BadPart::NoSuchShard(128))
        );
        assert_eq!(part(vec![3, 3], 2).check(clock), Err(BadPart::Twice(3)));
        assert_eq!(part(vec![3], 0).check(clock), Err(BadPart::Parts(0)));
        assert_eq!(part(vec![3], 129).check(clock), Err(BadPart::Parts(129)));
        // An outside tester's: a part "at" 9999 recorded a reminder due in 15 minutes at once,
        // and it never went out at its time. A worker sweeps no later than its own clock.
        let ahead = |seconds| {
            Timestamp::from_datetime(clock.as_datetime() + chrono::Duration::seconds(seconds))
                .unwrap()
        };
        let mut future = part(vec![3], 1);
        future.now = ahead(6);
        assert!(matches!(
            future.check(clock),
            Err(BadPart::FromTheFuture { .. })
        ));
        future.now = "9999-12-31T23:59:59Z".parse().unwrap();
        assert!(matches!(
            future.check(clock),
            Err(BadPart::FromTheFuture { .. })
        ));
        future.now = ahead(4);
        assert_eq!(future.check(clock), Ok(()), "within the clocks' skew");
    }

    #[test]
    fn a_part_is_read_from_json_and_nothing_else() {
        let ok: Part = serde_json::from_str(
            r#"{"shards":[1,2],"parts":2,"now":"2031-01-01T09:00:00Z","until_ms":1924938010000}"#,
        )
        .unwrap();
        assert_eq!(ok.shards, vec![1, 2]);
        for bad in [
            r#"{"shards":[1],"parts":2,"now":"2031-01-01T09:00:00Z"}"#,
            r#"{"shards":[300],"parts":2,"now":"2031-01-01T09:00:00Z","until_ms":0}"#,
            r#"{"shards":[1],"parts":2,"now":"not a time","until_ms":0}"#,
            r#"{"shards":[1],"parts":2,"now":"2031-01-01T09:00:00Z","until_ms":0,"x":1}"#,
        ] {
            assert!(serde_json::from_str::<Part>(bad).is_err(), "{bad}");
        }
    }
}
