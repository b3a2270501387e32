//! Times the benchmark segment "City equals X AND did Charged at least 2 times in the last 30 days with
//! Amount > 100" over a generated store.
//!
//! `cargo run --release -p campaign-engine --example segment_bench -- [PROFILES] [EVENTS] [RUNS]`
//! (defaults 1,000,000 profiles, 10,000,000 events, 7 runs).
//!
//! The data is `campaign_engine::synthetic`'s, drawn with `data::SEED` (deterministic: each profile has a
//! `City` among 50 and a `Gender`; each event belongs to a random profile, happened in the 90 days before
//! `now`, and is `Charged` (one in five, with an `Amount` from 0 to 299) or one of 19 other events without
//! properties). It is loaded through `MemoryStore`'s public API, as an upload would; `ingest_bench` loads the
//! same data as uploads, and `tapink bench` times the same segment over the same generator.

mod data;

use std::time::{Duration, Instant};

use campaign_engine::segment::{SavedSegments, Segment};
use campaign_engine::synthetic::{benchmark_segment, build_store};
use data::{SEED, arg, peak_rss, process_cpu_seconds};

fn main() {
    let (profiles, events, runs) = (arg(1, 1_000_000).max(1), arg(2, 10_000_000), arg(3, 7).max(1));
    let now = data::now();

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
    let cpu_before = process_cpu_seconds();
    for _ in 0..runs {
        let started = Instant::now();
        found = segment.profiles(&store, &saved, now).len();
        times.push(started.elapsed());
    }
    let cpu_per_run = (process_cpu_seconds() - cpu_before) / runs as f64;
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("segment        City equals \"City 7\" AND did Charged >= 2 times in the last 30 days with Amount > 100");
    println!("in segment     {found}");
    println!("evaluation     min {:.1} ms, median {:.1} ms over {runs} runs", ms(times[0]), ms(times[runs / 2]));
    println!("CPU            {:.1} ms per evaluation (all threads; /proc ticks of 10 ms)", cpu_per_run * 1000.0);
    let started = Instant::now();
    let reach = segment.estimate_reach(&store, &saved, now);
    println!("estimate_reach {reach} in {:.1} ms", ms(started.elapsed()));
}
