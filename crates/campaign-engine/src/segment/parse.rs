//! Reading segment JSON into a [`Segment`], refusing what it cannot read with the path of the field at fault
//! (`all[1].did.count.operator`). Never panics, whatever the JSON.

use serde_json::{Map, Value};

use crate::field_error::{FieldError, kind};
use crate::query::day::parse_day;
use crate::query::parse as cql;

use super::{Aggregate, Comparison, Cql, EventRule, Measure, Segment, Window};

/// The keys of a segment node; each node has exactly one.
const NODE_KEYS: &str = "all, any, did, did_not, profile, include_segment, exclude_segment, cql";
const WINDOW_KEYS: [&str; 3] = ["last_days", "between", "ever"];
const MEASURE_KEYS: [&str; 3] = ["count", "sum", "average"];
/// CleverTap's wording of the option, as a key.
pub(super) const INCLUDE_NON_DOERS: &str = "include_users_who_did_not_do_the_event";

pub(super) use crate::field_error::join;

/// The path of a node for its own errors; the top-level node is `segment`.
fn here(path: &str) -> &str {
    if path.is_empty() { "segment" } else { path }
}

pub(super) fn segment(value: &Value, path: &str) -> Result<Segment, FieldError> {
    let Value::Object(obj) = value else {
        return Err(FieldError::new(
            here(path),
            format!("must be an object with one of {NODE_KEYS}, not {}", kind(value)),
        ));
    };
    let mut entries = obj.iter();
    let (Some((key, inner)), None) = (entries.next(), entries.next()) else {
        if obj.is_empty() {
            return Err(FieldError::new(here(path), format!("is empty; give one of {NODE_KEYS}")));
        }
        if let Some(unknown) = obj.keys().find(|k| !is_node_key(k)) {
            return Err(unknown_node_key(path, unknown));
        }
        let given: Vec<&str> = obj.keys().map(String::as_str).collect();
        return Err(FieldError::new(
            here(path),
            format!("has {}; give one key per segment and combine segments with all or any", given.join(" and ")),
        ));
    };
    let at = join(path, key);
    match key.as_str() {
        "all" => Ok(Segment::All(list(inner, &at, true)?)),
        "any" => Ok(Segment::Any(list(inner, &at, false)?)),
        "did" => did(inner, &at, true),
        "did_not" => did(inner, &at, false),
        "profile" => Ok(Segment::Profile(cql::filter(inner, &at)?)),
        "include_segment" => Ok(Segment::IncludeSegment(id(inner, &at)?)),
        "exclude_segment" => Ok(Segment::ExcludeSegment(id(inner, &at)?)),
        "cql" => Cql::parse(inner).map(Segment::Cql).map_err(|e| {
            // `query` is how the query parser names the query as a whole.
            let inside = if e.path == "query" { at.clone() } else { join(&at, &e.path) };
            FieldError::new(inside, e.message)
        }),
        _ => Err(unknown_node_key(path, key)),
    }
}

fn is_node_key(key: &str) -> bool {
    NODE_KEYS.split(", ").any(|k| k == key)
}

fn unknown_node_key(path: &str, key: &str) -> FieldError {
    FieldError::new(join(path, key), format!("unknown key; a segment is one of {NODE_KEYS}"))
}

/// The children of `all` (may be empty: everyone) or `any` (may not: it would match no one).
fn list(value: &Value, path: &str, empty_ok: bool) -> Result<Vec<Segment>, FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::new(path, format!("must be a list of segments, not {}", kind(value))));
    };
    if items.is_empty() && !empty_ok {
        return Err(FieldError::new(path, "an empty any matches no one; give at least one segment"));
    }
    items.iter().enumerate().map(|(i, item)| segment(item, &format!("{path}[{i}]"))).collect()
}

fn id(value: &Value, path: &str) -> Result<String, FieldError> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        other => {
            Err(FieldError::new(path, format!("must be a saved segment's id, a non-empty string, not {}", kind(other))))
        }
    }
}

/// `did` (`measured`: may have a count, sum or average) or `did_not`.
fn did(value: &Value, path: &str, measured: bool) -> Result<Segment, FieldError> {
    let Value::Object(obj) = value else {
        return Err(FieldError::new(path, format!("must be an object with event and a window, not {}", kind(value))));
    };
    let allowed =
        |k: &str| matches!(k, "event" | "where") || WINDOW_KEYS.contains(&k) || (measured && MEASURE_KEYS.contains(&k));
    if let Some(key) = obj.keys().find(|k| !allowed(k)) {
        let message = if MEASURE_KEYS.contains(&key.as_str()) {
            "did_not takes no count, sum or average; use did with less_than and include_users_who_did_not_do_the_event"
                .to_owned()
        } else if measured {
            "unknown key; did has event, last_days | between | ever, where, count | sum | average".to_owned()
        } else {
            "unknown key; did_not has event, last_days | between | ever, where".to_owned()
        };
        return Err(FieldError::new(join(path, key), message));
    }
    let event = match obj.get("event") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(other) => {
            return Err(FieldError::new(
                join(path, "event"),
                format!("must be a non-empty string, not {}", kind(other)),
            ));
        }
        None => return Err(FieldError::new(join(path, "event"), "required: the event's name, e.g. \"Charged\"")),
    };
    let window = window(obj, path)?;
    let filters = match obj.get("where") {
        None => Vec::new(),
        Some(v) => cql::filters(v, &join(path, "where"))?,
    };
    let rule = EventRule::new(event, window, filters);
    if !measured {
        return Ok(Segment::DidNot(rule));
    }
    let mut given = MEASURE_KEYS.iter().filter_map(|k| obj.get(*k).map(|v| (*k, v)));
    let measure = match (given.next(), given.next()) {
        (None, _) => None,
        (Some((first, value)), None) => Some(measure(value, &join(path, first), first)?),
        (Some((first, _)), Some((second, _))) => {
            return Err(FieldError::new(
                join(path, second),
                format!("give one of count, sum or average, not {first} too"),
            ));
        }
    };
    Ok(Segment::Did { rule, measure })
}

