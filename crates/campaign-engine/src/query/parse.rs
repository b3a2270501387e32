//! Reading CQL JSON into a [`Query`], refusing what it cannot read with the path of the field at fault.

use serde_json::{Map, Value};

use super::day::parse_day;
use super::filter::{Filter, Operator, Wanted};
use super::{EventPart, Query};
use crate::event::Event;
use crate::field_error::{FieldError, kind};

/// Top-level keys accepted but not evaluated yet.
const UNSUPPORTED_TOP: [&str; 3] = ["session_properties", "demographics", "geo_fields"];
/// Keys of `common_profile_properties` accepted but not evaluated yet.
const UNSUPPORTED_PROFILE: [&str; 2] = ["demographics", "geo_fields"];

const TOP_KEYS: &str = "event_name, from, to, event_properties (or props), common_profile_properties (or \
     common_profile_prop), session_properties, demographics, geo_fields";

fn operator_list() -> String {
    Operator::ALL.map(Operator::name).join(", ")
}

pub(super) fn parse(json: &Value) -> Result<Query, FieldError> {
    let Value::Object(top) = json else {
        return Err(FieldError::new("query", format!("must be a JSON object, not {}", kind(json))));
    };
    if let Some(key) = top.keys().find(|k| !is_top_key(k)) {
        return Err(FieldError::new(key.clone(), format!("unknown field; the fields are {TOP_KEYS}")));
    }
    let mut unsupported = Vec::new();

    let (event_key, event_filters) = one_of(top, "event_properties", "props")?;
    let event_filters = match event_filters {
        Some(v) => Some(filters(v, event_key)?),
        None => None,
    };

    let (profile_key, profile) = one_of(top, "common_profile_properties", "common_profile_prop")?;
    let profile_filters = match profile {
        Some(v) => common_profile(v, profile_key, &mut unsupported)?,
        None => Vec::new(),
    };

    for key in UNSUPPORTED_TOP {
        if top.get(key).is_some_and(|v| !v.is_null()) {
            unsupported.push(key.to_owned());
        }
    }

    let event = event_part(top, event_filters, event_key)?;
    Ok(Query { event, profile_filters, unsupported })
}

fn is_top_key(key: &str) -> bool {
    matches!(
        key,
        "event_name"
            | "from"
            | "to"
            | "event_properties"
            | "props"
            | "common_profile_properties"
            | "common_profile_prop"
    ) || UNSUPPORTED_TOP.contains(&key)
}

/// The value under whichever of two spellings is given (a `null` counts as absent), and the key used.
fn one_of<'a>(
    obj: &'a Map<String, Value>,
    key: &'static str,
    legacy: &'static str,
) -> Result<(&'static str, Option<&'a Value>), FieldError> {
    let given = |k: &str| obj.get(k).filter(|v| !v.is_null());
    match (given(key), given(legacy)) {
        (Some(_), Some(_)) => Err(FieldError::new(legacy, format!("give either {key} or {legacy}, not both"))),
        (Some(v), None) => Ok((key, Some(v))),
        (None, Some(v)) => Ok((legacy, Some(v))),
        (None, None) => Ok((key, None)),
    }
}

/// `event_name`, `from`, `to` and the event-property filters: all or nothing.
fn event_part(
    top: &Map<String, Value>,
    filters: Option<Vec<Filter>>,
    filters_key: &str,
) -> Result<Option<EventPart>, FieldError> {
    let given = |k: &str| top.get(k).filter(|v| !v.is_null());
    let Some(name) = given("event_name") else {
        for key in ["from", "to"] {
            if given(key).is_some() {
                return Err(FieldError::new(key, "needs event_name (the base query is event_name, from and to)"));
            }
        }
        if filters.is_some() {
            return Err(FieldError::new(filters_key, "needs event_name: event property filters apply to an event"));
        }
        return Ok(None);
    };
    let name = match name {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        other => return Err(FieldError::new("event_name", format!("must be a non-empty string, not {}", kind(other)))),
    };
    let day = |key: &str| -> Result<_, FieldError> {
        let value =
            given(key).ok_or_else(|| FieldError::new(key, "required with event_name, as YYYYMMDD (e.g. 20240131)"))?;
        parse_day(value).map_err(|message| FieldError::new(key, message))
    };
    let (from, to) = (day("from")?, day("to")?);
    if from.start > to.start {
        return Err(FieldError::new("to", format!("{} is before from {}", to.date, from.date)));
    }
    Ok(Some(EventPart { key: Event::key(&name), name, from, to, filters: filters.unwrap_or_default() }))
}

