//! A campaign's conversion goal: an event (with property filters) done within a time after the message.

use std::time::Duration;

use serde_json::Value;

use super::live::EventMatch;
use crate::FieldError;
use crate::field_error::known_keys;
use crate::schedule::Delay;

#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub event: EventMatch,
    /// The conversion time: how long after the message the event still counts.
    pub within: Duration,
}

impl Goal {
    /// Reads `{"event": NAME, "where": [filters], "within": {"value": 1, "unit": "days"}}`.
    pub fn parse(json: &Value, path: &str) -> Result<Goal, FieldError> {
        let Value::Object(o) = json else {
            return Err(FieldError::new(path, "must be an object with event, where and within"));
        };
        known_keys(o, path, &["event", "where", "event_properties", "within"])?;
        let mut event_part = o.clone();
        event_part.remove("within");
        let event = EventMatch::parse(&Value::Object(event_part), path)?;
        let within = match o.get("within") {
            Some(w) => Delay::parse(w, &format!("{path}.within"))?.duration().unsigned_abs(),
            None => return Err(FieldError::new(format!("{path}.within"), "is required: the conversion time")),
        };
        Ok(Goal { event, within })
    }
}
