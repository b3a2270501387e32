//! The behaviour a `did` / `did_not` rule looks for: an event by name, in a window, with property filters that
//! all hold on the same event.

use clock::Timestamp;

use crate::event::Event;
use crate::query::Filter;

use super::window::{Bounds, Window};

/// "The user did `event` in `window`, where every filter holds on that event".
#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    /// As given.
    event: String,
    /// As compared ([`Event::key`]), worked out once here rather than per event.
    key: String,
    window: Window,
    filters: Vec<Filter>,
}

impl EventRule {
    /// A rule for `event` (compared ignoring case and spaces) in `window`. In a `Charged` event a filter also
    /// looks in each of its `Items` and holds if it holds on the event or any item, as in CQL.
    pub fn new(event: impl Into<String>, window: Window, filters: Vec<Filter>) -> EventRule {
        let event = event.into();
        EventRule { key: Event::key(&event), event, window, filters }
    }

    /// The event name as given.
    pub fn event(&self) -> &str {
        &self.event
    }

    pub fn window(&self) -> Window {
        self.window
    }

    /// The event property filters (`where`).
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// The rule made absolute at `now`, ready to read one user's events.
    pub(crate) fn at(&self, now: Timestamp) -> Matcher<'_> {
        Matcher {
            key: &self.key,
            charged: self.key == "charged",
            bounds: self.window.bounds(now),
            filters: &self.filters,
        }
    }
}

/// An [`EventRule`] at one `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Matcher<'a> {
    key: &'a str,
    charged: bool,
    bounds: Bounds,
    filters: &'a [Filter],
}

impl<'a> Matcher<'a> {
    /// A user's events that match, oldest first; `events` must be oldest first.
    pub(crate) fn matching<'e>(self, events: &'e [Event]) -> impl Iterator<Item = &'e Event> + use<'a, 'e> {
        self.bounds
            .slice(events)
            .iter()
            .filter(move |e| e.name.key() == self.key && self.filters.iter().all(|f| f.holds_on_event(e, self.charged)))
    }

    /// How many filters are checked per event, for ordering rules by cost.
    pub(crate) fn filter_count(self) -> usize {
        self.filters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;

    #[test]
    fn an_event_name_has_a_key_when_it_compares_equal_ignoring_case_and_spaces() {
        for (name, other) in [("Charged", "charged"), ("Added To Cart", "added to cart"), ("ÉTÉ Sale", "étésale")] {
            assert_eq!(Name::new(name).key(), Event::key(other), "{name} / {other}");
        }
        for (name, other) in [("Charged", "Charge"), ("Charge d", "charged x"), ("ab", "a"), ("Ab  c", "abd")] {
            assert_ne!(Name::new(name).key(), Event::key(other), "{name} / {other}");
        }
    }
}
