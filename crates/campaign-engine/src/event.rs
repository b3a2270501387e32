//! What a user did: an event with CleverTap's name, properties and time (`Charged` carries `Items`).

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One event of one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The user's CleverTap ID.
    pub object_id: String,
    /// As uploaded (`evtName`); CleverTap compares names ignoring case and spaces ([`Event::key`]).
    pub name: String,
    pub properties: Map<String, Value>,
    /// `ts`, or the time of the upload when it had none.
    pub ts: Timestamp,
}

impl Event {
    /// The name as CleverTap compares event names: case- and space-insensitive.
    pub fn key(name: &str) -> String {
        name.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
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
}