/// `last_days`, `between` or `ever`: exactly one.
fn window(obj: &Map<String, Value>, path: &str) -> Result<Window, FieldError> {
    let mut given = WINDOW_KEYS.iter().filter_map(|k| obj.get(*k).map(|v| (*k, v)));
    let (key, value) = match (given.next(), given.next()) {
        (Some(one), None) => one,
        (None, _) => {
            return Err(FieldError::new(
                path,
                "needs a window: last_days (e.g. 30), between ([20260101, 20260131]) or ever (true)",
            ));
        }
        (Some((first, _)), Some((second, _))) => {
            return Err(FieldError::new(join(path, second), format!("give one window, not {first} too")));
        }
    };
    let at = join(path, key);
    match key {
        "last_days" => match value.as_u64() {
            Some(n @ 1..) if n <= u64::from(Window::MAX_DAYS) => {
                Ok(Window::LastDays(u32::try_from(n).unwrap_or(Window::MAX_DAYS)))
            }
            _ => Err(FieldError::new(
                at,
                format!("{value} is not a number of days; give a whole number from 1 to {}", Window::MAX_DAYS),
            )),
        },
        "between" => {
            let Some([from, to]) =
                value.as_array().map(Vec::as_slice).and_then(|days| <&[Value; 2]>::try_from(days).ok())
            else {
                return Err(FieldError::new(
                    at,
                    format!("must be [from, to] as YYYYMMDD, e.g. [20260101, 20260131], not {value}"),
                ));
            };
            let from = parse_day(from).map_err(|m| FieldError::new(format!("{at}[0]"), m))?;
            let to = parse_day(to).map_err(|m| FieldError::new(format!("{at}[1]"), m))?;
            if from.start > to.start {
                return Err(FieldError::new(format!("{at}[1]"), format!("{} is before {}", to.date, from.date)));
            }
            Ok(Window::Between(from.date, to.date))
        }
        _ => match value {
            Value::Bool(true) => Ok(Window::Ever),
            other => Err(FieldError::new(at, format!("must be true, not {other}; or give last_days or between"))),
        },
    }
}

/// `count`, `sum` or `average`: `{"property"?, "operator", "value", "include_users_who_did_not_do_the_event"?}`.
fn measure(value: &Value, path: &str, key: &str) -> Result<Measure, FieldError> {
    let Value::Object(obj) = value else {
        return Err(FieldError::new(path, format!("must be an object with operator and value, not {}", kind(value))));
    };
    let counted = key == "count";
    let allowed =
        |k: &str| matches!(k, "operator" | "value") || k == INCLUDE_NON_DOERS || (!counted && k == "property");
    if let Some(unknown) = obj.keys().find(|k| !allowed(k)) {
        let fields = if counted { "operator, value" } else { "property, operator, value" };
        return Err(FieldError::new(
            join(path, unknown),
            format!("unknown key; {key} has {fields}, {INCLUDE_NON_DOERS}"),
        ));
    }
    let aggregate = if counted {
        Aggregate::Count
    } else {
        let property = match obj.get("property") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(other) => {
                return Err(FieldError::new(
                    join(path, "property"),
                    format!("must be a non-empty string, not {}", kind(other)),
                ));
            }
            None => return Err(FieldError::new(join(path, "property"), "required: the numeric event property")),
        };
        if key == "sum" { Aggregate::Sum(property) } else { Aggregate::Average(property) }
    };
    let operators = || Comparison::ALL.map(Comparison::name).join(", ");
    let comparison = match obj.get("operator") {
        Some(Value::String(s)) => Comparison::from_name(s).ok_or_else(|| {
            FieldError::new(
                join(path, "operator"),
                format!("unknown operator {s:?}; the operators are {}", operators()),
            )
        })?,
        Some(other) => {
            return Err(FieldError::new(
                join(path, "operator"),
                format!("must be a string, not {}; the operators are {}", kind(other), operators()),
            ));
        }
        None => {
            return Err(FieldError::new(
                join(path, "operator"),
                format!("required; the operators are {}", operators()),
            ));
        }
    };
    // serde_json reads every JSON number as a finite f64 (without its arbitrary_precision feature).
    let number = match obj.get("value").map(|v| (v, v.as_f64())) {
        Some((Value::Number(_), Some(number))) if number.is_finite() => number,
        Some((other, _)) => {
            return Err(FieldError::new(join(path, "value"), format!("must be a number, not {}", kind(other))));
        }
        None => return Err(FieldError::new(join(path, "value"), "required: the number to compare with")),
    };
    if counted && !(number >= 0.0 && number.fract() == 0.0 && number <= f64::from(u32::MAX)) {
        return Err(FieldError::new(
            join(path, "value"),
            format!("{number} is not a count; give a whole number, 0 or more"),
        ));
    }
    let include_non_doers = match obj.get(INCLUDE_NON_DOERS) {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) if comparison.is_less() => true,
        Some(Value::Bool(true)) => {
            return Err(FieldError::new(
                join(path, INCLUDE_NON_DOERS),
                format!(
                    "only with less_than or less_than_equals (CleverTap offers it for < comparisons), not {}",
                    comparison.name()
                ),
            ));
        }
        Some(other) => {
            return Err(FieldError::new(
                join(path, INCLUDE_NON_DOERS),
                format!("must be true or false, not {}", kind(other)),
            ));
        }
    };
    Ok(Measure { aggregate, comparison, value: number, include_non_doers })
}
