//! A segment made ready to test users at one `now`: saved segments resolved, windows made absolute, and the
//! children of `all` / `any` put cheapest first, so that profile filters (a property lookup) are tried before
//! behaviour (a user's events) and a user is decided with as little work as possible. Testing a user does not
//! allocate.

use clock::Timestamp;

use crate::event::Event;
use crate::profile::Profile;
use crate::query::Filter;
use crate::store::MemoryStore;

use super::rule::Matcher;
use super::{Measure, SavedSegments, Segment};

/// A [`Segment`] ready to test users: build it once ([`Segment::plan`]) and test many.
#[derive(Debug)]
pub struct Plan<'a> {
    root: Node<'a>,
}

#[derive(Debug)]
enum Node<'a> {
    All(Vec<Node<'a>>),
    Any(Vec<Node<'a>>),
    /// `exclude_segment`.
    Not(Box<Node<'a>>),
    Profile(&'a Filter),
    Did(Matcher<'a>, Option<&'a Measure>),
    DidNot(Matcher<'a>),
    /// What a part known in advance comes to: an empty `all`, a reference to a segment no longer saved.
    Always(bool),
}

/// Relative costs of testing a node, for ordering; only their order matters.
const PROFILE_COST: usize = 1;
const EVENTS_COST: usize = 20;

impl<'a> Plan<'a> {
    pub(super) fn new(segment: &'a Segment, saved: &'a SavedSegments, now: Timestamp) -> Plan<'a> {
        Plan { root: build(segment, saved, now, &mut Vec::new()) }
    }

    /// Whether the user with this profile and these events (oldest first) is in the segment.
    pub fn holds(&self, profile: &Profile, events: &[Event]) -> bool {
        holds(&self.root, profile, events)
    }

    /// The profiles in the segment, in the order first seen.
    pub fn profiles<'s>(&self, store: &'s MemoryStore) -> Vec<&'s Profile> {
        store.profiles_with_events().filter(|(p, events)| self.holds(p, events)).map(|(p, _)| p).collect()
    }

    /// How many profiles are in the segment.
    pub fn count(&self, store: &MemoryStore) -> usize {
        store.profiles_with_events().filter(|(p, events)| self.holds(p, events)).count()
    }
}

/// `expanding`: the saved segments being resolved, outermost first, so that a cycle (which
/// [`SavedSegments::save`] refuses) could not recurse forever.
fn build<'a>(segment: &'a Segment, saved: &'a SavedSegments, now: Timestamp, expanding: &mut Vec<&'a str>) -> Node<'a> {
    match segment {
        Segment::All(children) => combine(children.iter().map(|c| build(c, saved, now, expanding)).collect(), true),
        Segment::Any(children) => combine(children.iter().map(|c| build(c, saved, now, expanding)).collect(), false),
        Segment::Did { rule, measure } => Node::Did(rule.at(now), measure.as_ref()),
        Segment::DidNot(rule) => Node::DidNot(rule.at(now)),
        Segment::Profile(filter) => Node::Profile(filter),
        Segment::IncludeSegment(id) => include(id, saved, now, expanding),
        Segment::ExcludeSegment(id) => match include(id, saved, now, expanding) {
            Node::Always(members) => Node::Always(!members),
            node => Node::Not(Box::new(node)),
        },
        Segment::Cql(cql) => build(cql.segment(), saved, now, expanding),
    }
}

/// A saved segment's members; a segment that is not saved (any more) has none.
fn include<'a>(id: &'a str, saved: &'a SavedSegments, now: Timestamp, expanding: &mut Vec<&'a str>) -> Node<'a> {
    let Some(found) = saved.get(id) else { return Node::Always(false) };
    if expanding.contains(&id) {
        return Node::Always(false);
    }
    expanding.push(id);
    let node = build(&found.segment, saved, now, expanding);
    expanding.pop();
    node
}

/// `all` (`conjunction`) or `any` of `nodes`: nested ones of the same kind flattened, parts known in advance
/// folded in, the rest cheapest first (ties keep their order).
fn combine(nodes: Vec<Node<'_>>, conjunction: bool) -> Node<'_> {
    let mut parts = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node {
            // `true` in an `all` and `false` in an `any` change nothing.
            Node::Always(value) if value == conjunction => {}
            // `false` in an `all` and `true` in an `any` decide it.
            Node::Always(value) => return Node::Always(value),
            Node::All(inner) if conjunction => parts.extend(inner),
            Node::Any(inner) if !conjunction => parts.extend(inner),
            other => parts.push(other),
        }
    }
    parts.sort_by_key(cost);
    match (parts.len(), conjunction) {
        (0, _) => Node::Always(conjunction),
        (1, _) => parts.pop().unwrap_or(Node::Always(conjunction)),
        (_, true) => Node::All(parts),
        (_, false) => Node::Any(parts),
    }
}

fn cost(node: &Node<'_>) -> usize {
    match node {
        Node::Always(_) => 0,
        Node::Profile(_) => PROFILE_COST,
        Node::Did(matcher, _) | Node::DidNot(matcher) => EVENTS_COST + matcher.filter_count(),
        Node::Not(inner) => cost(inner),
        Node::All(parts) | Node::Any(parts) => parts.iter().map(cost).fold(0, usize::saturating_add),
    }
}

fn holds(node: &Node<'_>, profile: &Profile, events: &[Event]) -> bool {
    match node {
        Node::All(parts) => parts.iter().all(|n| holds(n, profile, events)),
        Node::Any(parts) => parts.iter().any(|n| holds(n, profile, events)),
        Node::Not(inner) => !holds(inner, profile, events),
        Node::Profile(filter) => filter.holds([profile.properties.get(&filter.name)]),
        Node::Did(matcher, None) => matcher.matching(events).next().is_some(),
        Node::Did(matcher, Some(measure)) => measure.holds(matcher.matching(events)),
        Node::DidNot(matcher) => matcher.matching(events).next().is_none(),
        Node::Always(value) => *value,
    }
}
