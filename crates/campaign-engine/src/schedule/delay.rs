//! The delay of a live (triggered) campaign: how long after a user qualifies the message goes out.
//!
//! CleverTap (clevertap.md §5.2): "optional delay 'by seconds, minutes, hours, or days once a user qualifies'". Its
//! JSON here is `{"value": 10, "unit": "minutes"}`.
//!
//! Choices where CleverTap is silent: a day is 24 hours (a delay is a duration, not a calendar step, so it does
//! not stretch over DST changes); 0 means no delay; the longest delay is 366 days (CleverTap documents no maximum,
//! §8). Units may be singular (`"minute"`); they are written back plural.

use jiff::{SignedDuration, Timestamp};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::read::Fields;
use crate::field_error::FieldError;

/// The longest delay accepted, in seconds.
const MAX_SECONDS: u64 = 366 * 86_400;

/// A delay of `value` `unit`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    value: u32,
    unit: DelayUnit,
}

/// The unit of a [`Delay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl DelayUnit {
    const ALL: [DelayUnit; 4] = [DelayUnit::Seconds, DelayUnit::Minutes, DelayUnit::Hours, DelayUnit::Days];

    pub fn name(self) -> &'static str {
        match self {
            DelayUnit::Seconds => "seconds",
            DelayUnit::Minutes => "minutes",
            DelayUnit::Hours => "hours",
            DelayUnit::Days => "days",
        }
    }

    fn seconds(self) -> u64 {
        match self {
            DelayUnit::Seconds => 1,
            DelayUnit::Minutes => 60,
            DelayUnit::Hours => 3_600,
            DelayUnit::Days => 86_400,
        }
    }

    /// `"minutes"` or `"minute"`.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| name == u.name() || Some(name) == u.name().strip_suffix('s'))
    }
}

impl Delay {
    /// No delay.
    pub const ZERO: Delay = Delay { value: 0, unit: DelayUnit::Seconds };

    /// `value` `unit`s, if no longer than 366 days.
    pub fn new(value: u32, unit: DelayUnit) -> Option<Self> {
        (u64::from(value) * unit.seconds() <= MAX_SECONDS).then_some(Self { value, unit })
    }

    pub fn value(self) -> u32 {
        self.value
    }

    pub fn unit(self) -> DelayUnit {
        self.unit
    }

    /// The delay as a duration.
    pub fn duration(self) -> SignedDuration {
        // At most 366 days, so the seconds fit an i64.
        SignedDuration::from_secs(i64::try_from(u64::from(self.value) * self.unit.seconds()).unwrap_or(i64::MAX))
    }

    /// The instant a user who qualified at `qualified` is due.
    pub fn after(self, qualified: Timestamp) -> Timestamp {
        qualified.checked_add(self.duration()).unwrap_or(Timestamp::MAX)
    }

    /// Reads `{"value": 10, "unit": "minutes"}`; errors name `path.value`, `path.unit` or an unknown key.
    pub fn parse(json: &Value, path: &str) -> Result<Delay, FieldError> {
        let fields = Fields::new(json, path, &["value", "unit"])?;
        let units = DelayUnit::ALL.map(DelayUnit::name).join(", ");
        let unit = fields.required("unit", &format!("one of {units}"), DelayUnit::from_name)?;
        let most = MAX_SECONDS / unit.seconds();
        let value = fields.integer("value", 0..=most)?.ok_or_else(|| fields.error("value", "required"))?;
        let value = u32::try_from(value).map_err(|_| fields.error("value", "too large"))?;
        Delay::new(value, unit).ok_or_else(|| fields.error("value", "longer than 366 days"))
    }

    /// `{"value": 10, "unit": "minutes"}`.
    pub fn to_json(self) -> Value {
        json!({"value": self.value, "unit": self.unit.name()})
    }
}

impl Serialize for Delay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}
