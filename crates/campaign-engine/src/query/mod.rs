//! Segments in CleverTap's query format (CQL), evaluated against the store: the body of `/1/profiles.json`,
//! `/1/events.json`, the counts, and the `where` of a campaign.
//!
//! ```json
//! {"event_name": "Charged", "from": 20240101, "to": 20240131,
//!  "event_properties": [{"name": "Amount", "operator": "greater_than", "value": 100}],
//!  "common_profile_properties": {"profile_fields": [{"name": "Tier", "operator": "equals", "value": "gold"}]}}
//! ```
//!
//! What is read ([`Query::parse`]):
//! - **Base query**: `event_name`, `from`, `to`, all three or none. `from`/`to` are `YYYYMMDD` integers (or strings
//!   of 8 digits), real dates, `from` ≤ `to`; both days are **included**, taken as **UTC days** (the account time
//!   zone is not modelled yet). Event names compare ignoring case and spaces ([`Event::key`]).
//! - **Event property filters**: `event_properties`, or the legacy `props`; they need the base query. All must hold
//!   on the same event. In a `Charged` event a property is also looked up in each of its `Items`, and the filter
//!   holds if it holds on the event or on any item (CleverTap's "OR across items").
//! - **Profile filters**: `common_profile_properties.profile_fields`, or the legacy
//!   `common_profile_prop.profile_fields`. A filter without `operator` means `equals`.
//! - **Operators and values**: see [`filter`] for how strings, numbers, booleans (`"True"`/`"False"`),
//!   `$D_` dates, lists and multi-values compare.
//! - **Accepted but NOT evaluated yet**: `session_properties`, `demographics`, `geo_fields` (at the top level, and
//!   `demographics`/`geo_fields` inside `common_profile_properties`). They do not narrow the result; they are
//!   listed by [`Query::unsupported_filters`] so an API can warn. Any other unknown key is refused, naming it.
//!
//! **Without a base query** CleverTap "defaults to all events over the past 365 days" for targeting and people
//! export. Here a query without a base query selects by its profile filters only: a base query with no event
//! filters asks only that the user did *some* event in the window, and reading the default that way would drop
//! users who were uploaded but never did anything, which a profile-only segment ("Tier equals gold") is meant to
//! reach. Event export (`/1/events.json`) needs a base query: see [`Query::require_events`].

pub(crate) mod day;
pub mod filter;
pub(crate) mod parse;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use clock::Timestamp;
use jiff::civil::Date;
use serde_json::Value;

pub use crate::field_error::FieldError;
pub use filter::{Filter, Operator};

use crate::event::Event;
use crate::profile::Profile;
use crate::properties::Properties;
use crate::store::MemoryStore;
use day::Day;

const NANOS: i128 = 1_000_000_000;

/// A CQL query, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    event: Option<EventPart>,
    profile_filters: Vec<Filter>,
    unsupported: Vec<String>,
}

/// The base query and its event-property filters.
#[derive(Debug, Clone, PartialEq)]
struct EventPart {
    /// `event_name` as given.
    name: String,
    /// The name as compared ([`Event::key`]).
    key: String,
    from: Day,
    to: Day,
    filters: Vec<Filter>,
}

impl EventPart {
    /// Whether `event` is this event, in the window, with every event filter holding on it.
    fn matches(&self, event: &Event) -> bool {
        event.name.key() == self.key && self.in_window(event.ts) && self.filters_hold(event)
    }

    /// From the start of `from` (UTC) to the end of `to`, both days included.
    fn in_window(&self, ts: Timestamp) -> bool {
        !self.before_window(ts) && ts.as_nanosecond() < i128::from(self.to.end()) * NANOS
    }

    fn before_window(&self, ts: Timestamp) -> bool {
        ts.as_nanosecond() < i128::from(self.from.start) * NANOS
    }

    fn filters_hold(&self, event: &Event) -> bool {
        event_filters_hold(&self.key, &self.filters, event)
    }

    /// The events of one user that match; `events` are oldest first, so the window is found by bisection.
    fn matching<'s>(&self, events: &'s [Event]) -> impl Iterator<Item = &'s Event> {
        let first = events.partition_point(|e| self.before_window(e.ts));
        events[first..].iter().take_while(|e| self.in_window(e.ts)).filter(|e| self.matches(e))
    }
}

