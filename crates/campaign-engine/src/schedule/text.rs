//! The text forms of times in a `when`: `"YYYYMMDD HH:MM"` (CleverTap's `delivery_date_time`), `"YYYYMMDD"` and
//! `"HH:MM"` (24-hour), read strictly and printed back the same way.

use jiff::civil::{Date, DateTime, Time};

/// The first and last years a schedule may name. The last leaves room for a run's next-day delivery and for every
/// real UTC offset before jiff's `Timestamp::MAX`, so no conversion of a parsed time can fail.
pub(super) const YEARS: std::ops::RangeInclusive<i16> = 1000..=9998;

/// What a date and time looks like, for error messages.
pub(super) const DATE_TIME: &str = "a date and time \"YYYYMMDD HH:MM\"";
/// What a date looks like, for error messages.
pub(super) const DATE: &str = "a date \"YYYYMMDD\"";
/// What a time of day looks like, for error messages.
pub(super) const TIME: &str = "a time of day \"HH:MM\" (24-hour)";

/// `"20230503 15:20"`: 8 digits, one space, `HH:MM`.
pub(super) fn date_time(s: &str) -> Option<DateTime> {
    let (date_part, time_part) = s.split_once(' ')?;
    Some(date(date_part)?.to_datetime(time(time_part)?))
}

/// `"20230503"`: a real date in [`YEARS`].
pub(super) fn date(s: &str) -> Option<Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i16 = s[0..4].parse().ok()?;
    let month: i8 = s[4..6].parse().ok()?;
    let day: i8 = s[6..8].parse().ok()?;
    if !YEARS.contains(&year) {
        return None;
    }
    Date::new(year, month, day).ok()
}

/// `"15:20"`: two digits, a colon, two digits; 00:00 to 23:59.
pub(super) fn time(s: &str) -> Option<Time> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
        return None;
    }
    let hour: i8 = s[0..2].parse().ok()?;
    let minute: i8 = s[3..5].parse().ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

pub(super) fn print_date_time(dt: DateTime) -> String {
    format!("{} {}", print_date(dt.date()), print_time(dt.time()))
}

pub(super) fn print_date(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

pub(super) fn print_time(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}
