//! Lanes: one webhook's attempts waiting to be sent, and the few tasks (at most the webhook's concurrency)
//! that send them one after another. Queued work is plain data, not a task each: 100,000 due deliveries are
//! 100,000 small queue items and at most `limit` running futures, instead of 100,000 spawned futures of a few
//! KiB each waiting on a semaphore.
//!
//! The queue knows nothing about HTTP. Whoever queues items starts the lanes [`Lanes::push`] asks for; each
//! lane takes items with [`Lanes::next`] until it answers `None`, which also counts the lane out. Both happen
//! under one lock, so an item queued just as the last lane ends starts a new lane rather than waiting.

use std::collections::VecDeque;
use std::sync::Mutex;

/// A queue of `T` and how many lanes are working through it.
#[derive(Debug)]
pub(crate) struct Lanes<T> {
    limit: usize,
    state: Mutex<State<T>>,
}

#[derive(Debug)]
struct State<T> {
    queue: VecDeque<T>,
    running: usize,
    /// No item is handed out any more (the dispatcher is stopping).
    closed: bool,
}

impl<T> Lanes<T> {
    /// At most `limit` lanes at once (at least one).
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit: limit.max(1), state: Mutex::new(State { queue: VecDeque::new(), running: 0, closed: false }) }
    }

    /// Queues `items` behind those already waiting; returns how many lanes the caller must start now (each
    /// then calls [`Lanes::next`] until it answers `None`).
    pub(crate) fn push(&self, items: impl IntoIterator<Item = T>) -> usize {
        let mut state = self.lock();
        state.queue.extend(items);
        let start = (self.limit - state.running).min(state.queue.len());
        state.running += start;
        start
    }

    /// The next item for a running lane, oldest first; `None` when there is none, which ends the lane.
    pub(crate) fn next(&self) -> Option<T> {
        let mut state = self.lock();
        let item = if state.closed { None } else { state.queue.pop_front() };
        if item.is_none() {
            state.running -= 1;
        }
        item
    }

    /// A lane ended without [`Lanes::next`] ending it (it panicked): counts it out, and returns whether the
    /// caller must start a lane in its place because items still wait.
    pub(crate) fn abandoned(&self) -> bool {
        let mut state = self.lock();
        state.running -= 1;
        let restart = !state.queue.is_empty();
        state.running += usize::from(restart);
        restart
    }

    /// Hands out no more items: each lane ends after the item it holds, and the items still waiting are
    /// dropped (their deliveries stay due in the outbox, to be sent after a restart). Returns how many lanes
    /// are still running.
    pub(crate) fn close(&self) -> usize {
        let mut state = self.lock();
        state.closed = true;
        state.queue.clear();
        state.running
    }

    /// Items waiting for a lane, and lanes running.
    #[cfg(test)]
    fn load(&self) -> (usize, usize) {
        let state = self.lock();
        (state.queue.len(), state.running)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushing_starts_one_lane_per_item_up_to_the_limit() {
        let lanes = Lanes::new(3);
        assert_eq!(lanes.push([1, 2]), 2);
        assert_eq!(lanes.push([3, 4, 5]), 1, "only one more fits under the limit of 3");
        assert_eq!(lanes.push([6]), 0);
        assert_eq!(lanes.load(), (6, 3));
    }

    #[test]
    fn lanes_take_items_oldest_first_and_end_when_the_queue_is_empty() {
        let lanes = Lanes::new(2);
        assert_eq!(lanes.push(["a", "b", "c"]), 2);
        assert_eq!([lanes.next(), lanes.next(), lanes.next()], [Some("a"), Some("b"), Some("c")]);
        assert_eq!(lanes.next(), None, "the first lane ends");
        assert_eq!(lanes.load(), (0, 1));
        assert_eq!(lanes.next(), None, "the second lane ends");
        assert_eq!(lanes.load(), (0, 0));
    }

    #[test]
    fn an_item_queued_after_every_lane_ended_starts_a_new_lane() {
        let lanes = Lanes::new(1);
        assert_eq!(lanes.push([1]), 1);
        assert_eq!(lanes.next(), Some(1));
        assert_eq!(lanes.next(), None);
        assert_eq!(lanes.push([2]), 1, "no lane is running, so one starts");
        assert_eq!(lanes.next(), Some(2));
    }

    #[test]
    fn an_item_queued_while_a_lane_runs_at_the_limit_waits_for_that_lane() {
        let lanes = Lanes::new(1);
        assert_eq!(lanes.push([1]), 1);
        assert_eq!(lanes.next(), Some(1));
        assert_eq!(lanes.push([2]), 0, "the running lane takes it");
        assert_eq!(lanes.next(), Some(2));
    }

    #[test]
    fn a_lane_that_panicked_is_replaced_only_while_items_wait() {
        let lanes = Lanes::new(2);
        assert_eq!(lanes.push([1, 2, 3]), 2);
        assert_eq!(lanes.next(), Some(1));
        assert!(lanes.abandoned(), "2 and 3 wait, so a lane takes the place of the one that panicked");
        assert_eq!(lanes.load(), (2, 2));
        assert_eq!([lanes.next(), lanes.next()], [Some(2), Some(3)]);
        assert!(!lanes.abandoned(), "nothing waits");
        assert_eq!(lanes.load(), (0, 1));
    }

    #[test]
    fn a_limit_of_zero_is_one_lane() {
        let lanes = Lanes::new(0);
        assert_eq!(lanes.push([1, 2]), 1);
    }

    #[test]
    fn a_closed_queue_hands_out_nothing_and_lanes_end_after_their_item() {
        let lanes = Lanes::new(2);
        assert_eq!(lanes.push([1, 2, 3, 4]), 2);
        assert_eq!(lanes.next(), Some(1), "a lane holds an item when the queue closes");
        assert_eq!(lanes.close(), 2, "both lanes still run");
        assert_eq!(lanes.next(), None, "the first lane ends after its item");
        assert_eq!(lanes.next(), None, "so does the second, though items were waiting");
        assert_eq!(lanes.load(), (0, 0));
    }
}
