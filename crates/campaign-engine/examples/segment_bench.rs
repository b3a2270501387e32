//! Times the benchmark segment "City equals X AND did Charged at least 2 times in the last 30 days with
//! Amount > 100" over a generated store.
//!
//! `cargo run --release -p campaign-engine --example segment_bench -- [PROFILES] [EVENTS] [RUNS]`
//! (defaults 1,000,000 profiles, 10,000,000 events, 7 runs).
//!
//! The data is deterministic (`campaign_engine::synthetic`, a fixed seed): each profile has a `City` among 50
//! and a `Gender`; each event belongs to a random profile, happened in the 90 days before `now`, and is
//! `Charged` (one in five, with an `Amount` from 0 to 299) or one of 19 other events without properties. It is
//! loaded through `MemoryStore`'s public API, as an upload would. `tapink bench` times the same segment over
//! the same generator.

use std::time::{Duration, Instant};

use campaign_engine::segment::{SavedSegments, Segment};
use campaign_engine::synthetic::{benchmark_segment, build_store};
use clock::Timestamp;

/// The seed this example has always used, so its figures stay comparable.
const SEED: u64 = 0x7A91_17E5_EED5_0001;

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).map_or(default, |a| a.replace(['_', ','], "").parse().expect("a whole number"))
}

/// Peak resident set size (`VmHWM`), as Linux reports it.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l["VmHWM:".len()..].trim().to_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() {
    let (profiles, events, runs) = (arg(1, 1_000_000).max(1), arg(2, 10_000_000), arg(3, 7).max(1));
    let now: Timestamp = "2026-03-01T00:00:00Z".parse().expect("a timestamp");

    let started = Instant::now();
    let store = build_store(profiles, events, SEED, now, |_| {});
    let build_time = started.elapsed();
    println!("profiles       {}", store.profile_count());
    println!("events         {}", store.event_count());
    println!("build          {:.2} s", build_time.as_secs_f64());
    println!("peak RSS       {}", peak_rss());

    let saved = SavedSegments::new();
    let segment = Segment::parse(&benchmark_segment(), &saved).expect("the benchmark segment parses");

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
