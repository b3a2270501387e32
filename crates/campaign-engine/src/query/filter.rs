//! One property filter of a query (`{"name", "operator", "value"}`) and how it holds against stored values.
//!
//! How values compare:
//! - **Strings** compare exactly (case-sensitive), for `equals` and `contains` alike.
//! - **Numbers vs numeric strings** compare as numbers (`"10"` equals `10.0`; `"9" less_than 10`). Two strings
//!   compare as strings.
//! - **Booleans**: `true`/`false`, or the strings `"True"`/`"False"` (any case), as CleverTap passes them.
//! - **Dates**: a stored `"$D_<epoch seconds>"` compares as an instant. The filter value may be `"$D_<secs>"` or
//!   epoch seconds (an instant), or a `YYYYMMDD` integer or 8-digit string (a whole UTC day): `equals` holds
//!   within that day, `greater_than` after it, `greater_than_equals` from its start, `less_than` before it,
//!   `less_than_equals` until its end. A value of 8 digits that is a real date is always read as a day.
//! - **Multi-valued** stored values (arrays) hold for a positive operator when any element does, and for
//!   `not_equals` / `does_not_contain` when no element matches.
//! - **Lists** of filter values mean "any of" for `equals` / `contains` and "none of" for `not_equals` /
//!   `does_not_contain`.
//! - **Missing** values (absent or `null`): only `does_not_exist`, `not_equals` and `does_not_contain` hold.
//! - **Several places** (a `Charged` event's own property and each of its `Items`): the filter holds if it holds
//!   in any place (CleverTap's "OR across items"); `does_not_exist` holds when no place has the property.

use serde_json::Value;

use crate::event::Event;
use crate::profile::date_value;

use super::day::Day;

/// CleverTap's ten query operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    NotEquals,
    Contains,
    DoesNotContain,
    Exists,
    DoesNotExist,
    GreaterThan,
    GreaterThanEquals,
    LessThan,
    LessThanEquals,
}

impl Operator {
    /// Every operator, in the order CleverTap documents them.
    pub const ALL: [Operator; 10] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::Contains,
        Operator::DoesNotContain,
        Operator::Exists,
        Operator::DoesNotExist,
        Operator::GreaterThan,
        Operator::GreaterThanEquals,
        Operator::LessThan,
        Operator::LessThanEquals,
    ];

    /// The name as written in queries.
    pub fn name(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not_equals",
            Operator::Contains => "contains",
            Operator::DoesNotContain => "does_not_contain",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "does_not_exist",
            Operator::GreaterThan => "greater_than",
            Operator::GreaterThanEquals => "greater_than_equals",
            Operator::LessThan => "less_than",
            Operator::LessThanEquals => "less_than_equals",
        }
    }

    /// The operator of this name (exactly as written in queries).
    pub fn from_name(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.name() == name)
    }

    /// `exists` and `does_not_exist` take no value.
    pub fn takes_value(self) -> bool {
        !matches!(self, Operator::Exists | Operator::DoesNotExist)
    }

    /// `equals`, `not_equals`, `contains` and `does_not_contain` take a list ("any of" / "none of").
    pub fn takes_list(self) -> bool {
        matches!(self, Operator::Equals | Operator::NotEquals | Operator::Contains | Operator::DoesNotContain)
    }

    /// The operators that hold when nothing matches.
    fn is_negative(self) -> bool {
        matches!(self, Operator::NotEquals | Operator::DoesNotContain)
    }
}

/// A day or an instant a date property is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DateBound {
    /// `[start, end)` in epoch seconds.
    Day { start: i64, end: i64 },
    /// Epoch seconds.
    Instant(i64),
}

/// One value a filter compares with, read every way it can be once, when the query is parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wanted {
    /// As text, for strings and `contains`.
    text: String,
    /// Given as a JSON string.
    is_string: bool,
    number: Option<f64>,
    boolean: Option<bool>,
    date: Option<DateBound>,
}

impl Wanted {
    /// The value of a filter, if it is a string, number or boolean.
    pub(crate) fn from_json(value: &Value) -> Option<Wanted> {
        match value {
            Value::String(s) => {
                let date = if let Some(t) = date_value(value) {
                    Some(DateBound::Instant(t.as_second()))
                } else if let Some(day) = Day::from_digits(s) {
                    Some(DateBound::Day { start: day.start, end: day.end() })
                } else {
                    s.trim().parse::<i64>().ok().map(DateBound::Instant)
                };
                Some(Wanted { text: s.clone(), is_string: true, number: parse_number(s), boolean: parse_bool(s), date })
            }
            Value::Number(n) => {
                let date = n.as_i64().map(|i| match Day::from_yyyymmdd(i) {
                    Some(day) => DateBound::Day { start: day.start, end: day.end() },
                    None => DateBound::Instant(i),
                });
                Some(Wanted { text: n.to_string(), is_string: false, number: n.as_f64(), boolean: None, date })
            }
            Value::Bool(b) => Some(Wanted {
                text: if *b { "True" } else { "False" }.to_owned(),
                is_string: false,
                number: None,
                boolean: Some(*b),
                date: None,
            }),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }

    /// The value as it was given (a number as written, a string, a boolean).
    fn to_json(&self) -> Value {
        if self.is_string {
            Value::String(self.text.clone())
        } else if let Some(b) = self.boolean {
            Value::Bool(b)
        } else {
            // `text` is a JSON number as serde_json wrote it, so it reads back as the same number.
            serde_json::from_str(&self.text).unwrap_or_else(|_| Value::String(self.text.clone()))
        }
    }

    /// Whether `greater_than` and the like can use it: a number, numeric string or date.
    pub(crate) fn is_comparable(&self) -> bool {
        self.number.is_some() || self.date.is_some()
    }
}

/// A number written as a string (`"42"`, `" 4.5 "`); not `"$D_…"` dates, not `NaN`/`inf`.
fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `"True"` / `"False"` in any case.
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A stored `"$D_<secs>"` date, in epoch seconds.
fn stored_date(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) if s.starts_with("$D_") => date_value(value).map(|t| t.as_second()),
        _ => None,
    }
}

