//! Synthetic data for benchmarks, the same for the same seed: a fixed-seed SplitMix64 generator, a store of
//! profiles and events built through `MemoryStore`'s public upload calls (as an upload would fill it), and
//! the dashboard's example segment that `segment_bench` and `tapink bench` time over it.
//!
//! Each profile (`p0`, `p1`, …) has a `City` among 50 and a `Gender`; each event belongs to a random profile,
//! happened in the 90 days before `now`, and is `Charged` (one in five, with an `Amount` from 0 to 299) or
//! one of 19 other events without properties.

use clock::Timestamp;
use jiff::SignedDuration;
use serde_json::{Map, Value, json};

use crate::profile::IdentityKind;
use crate::store::MemoryStore;

/// SplitMix64: a small, fast generator with a fixed sequence per seed, good enough to spread test data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const CITIES: u64 = 50;
/// The other events; none is a name CleverTap reserves, so the same records also load through `/1/upload`.
const OTHER_EVENTS: [&str; 19] = [
    "App Opened",
    "App Closed",
    "Added To Cart",
    "Removed From Cart",
    "Product Viewed",
    "Category Viewed",
    "Searched",
    "Wishlisted",
    "Checkout Started",
    "Coupon Applied",
    "Banner Clicked",
    "Banner Viewed",
    "Email Opened",
    "Email Clicked",
    "Signed Up",
    "Logged In",
    "Logged Out",
    "Rated App",
    "Shared",
];
/// Events happen in the 90 days before `now`.
const DAYS: u64 = 90;

/// The benchmark segment: "City equals City 7 AND did Charged at least 2 times in the last 30 days with
/// Amount > 100", in the dashboard's segment JSON (`crate::segment::Segment::parse`).
pub fn benchmark_segment() -> Value {
    json!({"all": [
        {"profile": {"name": "City", "operator": "equals", "value": "City 7"}},
        {"did": {"event": "Charged", "last_days": 30,
            "where": [{"name": "Amount", "operator": "greater_than", "value": 100}],
            "count": {"operator": "greater_than_equals", "value": 2}}}]})
}

/// One generated record.
#[derive(Debug, Clone, PartialEq)]
pub enum Generated {
    /// Uploaded 400 days before `now`.
    Profile {
        object_id: String,
        city: String,
        gender: &'static str,
        ts: Timestamp,
    },
    Event {
        object_id: String,
        name: &'static str,
        amount: Option<u64>,
        ts: Timestamp,
    },
}

impl Generated {
    /// The record's `profileData` or `evtData`.
    pub fn properties(&self) -> Map<String, Value> {
        let mut map = Map::new();
        match self {
            Generated::Profile { city, gender, .. } => {
                map.insert("City".into(), city.as_str().into());
                map.insert("Gender".into(), (*gender).into());
            }
            Generated::Event { amount: Some(amount), .. } => {
                map.insert("Amount".into(), (*amount).into());
            }
            Generated::Event { amount: None, .. } => {}
        }
        map
    }

    /// The record in CleverTap's upload format.
    pub fn upload_json(&self) -> Value {
        match self {
            Generated::Profile { object_id, ts, .. } => json!({"type": "profile", "objectId": object_id,
                "ts": ts.as_second(), "profileData": self.properties()}),
            Generated::Event { object_id, name, ts, .. } => json!({"type": "event", "objectId": object_id,
                "ts": ts.as_second(), "evtName": name, "evtData": self.properties()}),
        }
    }
}

/// The `profiles` profiles (`p0`, `p1`, …) and then the `events` events drawn from `seed`, one at a time, the
/// events in the 90 days before `now`.
pub fn generate(profiles: usize, events: usize, seed: u64, now: Timestamp, mut each: impl FnMut(Generated)) {
    let mut rng = SplitMix64::new(seed);
    let created = now - SignedDuration::from_hours(24 * 400);
    for i in 0..profiles {
        let city = format!("City {}", rng.below(CITIES));
        let gender = if rng.below(2) == 0 { "F" } else { "M" };
        each(Generated::Profile { object_id: format!("p{i}"), city, gender, ts: created });
    }
    if profiles == 0 {
        return;
    }
    for _ in 0..events {
        let object_id = format!("p{}", rng.below(profiles as u64));
        let ago = rng.below(DAYS * 86_400);
        let ts = now - SignedDuration::from_secs(i64::try_from(ago).unwrap_or(0));
        each(if rng.below(5) == 0 {
            Generated::Event { object_id, name: "Charged", amount: Some(rng.below(300)), ts }
        } else {
            let name = OTHER_EVENTS[rng.below(OTHER_EVENTS.len() as u64) as usize];
            Generated::Event { object_id, name, amount: None, ts }
        });
    }
}

/// A store of the records [`generate`] draws, put in through `MemoryStore`'s upload calls. `progress` is told
/// how many profiles and events are in so far (out of `profiles + events`), every 100,000 and at the end.
pub fn build_store(
    profiles: usize,
    events: usize,
    seed: u64,
    now: Timestamp,
    mut progress: impl FnMut(usize),
) -> MemoryStore {
    let mut store = MemoryStore::new();
    let mut done = 0;
    generate(profiles, events, seed, now, |record| {
        let properties = record.properties();
        match record {
            Generated::Profile { object_id, ts, .. } => {
                store.upload_profile((IdentityKind::ObjectId, &object_id), &properties, ts);
            }
            Generated::Event { object_id, name, ts, .. } => {
                store.add_event((IdentityKind::ObjectId, &object_id), name, properties, ts, now);
            }
        }
        done += 1;
        if done % 100_000 == 0 {
            progress(done);
        }
    });
    progress(profiles + events);
    store
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{SavedSegments, Segment};

    fn now() -> Timestamp {
        "2026-03-01T00:00:00Z".parse().expect("a timestamp")
    }

    #[test]
    fn the_same_seed_builds_the_same_store_and_the_benchmark_segment_finds_the_same_profiles() {
        let saved = SavedSegments::new();
        let segment = Segment::parse(&benchmark_segment(), &saved).expect("the benchmark segment parses");
        let found = |seed| {
            let store = build_store(2_000, 40_000, seed, now(), |_| {});
            assert_eq!((store.profile_count(), store.event_count()), (2_000, 40_000));
            segment.profiles(&store, &saved, now()).len()
        };
        let a = found(7);
        assert!(a > 0, "some profiles match");
        assert_eq!(a, found(7));
    }

    #[test]
    fn progress_ends_at_profiles_plus_events() {
        let mut seen = Vec::new();
        build_store(150_000, 60_000, 1, now(), |n| seen.push(n));
        assert_eq!(seen.first(), Some(&100_000));
        assert_eq!(seen.last(), Some(&210_000));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    }

    #[test]
    fn below_stays_in_range_and_zero_is_treated_as_one() {
        let mut rng = SplitMix64::new(3);
        assert!((0..1000).all(|_| rng.below(7) < 7));
        assert_eq!(rng.below(0), 0);
    }
}
