//! Turns between owners: the sweep's queue of work, served round-robin by owner with a bound on
//! each owner's writes in flight and a share of each sweep, so one owner's thousands of due
//! reminders never stand in front of another owner's one.
//!
//! Every write of one owner's tasks goes to one partition key of the table (`USER#<sub>`),
//! together with its four local indexes and its entry in the `changes` index: that partition,
//! not the sweep, sets how fast one owner's reminders can be recorded. What one owner cannot
//! use is left to the others.

use std::collections::{HashMap, VecDeque};

/// Owners' queues of work `W`, and whose turn is next.
#[derive(Debug)]
pub struct Turns<W> {
    owners: HashMap<String, Owner<W>>,
    /// Owners with queued work and room for another write, in the order they are served.
    ready: VecDeque<String>,
    queued: usize,
    per_owner: usize,
    share: usize,
}

#[derive(Debug)]
struct Owner<W> {
    queue: VecDeque<W>,
    in_flight: usize,
    /// Work taken from or waiting in the queue this sweep, against the owner's share.
    counted: usize,
    ready: bool,
}

impl<W> Owner<W> {
    fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            in_flight: 0,
            counted: 0,
            ready: false,
        }
    }
}

/// Whether work was queued, or left for the next sweep because its owner's share is used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    Yes,
    OverShare,
}

impl<W> Turns<W> {
    /// Queues where each owner has at most `per_owner` writes in flight and at most `share`
    /// pieces of work counted against its share in one sweep.
    pub fn new(per_owner: usize, share: usize) -> Self {
        Self {
            owners: HashMap::new(),
            ready: VecDeque::new(),
            queued: 0,
            per_owner: per_owner.max(1),
            share,
        }
    }

    /// Queues `work` for `owner`, counted against the owner's share unless `free` (work that
    /// happens once per item, such as setting an unreadable item aside).
    pub fn push(&mut self, owner: &str, work: W, free: bool) -> Queued {
        let share = self.share;
        let owner_state = self
            .owners
            .entry(owner.to_string())
            .or_insert_with(Owner::new);
        if !free {
            if owner_state.counted >= share {
                return Queued::OverShare;
            }
            owner_state.counted += 1;
        }
        owner_state.queue.push_back(work);
        self.queued += 1;
        self.make_ready(owner);
        Queued::Yes
    }

    /// The next piece of work, from the owner whose turn it is; that owner then waits behind
    /// every other owner with work. `None` when every owner with work is at its bound.
    pub fn take_turn(&mut self) -> Option<(String, W)> {
        let owner = self.ready.pop_front()?;
        let state = self.owners.get_mut(&owner)?;
        state.ready = false;
        let work = state.queue.pop_front()?;
        state.in_flight += 1;
        self.queued -= 1;
        self.make_ready(&owner);
        Some((owner, work))
    }

    /// A write of `owner`'s is done: the owner may take its turn again.
    pub fn done(&mut self, owner: &str) {
        if let Some(state) = self.owners.get_mut(owner) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        self.make_ready(owner);
    }

    /// Work queued and not yet taken.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Takes every piece of work still queued (a run stopping at its deadline).
    pub fn drain(&mut self) -> usize {
        let left = self.queued;
        for state in self.owners.values_mut() {
            state.queue.clear();
            state.ready = false;
        }
        self.ready.clear();
        self.queued = 0;
        left
    }

    fn make_ready(&mut self, owner: &str) {
        if let Some(state) = self.owners.get_mut(owner)
            && !state.ready
            && !state.queue.is_empty()
            && state.in_flight < self.per_owner
        {
            state.ready = true;
            self.ready.push_back(owner.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_take_turns_and_a_heavy_owner_waits_behind_everyone_else() {
        let mut turns = Turns::new(2, 10_000);
        for i in 0..1_500 {
            turns.push("heavy", i, false);
        }
        for owner in ["a", "b", "c", "d", "e"] {
            turns.push(owner, 0, false);
        }
        let first: Vec<String> = std::iter::from_fn(|| turns.take_turn().map(|(o, _)| o)).collect();
        // The heavy owner holds its bound of two writes; each other owner gets its turn.
        assert_eq!(first, ["heavy", "a", "b", "c", "d", "e", "heavy"]);
        assert_eq!(turns.take_turn(), None, "the heavy owner is at its bound");
        turns.done("heavy");
        assert_eq!(turns.take_turn(), Some(("heavy".to_string(), 2)));
        assert_eq!(turns.queued(), 1_497);
    }

    #[test]
    fn an_owner_past_its_share_is_left_for_the_next_sweep_except_for_free_work() {
        let mut turns = Turns::new(4, 2);
        assert_eq!(turns.push("heavy", 1, false), Queued::Yes);
        assert_eq!(turns.push("heavy", 2, false), Queued::Yes);
        assert_eq!(turns.push("heavy", 3, false), Queued::OverShare);
        assert_eq!(turns.push("heavy", 4, true), Queued::Yes);
        assert_eq!(turns.push("other", 5, false), Queued::Yes);
        // Taking work does not give the share back: it is a share of the sweep.
        while let Some((owner, _)) = turns.take_turn() {
            turns.done(&owner);
        }
        assert_eq!(turns.push("heavy", 6, false), Queued::OverShare);
        assert_eq!(turns.drain(), 0);
    }
}
