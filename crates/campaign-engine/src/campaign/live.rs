//! Live-behaviour triggers: an action (an event with property filters, optionally delayed), an inaction (did
//! A and not B within a time), and a date property (N days before or after a date in the profile).

use std::time::Duration;

use jiff::civil::Time;
use serde_json::{Map, Value};

use crate::FieldError;
use crate::event::Event;
use crate::field_error::{kind, known_keys};
use crate::query::Filter;
use crate::query::parse::filters;
use crate::schedule::Delay;

/// An event a trigger waits for: its name (compared ignoring case and spaces) and property filters, which all
/// hold on the same event (in a `Charged` event, on the event or any of its `Items`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventMatch {
    pub name: String,
    /// The name as compared ([`Event::key`]).
    pub key: String,
    pub filters: Vec<Filter>,
}

impl EventMatch {
    pub fn matches(&self, event: &Event) -> bool {
        Event::key(&event.name) == self.key && self.filters_hold(event)
    }

    /// Whether the property filters hold on `event`, whose name is known to match.
    pub fn filters_hold(&self, event: &Event) -> bool {
        crate::query::event_filters_hold(&self.key, &self.filters, event)
    }

    /// Reads `{"event": NAME, "where": [filters]}` (or `event_properties` for the filters).
    pub fn parse(json: &Value, path: &str) -> Result<EventMatch, FieldError> {
        let Value::Object(o) = json else {
            return Err(FieldError::new(path, format!("must be an object with event (and where), not {}", kind(json))));
        };
        known_keys(o, path, &["event", "where", "event_properties"])?;
        let name = match o.get("event") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
            _ => return Err(FieldError::new(format!("{path}.event"), "must be an event name")),
        };
        let filters = match (o.get("where"), o.get("event_properties")) {
            (Some(_), Some(_)) => return Err(FieldError::new(path, "give where or event_properties, not both")),
            (Some(f), None) => filters(f, &format!("{path}.where"))?,
            (None, Some(f)) => filters(f, &format!("{path}.event_properties"))?,
            (None, None) => Vec::new(),
        };
        Ok(EventMatch { key: Event::key(&name), name, filters })
    }
}

/// What makes a user qualify for a live campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveTrigger {
    /// The user does the event; the message goes `delay` later (zero: at once).
    Action { event: EventMatch, delay: Delay },
    /// The user does `did` and not `not` within `within` after it; the message goes when `within` has passed.
    Inaction { did: EventMatch, not: EventMatch, within: Duration },
    /// Each day at `at` (account time zone), the users whose date property `property`, moved by `days`
    /// (negative: before), falls on that day; with `anniversary`, only month and day are compared (birthdays).
    DateProperty { property: String, days: i32, at: Time, anniversary: bool },
}

impl LiveTrigger {
    /// Reads our API's form (see docs/engine-api.md):
    /// `{"action": {"event": ..., "where": [...]}, "delay": {"value": 10, "unit": "minutes"}}`,
    /// `{"inaction": {"did": {...}, "not": {...}, "within": {"value": 10, "unit": "minutes"}}}`,
    /// `{"date_property": {"property": "DOB", "days": -3, "at": "09:00", "anniversary": true}}`.
    pub fn parse(json: &Value, path: &str) -> Result<LiveTrigger, FieldError> {
        let Value::Object(o) = json else {
            return Err(FieldError::new(path, "must be an object with action, inaction or date_property"));
        };
        known_keys(o, path, &["action", "delay", "inaction", "date_property"])?;
        match (o.get("action"), o.get("inaction"), o.get("date_property")) {
            (Some(action), None, None) => {
                let event = EventMatch::parse(action, &format!("{path}.action"))?;
                let delay = match o.get("delay") {
                    Some(d) => Delay::parse(d, &format!("{path}.delay"))?,
                    None => Delay::ZERO,
                };
                Ok(LiveTrigger::Action { event, delay })
            }
            (None, Some(Value::Object(i)), None) if !o.contains_key("delay") => {
                let p = format!("{path}.inaction");
                known_keys(i, &p, &["did", "not", "within"])?;
                let part =
                    |name: &str| i.get(name).ok_or_else(|| FieldError::new(format!("{p}.{name}"), "is required"));
                Ok(LiveTrigger::Inaction {
                    did: EventMatch::parse(part("did")?, &format!("{p}.did"))?,
                    not: EventMatch::parse(part("not")?, &format!("{p}.not"))?,
                    within: Delay::parse(part("within")?, &format!("{p}.within"))?.duration().unsigned_abs(),
                })
            }
            (None, None, Some(Value::Object(d))) if !o.contains_key("delay") => {
                date_property(d, &format!("{path}.date_property"))
            }
            (None, Some(_), None) | (None, None, Some(_)) if o.contains_key("delay") => {
                Err(FieldError::new(format!("{path}.delay"), "only an action trigger takes a delay"))
            }
            (None, Some(other), None) | (None, None, Some(other)) => {
                Err(FieldError::new(path, format!("the trigger must be an object, not {}", kind(other))))
            }
            _ => Err(FieldError::new(path, "give exactly one of action, inaction, date_property")),
        }
    }

