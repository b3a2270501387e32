//! The dashboard's segment model, richer than CQL: rules on profile properties and on behaviour ("did Charged
//! at least twice in the last 30 days with Amount > 100", "did not do Tutorial Completed"), combined with
//! AND / OR and nested, including or excluding saved segments, and CQL queries as leaves.
//!
//! CleverTap's own JSON for these "advanced filters" is not public, so the format is ours:
//!
//! ```json
//! {"all": [
//!   {"profile": {"name": "City", "operator": "equals", "value": "Pune"}},
//!   {"did": {"event": "Charged", "last_days": 30,
//!            "where": [{"name": "Amount", "operator": "greater_than", "value": 100}],
//!            "count": {"operator": "greater_than_equals", "value": 2}}},
//!   {"any": [{"did_not": {"event": "App Launched", "between": [20260101, 20260131]}},
//!            {"did": {"event": "Charged", "ever": true,
//!                     "sum": {"property": "Amount", "operator": "less_than", "value": 50,
//!                             "include_users_who_did_not_do_the_event": true}}}]},
//!   {"include_segment": "newsletter"},
//!   {"exclude_segment": "churned"},
//!   {"cql": {"event_name": "Viewed", "from": 20260101, "to": 20260131}}]}
//! ```
//!
//! - **A segment** is an object with exactly one key: `all` (AND; `[]` is everyone), `any` (OR; not empty),
//!   `did`, `did_not`, `profile`, `include_segment`, `exclude_segment` or `cql`. They nest freely.
//! - **`profile`** is one CQL property filter (`{"name", "operator", "value"}`, [`crate::query::filter`] says
//!   how values compare).
//! - **`did` / `did_not`**: `event` (compared ignoring case and spaces), one window ([`Window`]: `last_days`
//!   N, `between` `[YYYYMMDD, YYYYMMDD]`, or `ever: true`) and optional `where` filters, which must all hold on
//!   the same event (in `Charged`, on the event or any of its `Items`, as in CQL). `did_not` holds when no
//!   event matches.
//! - **Measures** (`did` only, at most one, [`Measure`]): `count` `{"operator", "value"}` of matching events;
//!   `sum` / `average` `{"property", "operator", "value"}` of a numeric event property over them, missing or
//!   non-numeric values counting as 0; operators `equals`, `not_equals`, `greater_than`,
//!   `greater_than_equals`, `less_than`, `less_than_equals`. Without a measure, `did` is "at least once".
//!   A measure holds only for users with at least one matching event, unless
//!   `"include_users_who_did_not_do_the_event": true` (allowed with `less_than` / `less_than_equals`), with
//!   which a user without one measures 0.
//! - **`include_segment` / `exclude_segment`**: the id of a saved segment ([`SavedSegments`]). Put them in an
//!   `all` to combine them with AND, as CleverTap's include + exclude do.
//! - **`cql`**: a CQL query ([`crate::query`]), selecting what it selects in `/1/profiles.json`.
//! - There is no general NOT: as in CleverTap, negation is `did_not`, `exclude_segment` and the negative
//!   operators of filters (`not_equals`, `does_not_contain`, `does_not_exist`).
//!
//! Errors name the JSON path (`all[1].did.count.operator: unknown operator "gt"; the operators are …`);
//! unknown keys are refused by name. [`Segment::to_json`] writes the same shape back (with explicit operators,
//! and a one-value list as its value), and reads back as the same segment.
//!
//! Where CleverTap is silent (see `Window` and `Measure` for details): `last_days` is a rolling window ending
//! at `now` and includes the current partial day; `between` days are UTC days; `ever` is every stored event;
//! sums and averages read the event's own property (not `Items`); an average with no events is 0; a reference
//! to a segment that is no longer saved selects no one (`include`) or excludes no one (`exclude`).

mod cql;
mod measure;
mod parse;
mod plan;
mod rule;
mod saved;
mod serialize;
#[cfg(test)]
mod tests;
mod window;

use clock::Timestamp;
use serde_json::Value;

use crate::event::Event;
use crate::field_error::FieldError;
use crate::profile::Profile;
use crate::query::Filter;
use crate::store::MemoryStore;

pub use cql::Cql;
pub use measure::{Aggregate, Comparison, Measure};
pub use plan::Plan;
pub use rule::EventRule;
pub use saved::{SavedSegment, SavedSegments};
pub use window::Window;

/// A segment: who a campaign targets.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Every part holds (AND). Empty: everyone.
    All(Vec<Segment>),
    /// At least one part holds (OR). Empty: no one.
    Any(Vec<Segment>),
    /// The user did the event; `measure` `None` means at least once.
    Did { rule: EventRule, measure: Option<Measure> },
    /// The user did not do the event in the window (no event matches).
    DidNot(EventRule),
    /// A profile property filter.
    Profile(Filter),
    /// The members of a saved segment, by id.
    IncludeSegment(String),
    /// Everyone but the members of a saved segment, by id.
    ExcludeSegment(String),
    /// A CQL query.
    Cql(Cql),
}

impl Segment {
    /// Reads a segment and checks that every saved segment it refers to exists. Errors name the field at fault.
    /// Never panics, whatever the JSON.
    pub fn parse(json: &Value, saved: &SavedSegments) -> Result<Segment, FieldError> {
        let segment = parse::segment(json, "")?;
        saved.check(&segment)?;
        Ok(segment)
    }

    /// The segment as JSON, in the shape [`Segment::parse`] reads.
    pub fn to_json(&self) -> Value {
        serialize::to_json(self)
    }

    /// The segment ready to test many users at `now`. Build one per evaluation, not one per user.
    pub fn plan<'a>(&'a self, saved: &'a SavedSegments, now: Timestamp) -> Plan<'a> {
        Plan::new(self, saved, now)
    }

    /// Whether one user, with their events oldest first, is in the segment at `now` (for the campaign runner
    /// and live triggers). To test many users, use [`Segment::plan`] once.
    pub fn holds(&self, profile: &Profile, events: &[Event], saved: &SavedSegments, now: Timestamp) -> bool {
        self.plan(saved, now).holds(profile, events)
    }

    /// The profiles in the segment at `now`, in the order first seen.
    pub fn profiles<'s>(&self, store: &'s MemoryStore, saved: &SavedSegments, now: Timestamp) -> Vec<&'s Profile> {
        self.plan(saved, now).profiles(store)
    }

    /// How many profiles are in the segment at `now`.
    pub fn count(&self, store: &MemoryStore, saved: &SavedSegments, now: Timestamp) -> usize {
        self.plan(saved, now).count(store)
    }

    /// The campaign's "estimated reach": how many profiles the segment holds now (the same as
    /// [`Segment::count`]; reachability by channel is not modelled yet).
    pub fn estimate_reach(&self, store: &MemoryStore, saved: &SavedSegments, now: Timestamp) -> usize {
        self.count(store, saved, now)
    }
}
