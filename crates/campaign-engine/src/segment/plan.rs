//! A segment made ready to test users at one `now`: saved segments resolved, windows made absolute, and the
//! children of `all` / `any` put cheapest first, so that profile filters (a property lookup) are tried before
//! behaviour (a user's events) and a user is decided with as little work as possible. Testing a user does not
//! allocate. A large store is read on every core, in consecutive parts, keeping the order first seen.

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
        let parts = in_parts(store, PARALLEL_FROM, |skip, take| {
            let users = store.profiles_with_events().skip(skip).take(take);
            users.filter(|(p, events)| self.holds(p, events)).map(|(p, _)| p).collect::<Vec<_>>()
        });
        parts.concat()
    }

    /// How many profiles are in the segment.
    pub fn count(&self, store: &MemoryStore) -> usize {
        let parts = in_parts(store, PARALLEL_FROM, |skip, take| {
            store.profiles_with_events().skip(skip).take(take).filter(|(p, events)| self.holds(p, events)).count()
        });
        parts.into_iter().sum()
    }
}

/// Stores with fewer profiles are read on one thread: starting threads would cost more than it saves.
const PARALLEL_FROM: usize = 100_000;
const MAX_THREADS: usize = 8;

/// `work(skip, take)` over consecutive parts of the store's profiles, one per core for a store of
/// `parallel_from` profiles or more, with the results in the order of the parts. Testing a user only reads, and
/// reads memory of that user alone, so parts scale with cores until memory bandwidth runs out.
pub(super) fn in_parts<R: Send>(
    store: &MemoryStore,
    parallel_from: usize,
    work: impl Fn(usize, usize) -> R + Sync,
) -> Vec<R> {
    let total = store.profile_count();
    let threads = if total < parallel_from {
        1
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(MAX_THREADS)
    };
    if threads <= 1 {
        return vec![work(0, total)];
    }
    let part = total.div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads).map(|i| scope.spawn(move || work(i * part, part))).collect();
        // A panic in a part is a bug; it surfaces here as it would have on one thread.
        running.into_iter().map(|part| part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
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
