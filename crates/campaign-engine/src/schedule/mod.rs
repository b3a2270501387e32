//! When a campaign runs, as pure functions of the instant asked about: the `when` of a scheduled campaign (now,
//! later, multiple dates, recurring), the delivery time zone, the campaign window, DND, the cut-off, and the delay
//! of a live campaign. Nothing here reads a clock; every function takes `now` (or another instant) from the caller.
//!
//! # The `when` JSON ([`Schedule::parse`], written back by `Serialize`)
//!
//! CleverTap's `/1/targets/create.json` forms (clevertap.md §1.6):
//!
//! ```json
//! "now"
//! "20230503 15:20"
//! {"type": "later", "delivery_date_time": ["20230503 15:20", "20230510 15:20"],
//!  "delivery_timezone": "user", "user_timezone_wrap_around": true,
//!  "dnd": {"message_state": "delay", "dnd_timezone": "user"}, "campaign_cutoff": "14:20"}
//! ```
//!
//! - `type`: `"now"` or `"later"`; `delivery_date_time`: `"YYYYMMDD HH:MM"` wall times (one or a list; several are
//!   "multiple dates", run in time order, repeats refused); `delivery_timezone`: `"account"` (default) or `"user"`;
//!   `user_timezone_wrap_around`: `true` delivers next day to users whose time has passed, `false` (default) drops
//!   them, ignored with the account's zone; `dnd` ([`Dnd`]); `campaign_cutoff`: `"HH:MM"` ([`Cutoff`]).
//!
//! Our extension, for what the targets API cannot express:
//!
//! ```json
//! {"type": "recurring", "start": "20261201 09:00",
//!  "repeat": {"every": 2, "unit": "days"},
//!  "end": {"after": 10}, "delivery_timezone": "account",
//!  "start_date": "20261201", "end_date": "20270630 18:00",
//!  "dnd": {"from": "22:00", "to": "08:00", "message_state": "discard"}}
//! ```
//!
//! - `repeat`: `{"every": N, "unit": "days"}` (N 1–366; CleverTap's UI offers 1–6), `{"every": N, "unit": "weeks",
//!   "weekdays": ["mon", "thu"]}` (N 1–52; `mon`…`sun` or full names), `{"every": N, "unit": "months", "days": [1, 15,
//!   "last"]}` (N 1–12; days 1–31 and `"last"`). `every` defaults to 1. See [`Recurrence`] for the launch-day rules.
//! - `end`: `{"never": true}` (default), `{"on": "YYYYMMDD"}` (included), `{"after": N}` runs.
//! - `start_date` / `end_date` ([`Window`]): `"YYYYMMDD"` or `"YYYYMMDD HH:MM"`, both included, in any `type`. A
//!   `later` date outside them is refused; recurring runs outside them do not happen and are not counted.
//! - `dnd.from` / `dnd.to`: the campaign's own DND window; without them the account's DND hours apply.
//!
//! Unknown keys are refused, naming them; `null` counts as absent; errors name the field as the caller wrote it
//! (`when.delivery_date_time[1]: "2023-05-03" is not a date and time "YYYYMMDD HH:MM"`). Writing back gives the
//! shortest form that reads back to the same schedule: `"now"` and `"YYYYMMDD HH:MM"` when nothing else is set.
//!
//! # Time
//!
//! Wall times are civil (no zone) and read in the delivery zone: the account's `jiff::tz::TimeZone` (the caller's; UTC
//! if it has none) or each user's ([`user_zone`] reads the `Tz` profile property). A wall time in a DST gap or fold
//! is read with jiff's *compatible* disambiguation: a gap moves it forward by the gap (02:30 → 03:30), a fold takes
//! its first occurrence. Dates run from the year 1000 to 9998.
//!
//! - `recurrence`, `when`: the kinds of schedule and their runs' wall times.
//! - `window`: `start_date` / `end_date`.
//! - `zone`: account or user time zone, "time has passed", reading `Tz`.
//! - `runs`: next run, opening instant, each user's delivery instant.
//! - `dnd`, `cutoff`, `delay`: DND windows, the daily cut-off, live-campaign delays.
//! - `parse`, `parse_recurrence`, `serialize`, `read`, `text`: the JSON and text forms.

mod cutoff;
mod delay;
mod dnd;
mod parse;
mod parse_recurrence;
mod read;
mod recurrence;
mod runs;
mod serialize;
#[cfg(test)]
mod tests;
mod text;
mod when;
mod window;
mod zone;

use serde_json::Value;

pub use cutoff::Cutoff;
pub use delay::{Delay, DelayUnit};
pub use dnd::{Dnd, DndState, DndVerdict, DndWindow, DndZone};
pub use recurrence::{End, MonthDay, MonthDays, Recurrence, Repeat, Weekdays};
pub use when::{Run, When};
pub use window::{Bound, Window};
pub use zone::{DeliveryZone, EARLIEST_OFFSET, LATEST_OFFSET, Passed, user_zone};

use crate::field_error::FieldError;

/// A campaign's `when`: what runs, in which zone, inside which window, under which DND and cut-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub when: When,
    /// `delivery_timezone` (and `user_timezone_wrap_around`).
    pub zone: DeliveryZone,
    /// `start_date` / `end_date`.
    pub window: Window,
    pub dnd: Option<Dnd>,
    /// `campaign_cutoff`.
    pub cutoff: Option<Cutoff>,
}

impl Schedule {
    /// `when` in the account's zone, with no window, DND or cut-off.
    pub fn new(when: When) -> Self {
        Self { when, zone: DeliveryZone::Account, window: Window::default(), dnd: None, cutoff: None }
    }

    /// Reads a `when` (see the module docs). `path` is where the caller's JSON holds it (`"when"`), and starts
    /// every error's field path. Never panics, whatever the JSON.
    pub fn parse(json: &Value, path: &str) -> Result<Schedule, FieldError> {
        parse::schedule(json, path)
    }

    /// The `when` as JSON, in the shape [`Schedule::parse`] reads.
    pub fn to_json(&self) -> Value {
        serialize::schedule(self)
    }
}

impl Default for Schedule {
    /// "now".
    fn default() -> Self {
        Self::new(When::Now)
    }
}
