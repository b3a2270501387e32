//! Who a campaign is for: everyone, a CleverTap query (the `where` of the targets API), or a segment of the
//! dashboard's richer model (which may name saved segments, hence the `saved` every method takes).

use clock::Timestamp;

use crate::event::Event;
use crate::profile::Profile;
use crate::query::Query;
use crate::segment::{SavedSegments, Segment};
use crate::store::MemoryStore;

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The whole user base (`"segment": "all"`, or an empty `where`).
    All,
    Query(Query),
    Segment(Segment),
}

impl Target {
    /// The users in it, in the order first seen.
    pub fn profiles<'s>(&self, store: &'s MemoryStore, saved: &SavedSegments, now: Timestamp) -> Vec<&'s Profile> {
        match self {
            Target::All => store.profiles().collect(),
            Target::Query(query) => query.profiles(store, now),
            Target::Segment(segment) => segment.profiles(store, saved, now),
        }
    }

    /// Whether one user is in it.
    pub fn holds(&self, profile: &Profile, events: &[Event], saved: &SavedSegments, now: Timestamp) -> bool {
        match self {
            Target::All => true,
            Target::Query(query) => query.holds(profile, events),
            Target::Segment(segment) => segment.holds(profile, events, saved, now),
        }
    }

    /// CleverTap's "estimated reach": how many users are in it now.
    pub fn reach(&self, store: &MemoryStore, saved: &SavedSegments, now: Timestamp) -> usize {
        match self {
            Target::All => store.profile_count(),
            Target::Query(query) => query.count_profiles(store, now),
            Target::Segment(segment) => segment.estimate_reach(store, saved, now),
        }
    }
}