    /// The event that starts this trigger (none for date-property triggers).
    pub fn starting_event(&self) -> Option<&EventMatch> {
        match self {
            LiveTrigger::Action { event, .. } => Some(event),
            LiveTrigger::Inaction { did, .. } => Some(did),
            LiveTrigger::DateProperty { .. } => None,
        }
    }
}

fn date_property(d: &Map<String, Value>, path: &str) -> Result<LiveTrigger, FieldError> {
    known_keys(d, path, &["property", "days", "at", "anniversary"])?;
    let property = match d.get("property") {
        Some(Value::String(p)) if !p.is_empty() => p.clone(),
        _ => return Err(FieldError::new(format!("{path}.property"), "must be the name of a date property")),
    };
    let days = match d.get("days").map(Value::as_i64) {
        None => 0,
        Some(Some(n @ -3650..=3650)) => n as i32,
        Some(_) => {
            return Err(FieldError::new(format!("{path}.days"), "must be a whole number of days from -3650 to 3650"));
        }
    };
    let at = match d.get("at") {
        None => Time::midnight(),
        Some(Value::String(s)) => s.parse::<Time>().map_err(|_| {
            FieldError::new(format!("{path}.at"), format!("must be a time of day \"HH:MM\", not {s:?}"))
        })?,
        Some(other) => {
            return Err(FieldError::new(
                format!("{path}.at"),
                format!("must be a time of day \"HH:MM\", not {}", kind(other)),
            ));
        }
    };
    let anniversary = match d.get("anniversary") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(FieldError::new(
                format!("{path}.anniversary"),
                format!("must be true or false, not {}", kind(other)),
            ));
        }
    };
    Ok(LiveTrigger::DateProperty { property, days, at, anniversary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clock::Timestamp;
    use serde_json::json;

    fn event(name: &str, props: Value) -> Event {
        Event {
            name: name.into(),
            properties: props.as_object().unwrap().clone().into(),
            ts: Timestamp::from_second(1_800_000_000).unwrap(),
        }
    }

    #[test]
    fn an_action_matches_its_event_with_filters_and_items() {
        let trigger = LiveTrigger::parse(
            &json!({"action": {"event": "charged", "where": [{"name": "Category", "operator": "equals", "value": "books"}]},
                    "delay": {"value": 10, "unit": "minutes"}}),
            "trigger",
        )
        .unwrap();
        let LiveTrigger::Action { event: m, delay } = &trigger else { panic!("{trigger:?}") };
        assert_eq!(delay.duration().unsigned_abs(), Duration::from_secs(600));
        assert!(m.matches(&event("Charged", json!({"Items": [{"Category": "toys"}, {"Category": "books"}]}))));
        assert!(!m.matches(&event("Charged", json!({"Items": [{"Category": "toys"}]}))));
        assert!(!m.matches(&event("Added To Cart", json!({"Category": "books"}))));
    }

    #[test]
    fn inaction_and_date_property_triggers_parse() {
        let inaction = LiveTrigger::parse(
            &json!({"inaction": {"did": {"event": "Added To Cart"}, "not": {"event": "Charged"}, "within": {"value": 10, "unit": "minutes"}}}),
            "trigger",
        )
        .unwrap();
        assert!(matches!(inaction, LiveTrigger::Inaction { within, .. } if within == Duration::from_secs(600)));
        let date = LiveTrigger::parse(
            &json!({"date_property": {"property": "DOB", "days": -3, "at": "09:30", "anniversary": true}}),
            "trigger",
        )
        .unwrap();
        assert_eq!(
            date,
            LiveTrigger::DateProperty {
                property: "DOB".into(),
                days: -3,
                at: Time::constant(9, 30, 0, 0),
                anniversary: true
            }
        );
    }

    #[test]
    fn bad_triggers_name_the_field() {
        let err = |v: Value| LiveTrigger::parse(&v, "trigger").unwrap_err().to_string();
        assert_eq!(err(json!({"action": {"event": ""}})), "trigger.action.event: must be an event name");
        assert_eq!(
            err(json!({"inaction": {"did": {"event": "A"}, "not": {"event": "B"}}})),
            "trigger.inaction.within: is required"
        );
        assert_eq!(
            err(json!({"date_property": {"property": "DOB", "at": "25:00"}})),
            "trigger.date_property.at: must be a time of day \"HH:MM\", not \"25:00\""
        );
        assert_eq!(
            err(json!({"action": {"event": "A"}, "inaction": {}})),
            "trigger: give exactly one of action, inaction, date_property"
        );
        assert_eq!(
            err(json!({"date_property": {"property": "DOB"}, "delay": {"value": 1, "unit": "days"}})),
            "trigger.delay: only an action trigger takes a delay"
        );
        assert!(
            err(json!({"action": {"event": "A", "where": [{"name": "x", "operator": "gt", "value": 1}]}}))
                .starts_with("trigger.action.where[0].operator")
        );
    }
}
