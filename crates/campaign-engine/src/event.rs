//! What a user did: an event with CleverTap's name, properties and time (`Charged` carries `Items`).
//! An event is always reached through its user, so it does not repeat the user's ID; its name and property
//! keys are interned by the store (32 bytes an event, and the properties' one allocation when it has any).

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::name::Name;
use crate::properties::Properties;

/// One event of one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// As uploaded (`evtName`); CleverTap compares names ignoring case and spaces ([`Name::key`]).
    pub name: Name,
    pub properties: Properties,
    /// `ts`, or the time of the upload when it had none.
    pub ts: Timestamp,
}

impl Event {
    /// The name as CleverTap compares event names: case- and space-insensitive.
    pub fn key(name: &str) -> String {
        crate::name::compare_key(name)
    }

    /// The `Items` of a `Charged` event (empty for other events).
    pub fn items(&self) -> &[Value] {
        self.properties.get("Items").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_compare_ignoring_case_and_spaces() {
        assert_eq!(Event::key("Added To Cart"), Event::key("addedtocart"));
        assert_ne!(Event::key("Charged"), Event::key("Charge"));
    }

    #[test]
    fn an_event_is_four_words() {
        assert_eq!(std::mem::size_of::<Event>(), 32);
    }
}
