//! The memory backend: the outbox in RAM (`--in-memory`, and tests); nothing survives the process.
//!
//! Every entry lives in one map by id; pending deliveries that are not taken are also in an ordered set of
//! `(due_at, id)`, so [`Outbox::take_due`] and [`Outbox::next_due`] cost O(log n) whatever the queue's size,
//! and dead letters in an ordered set of `(given up at, id)` so listing them does not scan the queue.
//!
//! Memory per queued delivery on a 64-bit target, estimated from struct sizes and checked with a counting
//! allocator in a scratch program (100,000 and 1,000,000 small deliveries: a 14-character id, two profile
//! properties, no event):
//! - the outbox's bookkeeping, about 450 bytes: the boxed `OutboxEntry` (296 since it carries the user's
//!   CleverTap ID and identity; 248 when these figures were measured), the map's slot (key `String`
//!   and `Box`, 32 bytes at a load of 44-87%: 37-73) with the key's copy of the id, and the due set's
//!   `(Timestamp, String)` (40 bytes in B-tree nodes about 2/3 full: ~60) with its own copy of the id;
//! - the delivery's own data, about 710 bytes for such a delivery: four short strings, and the profile, a
//!   `serde_json::Map` whose B-tree node alone is ~630 bytes however few properties it holds.
//!
//! That is 1.11 KB requested from the allocator; with the allocator's headers and rounding the process grew
//! by 1.36 KB per delivery. So 1,000,000 queued small deliveries take about 1.1-1.4 GB, and larger profiles
//! add their properties. A taken delivery moves from the due set to the taken set, at about the same cost.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use clock::Timestamp;
use foldhash::{HashMap, HashSet};

use super::{
    Outbox, OutboxCounts, OutboxError, Tally, describe, in_settle_order, millis, new_entry, stored, whole_millis,
};
use crate::delivery::{AttemptLog, Delivery, DeliveryState, OutboxEntry};

/// The outbox in memory. One mutex guards everything: every operation is a few map and set updates, far
/// shorter than the HTTP attempts around them.
#[derive(Default)]
pub struct MemoryOutbox {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Boxed: a slot of the map is then 32 bytes rather than 272, and the map keeps up to half of its slots
    /// empty after growing, so this halves the bookkeeping of a large queue.
    entries: HashMap<String, Box<OutboxEntry>>,
    /// Pending deliveries that are not taken, by due time then id.
    due: BTreeSet<(Timestamp, String)>,
    /// Taken deliveries (in flight): pending in `entries`, absent from `due`.
    taken: HashSet<String>,
    /// Dead letters, by the millisecond they were given up then id; listed from the end (newest first).
    dead: BTreeSet<(i64, String)>,
    tally: Tally,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held can only come from a bug here, and every change below leaves the
        // maps consistent before anything that could panic; carrying on beats failing every later call.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Takes `id` out of the index its current state puts it in.
    fn unindex(&mut self, id: &str, state: &DeliveryState) {
        match state {
            DeliveryState::Pending { due_at } => {
                if !self.taken.remove(id) {
                    self.due.remove(&(*due_at, id.to_owned()));
                }
            }
            DeliveryState::DeadLetter { at, .. } => {
                self.dead.remove(&(millis(*at), id.to_owned()));
            }
            DeliveryState::Delivered { .. } | DeliveryState::NotSent { .. } => {}
        }
    }

    /// Puts `id` in the index its (new) state calls for; never taken.
    fn index(&mut self, id: &str, state: &DeliveryState) {
        match state {
            DeliveryState::Pending { due_at } => {
                self.due.insert((*due_at, id.to_owned()));
            }
            DeliveryState::DeadLetter { at, .. } => {
                self.dead.insert((millis(*at), id.to_owned()));
            }
            DeliveryState::Delivered { .. } | DeliveryState::NotSent { .. } => {}
        }
    }

    /// Moves `id` to `next`, keeping indexes and tally in step, and records `attempt`.
    fn transition(&mut self, id: &str, attempt: Option<AttemptLog>, next: DeliveryState) -> Result<(), OutboxError> {
        let previous = match self.entries.get(id) {
            Some(entry) => entry.state.clone(),
            None => return Err(OutboxError::UnknownDelivery(id.to_owned())),
        };
        self.unindex(id, &previous);
        self.index(id, &next);
        self.tally.change(&previous, &next);
        if let Some(entry) = self.entries.get_mut(id) {
            entry.attempts.extend(attempt);
            entry.state = next;
        }
        Ok(())
    }
}

impl Outbox for MemoryOutbox {
    fn enqueue(&self, deliveries: Vec<Delivery>, due_at: Timestamp) -> Result<usize, OutboxError> {
        let due_at = whole_millis(due_at);
        let mut inner = self.lock();
        let Inner { entries, due, tally, .. } = &mut *inner;
        let mut new = 0;
        for delivery in deliveries {
            if entries.contains_key(&delivery.id) {
                continue;
            }
            due.insert((due_at, delivery.id.clone()));
            entries.insert(delivery.id.clone(), Box::new(new_entry(delivery, due_at)));
            tally.pending += 1;
            new += 1;
        }
        Ok(new)
    }

