//! A [`Segment`] written back as JSON, in the shape [`Segment::parse`] reads, and serde's view of both.

use jiff::civil::Date;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::parse::INCLUDE_NON_DOERS;
use super::{Aggregate, EventRule, Measure, Segment, Window};

/// The JSON of a segment; see the module documentation for the format.
pub(super) fn to_json(segment: &Segment) -> Value {
    match segment {
        Segment::All(children) => json!({"all": children.iter().map(to_json).collect::<Vec<_>>()}),
        Segment::Any(children) => json!({"any": children.iter().map(to_json).collect::<Vec<_>>()}),
        Segment::Did { rule, measure } => {
            let mut did = rule_json(rule);
            if let Some(measure) = measure {
                let (key, value) = measure_json(measure);
                did.insert(key.to_owned(), value);
            }
            json!({"did": did})
        }
        Segment::DidNot(rule) => json!({"did_not": rule_json(rule)}),
        Segment::Profile(filter) => json!({"profile": filter.to_json()}),
        Segment::IncludeSegment(id) => json!({"include_segment": id}),
        Segment::ExcludeSegment(id) => json!({"exclude_segment": id}),
        Segment::Cql(cql) => json!({"cql": cql.json()}),
    }
}

fn rule_json(rule: &EventRule) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("event".to_owned(), json!(rule.event()));
    let (key, value) = match rule.window() {
        Window::LastDays(n) => ("last_days", json!(n)),
        Window::Between(from, to) => ("between", json!([yyyymmdd(from), yyyymmdd(to)])),
        Window::Ever => ("ever", json!(true)),
    };
    obj.insert(key.to_owned(), value);
    if !rule.filters().is_empty() {
        obj.insert("where".to_owned(), rule.filters().iter().map(|f| f.to_json()).collect());
    }
    obj
}

fn measure_json(measure: &Measure) -> (&'static str, Value) {
    let mut obj = Map::new();
    let key = match &measure.aggregate {
        Aggregate::Count => "count",
        Aggregate::Sum(property) | Aggregate::Average(property) => {
            obj.insert("property".to_owned(), json!(property));
            if matches!(measure.aggregate, Aggregate::Sum(_)) { "sum" } else { "average" }
        }
    };
    obj.insert("operator".to_owned(), json!(measure.comparison.name()));
    obj.insert("value".to_owned(), number(measure.value));
    if measure.include_non_doers {
        obj.insert(INCLUDE_NON_DOERS.to_owned(), json!(true));
    }
    (key, Value::Object(obj))
}

/// A whole number as an integer (`2`, not `2.0`), anything else as it is.
fn number(value: f64) -> Value {
    // Whole numbers below 2^53 are exact both as f64 and as i64.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() < EXACT {
        return json!(value as i64);
    }
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn yyyymmdd(date: Date) -> i64 {
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

impl Serialize for Segment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        to_json(self).serialize(serializer)
    }
}

/// Reads the format of [`Segment::parse`], with its messages, but without a registry: check references with
/// [`SavedSegments::check`](super::SavedSegments::check) before use.
impl<'de> Deserialize<'de> for Segment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Segment, D::Error> {
        let value = Value::deserialize(deserializer)?;
        super::parse::segment(&value, "").map_err(D::Error::custom)
    }
}
