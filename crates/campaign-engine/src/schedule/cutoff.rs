//! The campaign cut-off: a daily time after which messages not yet delivered wait for the next day.
//!
//! CleverTap (clevertap.md §5.2): "Cut-off: daily boundary; undelivered (throttled/backlogged) messages resume after
//! midnight next day ('Message delivery will pause at 9:00 PM… resume… next day at 12:00 AM')"; the targets API
//! names it `campaign_cutoff: "14:20"` (§1.6).
//!
//! Choices where CleverTap is silent: the clock read is the run's delivery zone (the user's for user-time-zone
//! delivery, the account's otherwise: `Schedule::delivery_zone`); delivery is allowed from 00:00 up to, not
//! including, the cut-off; a cut-off of `"00:00"` would allow nothing and is refused.

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use super::zone::instant;

/// `campaign_cutoff`: delivery pauses at this local time and resumes at the next midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoff(Time);

impl Cutoff {
    /// A cut-off at `time`; `None` for midnight, which would allow no delivery at all.
    pub fn new(time: Time) -> Option<Self> {
        (time != Time::MIN).then_some(Self(time))
    }

    pub fn time(self) -> Time {
        self.0
    }

    /// The first instant at or after `at` when a message may be delivered: `at` itself before the cut-off,
    /// otherwise the start of the next local day (a midnight in a DST gap reads as the first instant after it).
    pub fn next_allowed(self, at: Timestamp, zone: &TimeZone) -> Timestamp {
        let local = zone.to_datetime(at);
        if local.time() < self.0 {
            return at;
        }
        local.date().tomorrow().map_or(Timestamp::MAX, |d| instant(d.to_datetime(Time::MIN), zone))
    }
}