    fn take_due(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError> {
        let mut inner = self.lock();
        let Inner { entries, due, taken, .. } = &mut *inner;
        let mut out = Vec::with_capacity(limit.min(due.len()));
        while out.len() < limit && due.first().is_some_and(|(due_at, _)| *due_at <= now) {
            let Some((_, id)) = due.pop_first() else { break };
            if let Some(entry) = entries.get(&id) {
                out.push(OutboxEntry::clone(entry));
            }
            taken.insert(id);
        }
        Ok(out)
    }

    fn settle(&self, id: &str, attempt: Option<AttemptLog>, next: DeliveryState) -> Result<(), OutboxError> {
        self.lock().transition(id, attempt, stored(next))
    }

    fn release(&self, ids: &[String]) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let Inner { entries, due, taken, .. } = &mut *inner;
        for id in ids {
            if !taken.remove(id) {
                continue;
            }
            if let Some(DeliveryState::Pending { due_at }) = entries.get(id).map(|entry| &entry.state) {
                due.insert((*due_at, id.clone()));
            }
        }
        Ok(())
    }

    fn next_due(&self) -> Option<Timestamp> {
        self.lock().due.first().map(|(due_at, _)| *due_at)
    }

    fn get(&self, id: &str) -> Result<Option<OutboxEntry>, OutboxError> {
        Ok(self.lock().entries.get(id).map(|entry| OutboxEntry::clone(entry)))
    }

    fn final_states(&self) -> Result<Vec<(String, DeliveryState)>, OutboxError> {
        let mut states: Vec<(String, DeliveryState)> = self
            .lock()
            .entries
            .iter()
            .filter(|(_, entry)| entry.state.is_final())
            .map(|(id, entry)| (id.clone(), entry.state.clone()))
            .collect();
        in_settle_order(&mut states);
        Ok(states)
    }

    fn dead_letters(&self, webhook: Option<&str>, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError> {
        let inner = self.lock();
        Ok(inner
            .dead
            .iter()
            .rev()
            .filter_map(|(_, id)| inner.entries.get(id))
            .filter(|entry| webhook.is_none_or(|w| entry.delivery.webhook == w))
            .take(limit)
            .map(|entry| OutboxEntry::clone(entry))
            .collect())
    }

    fn replay(&self, id: &str, now: Timestamp) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        match inner.entries.get(id).map(|entry| &entry.state) {
            None => Err(OutboxError::UnknownDelivery(id.to_owned())),
            Some(DeliveryState::DeadLetter { .. }) => {
                if let Some(entry) = inner.entries.get_mut(id) {
                    entry.attempts_before_replay = entry.attempts.len() as u32;
                }
                inner.transition(id, None, DeliveryState::Pending { due_at: whole_millis(now) })
            }
            Some(state) => Err(OutboxError::NotADeadLetter { id: id.to_owned(), state: describe(state).to_owned() }),
        }
    }

    fn counts(&self) -> OutboxCounts {
        let inner = self.lock();
        inner.tally.counts(inner.taken.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::tests::{delivery, t};

    #[test]
    fn a_hundred_thousand_small_deliveries_queue_and_drain_in_due_order() {
        // arrange: 100,000 deliveries in ten batches due a second apart, newest batch first
        let outbox = MemoryOutbox::new();
        for batch in (0..10u32).rev() {
            let deliveries = (0..10_000u32).map(|i| delivery(&format!("d{batch}-{i:05}"), "mail")).collect();
            assert_eq!(outbox.enqueue(deliveries, t(i64::from(batch))).unwrap(), 10_000);
        }
        assert_eq!(outbox.counts().pending, 100_000);
        assert!(
            size_of::<OutboxEntry>() <= 304,
            "an entry grew to {} bytes: update the memory estimate in this module's doc",
            size_of::<OutboxEntry>()
        );
        assert_eq!(outbox.next_due(), Some(t(0)));

        // act: drain everything due by t(4) in chunks, settling each chunk
        let mut taken = Vec::new();
        loop {
            let chunk = outbox.take_due(t(4), 7_000).unwrap();
            if chunk.is_empty() {
                break;
            }
            for entry in &chunk {
                outbox.settle(&entry.delivery.id, None, DeliveryState::Delivered { at: t(4), status: 200 }).unwrap();
            }
            taken.extend(chunk.into_iter().map(|entry| entry.delivery.id));
        }

        // assert: exactly the first five batches, in due order then id order
        assert_eq!(taken.len(), 50_000);
        assert!(taken.windows(2).all(|w| w[0] < w[1]), "not in (due, id) order");
        assert_eq!(taken.first().map(String::as_str), Some("d0-00000"));
        assert_eq!(taken.last().map(String::as_str), Some("d4-09999"));
        let counts = outbox.counts();
        assert_eq!((counts.pending, counts.taken, counts.delivered), (50_000, 0, 50_000));
        assert_eq!(outbox.next_due(), Some(t(5)));
    }
}
