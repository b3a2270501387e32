//! The campaign window: a start and an end date (and time) outside which a campaign does not run.
//!
//! CleverTap gives live campaigns a "Start date/time (or Now) and End date/time" (clevertap.md §5.2); the targets
//! API cannot express one, so `start_date` / `end_date` are our extension. Both ends are **included**. A bound
//! without a time covers its whole day (from 00:00 for the start, to the end of the day for the end).
//!
//! A scheduled run is in the window when its *wall time* is, in the same frame as the run itself (the account's
//! zone, or every user's own for user-time-zone delivery), so a run belongs to the campaign for everyone or for no
//! one. An instant (a live trigger) is placed in the account's zone.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// The campaign window; no bound means open on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    pub start: Option<Bound>,
    pub end: Option<Bound>,
}

/// One end of the window: a date, and a time of day if one was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub date: Date,
    pub time: Option<Time>,
}

impl Bound {
    /// The first wall time this bound admits as a start.
    pub(super) fn as_start(self) -> DateTime {
        self.date.to_datetime(self.time.unwrap_or(Time::MIN))
    }

    /// The last wall time this bound admits as an end.
    pub(super) fn as_end(self) -> DateTime {
        self.date.to_datetime(self.time.unwrap_or(Time::MAX))
    }
}

impl Window {
    /// Whether a wall time is in the window, both ends included.
    pub fn contains(&self, wall: DateTime) -> bool {
        !self.is_before(wall) && !self.is_after(wall)
    }

    /// Whether an instant is in the window, read in the account's zone.
    pub fn contains_instant(&self, at: Timestamp, account: &TimeZone) -> bool {
        self.contains(account.to_datetime(at))
    }

    /// Whether `wall` comes before the window's start.
    pub(super) fn is_before(&self, wall: DateTime) -> bool {
        self.start.is_some_and(|b| wall < b.as_start())
    }

    /// Whether `wall` comes after the window's end.
    pub(super) fn is_after(&self, wall: DateTime) -> bool {
        self.end.is_some_and(|b| wall > b.as_end())
    }
}
