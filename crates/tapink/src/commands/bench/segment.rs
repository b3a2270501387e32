//! Phase `segment`: the dashboard's example segment ("City equals City 7 AND did Charged at least 2 times in
//! the last 30 days with Amount > 100") evaluated over `--profiles` profiles and `--events` events built by
//! `campaign_engine::synthetic` (the generator `segment_bench` uses), several times: the fastest and the
//! median evaluation, against the engine's targets (under 0.1 s, under 1.5 GB resident).

use std::time::{Duration, Instant};

use campaign_engine::segment::{SavedSegments, Segment};
use campaign_engine::synthetic::{benchmark_segment, build_store};

use super::BenchArgs;
use super::cpu;
use super::outcome::{Outcome, verdict};
use crate::number_format::group;
use crate::progress::Progress;

/// The engine issue's targets.
pub const TARGET_SECONDS: f64 = 0.1;
pub const TARGET_PEAK_BYTES: u64 = 1_500_000_000;
const RUNS: usize = 5;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let (profiles, events, seed) = (args.profiles as usize, args.events as usize, args.seed);
    tokio::task::spawn_blocking(move || measure(profiles, events, seed)).await?
}

fn measure(profiles: usize, events: usize, seed: u64) -> anyhow::Result<Outcome> {
    let now: clock::Timestamp = "2026-03-01T00:00:00Z".parse()?;
    let mut bar = Progress::new("store", (profiles + events) as u64, "profiles and events");
    let started = Instant::now();
    let store = build_store(profiles, events, seed, now, |n| bar.update(n as u64));
    bar.finish((profiles + events) as u64);
    let build = started.elapsed();

    let saved = SavedSegments::new();
    let segment = Segment::parse(&benchmark_segment(), &saved)
        .map_err(|e| anyhow::anyhow!("the benchmark segment does not parse: {e}"))?;
    let mut bar = Progress::new("evaluations", RUNS as u64, "done");
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut found = 0;
    let cpu_before = cpu::process();
    for run in 0..RUNS {
        let started = Instant::now();
        found = segment.profiles(&store, &saved, now).len();
        times.push(started.elapsed());
        bar.update(run as u64 + 1);
    }
    bar.finish(RUNS as u64);
    let cpu_per_run = (cpu::process() - cpu_before) / RUNS as f64;
    times.sort();
    let (fastest, median) = (times[0].as_secs_f64(), times[RUNS / 2].as_secs_f64());

    let mut out = Outcome::default();
    out.row(
        "store",
        format!("{} profiles, {} events", group(store.profile_count() as u64), group(store.event_count() as u64)),
    );
    out.row("store built in", format!("{:.1} s", build.as_secs_f64()));
    out.row("profiles in the segment", group(found as u64));
    out.row_against(
        "evaluation, fastest / median",
        format!("{:.1} / {:.1} ms", fastest * 1e3, median * 1e3),
        verdict("< 0.1 s", median < TARGET_SECONDS),
    );
    out.row("CPU per evaluation (all threads)", format!("{:.1} ms", cpu_per_run * 1e3));
    out.memory_target = Some((TARGET_PEAK_BYTES, "< 1.5 GB".to_owned()));
    out.set("profiles", store.profile_count());
    out.set("events", store.event_count());
    out.set("build_seconds", build.as_secs_f64());
    out.set("matches", found);
    out.set("runs", RUNS);
    out.set("evaluation_seconds_min", fastest);
    out.set("evaluation_seconds_median", median);
    out.set("cpu_seconds_per_evaluation", cpu_per_run);
    out.set("target_seconds", TARGET_SECONDS);
    out.set("target_peak_rss_bytes", TARGET_PEAK_BYTES);
    drop(store);
    Ok(out)
}
