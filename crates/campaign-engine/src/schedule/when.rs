//! When a past-behaviour (scheduled) campaign runs: now, later, on several dates, or recurring; and one run of it.
//!
//! CleverTap (clevertap.md §5.2): "Send Now · Schedule for later (date+time) · Multiple dates ('On multiple
//! specified dates and times') · Set as Recurring"; §1.6: `when` is `"now"`, `"YYYYMMDD HH:MM"` or an object with
//! `delivery_date_time: [...]`.

use jiff::civil::DateTime;

use super::recurrence::Recurrence;

/// The kind of schedule. Wall times are read in the delivery zone ([`super::DeliveryZone`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// "Send Now": one run, at the instant the campaign is published. It is the same instant for every user:
    /// CleverTap offers user time zones only for a chosen time, so the delivery zone does not apply.
    Now,
    /// "Schedule for later": one run at this wall time.
    Later(DateTime),
    /// "Multiple dates": one run per wall time, in list order (the parser sorts them and refuses repeats).
    Dates(Vec<DateTime>),
    /// "Set as Recurring".
    Recurring(Recurrence),
}

/// One run of a campaign.
///
/// `index` counts the campaign's runs from 0 in order, inside the campaign window and before the end: run `k` is
/// always the same wall time, whatever instant it was looked up from. A run the campaign was published too late
/// for keeps its index (it is missed, not renumbered), so `After(n)` ends on the same date however late a campaign
/// is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Run {
    pub index: u32,
    /// The wall time of the run in the delivery zone (for [`When::Now`], the publication instant in the account's
    /// zone).
    pub wall: DateTime,
}
