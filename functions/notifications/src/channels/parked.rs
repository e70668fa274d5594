//! A channel's deliveries for later: what its consumer parked (a reminder in its owner's quiet
//! hours) is sent by the channel's own function when due, on a schedule (every minute on AWS,
//! the local cloud's `--schedule-every` locally), so the partition never waits for it.
//!
//! The drain takes what was due when it started, a page at a time, earliest first, until the
//! invocation's deadline: each reminder goes through the same path as a fresh one (settled
//! destinations skipped, the owner's current destinations and quiet hours read again), then is
//! taken off. One that fails for now is parked again at its retry time; one the store could not
//! handle stays parked for the next drain. Nothing due is dropped, nothing settled sent twice.

use std::collections::HashSet;

use aws_lambda_events::event::kafka::KafkaEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;
use todo_lambda::cursor::StartKey;
use todo_lambda::table::TableError;
use todo_schema::Timestamp;
use todo_schema::notification::{Channel, Notification};

use super::delivery::{ChannelConsumer, Outcome, Sender};
use crate::store::{Deliveries, Lane, Parked, Parking};

/// What a channel function is asked to do.
#[derive(Debug)]
pub enum Invocation {
    /// A batch from its MSK mapping.
    Batch(KafkaEvent),
    /// Its schedule's `{"job":"drain-parked"}`.
    Drain,
}

/// The schedule's `Input` (template.yaml, events/schedule/drain-parked.json).
pub const DRAIN_JOB: &str = "drain-parked";

/// Why an invocation's payload was refused.
#[derive(Debug, thiserror::Error)]
#[error("neither an MSK batch nor {{\"job\":\"{DRAIN_JOB}\"}}: {0}")]
pub struct UnknownInvocation(String);

impl Invocation {
    /// Reads an invocation's payload: the schedule's job, or else an MSK batch.
    pub fn of(payload: serde_json::Value) -> Result<Self, UnknownInvocation> {
        if let Some(job) = payload.get("job") {
            return match job.as_str() {
                Some(DRAIN_JOB) => Ok(Self::Drain),
                _ => Err(UnknownInvocation(format!("unknown job {job}"))),
            };
        }
        todo_lambda::kafka::batch_of(payload)
            .map(Self::Batch)
            .map_err(UnknownInvocation)
    }
}

/// What a drain did (the function's answer, and its log line).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    /// Due deliveries gone through and taken off: sent, failed for good, or no longer
    /// wanted.
    pub settled: usize,
    /// Due reminders that failed for now and were parked again for their retry.
    pub parked_again: usize,
    /// Due reminders left for the next drain (the store failed for them).
    pub left: usize,
    /// Whether the deadline came before everything due was gone through (the rest waits for
    /// the next drain).
    pub out_of_time: bool,
}

impl DrainReport {
    /// Logs it and emits it as metrics (`Settled`, `ParkedAgain`, `Left`) of `function`; a
    /// drain that found nothing due (most minutes) only logs at debug level.
    pub fn publish(&self, function: &str) {
        if *self == Self::default() {
            tracing::debug!(function, "nothing parked was due");
            return;
        }
        tracing::info!(function, report = ?self, "drained parked deliveries");
        todo_lambda::metrics::emit(
            function,
            &[
                ("Settled", self.settled),
                ("ParkedAgain", self.parked_again),
                ("Left", self.left),
            ],
        );
    }
}

/// A parked reminder not settled this long after its time is closed as failed: its quiet
/// hours (under a day) and an hour of retries are behind it. Without a bound, a far end that
/// never recovers would be tried every minute forever.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(25);
const GAVE_UP: &str = "gave up: not sent within 25 h of its time";

/// Parked deliveries read per page (every channel's drain).
const PAGE: i32 = 25;

/// How long a reminder held behind a far end that failed earlier in the drain waits.
const HELD: std::time::Duration = std::time::Duration::from_secs(5);

/// One drain of what a channel parked until `now` or earlier: its pages, read one at a time,
/// lane after lane (each earliest first), until nothing due is left or `deadline` comes, and
/// the report of what was done with them. Every channel's drain goes through here, so all stop
/// at their deadline the same way and report alike.
pub struct Drain<'a, S> {
    store: &'a S,
    channel: Channel,
    now: Timestamp,
    deadline: tokio::time::Instant,
    /// The lanes after the one being read.
    lanes: std::collections::VecDeque<Lane>,
    /// The lane being read.
    lane: Lane,
    /// Where the lane's next page starts; `None` once its last page was read.
    next: Option<Option<StartKey>>,
    /// What the channel did with the pages so far (it counts; the drain notes running out of
    /// time).
    pub report: DrainReport,
}

