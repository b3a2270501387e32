//! The durable outbox: deliveries kept with their attempts until settled; a trait, a memory and a SQLite backend.
//!
//! A delivery is stored before the engine's hand-over is acknowledged, so after a crash or restart every
//! unfinished delivery is sent again (at-least-once; receivers deduplicate on the delivery id, which every
//! attempt carries as its `Idempotency-Key`). Final failures stay as dead letters with their reason, and can
//! be listed and replayed.
//!
//! The dispatcher's loop: [`Outbox::take_due`] hands out what is due and leases it (in memory only, so a
//! restart makes everything pending due again); each attempt ends in [`Outbox::settle`] with the next state
//! (a retry's due time, or a final state); [`Outbox::release`] gives back leases without an attempt.
//! [`Outbox::next_due`] tells the simulated clock where to jump. Time is always passed in; nothing here
//! reads the wall clock.
//!
//! Due times have millisecond resolution: they are rounded down to the millisecond when stored (the SQLite
//! column is in milliseconds, and both backends must order and answer alike). Rounding down means a
//! delivery enqueued at `now` is due at `now`, and the instant [`Outbox::next_due`] reports is one at which
//! [`Outbox::take_due`] finds it.

mod memory;
mod sqlite;
#[cfg(test)]
mod tests;

pub use memory::MemoryOutbox;
pub use sqlite::SqliteOutbox;

use clock::Timestamp;
use serde::Serialize;

use crate::delivery::{AttemptLog, Delivery, DeliveryState, OutboxEntry};

/// Where deliveries wait until they are settled.
///
/// Both backends behave identically (one set of behaviour tests runs against each). Orders are total and
/// deterministic: due deliveries come oldest due first, then by id; dead letters newest first (by the
/// millisecond they were given up), then by id descending.
pub trait Outbox: Send + Sync {
    /// Stores new deliveries as `Pending { due_at }` (normally `due_at` is now); a delivery whose id is
    /// already in the outbox is left as it is, whatever its state (the engine may hand the same delivery over
    /// twice). Returns how many were new. Durable when it returns.
    fn enqueue(&self, deliveries: Vec<Delivery>, due_at: Timestamp) -> Result<usize, OutboxError>;

    /// Up to `limit` pending deliveries due at or before `now`, oldest due first, and marks them as taken so
    /// a later call does not return them again until they are settled or released. The lease lives in
    /// memory only: after a restart everything pending is due again (at-least-once).
    fn take_due(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError>;

    /// Records an attempt (when there was one) and the delivery's next state: `Pending { due_at }` for a
    /// retry, or a final state. Ends its lease if it was taken. Durable at the next `flush` (or sooner): a
    /// crash before then loses the settle, and the delivery, pending again, is sent again (at-least-once;
    /// the receiver sees the same `Idempotency-Key`).
    ///
    /// The dispatcher owns the transitions, so any next state is accepted (a delivery may also be settled
    /// without being taken, e.g. `NotSent` for a webhook that no longer exists). An id that is not in the
    /// outbox is [`OutboxError::UnknownDelivery`].
    fn settle(&self, id: &str, attempt: Option<AttemptLog>, next: DeliveryState) -> Result<(), OutboxError>;

    /// Returns taken deliveries to pending, due when they were due, without an attempt (e.g. the dispatcher
    /// is shutting down). Ids that are not taken (settled meanwhile, or unknown) are ignored, so releasing
    /// twice is harmless.
    fn release(&self, ids: &[String]) -> Result<(), OutboxError>;

    /// The earliest due time among pending deliveries that are not taken; `None` when there are none.
    ///
    /// It cannot report an error: the SQLite backend answers `None` if it cannot read the file, and the
    /// dispatcher's next [`Outbox::take_due`] then reports the problem.
    fn next_due(&self) -> Option<Timestamp>;

    /// One delivery, whatever its state.
    fn get(&self, id: &str) -> Result<Option<OutboxEntry>, OutboxError>;

    /// Every delivery in a final state (delivered, dead letter, not sent), by id with that state, in the order
    /// they reached it: by the state's instant, then id. What the engine's reports are rebuilt from after a
    /// restart (the engine does not journal outcomes).
    fn final_states(&self) -> Result<Vec<(String, DeliveryState)>, OutboxError>;

    /// Dead letters, newest first, of one webhook when `webhook` is given, at most `limit`.
    fn dead_letters(&self, webhook: Option<&str>, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError>;

    /// Moves a dead letter back to `Pending { due_at: now }`, keeping its attempts (the next one is numbered
    /// after them). Anything else is [`OutboxError::NotADeadLetter`], naming its state.
    fn replay(&self, id: &str, now: Timestamp) -> Result<(), OutboxError>;

    /// How many deliveries are in each state.
    fn counts(&self) -> OutboxCounts;
    /// Makes every settle so far durable. The dispatcher calls it after each step.
    fn flush(&self) -> Result<(), OutboxError> {
        Ok(())
    }
}

/// How many deliveries are in each state. Every delivery is counted once: a taken one counts as `taken`,
/// not as `pending`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Waiting for their due time, or due and not yet taken.
    pub pending: usize,
    /// Taken by the dispatcher and not yet settled or released: in flight.
    pub taken: usize,
    pub delivered: usize,
    pub dead_letter: usize,
    pub not_sent: usize,
}

/// What can go wrong with the outbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    /// No delivery with this id is in the outbox.
    #[error("unknown delivery {0:?}: it is not in the outbox")]
    UnknownDelivery(String),
    /// Only dead letters can be replayed.
    #[error("delivery {id:?} is not a dead letter, so it cannot be replayed: it is {state}")]
    NotADeadLetter { id: String, state: String },
    /// The SQLite file could not be opened, read or written, or holds something unreadable.
    #[error("outbox storage: {0}")]
    Storage(String),
}

