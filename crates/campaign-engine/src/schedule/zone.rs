//! Whose clock a run's wall time is read on: the account's time zone or each user's (profile property `Tz`),
//! and what happens to a user whose time had already passed when the run was published.
//!
//! CleverTap (clevertap.md §5.2): "Account TZ (default) · User TZ (from device location / profile `Tz`; staggered
//! per zone; if the zone's time has passed: Drop the campaign or Deliver the next day)".

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

/// The earliest real UTC offset (Kiribati, UTC+14): a wall time arrives there first, so a user-time-zone run opens
/// there. No IANA zone is ahead of it today, and [`user_zone`] refuses offsets beyond it.
pub const EARLIEST_OFFSET: Offset = Offset::constant(14);
/// The latest real UTC offset (UTC−12, Baker Island): a wall time arrives there last.
pub const LATEST_OFFSET: Offset = Offset::constant(-12);

/// The zone a campaign's wall times are read in (`delivery_timezone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryZone {
    /// Every user at the same instant: the wall time in the account's zone (`"account"`, CleverTap's default).
    #[default]
    Account,
    /// Each user at the wall time in their own zone (`"user"`), staggered across the world.
    User(Passed),
}

/// What a user-time-zone run does for a user whose wall time had already passed when the run was published
/// (`user_timezone_wrap_around`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Passed {
    /// "Drop the campaign" for that user (`user_timezone_wrap_around: false`, our default when it is missing).
    #[default]
    Drop,
    /// "Deliver the next day" at the same wall time (`user_timezone_wrap_around: true`).
    DeliverNextDay,
}

/// The zone of a user: their `Tz` profile property when it is an IANA name (`"Asia/Kolkata"`) or a UTC offset
/// (`"+05:30"`, `"-0800"`, `"+9"`, optionally after `UTC` or `GMT`), otherwise the account's zone.
///
/// CleverTap evaluates user-zone delivery and DND "in user TZ, fallback account TZ" (clevertap.md §5.3). Offsets
/// outside UTC−12..UTC+14 are not real zones and fall back too, so a user-zone run never reaches anyone before it
/// opens at [`EARLIEST_OFFSET`]. IANA names are looked up in the system's time zone database.
pub fn user_zone(tz: Option<&str>, account: &TimeZone) -> TimeZone {
    let Some(tz) = tz.map(str::trim).filter(|s| !s.is_empty()) else { return account.clone() };
    if let Some(offset) = parse_offset(tz) {
        return TimeZone::fixed(offset);
    }
    TimeZone::get(tz).unwrap_or_else(|_| account.clone())
}

/// `±HH:MM`, `±HHMM`, `±H` or `±HH`, optionally after `UTC` or `GMT`; within UTC−12..UTC+14.
fn parse_offset(s: &str) -> Option<Offset> {
    let s = s.strip_prefix("UTC").or_else(|| s.strip_prefix("GMT")).unwrap_or(s);
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let (hours, minutes) = match (rest.split_once(':'), rest.len()) {
        (Some((h, m)), _) if (1..=2).contains(&h.len()) && m.len() == 2 => (h, m),
        (None, 1 | 2) => (rest, "0"),
        (None, 4) => (&rest[..2], &rest[2..]),
        _ => return None,
    };
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    let seconds = sign * (hours * 3600 + minutes * 60);
    let in_range = minutes < 60 && (LATEST_OFFSET.seconds()..=EARLIEST_OFFSET.seconds()).contains(&seconds);
    if in_range { Offset::from_seconds(seconds).ok() } else { None }
}

/// The instant a wall time names in `zone`, with jiff's *compatible* disambiguation (the same as RFC 5545 and
/// `java.time`): a time in a DST gap is read with the offset before the gap (02:30 on a spring-forward night is
/// 03:30 after it), a time in a fold is its first occurrence.
pub(super) fn instant(wall: DateTime, zone: &TimeZone) -> Timestamp {
    // Parsed wall times are within text::YEARS, which every zone can convert; MAX is only a non-panicking fallback.
    zone.to_timestamp(wall).unwrap_or(Timestamp::MAX)
}
