//! Times live-trigger matching: what each incoming event costs the engine when 100 live-action campaigns
//! listen, against the same events with no campaign at all.
//!
//! `cargo run --release -p campaign-engine --example live_bench -- [EVENTS] [USERS]`
//! (defaults 1,000,000 events, 10,000 users).
//!
//! Deterministic (a fixed-seed splitmix64). 100 published live-action campaigns listen to 10 event names
//! (10 campaigns each), with property filters on `Category` (200 values), `Price` (0 to 99) and `Brand` (20
//! values), some with a delay and some for one city only. Half the events have one of those 10 names, half one of
//! 10 names no campaign listens to; about 1 % of events trigger a campaign.
//!
//! 1. The ingest path: events go through [`Engine::upload`] in calls of 1,000 records (CleverTap's maximum),
//!    the clock moving 50 ms between calls, and the deliveries made are taken after each call. Timed: the
//!    upload and take calls only (building each call's JSON is not). Run twice on fresh engines, with no
//!    campaign and with the 100: the difference is what live matching (and the deliveries it makes) adds.
//! 2. Matching alone: the events stored by the first part, given again to a [`Runner`] holding the same 100
//!    campaigns (`Runner::on_event`, as the engine calls it), grouped by whether any campaign listens to the
//!    event's name. No store writes, no JSON: only the lookup, the filters and, for the few that trigger, the
//!    user queued.
//!
//! The journal is one that keeps nothing: what is measured is matching, not the journal's copy of each call.
//! CPU time is the thread's own (`/proc/thread-self/schedstat`), which other processes' load does not inflate.

mod data;

use std::time::Instant;

use campaign_engine::Engine;
use campaign_engine::campaign::spec::parse_campaign;
use campaign_engine::profile::IdentityKind;
use campaign_engine::runner::{Account, Runner};
use campaign_engine::segment::SavedSegments;
use clock::{ManualClock, Timestamp};
use data::Discard;
use serde_json::{Value, json};

/// Names some campaign listens to (10 campaigns each).
const LISTENED: [&str; 10] = [
    "Added To Cart",
    "Product Viewed",
    "Searched",
    "Wishlisted",
    "Checkout Started",
    "Coupon Applied",
    "Charged",
    "Signed Up",
    "Rated App",
    "Shared",
];
/// Names no campaign listens to.
const IGNORED: [&str; 10] = [
    "Category Viewed",
    "Removed From Cart",
    "Email Opened",
    "Email Clicked",
    "Logged In",
    "Logged Out",
    "Page Scrolled",
    "Video Played",
    "Review Read",
    "Filter Applied",
];
const CAMPAIGNS: usize = 100;
const CATEGORIES: u64 = 200;
const BRANDS: u64 = 20;
const CITIES: u64 = 10;
const BATCH: usize = 1_000;

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

/// This thread's CPU time so far, in nanoseconds (Linux); 0 where unknown.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Campaign `i`: listens to `LISTENED[i % 10]`, with one of four kinds of filters; every third waits 10
/// minutes; every fifth is for one city.
fn campaign(i: usize) -> Value {
    let filters = match (i / 10) % 4 {
        0 => json!([{"name": "Category", "operator": "equals", "value": format!("c{i}")}]),
        1 => json!([{"name": "Category", "operator": "equals", "value": format!("c{}", i + 100)},
                    {"name": "Price", "operator": "greater_than", "value": 50}]),
        2 => json!([{"name": "Price", "operator": "greater_than_equals", "value": 97},
                    {"name": "Brand", "operator": "equals", "value": format!("b{}", i % 20)}]),
        _ => json!([{"name": "Brand", "operator": "equals", "value": format!("b{}", i % 20)},
                    {"name": "Category", "operator": "not_equals", "value": "c0"},
                    {"name": "Price", "operator": "less_than", "value": 10}]),
    };
    let mut trigger = json!({"action": {"event": LISTENED[i % LISTENED.len()], "where": filters}});
    if i.is_multiple_of(3) {
        trigger["delay"] = json!({"value": 10, "unit": "minutes"});
    }
    let mut campaign = json!({"name": format!("Live {i}"), "webhook_endpoint_name": "inkit", "trigger": trigger,
                              "content": {"body": "{\"to\": \"{{Profile.Name}}\"}"}});
    if i.is_multiple_of(5) {
        campaign["segment"] =
            json!({"profile": {"name": "City", "operator": "equals", "value": format!("City {}", i % 10)}});
    } else {
        campaign["where"] = json!({});
    }
    campaign
}

/// One upload call's records: `n` events of random users, half of listened names.
fn events(rng: &mut SplitMix64, users: usize, n: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|_| {
            let user = rng.below(users as u64);
            let names: &[&str] = if rng.below(2) == 0 { &LISTENED } else { &IGNORED };
            let name = names[rng.below(names.len() as u64) as usize];
            json!({"type": "event", "identity": format!("u{user}"), "evtName": name, "evtData": {
                "Category": format!("c{}", rng.below(CATEGORIES)),
                "Price": rng.below(100),
                "Brand": format!("b{}", rng.below(BRANDS)),
            }})
        })
        .collect();
    json!({ "d": records })
}

fn start() -> Timestamp {
    "2026-03-02T09:00:00Z".parse().expect("a timestamp")
}

