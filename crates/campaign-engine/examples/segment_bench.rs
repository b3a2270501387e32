//! Times the benchmark segment "City equals X AND did Charged at least 2 times in the last 30 days with
//! Amount > 100" over a generated store.
//!
//! `cargo run --release -p campaign-engine --example segment_bench -- [PROFILES] [EVENTS] [RUNS]`
//! (defaults 1,000,000 profiles, 10,000,000 events, 7 runs).
//!
//! The data is deterministic (a fixed-seed splitmix64): each profile has a `City` among 50 and a `Gender`;
//! each event belongs to a random profile, happened in the 90 days before `now`, and is `Charged` (one in five,
//! with an `Amount` from 0 to 299) or one of 19 other events without properties. It is loaded through
//! `MemoryStore`'s public API, as an upload would.

use std::time::{Duration, Instant};

use campaign_engine::profile::IdentityKind;
use campaign_engine::segment::{SavedSegments, Segment};
use campaign_engine::store::MemoryStore;
use clock::Timestamp;
use jiff::SignedDuration;
use serde_json::{Map, Value, json};

const CITIES: usize = 50;
const OTHER_EVENTS: [&str; 19] = [
    "App Launched",
    "App Uninstalled",
    "Added To Cart",
    "Removed From Cart",
    "Product Viewed",
    "Category Viewed",
    "Searched",
    "Wishlisted",
    "Checkout Started",
    "Coupon Applied",
    "Notification Clicked",
    "Notification Viewed",
    "Email Opened",
    "Email Clicked",
    "Signed Up",
    "Logged In",
    "Logged Out",
    "Rated App",
    "Shared",
];
const DAYS: u64 = 90;

/// splitmix64: small, fast and good enough to spread test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).map_or(default, |a| a.replace(['_', ','], "").parse().expect("a whole number"))
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Peak resident set size (`VmHWM`), as Linux reports it.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l["VmHWM:".len()..].trim().to_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn build(profiles: usize, events: usize, now: Timestamp) -> MemoryStore {
    let mut rng = SplitMix64(0x7A91_17E5_EED5_0001);
    let mut store = MemoryStore::new();
    let created = now - SignedDuration::from_hours(24 * 400);
    for i in 0..profiles {
        let city = format!("City {}", rng.below(CITIES as u64));
        let gender = if rng.below(2) == 0 { "F" } else { "M" };
        store.upload_profile(
            (IdentityKind::ObjectId, &format!("p{i}")),
            &object(json!({"City": city, "Gender": gender})),
            created,
        );
    }
    let window_secs = i64::try_from(DAYS * 86_400).expect("fits");
    for _ in 0..events {
        let who = format!("p{}", rng.below(profiles as u64));
        let ago = i64::try_from(rng.below(window_secs as u64)).expect("fits");
        let ts = now - SignedDuration::from_secs(ago);
        if rng.below(5) == 0 {
            let amount = rng.below(300);
            store.add_event((IdentityKind::ObjectId, &who), "Charged", object(json!({"Amount": amount})), ts, now);
        } else {
            let name = OTHER_EVENTS[rng.below(OTHER_EVENTS.len() as u64) as usize];
            store.add_event((IdentityKind::ObjectId, &who), name, Map::new(), ts, now);
        }
    }
    store
}

fn main() {
    let (profiles, events, runs) = (arg(1, 1_000_000).max(1), arg(2, 10_000_000), arg(3, 7).max(1));
    let now: Timestamp = "2026-03-01T00:00:00Z".parse().expect("a timestamp");

    let started = Instant::now();
    let store = build(profiles, events, now);
    let build_time = started.elapsed();
    println!("profiles       {}", store.profile_count());
    println!("events         {}", store.event_count());
    println!("build          {:.2} s", build_time.as_secs_f64());
    println!("peak RSS       {}", peak_rss());

    let saved = SavedSegments::new();
    let segment = Segment::parse(
        &json!({"all": [
            {"profile": {"name": "City", "operator": "equals", "value": "City 7"}},
            {"did": {"event": "Charged", "last_days": 30,
                "where": [{"name": "Amount", "operator": "greater_than", "value": 100}],
                "count": {"operator": "greater_than_equals", "value": 2}}}]}),
        &saved,
    )
    .expect("the benchmark segment parses");

    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut found = 0;
    for _ in 0..runs {
        let started = Instant::now();
        found = segment.profiles(&store, &saved, now).len();
        times.push(started.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("segment        City equals \"City 7\" AND did Charged >= 2 times in the last 30 days with Amount > 100");
    println!("in segment     {found}");
    println!("evaluation     min {:.1} ms, median {:.1} ms over {runs} runs", ms(times[0]), ms(times[runs / 2]));
    let started = Instant::now();
    let reach = segment.estimate_reach(&store, &saved, now);
    println!("estimate_reach {reach} in {:.1} ms", ms(started.elapsed()));
}