/// A state in words, for messages ("delivered", "not sent").
fn describe(state: &DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending { .. } => "pending",
        DeliveryState::Delivered { .. } => "delivered",
        DeliveryState::DeadLetter { .. } => "a dead letter",
        DeliveryState::NotSent { .. } => "not sent",
    }
}

/// Puts final states in the order [`Outbox::final_states`] answers: by the state's instant, then id.
fn in_settle_order(states: &mut [(String, DeliveryState)]) {
    let at = |state: &DeliveryState| match state {
        DeliveryState::Pending { due_at } => *due_at,
        DeliveryState::Delivered { at, .. }
        | DeliveryState::DeadLetter { at, .. }
        | DeliveryState::NotSent { at, .. } => *at,
    };
    states.sort_by(|(id1, s1), (id2, s2)| (at(s1), id1).cmp(&(at(s2), id2)));
}

/// Milliseconds since the Unix epoch, rounded down (also before 1970, so SQL and memory agree everywhere).
fn millis(t: Timestamp) -> i64 {
    let ms = t.as_nanosecond().div_euclid(1_000_000);
    // A `Timestamp` spans about ±10,000 years, far inside i64 milliseconds.
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// `t` rounded down to the millisecond: the resolution of due times.
fn whole_millis(t: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(millis(t)).unwrap_or(t)
}

/// The state as stored: a pending delivery's due time rounded down to the millisecond.
fn stored(state: DeliveryState) -> DeliveryState {
    match state {
        DeliveryState::Pending { due_at } => DeliveryState::Pending { due_at: whole_millis(due_at) },
        other => other,
    }
}

/// How many stored deliveries are in each state, kept up to date on every change so [`Outbox::counts`]
/// costs nothing. Taken deliveries are counted as pending here; the backends subtract their leases.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    pending: usize,
    delivered: usize,
    dead_letter: usize,
    not_sent: usize,
}

impl Tally {
    fn slot(&mut self, state: &DeliveryState) -> &mut usize {
        match state {
            DeliveryState::Pending { .. } => &mut self.pending,
            DeliveryState::Delivered { .. } => &mut self.delivered,
            DeliveryState::DeadLetter { .. } => &mut self.dead_letter,
            DeliveryState::NotSent { .. } => &mut self.not_sent,
        }
    }

    fn change(&mut self, from: &DeliveryState, to: &DeliveryState) {
        let from = self.slot(from);
        *from = from.saturating_sub(1);
        *self.slot(to) += 1;
    }

    fn counts(&self, taken: usize) -> OutboxCounts {
        OutboxCounts {
            pending: self.pending.saturating_sub(taken),
            taken,
            delivered: self.delivered,
            dead_letter: self.dead_letter,
            not_sent: self.not_sent,
        }
    }
}

/// A new delivery as stored.
fn new_entry(delivery: Delivery, due_at: Timestamp) -> OutboxEntry {
    OutboxEntry { delivery, state: DeliveryState::Pending { due_at }, attempts: Vec::new(), attempts_before_replay: 0 }
}
