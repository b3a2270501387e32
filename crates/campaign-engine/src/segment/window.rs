//! When a behaviour counts: the last N days before `now`, between two whole UTC days, or ever.

use clock::Timestamp;
use jiff::SignedDuration;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::event::Event;

/// The time window of a `did` / `did_not` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last N days: a rolling window of exactly N × 24 hours ending at `now`, both ends included. The
    /// current, partial day counts: an event an hour ago is "in the last 1 day", and so is one 23 hours ago.
    /// Events stamped after `now` do not count.
    LastDays(u32),
    /// From the start of the first day to the end of the last, both included, as UTC days (as CQL's `from`
    /// and `to`, `query/day.rs`). `now` is not read.
    Between(Date, Date),
    /// Every event the user has, whatever its time.
    Ever,
}

impl Window {
    /// The largest N of [`Window::LastDays`] that JSON may give: 100 years.
    pub const MAX_DAYS: u32 = 36_525;

    /// The instants the window covers at `now`.
    pub(crate) fn bounds(self, now: Timestamp) -> Bounds {
        match self {
            Window::Ever => Bounds { first: Timestamp::MIN, last: Timestamp::MAX },
            Window::LastDays(n) => {
                let span = SignedDuration::from_hours(i64::from(n) * 24);
                Bounds { first: now.checked_sub(span).unwrap_or(Timestamp::MIN), last: now }
            }
            Window::Between(from, to) => {
                let first = day_start(from).unwrap_or(Timestamp::MIN);
                let last = to
                    .tomorrow()
                    .ok()
                    .and_then(day_start)
                    .and_then(|next| next.checked_sub(SignedDuration::from_nanos(1)).ok())
                    .unwrap_or(Timestamp::MAX);
                Bounds { first, last }
            }
        }
    }
}

/// Midnight UTC at the start of `date` (dates at the ends of jiff's range have none).
fn day_start(date: Date) -> Option<Timestamp> {
    date.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// A window made absolute: `first ..= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    first: Timestamp,
    last: Timestamp,
}

impl Bounds {
    /// The events in the window, found by bisection: a user's events are oldest first.
    pub(crate) fn slice(self, events: &[Event]) -> &[Event] {
        let start = events.partition_point(|e| e.ts < self.first);
        let end = events.partition_point(|e| e.ts <= self.last).max(start);
        &events[start..end]
    }
}
