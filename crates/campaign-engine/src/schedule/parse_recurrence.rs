//! Reading the recurring extension of a `when`: `start`, `repeat` and `end`.

use std::num::{NonZeroU16, NonZeroU32};

use jiff::civil::{Date, Weekday};
use serde_json::Value;

use super::read::{Fields, kind};
use super::recurrence::{End, MonthDay, MonthDays, Recurrence, Repeat, Weekdays};
use super::text::{self, DATE, DATE_TIME};
use crate::field_error::FieldError;

const WEEKDAYS: [(&str, &str, Weekday); 7] = [
    ("mon", "monday", Weekday::Monday),
    ("tue", "tuesday", Weekday::Tuesday),
    ("wed", "wednesday", Weekday::Wednesday),
    ("thu", "thursday", Weekday::Thursday),
    ("fri", "friday", Weekday::Friday),
    ("sat", "saturday", Weekday::Saturday),
    ("sun", "sunday", Weekday::Sunday),
];

/// The short name a weekday is written back as.
pub(super) fn weekday_name(day: Weekday) -> &'static str {
    WEEKDAYS.iter().find(|(_, _, d)| *d == day).map_or("mon", |(short, _, _)| short)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Days,
    Weeks,
    Months,
}

pub(super) fn recurrence(fields: &Fields<'_>) -> Result<Recurrence, FieldError> {
    let start = fields.required("start", DATE_TIME, text::date_time)?;
    let repeat = match fields.get("repeat") {
        Some(value) => repeat(value, &fields.at("repeat"))?,
        None => {
            return Err(fields.error("repeat", "required with type \"recurring\": {\"every\": N, \"unit\": \"days\"}"));
        }
    };
    let end = match fields.get("end") {
        Some(value) => end(value, &fields.at("end"), start.date())?,
        None => End::Never,
    };
    Ok(Recurrence { start, repeat, end })
}

/// `{"every": N, "unit": "days" | "weeks" | "months", "weekdays": [...] | "days": [...]}`.
fn repeat(value: &Value, path: &str) -> Result<Repeat, FieldError> {
    let fields = Fields::new(value, path, &["every", "unit", "weekdays", "days"])?;
    let unit = fields.required("unit", "one of days, weeks, months", |s| match s.strip_suffix('s').unwrap_or(s) {
        "day" => Some(Unit::Days),
        "week" => Some(Unit::Weeks),
        "month" => Some(Unit::Months),
        _ => None,
    })?;
    if unit != Unit::Weeks && fields.get("weekdays").is_some() {
        return Err(fields.error("weekdays", "only with unit \"weeks\""));
    }
    if unit != Unit::Months && fields.get("days").is_some() {
        return Err(fields.error("days", "only with unit \"months\""));
    }
    let most = match unit {
        Unit::Days => 366,
        Unit::Weeks => 52,
        Unit::Months => 12,
    };
    let every = fields.integer("every", 1..=most)?.unwrap_or(1);
    let every = u16::try_from(every).ok().and_then(NonZeroU16::new).unwrap_or(NonZeroU16::MIN);
    Ok(match unit {
        Unit::Days => Repeat::Days { every },
        Unit::Weeks => {
            let on = list(&fields, "weekdays", "a weekday (mon, tue, … sun)", |v| {
                let name = v.as_str()?.to_ascii_lowercase();
                WEEKDAYS.iter().find(|(short, long, _)| name == *short || name == *long).map(|(_, _, d)| *d)
            })?;
            Repeat::Weeks { every, on: Weekdays::new(on) }
        }
        Unit::Months => {
            let on = list(&fields, "days", "a day of the month from 1 to 31, or \"last\"", |v| match v {
                Value::String(s) if s == "last" => Some(MonthDay::Last),
                Value::Number(n) => {
                    n.as_u64().filter(|d| (1..=31).contains(d)).and_then(|d| u8::try_from(d).ok()).map(MonthDay::Day)
                }
                _ => None,
            })?;
            Repeat::Months { every, on: MonthDays::new(on) }
        }
    })
}

/// A required, non-empty list under `key`, each item read by `read`.
fn list<T>(
    fields: &Fields<'_>,
    key: &str,
    expected: &str,
    read: impl Fn(&Value) -> Option<T>,
) -> Result<Vec<T>, FieldError> {
    let path = fields.at(key);
    match fields.get(key) {
        None => Err(fields.error(key, format!("required: a list of {expected}"))),
        Some(Value::Array(items)) if items.is_empty() => Err(fields.error(key, format!("give at least {expected}"))),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                read(v).ok_or_else(|| FieldError::new(format!("{path}[{i}]"), format!("{v} is not {expected}")))
            })
            .collect(),
        Some(other) => Err(fields.error(key, format!("must be a list of {expected}, not {}", kind(other)))),
    }
}

/// Exactly one of `{"never": true}`, `{"on": "YYYYMMDD"}` (not before the start), `{"after": N}`.
fn end(value: &Value, path: &str, start: Date) -> Result<End, FieldError> {
    const ONE_OF: &str = "give one of {\"never\": true}, {\"on\": \"YYYYMMDD\"}, {\"after\": N}";
    let fields = Fields::new(value, path, &["never", "on", "after"])?;
    let given: Vec<&str> = ["never", "on", "after"].into_iter().filter(|k| fields.get(k).is_some()).collect();
    match given.as_slice() {
        [] => Err(FieldError::new(path, ONE_OF)),
        [_, second, ..] => Err(fields.error(second, "give only one of never, on, after")),
        ["never"] => match fields.get("never") {
            Some(Value::Bool(true)) => Ok(End::Never),
            _ => Err(fields.error("never", "must be true; to end, give on or after instead")),
        },
        ["on"] => {
            let on = fields.required("on", DATE, text::date)?;
            if on < start {
                return Err(fields.error("on", "is before the start date"));
            }
            Ok(End::On(on))
        }
        _ => {
            let n = fields.integer("after", 1..=u64::from(u32::MAX))?;
            n.and_then(|n| u32::try_from(n).ok())
                .and_then(NonZeroU32::new)
                .map(End::After)
                .ok_or_else(|| fields.error("after", "required: a number of runs"))
        }
    }
}