/// A stored value as a number: a JSON number or a numeric string.
pub(crate) fn stored_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

/// One property filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The property name, as stored.
    pub name: String,
    pub operator: Operator,
    /// One value, or the values of a list; empty for `exists` / `does_not_exist`.
    pub(crate) values: Vec<Wanted>,
}

impl Filter {
    /// Whether the filter holds over the property's values found in every place looked at (a `Charged` event's
    /// own properties and each of its items); `None` where a place lacks the property.
    pub(crate) fn holds<'a>(&self, places: impl IntoIterator<Item = Option<&'a Value>>) -> bool {
        let mut found = false;
        for value in places.into_iter().flatten() {
            if value.is_null() {
                continue;
            }
            found = true;
            if self.holds_on(value) {
                return true;
            }
        }
        !found && (self.operator == Operator::DoesNotExist || self.operator.is_negative())
    }

    /// Whether the filter holds on an event: on its own property or, in a `Charged` event (`charged`), on the
    /// property of any of its `Items` (CleverTap's "OR across items").
    pub(crate) fn holds_on_event(&self, event: &Event, charged: bool) -> bool {
        let items: &[Value] = if charged { event.items() } else { &[] };
        let own = event.properties.get(&self.name);
        let in_items = items.iter().map(|item| item.as_object().and_then(|o| o.get(&self.name)));
        self.holds(std::iter::once(own).chain(in_items))
    }

    /// The filter as JSON, `{"name", "operator", "value"}` (no `value` for `exists` / `does_not_exist`; a list
    /// when it has several values). It reads back as the same filter.
    pub fn to_json(&self) -> Value {
        let mut obj = serde_json::Map::new();
        obj.insert("name".to_owned(), Value::String(self.name.clone()));
        obj.insert("operator".to_owned(), Value::String(self.operator.name().to_owned()));
        match self.values.as_slice() {
            [] => {}
            [one] => {
                obj.insert("value".to_owned(), one.to_json());
            }
            many => {
                obj.insert("value".to_owned(), Value::Array(many.iter().map(Wanted::to_json).collect()));
            }
        }
        Value::Object(obj)
    }

    /// Whether the filter holds on one present value.
    fn holds_on(&self, stored: &Value) -> bool {
        match self.operator {
            Operator::Exists => true,
            Operator::DoesNotExist => false,
            Operator::Equals => self.values.iter().any(|w| any_element(stored, |s| equals(s, w))),
            Operator::NotEquals => !self.values.iter().any(|w| any_element(stored, |s| equals(s, w))),
            Operator::Contains => self.values.iter().any(|w| any_element(stored, |s| contains(s, w))),
            Operator::DoesNotContain => !self.values.iter().any(|w| any_element(stored, |s| contains(s, w))),
            op => self.values.iter().any(|w| any_element(stored, |s| compare(s, w, op))),
        }
    }
}

/// `test` on a value, or on any element of a multi-value.
fn any_element(stored: &Value, test: impl Fn(&Value) -> bool) -> bool {
    match stored {
        Value::Array(elements) => elements.iter().any(test),
        other => test(other),
    }
}

fn equals(stored: &Value, wanted: &Wanted) -> bool {
    if let Some(secs) = stored_date(stored) {
        return compare_date(secs, wanted, Operator::Equals);
    }
    match stored {
        Value::String(s) => {
            if !wanted.is_string {
                if let Some(n) = wanted.number {
                    return parse_number(s) == Some(n);
                }
                if let Some(b) = wanted.boolean {
                    return parse_bool(s) == Some(b);
                }
            }
            *s == wanted.text
        }
        Value::Number(n) => n.as_f64().is_some_and(|n| Some(n) == wanted.number),
        Value::Bool(b) => wanted.boolean == Some(*b),
        _ => false,
    }
}

fn contains(stored: &Value, wanted: &Wanted) -> bool {
    match stored {
        Value::String(s) => s.contains(&wanted.text),
        Value::Number(n) => n.to_string().contains(&wanted.text),
        _ => false,
    }
}

/// `greater_than`, `greater_than_equals`, `less_than`, `less_than_equals`.
fn compare(stored: &Value, wanted: &Wanted, op: Operator) -> bool {
    if let Some(secs) = stored_date(stored) {
        return compare_date(secs, wanted, op);
    }
    let (Some(a), Some(b)) = (stored_number(stored), wanted.number) else { return false };
    match op {
        Operator::GreaterThan => a > b,
        Operator::GreaterThanEquals => a >= b,
        Operator::LessThan => a < b,
        Operator::LessThanEquals => a <= b,
        _ => false,
    }
}

/// A stored date (epoch seconds) against a day or an instant.
fn compare_date(secs: i64, wanted: &Wanted, op: Operator) -> bool {
    let (start, end) = match wanted.date {
        Some(DateBound::Day { start, end }) => (start, end),
        // An instant is the day [t, t + 1s): whole seconds compare as usual.
        Some(DateBound::Instant(t)) => (t, t.saturating_add(1)),
        None => return false,
    };
    match op {
        Operator::Equals => start <= secs && secs < end,
        Operator::GreaterThan => secs >= end,
        Operator::GreaterThanEquals => secs >= start,
        Operator::LessThan => secs < start,
        Operator::LessThanEquals => secs < end,
        _ => false,
    }
}
