//! Who a campaign is for: everyone, a CleverTap query (the `where` of the targets API), or a segment.

use clock::Timestamp;

use crate::event::Event;
use crate::profile::Profile;
use crate::query::Query;
use crate::store::MemoryStore;

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The whole user base (`"segment": "all"`, or an empty `where`).
    All,
    Query(Query),
}

impl Target {
    /// The users in it, in the order first seen.
    pub fn profiles<'s>(&self, store: &'s MemoryStore, now: Timestamp) -> Vec<&'s Profile> {
        match self {
            Target::All => store.profiles().collect(),
            Target::Query(query) => query.profiles(store, now),
        }
    }

    /// Whether one user is in it.
    pub fn holds(&self, profile: &Profile, events: &[Event], _now: Timestamp) -> bool {
        match self {
            Target::All => true,
            Target::Query(query) => query.holds(profile, events),
        }
    }

    /// CleverTap's "estimated reach": how many users are in it now.
    pub fn reach(&self, store: &MemoryStore, now: Timestamp) -> usize {
        match self {
            Target::All => store.profile_count(),
            Target::Query(query) => query.count_profiles(store, now),
        }
    }
}