/// Whether every filter holds on `event`, whose name compares as `key`. In a `Charged` event a property is
/// also looked up in each of its `Items`, and a filter holds if it holds on the event or on any item.
pub(crate) fn event_filters_hold(key: &str, filters: &[Filter], event: &Event) -> bool {
    let charged = key == "charged";
    filters.iter().all(|f| f.holds_on_event(event, charged))
}

impl Query {
    /// Reads a CQL query. Errors name the field at fault (`event_properties[1].operator: unknown operator …`).
    /// Never panics, whatever the JSON.
    pub fn parse(json: &Value) -> Result<Query, FieldError> {
        parse::parse(json)
    }

    /// The `event_name` of the base query, as given.
    pub fn event_name(&self) -> Option<&str> {
        self.event.as_ref().map(|e| e.name.as_str())
    }

    /// The base query's `from` and `to` days (inclusive, UTC).
    pub fn window(&self) -> Option<(Date, Date)> {
        self.event.as_ref().map(|e| (e.from.date, e.to.date))
    }

    /// The event-property filters (empty without a base query).
    pub fn event_filters(&self) -> &[Filter] {
        self.event.as_ref().map_or(&[], |e| e.filters.as_slice())
    }

    /// The profile filters (`profile_fields`).
    pub fn profile_filters(&self) -> &[Filter] {
        &self.profile_filters
    }

    /// Filter groups given but not evaluated yet, by path (`session_properties`,
    /// `common_profile_properties.demographics`, …): the result ignores them, so an API should warn.
    pub fn unsupported_filters(&self) -> &[String] {
        &self.unsupported
    }

    /// Event export needs a base query (CleverTap: "mandatory for event export"); this is the error to answer
    /// when it is missing. [`Query::events`] of a query without one is empty.
    pub fn require_events(&self) -> Result<(), FieldError> {
        match self.event {
            Some(_) => Ok(()),
            None => Err(FieldError::new("event_name", "required to export events (with from and to)")),
        }
    }

    fn profile_holds(&self, properties: &Properties) -> bool {
        self.profile_filters.iter().all(|f| f.holds([properties.get(&f.name)]))
    }

    /// The profiles in the segment, in the order first seen: profile filters hold and, with a base query, the
    /// user did the event in the window with every event filter holding on that same event.
    ///
    /// `now` is not read yet: windows are absolute days; it is there for relative windows and the account's day.
    pub fn profiles<'s>(&self, store: &'s MemoryStore, now: Timestamp) -> Vec<&'s Profile> {
        let _ = now;
        store
            .profiles_with_events()
            .filter(|(p, events)| {
                self.profile_holds(&p.properties)
                    && self.event.as_ref().is_none_or(|part| part.matching(events).next().is_some())
            })
            .map(|(p, _)| p)
            .collect()
    }

    /// The matching events of the profiles whose profile filters hold, by profile in the order first seen, then
    /// oldest first, each with its user. Empty without a base query (see [`Query::require_events`]).
    pub fn events<'s>(&self, store: &'s MemoryStore, now: Timestamp) -> Vec<(&'s Profile, &'s Event)> {
        let _ = now;
        let Some(part) = &self.event else { return Vec::new() };
        store
            .profiles_with_events()
            .filter(|(p, _)| self.profile_holds(&p.properties))
            .flat_map(|(p, events)| part.matching(events).map(move |e| (p, e)))
            .collect()
    }

    /// Whether one user is in the segment (the check of [`Query::profiles`] for a single user, as a live
    /// campaign asks it when the user's event arrives).
    pub fn holds(&self, profile: &Profile, events: &[Event]) -> bool {
        self.profile_holds(&profile.properties)
            && self.event.as_ref().is_none_or(|part| part.matching(events).next().is_some())
    }

    /// How many profiles [`Query::profiles`] would return.
    pub fn count_profiles(&self, store: &MemoryStore, now: Timestamp) -> usize {
        self.profiles(store, now).len()
    }

    /// How many events [`Query::events`] would return.
    pub fn count_events(&self, store: &MemoryStore, now: Timestamp) -> usize {
        self.events(store, now).len()
    }
}
