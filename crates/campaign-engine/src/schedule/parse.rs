//! Reading a `when` from JSON (the targets forms and our extension), refusing what it cannot read with the path of
//! the field at fault.

use jiff::civil::DateTime;
use serde_json::Value;

use super::dnd::{Dnd, DndState, DndWindow, DndZone};
use super::read::{Fields, kind};
use super::text::{self, DATE_TIME, TIME};
use super::{Bound, Cutoff, DeliveryZone, Passed, Schedule, When, Window, parse_recurrence};
use crate::field_error::FieldError;

pub(super) const KEYS: [&str; 11] = [
    "type",
    "delivery_date_time",
    "delivery_timezone",
    "user_timezone_wrap_around",
    "dnd",
    "campaign_cutoff",
    "start",
    "repeat",
    "end",
    "start_date",
    "end_date",
];

/// Keys that belong to one `type` only.
const ONLY_WITH: [(&str, &str); 4] =
    [("delivery_date_time", "later"), ("start", "recurring"), ("repeat", "recurring"), ("end", "recurring")];

pub(super) fn schedule(value: &Value, path: &str) -> Result<Schedule, FieldError> {
    match value {
        Value::String(s) if s == "now" => Ok(Schedule::new(When::Now)),
        Value::String(s) => text::date_time(s)
            .map(|wall| Schedule::new(When::Later(wall)))
            .ok_or_else(|| FieldError::new(path, format!("{s:?} is neither \"now\" nor {DATE_TIME}"))),
        Value::Object(_) => object(value, path),
        other => Err(FieldError::new(path, format!("must be \"now\", {DATE_TIME} or an object, not {}", kind(other)))),
    }
}

fn object(value: &Value, path: &str) -> Result<Schedule, FieldError> {
    let fields = Fields::new(value, path, &KEYS)?;
    let type_ = fields.required("type", "one of now, later, recurring", |s| {
        ["now", "later", "recurring"].into_iter().find(|&t| t == s)
    })?;
    if let Some((key, only)) = ONLY_WITH.into_iter().find(|&(key, only)| only != type_ && fields.get(key).is_some()) {
        return Err(fields.error(key, format!("only with type \"{only}\"")));
    }
    let window = window(&fields)?;
    let when = match type_ {
        "now" => When::Now,
        "later" => later(&fields, window)?,
        _ => When::Recurring(parse_recurrence::recurrence(&fields)?),
    };
    let zone = zone(&fields)?;
    let dnd = fields.get("dnd").map(|v| dnd(v, &fields.at("dnd"))).transpose()?;
    let cutoff = match fields.optional("campaign_cutoff", TIME, text::time)? {
        None => None,
        Some(time) => Some(Cutoff::new(time).ok_or_else(|| {
            fields.error("campaign_cutoff", "\"00:00\" would allow no delivery at all; give a later time of day")
        })?),
    };
    Ok(Schedule { when, zone, window, dnd, cutoff })
}

/// `delivery_date_time`: one wall time or a list; inside the window, without repeats; sorted.
fn later(fields: &Fields<'_>, window: Window) -> Result<When, FieldError> {
    const KEY: &str = "delivery_date_time";
    let path = fields.at(KEY);
    let items: Vec<(String, &Value)> = match fields.get(KEY) {
        None => return Err(fields.error(KEY, format!("required with type \"later\": a list of {DATE_TIME}"))),
        Some(Value::Array(list)) => list.iter().enumerate().map(|(i, v)| (format!("{path}[{i}]"), v)).collect(),
        Some(one @ Value::String(_)) => vec![(path.clone(), one)],
        Some(other) => return Err(fields.error(KEY, format!("must be a list of {DATE_TIME}, not {}", kind(other)))),
    };
    if items.is_empty() {
        return Err(fields.error(KEY, format!("give at least one {DATE_TIME}")));
    }
    let mut walls: Vec<(DateTime, String)> = Vec::with_capacity(items.len());
    for (item_path, value) in items {
        let Value::String(s) = value else {
            return Err(FieldError::new(item_path, format!("must be {DATE_TIME}, not {}", kind(value))));
        };
        let wall =
            text::date_time(s).ok_or_else(|| FieldError::new(&item_path, format!("{s:?} is not {DATE_TIME}")))?;
        if window.is_before(wall) {
            return Err(FieldError::new(item_path, format!("{s} is before start_date")));
        }
        if window.is_after(wall) {
            return Err(FieldError::new(item_path, format!("{s} is after end_date")));
        }
        if let Some((_, first)) = walls.iter().find(|(w, _)| *w == wall) {
            return Err(FieldError::new(item_path, format!("{s} is already given at {first}")));
        }
        walls.push((wall, item_path));
    }
    let mut walls: Vec<DateTime> = walls.into_iter().map(|(w, _)| w).collect();
    walls.sort_unstable();
    Ok(match walls.as_slice() {
        [one] => When::Later(*one),
        _ => When::Dates(walls),
    })
}