/// `common_profile_properties`: `profile_fields` is evaluated; `demographics` and `geo_fields` are noted.
fn common_profile(value: &Value, path: &str, unsupported: &mut Vec<String>) -> Result<Vec<Filter>, FieldError> {
    let Value::Object(obj) = value else {
        return Err(FieldError::new(path, format!("must be an object with profile_fields, not {}", kind(value))));
    };
    if let Some(key) = obj.keys().find(|k| *k != "profile_fields" && !UNSUPPORTED_PROFILE.contains(&k.as_str())) {
        return Err(FieldError::new(
            format!("{path}.{key}"),
            "unknown field; the fields are profile_fields, demographics, geo_fields",
        ));
    }
    for key in UNSUPPORTED_PROFILE {
        if obj.get(key).is_some_and(|v| !v.is_null()) {
            unsupported.push(format!("{path}.{key}"));
        }
    }
    match obj.get("profile_fields") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(fields) => filters(fields, &format!("{path}.profile_fields")),
    }
}

/// A list of `{"name", "operator", "value"}` filters.
pub(crate) fn filters(value: &Value, path: &str) -> Result<Vec<Filter>, FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::new(
            path,
            format!("must be a list of {{\"name\", \"operator\", \"value\"}} filters, not {}", kind(value)),
        ));
    };
    items.iter().enumerate().map(|(i, item)| filter(item, &format!("{path}[{i}]"))).collect()
}

pub(crate) fn filter(value: &Value, path: &str) -> Result<Filter, FieldError> {
    let Value::Object(obj) = value else {
        return Err(FieldError::new(
            path,
            format!("must be a {{\"name\", \"operator\", \"value\"}} object, not {}", kind(value)),
        ));
    };
    if let Some(key) = obj.keys().find(|k| !matches!(k.as_str(), "name" | "operator" | "value")) {
        return Err(FieldError::new(format!("{path}.{key}"), "unknown field; a filter has name, operator, value"));
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(other) => {
            return Err(FieldError::new(
                format!("{path}.name"),
                format!("must be a non-empty string, not {}", kind(other)),
            ));
        }
        None => return Err(FieldError::new(format!("{path}.name"), "required: the property to filter on")),
    };
    // Filters without an operator (legacy `profile_fields`, CleverTap's own examples) mean equals.
    let operator = match obj.get("operator") {
        None | Some(Value::Null) => Operator::Equals,
        Some(Value::String(s)) => Operator::from_name(s).ok_or_else(|| {
            FieldError::new(format!("{path}.operator"), format!("unknown operator {:?}; use {}", s, operator_list()))
        })?,
        Some(other) => {
            return Err(FieldError::new(
                format!("{path}.operator"),
                format!("must be a string, not {}; use {}", kind(other), operator_list()),
            ));
        }
    };
    let value_path = format!("{path}.value");
    let values = match (operator.takes_value(), obj.get("value")) {
        (false, _) => Vec::new(),
        (true, None | Some(Value::Null)) => {
            return Err(FieldError::new(value_path, format!("required for {}", operator.name())));
        }
        (true, Some(Value::Array(list))) => {
            if !operator.takes_list() {
                return Err(FieldError::new(value_path, format!("{} takes one value, not a list", operator.name())));
            }
            if list.is_empty() {
                return Err(FieldError::new(value_path, "an empty list matches nothing; give at least one value"));
            }
            let read = |(i, v): (usize, &Value)| {
                Wanted::from_json(v).ok_or_else(|| {
                    FieldError::new(
                        format!("{value_path}[{i}]"),
                        format!("must be a string, number or boolean, not {}", kind(v)),
                    )
                })
            };
            list.iter().enumerate().map(read).collect::<Result<_, _>>()?
        }
        (true, Some(v)) => vec![Wanted::from_json(v).ok_or_else(|| {
            FieldError::new(
                &value_path,
                format!("must be a string, number, boolean or a list of them, not {}", kind(v)),
            )
        })?],
    };
    if matches!(
        operator,
        Operator::GreaterThan | Operator::GreaterThanEquals | Operator::LessThan | Operator::LessThanEquals
    ) && values.iter().any(|w| !w.is_comparable())
    {
        return Err(FieldError::new(
            value_path,
            format!("{} needs a number, a numeric string or a date ($D_<secs>, YYYYMMDD)", operator.name()),
        ));
    }
    Ok(Filter { name, operator, values })
}
