//! How much of a behaviour a user must show: the count of matching events, or the sum or average of a numeric
//! event property over them, compared with a value (CleverTap's "Count", "Total sum of property", "Average of
//! property" filters).

use std::cmp::Ordering;

use serde_json::Value;

use crate::event::Event;
use crate::query::filter::stored_number;

/// What is measured over the matching events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregate {
    /// How many events match.
    Count,
    /// The total of the property over the matching events.
    Sum(String),
    /// The total divided by the number of matching events.
    Average(String),
}

/// How a measure compares with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    Equals,
    NotEquals,
    GreaterThan,
    GreaterThanEquals,
    LessThan,
    LessThanEquals,
}

impl Comparison {
    /// Every comparison, in the order of CQL's operators.
    pub const ALL: [Comparison; 6] = [
        Comparison::Equals,
        Comparison::NotEquals,
        Comparison::GreaterThan,
        Comparison::GreaterThanEquals,
        Comparison::LessThan,
        Comparison::LessThanEquals,
    ];

    /// The name as written in JSON, as CQL spells the operator.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::Equals => "equals",
            Comparison::NotEquals => "not_equals",
            Comparison::GreaterThan => "greater_than",
            Comparison::GreaterThanEquals => "greater_than_equals",
            Comparison::LessThan => "less_than",
            Comparison::LessThanEquals => "less_than_equals",
        }
    }

    /// The comparison of this name (exactly as written in JSON).
    pub fn from_name(name: &str) -> Option<Comparison> {
        Comparison::ALL.into_iter().find(|c| c.name() == name)
    }

    /// `less_than` and `less_than_equals`: the comparisons CleverTap offers "Include users who didn't do the
    /// event" for.
    pub fn is_less(self) -> bool {
        matches!(self, Comparison::LessThan | Comparison::LessThanEquals)
    }

    /// Whether `measured <op> value` holds. Numbers within a billionth of each other are equal, so a sum of
    /// `0.1 + 0.2` equals `0.3`.
    pub fn holds(self, measured: f64, value: f64) -> bool {
        let order = approximate_order(measured, value);
        match self {
            Comparison::Equals => order == Ordering::Equal,
            Comparison::NotEquals => order != Ordering::Equal,
            Comparison::GreaterThan => order == Ordering::Greater,
            Comparison::GreaterThanEquals => order != Ordering::Less,
            Comparison::LessThan => order == Ordering::Less,
            Comparison::LessThanEquals => order != Ordering::Greater,
        }
    }

    /// The outcome for a count that has reached `count` (at least 1) and may still grow, once more events
    /// cannot change it: `None` while they still can.
    fn settled_by_count(self, count: f64, value: f64) -> Option<bool> {
        match self {
            Comparison::GreaterThan | Comparison::GreaterThanEquals => self.holds(count, value).then_some(true),
            Comparison::LessThan | Comparison::LessThanEquals => (!self.holds(count, value)).then_some(false),
            Comparison::Equals | Comparison::NotEquals => {
                (approximate_order(count, value) == Ordering::Greater).then_some(self == Comparison::NotEquals)
            }
        }
    }
}

fn approximate_order(a: f64, b: f64) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let tolerance = 1e-9 * a.abs().max(b.abs()).max(1.0);
    if (a - b).abs() <= tolerance {
        Ordering::Equal
    } else if a < b {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

/// A measure of a `did` rule. Without one, `did` means "at least once".
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub aggregate: Aggregate,
    pub comparison: Comparison,
    pub value: f64,
    /// CleverTap's "Include users who didn't do the event" (JSON `include_users_who_did_not_do_the_event`): a
    /// user with no matching event measures 0 (count, sum and average alike) and can match. Without it such a
    /// user never matches. JSON allows it only with `less_than` / `less_than_equals`, as CleverTap does.
    pub include_non_doers: bool,
}

impl Measure {
    /// Whether the measure over `matching` (a user's matching events) holds. A count stops reading events as
    /// soon as more could not change the outcome.
    pub(crate) fn holds<'e>(&self, matching: impl Iterator<Item = &'e Event>) -> bool {
        let (total, count) = match &self.aggregate {
            Aggregate::Count => {
                let mut count = 0_u32;
                for _ in matching {
                    count = count.saturating_add(1);
                    if let Some(outcome) = self.comparison.settled_by_count(f64::from(count), self.value) {
                        return outcome;
                    }
                }
                (f64::from(count), count)
            }
            Aggregate::Sum(property) | Aggregate::Average(property) => {
                let (mut total, mut count) = (0.0, 0_u32);
                for event in matching {
                    total += number(event.properties.get(property));
                    count = count.saturating_add(1);
                }
                (total, count)
            }
        };
        if count == 0 {
            return self.include_non_doers && self.comparison.holds(0.0, self.value);
        }
        let measured = match self.aggregate {
            Aggregate::Average(_) => total / f64::from(count),
            Aggregate::Count | Aggregate::Sum(_) => total,
        };
        self.comparison.holds(measured, self.value)
    }
}

/// A property's value as a number for sums and averages. Missing, `null` and non-numeric values count as 0
/// (CleverTap: "missing values count as 0; add an exists filter to skip them").
fn number(value: Option<&Value>) -> f64 {
    value.and_then(stored_number).unwrap_or(0.0)
}
