//! Do Not Disturb: a daily local time window in which messages are not delivered, and what happens to a message
//! that falls in it.
//!
//! CleverTap (clevertap.md §5.3): "DND: per-day time windows; discard or deliver after DND ends; evaluated in user
//! TZ, fallback account TZ". The targets API's `dnd` object (§1.6) names only `message_state` and `dnd_timezone`,
//! the window being an account setting; `from` / `to` are our extension to give a campaign its own window.
//!
//! Choices where CleverTap is silent: the window includes `from` and excludes `to`; `from` after `to` crosses
//! midnight (22:00–08:00); `from` equal to `to` is refused. `dnd_timezone` defaults to `"user"`.

use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::zone::instant;

/// A campaign's DND settings (the `dnd` object of a `when`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dnd {
    /// The campaign's own window; `None` uses the account's (see [`Dnd::verdict`]).
    pub window: Option<DndWindow>,
    /// `message_state`.
    pub state: DndState,
    /// `dnd_timezone`.
    pub zone: DndZone,
}

/// What happens to a message that falls in the window (`message_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DndState {
    /// `"discard"`: the message is not sent.
    Discard,
    /// `"delay"`: the message is sent when the window ends.
    Delay,
}

/// Whose clock the window is read on (`dnd_timezone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DndZone {
    /// The user's zone, or the account's when the user has none (CleverTap's rule).
    #[default]
    User,
    /// The account's zone.
    Account,
}

/// What DND makes of a message due at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DndVerdict {
    /// Outside the window (or no window): send it.
    Send,
    /// Inside the window, `discard`: drop it.
    Discard,
    /// Inside the window, `delay`: send it at this instant, when the window ends.
    DelayUntil(Timestamp),
}

/// A daily window of local time, `[from, to)`, crossing midnight when `from` is after `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DndWindow {
    from: Time,
    to: Time,
}

impl DndWindow {
    /// The window from `from` to `to`; `None` when they are equal (empty or the whole day: ambiguous).
    pub fn new(from: Time, to: Time) -> Option<Self> {
        (from != to).then_some(Self { from, to })
    }

    pub fn from(self) -> Time {
        self.from
    }

    pub fn to(self) -> Time {
        self.to
    }

    /// Whether `at` is inside the window on `zone`'s clock: `None` outside, `Some(release)` inside, where release is
    /// the first instant after `at` at which the local clock reads `to` or later.
    ///
    /// At DST changes that is the instant the window really ends: when `to` falls in a gap (02:30 on a
    /// spring-forward night) the window ends as the clock jumps over it (at 03:00); when it falls in a fold the
    /// occurrence after `at` is taken (a user inside the window in the repeated hour is released at its second
    /// 01:30, not at the first, which has passed).
    pub fn release(self, at: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let local = zone.to_datetime(at);
        let t = local.time();
        let crosses = self.from > self.to;
        let inside = if crosses { t >= self.from || t < self.to } else { self.from <= t && t < self.to };
        if !inside {
            return None;
        }
        let date = if crosses && t >= self.from { local.date().tomorrow().ok() } else { Some(local.date()) };
        Some(date.map_or(Timestamp::MAX, |d| first_instant_reading(d.to_datetime(self.to), at, zone)))
    }
}

/// The first instant after `at` at which `zone`'s clock reads `wall` or later.
fn first_instant_reading(wall: DateTime, at: Timestamp, zone: &TimeZone) -> Timestamp {
    let ambiguous = zone.to_ambiguous_timestamp(wall);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => {
            // The transition that skips over `wall`: the first one after the instant `wall` would be before it.
            let before_gap = ambiguous.earlier().unwrap_or(at);
            let transition = zone.following(before_gap).next().map(|t| t.timestamp());
            transition.unwrap_or_else(|| instant(wall, zone))
        }
        AmbiguousOffset::Fold { .. } => match ambiguous.earlier() {
            Ok(first) if first > at => first,
            _ => ambiguous.later().unwrap_or(Timestamp::MAX),
        },
        AmbiguousOffset::Unambiguous { .. } => instant(wall, zone),
    }
}

impl Dnd {
    /// Reads `{"from": "22:00", "to": "08:00", "message_state": "delay"|"discard", "dnd_timezone": "user"|"account"}`.
    pub fn parse(json: &serde_json::Value, path: &str) -> Result<Dnd, crate::FieldError> {
        super::parse::dnd(json, path)
    }

    /// What DND makes of a message due at `at` for a user in `user` (their zone, already fallen back to the
    /// account's when unknown: see [`super::user_zone`]); `account_window` is the account's DND hours, used when
    /// the campaign gives none. No window at all means no DND.
    pub fn verdict(
        &self,
        at: Timestamp,
        user: &TimeZone,
        account: &TimeZone,
        account_window: Option<DndWindow>,
    ) -> DndVerdict {
        let Some(window) = self.window.or(account_window) else { return DndVerdict::Send };
        let zone = match self.zone {
            DndZone::User => user,
            DndZone::Account => account,
        };
        match (window.release(at, zone), self.state) {
            (None, _) => DndVerdict::Send,
            (Some(_), DndState::Discard) => DndVerdict::Discard,
            (Some(release), DndState::Delay) => DndVerdict::DelayUntil(release),
        }
    }
}
