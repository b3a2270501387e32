//! CleverTap's `YYYYMMDD` days (`from`, `to`, and date filter values), as UTC days.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// One calendar day, taken as a UTC day: `[start, start + 1 day)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Day {
    pub(crate) date: Date,
    /// Midnight UTC, in epoch seconds.
    pub(crate) start: i64,
}

impl Day {
    /// The day an integer `YYYYMMDD` names, if it has 8 digits and is a real date.
    pub(crate) fn from_yyyymmdd(n: i64) -> Option<Day> {
        if !(10_000_101..=99_991_231).contains(&n) {
            return None;
        }
        let year = i16::try_from(n / 10_000).ok()?;
        let month = i8::try_from(n / 100 % 100).ok()?;
        let day = i8::try_from(n % 100).ok()?;
        let date = Date::new(year, month, day).ok()?;
        let start = date.to_zoned(TimeZone::UTC).ok()?.timestamp().as_second();
        Some(Day { date, start })
    }

    /// The day a string of exactly 8 digits names, if it is a real date.
    pub(crate) fn from_digits(s: &str) -> Option<Day> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Day::from_yyyymmdd(s.parse().ok()?)
    }

    /// Midnight UTC of the next day, in epoch seconds (the end of this day, exclusive).
    pub(crate) fn end(self) -> i64 {
        self.start + DAY
    }
}

/// `from` / `to`: an integer `YYYYMMDD` or a string of 8 digits, forming a real date. The error is the message.
pub(crate) fn parse_day(value: &Value) -> Result<Day, String> {
    let day = match value {
        Value::Number(n) => n.as_i64().and_then(Day::from_yyyymmdd),
        Value::String(s) => Day::from_digits(s),
        _ => None,
    };
    day.ok_or_else(|| {
        format!("{value} is not a date; give YYYYMMDD as an integer or a string of 8 digits, e.g. 20240131")
    })
}
