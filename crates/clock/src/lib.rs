//! The one source of time for every tapink component: the wall clock in real mode, a settable clock in
//! simulated mode.
//!
//! Components never read `std::time::SystemTime` themselves; they hold an `Arc<dyn Clock>` and ask it. A
//! scenario run then controls time completely: it sets a [`ManualClock`] to the next due instant, runs what
//! is due, and repeats, so a month of schedules takes no real time and runs the same way every time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub use jiff::Timestamp;

/// Something that tells the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; reads are lock-free.
#[derive(Debug)]
pub struct ManualClock {
    /// Nanoseconds since the Unix epoch. `i64` covers the years 1678 to 2262, which is all a campaign needs.
    nanos: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self { nanos: AtomicI64::new(to_nanos(start)) }
    }

    /// Moves the clock to `to`. Time never goes backwards: an earlier instant is ignored.
    pub fn set(&self, to: Timestamp) {
        self.nanos.fetch_max(to_nanos(to), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(self.nanos.load(Ordering::SeqCst))).unwrap_or(Timestamp::MAX)
    }
}

/// The wall clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn to_nanos(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

/// Formats an instant as RFC 3339 in UTC with millisecond precision, the form every tapink API uses
/// (for example `2026-11-27T07:30:00.123Z`).
pub fn rfc3339(t: Timestamp) -> String {
    // jiff prints the shortest exact fraction; a fixed three digits keeps listings aligned and sortable.
    let ms = t.as_millisecond();
    let t = Timestamp::from_millisecond(ms).unwrap_or(t);
    format!("{t:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        clock.advance(std::time::Duration::from_secs(90));
        assert_eq!(clock.now().to_string(), "2026-01-01T00:01:30Z");
        clock.set(start);
        assert_eq!(clock.now().to_string(), "2026-01-01T00:01:30Z");
    }

    #[test]
    fn rfc3339_has_millisecond_precision_in_utc() {
        let t: Timestamp = "2026-11-27T07:30:00.123456Z".parse().unwrap();
        assert_eq!(rfc3339(t), "2026-11-27T07:30:00.123Z");
        let t: Timestamp = "2026-11-27T07:30:00Z".parse().unwrap();
        assert_eq!(rfc3339(t), "2026-11-27T07:30:00.000Z");
    }
}