impl<'a, S: Parking> Drain<'a, S> {
    /// From the earliest due delivery on.
    pub fn new(
        store: &'a S,
        channel: Channel,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Self {
        let mut lanes: std::collections::VecDeque<Lane> = Lane::all().collect();
        let lane = lanes.pop_front().unwrap_or(Lane::Unsharded);
        Self {
            store,
            channel,
            now,
            deadline,
            lanes,
            lane,
            next: Some(None),
            report: DrainReport::default(),
        }
    }

    /// The next page; `None` when nothing due is left, or when the deadline has come (then
    /// the report says so).
    pub async fn next_page<T: DeserializeOwned + Send>(
        &mut self,
    ) -> Result<Option<Vec<Parked<T>>>, TableError> {
        let start = loop {
            match self.next.take() {
                Some(start) => break start,
                None => match self.lanes.pop_front() {
                    Some(lane) => {
                        self.lane = lane;
                        self.next = Some(None);
                    }
                    None => return Ok(None),
                },
            }
        };
        if tokio::time::Instant::now() >= self.deadline {
            self.report.out_of_time = true;
            return Ok(None);
        }
        let page = self
            .store
            .parked::<T>(self.channel, self.lane, self.now, PAGE, start)
            .await?;
        self.next = page.next.map(Some);
        Ok(Some(page.items))
    }

    /// The report, published as `function`'s.
    pub fn finish(self, function: &str) -> DrainReport {
        self.report.publish(function);
        self.report
    }
}

impl<S: Deliveries + Parking + Sync, D: Sender + Sync> ChannelConsumer<'_, S, D> {
    /// Sends what this channel parked until `now` or earlier, stopping at `deadline`.
    pub async fn drain(
        &self,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Result<DrainReport, TableError> {
        let mut failed_far_ends = HashSet::new();
        let mut drain = Drain::new(self.store, D::CHANNEL, now, deadline);
        while let Some(page) = drain.next_page::<Notification>().await? {
            for parked in &page {
                let n = &parked.content;
                if now.as_datetime() - n.reminder_at.as_datetime() > GIVE_UP_AFTER {
                    match self.give_up(n, GAVE_UP).await {
                        Ok(()) => {
                            self.store.unpark(parked, D::CHANNEL).await?;
                            drain.report.settled += 1;
                        }
                        Err(reason) => {
                            tracing::warn!(notification = %n.id, %reason, "left parked for the next drain");
                            drain.report.left += 1;
                        }
                    }
                    continue;
                }
                match self.reminder(n, &mut failed_far_ends).await {
                    Ok(Outcome::Settled) => {
                        self.store.unpark(parked, D::CHANNEL).await?;
                        drain.report.settled += 1;
                    }
                    // Quiet again (the owner moved their quiet hours): parked anew by then.
                    Ok(Outcome::Deferred) => drain.report.parked_again += 1,
                    Ok(Outcome::Pending(pending)) => {
                        let soonest = Timestamp::now().after(HELD);
                        let retry_at = pending.retry_at.map_or(soonest, |t| t.max(soonest));
                        self.store.park(D::CHANNEL, n, retry_at).await?;
                        drain.report.parked_again += 1;
                    }
                    Err(reason) => {
                        tracing::warn!(notification = %n.id, %reason, "left parked for the next drain");
                        drain.report.left += 1;
                    }
                }
            }
        }
        Ok(drain.finish(D::NAME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_and_the_mapping_are_told_apart_and_nothing_else_is_taken() {
        assert!(matches!(
            Invocation::of(serde_json::json!({"job": "drain-parked"})),
            Ok(Invocation::Drain)
        ));
        let sample = include_str!("../../../../events/msk/reminders.json");
        assert!(matches!(
            Invocation::of(serde_json::from_str(sample).unwrap()),
            Ok(Invocation::Batch(_))
        ));
        for bad in [
            serde_json::json!({"job": "sweep-reminders"}),
            serde_json::json!({"job": 1}),
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!("drain-parked"),
        ] {
            assert!(Invocation::of(bad.clone()).is_err(), "{bad}");
        }
    }
}