/// An engine with `users` profiles and, when `live`, the 100 campaigns.
fn engine(clock: &std::sync::Arc<ManualClock>, users: usize, live: bool) -> Engine {
    let mut engine = Engine::open(clock.clone(), Box::new(Discard)).expect("an empty journal opens");
    engine.add_webhook("inkit", &Value::Null).expect("kept");
    for chunk in (0..users).collect::<Vec<_>>().chunks(BATCH) {
        let records: Vec<Value> = chunk
            .iter()
            .map(|u| json!({"type": "profile", "identity": format!("u{u}"),
                            "profileData": {"Name": format!("User {u}"), "City": format!("City {}", *u as u64 % CITIES)}}))
            .collect();
        engine.upload(&json!({ "d": records })).expect("profiles upload");
    }
    if live {
        for i in 0..CAMPAIGNS {
            let json = campaign(i);
            let spec = engine.read_campaign(&json).expect("the campaign parses");
            engine.save_campaign(&json, &spec).expect("saved");
        }
    }
    engine
}

struct Ingested {
    engine: Engine,
    wall_ns: u64,
    cpu_ns: u64,
    deliveries: usize,
}

fn ingest(events_total: usize, users: usize, live: bool) -> Ingested {
    let clock = std::sync::Arc::new(ManualClock::new(start()));
    let mut engine = engine(&clock, users, live);
    let mut rng = SplitMix64(0x11FE_7B1C_0000_0001);
    let (mut wall_ns, mut cpu, mut deliveries) = (0u64, 0u64, 0usize);
    let mut left = events_total;
    while left > 0 {
        let n = left.min(BATCH);
        left -= n;
        let body = events(&mut rng, users, n);
        clock.advance(std::time::Duration::from_millis(50));
        let (started, cpu_started) = (Instant::now(), cpu_ns());
        let outcome = engine.upload(&body).expect("a valid upload");
        deliveries += engine.take_deliveries().len();
        cpu += cpu_ns() - cpu_started;
        wall_ns += started.elapsed().as_nanos() as u64;
        assert_eq!(outcome.processed, n, "every event accepted");
    }
    Ingested { engine, wall_ns, cpu_ns: cpu, deliveries }
}

fn per_event(ns: u64, n: usize) -> f64 {
    ns as f64 / 1000.0 / n.max(1) as f64
}

fn main() {
    let (n, users) = (arg(1, 1_000_000).max(1), arg(2, 10_000).max(1));
    println!("live_bench: {n} events, {users} users, {CAMPAIGNS} live-action campaigns");

    println!("\n1. the ingest path (Engine::upload, {BATCH} records a call)");
    println!("{:<28} {:>14} {:>14} {:>11}", "", "wall µs/event", "CPU µs/event", "deliveries");
    let without = ingest(n, users, false);
    println!(
        "{:<28} {:>14.3} {:>14.3} {:>11}",
        "no campaign",
        per_event(without.wall_ns, n),
        per_event(without.cpu_ns, n),
        without.deliveries
    );
    drop(without.engine);
    let with = ingest(n, users, true);
    println!(
        "{:<28} {:>14.3} {:>14.3} {:>11}",
        "100 live campaigns",
        per_event(with.wall_ns, n),
        per_event(with.cpu_ns, n),
        with.deliveries
    );
    println!(
        "{:<28} {:>14.3} {:>14.3}",
        "what live matching adds",
        per_event(with.wall_ns, n) - per_event(without.wall_ns, n),
        per_event(with.cpu_ns, n) - per_event(without.cpu_ns, n)
    );

    println!("\n2. matching alone (Runner::on_event on the stored events)");
    let engine = with.engine;
    let now = engine.now();
    let zone = engine.account().time_zone.clone();
    let saved = SavedSegments::new();
    let mut runner = Runner::new(Account::default());
    for i in 0..CAMPAIGNS {
        let spec = parse_campaign(&campaign(i), i as u64 + 1, now, &zone, &saved).expect("the campaign parses");
        runner.add(spec.campaign);
    }
    let store = engine.store();
    let mut listened = Vec::new();
    let mut ignored = Vec::new();
    for u in 0..users {
        let Some(profile) = store.find(IdentityKind::Identity, &format!("u{u}")) else { continue };
        for event in store.events_of(&profile.object_id) {
            let entry = (profile.object_id.as_str(), event);
            if LISTENED.contains(&event.name.as_str()) { listened.push(entry) } else { ignored.push(entry) }
        }
    }
    println!("{:<28} {:>14} {:>14} {:>11}", "", "wall µs/event", "CPU µs/event", "events");
    for (label, group) in [("names no campaign hears", &ignored), ("names campaigns hear", &listened)] {
        let (started, cpu_started) = (Instant::now(), cpu_ns());
        for (object_id, event) in group.iter() {
            runner.on_event(store, object_id, event, now);
        }
        let cpu = cpu_ns() - cpu_started;
        let wall = started.elapsed().as_nanos() as u64;
        println!(
            "{:<28} {:>14.3} {:>14.3} {:>11}",
            label,
            per_event(wall, group.len()),
            per_event(cpu, group.len()),
            group.len()
        );
    }
    let qualified: u64 = (1..=CAMPAIGNS as u64).filter_map(|id| runner.report(id)).map(|r| r.total().qualified).sum();
    println!("qualified users (both groups): {qualified}");
}