/// `delivery_timezone` and `user_timezone_wrap_around` (ignored with the account's zone, where nothing can pass).
fn zone(fields: &Fields<'_>) -> Result<DeliveryZone, FieldError> {
    let user = fields
        .optional("delivery_timezone", "\"account\" or \"user\"", |s| match s {
            "account" => Some(false),
            "user" => Some(true),
            _ => None,
        })?
        .unwrap_or(false);
    let wrap_around = match fields.get("user_timezone_wrap_around") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(fields.error("user_timezone_wrap_around", format!("must be true or false, not {other}")));
        }
    };
    Ok(match (user, wrap_around) {
        (false, _) => DeliveryZone::Account,
        (true, false) => DeliveryZone::User(Passed::Drop),
        (true, true) => DeliveryZone::User(Passed::DeliverNextDay),
    })
}

/// `start_date` and `end_date`, each `"YYYYMMDD"` or `"YYYYMMDD HH:MM"`.
fn window(fields: &Fields<'_>) -> Result<Window, FieldError> {
    let expected = format!("a date \"YYYYMMDD\" or {DATE_TIME}");
    let bound = |key: &str| {
        fields.optional(key, &expected, |s| {
            let day = text::date(s).map(|date| Bound { date, time: None });
            day.or_else(|| text::date_time(s).map(|dt| Bound { date: dt.date(), time: Some(dt.time()) }))
        })
    };
    let window = Window { start: bound("start_date")?, end: bound("end_date")? };
    if let (Some(start), Some(end)) = (window.start, window.end)
        && end.as_end() < start.as_start()
    {
        return Err(fields.error("end_date", "is before start_date"));
    }
    Ok(window)
}

/// The `dnd` object: `message_state`, `dnd_timezone`, and our `from` / `to`.
pub(super) fn dnd(value: &Value, path: &str) -> Result<Dnd, FieldError> {
    let fields = Fields::new(value, path, &["message_state", "dnd_timezone", "from", "to"])?;
    let state = fields.required("message_state", "\"delay\" or \"discard\"", |s| match s {
        "delay" => Some(DndState::Delay),
        "discard" => Some(DndState::Discard),
        _ => None,
    })?;
    let zone = fields
        .optional("dnd_timezone", "\"user\" or \"account\"", |s| match s {
            "user" => Some(DndZone::User),
            "account" => Some(DndZone::Account),
            _ => None,
        })?
        .unwrap_or_default();
    let window =
        match (fields.optional("from", TIME, text::time)?, fields.optional("to", TIME, text::time)?) {
            (None, None) => None,
            (Some(_), None) => return Err(fields.error("to", format!("required with from: {TIME}"))),
            (None, Some(_)) => return Err(fields.error("from", format!("required with to: {TIME}"))),
            (Some(from), Some(to)) => Some(DndWindow::new(from, to).ok_or_else(|| {
                fields.error("to", "is the same as from; a window starts and ends at different times")
            })?),
        };
    Ok(Dnd { window, state, zone })
}
