//! `--soak MINUTES`: a steady stream of events (`--rate` a second) through a live campaign (`live.rs`) for
//! that long, one row per `--sample-seconds` interval (events posted, documents in History, the interval's
//! latency percentiles, resident memory), then two verdicts:
//!
//! - latency held: every interval's p99 at most `--max-p99-ms`, and every event's document in History at
//!   the end;
//! - memory flat: History, the engine's events and its send log keep every event by design, as Inkit and
//!   CleverTap do, so resident memory grows with them (about 4.9 KB per event in a 3-minute soak); it counts
//!   as flat when the second half of the run grows by at most [`MAX_BYTES_PER_EVENT`] per event posted in it
//!   (so a leak of more than about 3 KB per event fails it; smaller ones are not told apart from what is kept
//!   by design) and by no more than the first half did plus 10 %.

use std::time::{Duration, Instant};

use super::BenchArgs;
use super::live::{LiveRig, percentile};
use super::memory::{current_rss, mib};
use super::outcome::{Outcome, verdict};
use crate::number_format::group;

/// The most resident growth per event allowed in the second half of the run.
pub const MAX_BYTES_PER_EVENT: f64 = 8_192.0;
/// Users the events cycle through.
const USERS: u64 = 10_000;
/// How long the end of the run waits for the last events' documents.
const DRAIN: Duration = Duration::from_secs(30);

/// One interval's row.
#[derive(Debug, Clone)]
struct Sample {
    seconds: f64,
    posted: u64,
    in_history: u64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    rss: Option<u64>,
}

pub async fn run(args: &BenchArgs, minutes: f64) -> anyhow::Result<Outcome> {
    let total = Duration::from_secs_f64(minutes * 60.0);
    let interval = Duration::from_secs(args.sample_seconds);
    let mut rig = LiveRig::start(USERS.min(args.users), args.seed).await?;
    println!(
        "soak: {} events/s through a live campaign for {:.1} min, a row every {} s",
        group(args.rate),
        minutes,
        args.sample_seconds
    );
    println!(
        "{:>8} {:>10} {:>11} {:>9} {:>9} {:>9} {:>10}",
        "t (s)", "posted", "in History", "p50 ms", "p99 ms", "max ms", "RSS"
    );
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut window: Vec<f64> = Vec::new();
    let mut in_history = 0u64;
    let mut duplicates = 0u64;
    let mut next_sample = started + interval;
    while started.elapsed() < total {
        rig.post_due(args.rate, started, u64::MAX).await?;
        let new = rig.new_latencies();
        in_history += new.latencies_ms.len() as u64;
        duplicates += new.duplicates;
        window.extend(new.latencies_ms);
        if Instant::now() >= next_sample {
            window.sort_by(f64::total_cmp);
            let sample = Sample {
                seconds: started.elapsed().as_secs_f64(),
                posted: rig.posted(),
                in_history,
                p50_ms: percentile(&window, 50.0),
                p99_ms: percentile(&window, 99.0),
                max_ms: percentile(&window, 100.0),
                rss: current_rss(),
            };
            print_sample(&sample);
            samples.push(sample);
            window.clear();
            next_sample += interval;
        }
        // Each look at History walks all of it (a pointer per entry); five looks a second keep that small.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain_started = Instant::now();
    while in_history < rig.posted() && drain_started.elapsed() < DRAIN {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let new = rig.new_latencies();
        in_history += new.latencies_ms.len() as u64;
        duplicates += new.duplicates;
    }
    let posted = rig.posted();
    rig.shutdown().await;
    Ok(judge(&samples, posted, in_history, duplicates, args))
}

fn print_sample(s: &Sample) {
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    println!(
        "{:>8.0} {:>10} {:>11} {:>9} {:>9} {:>9} {:>10}",
        s.seconds,
        group(s.posted),
        group(s.in_history),
        ms(s.p50_ms),
        ms(s.p99_ms),
        ms(s.max_ms),
        s.rss.map_or("unknown".to_owned(), mib)
    );
}

fn judge(samples: &[Sample], posted: u64, in_history: u64, duplicates: u64, args: &BenchArgs) -> Outcome {
    let mut out = Outcome::default();
    let bound = args.max_p99_ms as f64;
    let worst_p99 =
        samples.iter().filter_map(|s| s.p99_ms).fold(None, |worst: Option<f64>, p| Some(worst.map_or(p, |w| w.max(p))));
    let latency_held = worst_p99.is_some_and(|p| p <= bound) && in_history == posted;
    out.row("events posted / in History", format!("{} / {}", group(posted), group(in_history)));
    out.row_against(
        "worst interval p99",
        worst_p99.map_or("-".to_owned(), |p| format!("{p:.1} ms")),
        verdict(&format!("every p99 ≤ {bound:.0} ms, every event in History"), latency_held),
    );
    out.check(
        latency_held,
        format!(
            "soak: latency did not hold (worst p99 {}, {posted} posted, {in_history} in History)",
            worst_p99.map_or("-".to_owned(), |p| format!("{p:.1} ms"))
        ),
    );

    // The halves: first sample to the middle one, middle one to the last.
    let rss: Vec<(u64, u64)> = samples.iter().filter_map(|s| s.rss.map(|r| (r, s.posted))).collect();
    let memory = match (rss.first(), rss.get(rss.len() / 2), rss.last()) {
        (Some(first), Some(mid), Some(last)) if rss.len() >= 4 => {
            let first_half = mid.0 as f64 - first.0 as f64;
            let second_half = last.0 as f64 - mid.0 as f64;
            let per_event = second_half / (last.1 - mid.1).max(1) as f64;
            let flat = per_event <= MAX_BYTES_PER_EVENT && second_half <= first_half.max(0.0) * 1.1 + 1_048_576.0;
            out.row(
                "RSS growth: first half / second half",
                format!("{} / {} MiB", (first_half / 1_048_576.0).round(), (second_half / 1_048_576.0).round()),
            );
            out.row_against(
                "second half, per event",
                format!("{per_event:.0} B"),
                verdict(&format!("≤ {MAX_BYTES_PER_EVENT:.0} B and ≤ first half + 10 %"), flat),
            );
            out.set("rss_growth_first_half_bytes", first_half);
            out.set("rss_growth_second_half_bytes", second_half);
            out.set("rss_growth_second_half_bytes_per_event", per_event);
            Some(flat)
        }
        _ => None,
    };
    match memory {
        Some(flat) => out.check(flat, "soak: memory did not stay flat (see the RSS rows)"),
        None => out.check(false, "soak: resident memory could not be sampled at least 4 times"),
    }
    out.set("minutes", args.soak);
    out.set("rate_per_s", args.rate);
    out.set("sample_seconds", args.sample_seconds);
    out.set("events", posted);
    out.set("in_history", in_history);
    out.set("duplicates", duplicates);
    out.set("worst_interval_p99_ms", worst_p99);
    out.set("p99_bound_ms", bound);
    out.set("max_bytes_per_event", MAX_BYTES_PER_EVENT);
    out.set("latency_held", latency_held);
    out.set("memory_flat", memory);
    out.set(
        "samples",
        samples
            .iter()
            .map(|s| {
                serde_json::json!({"seconds": s.seconds, "posted": s.posted, "in_history": s.in_history,
                    "p50_ms": s.p50_ms, "p99_ms": s.p99_ms, "max_ms": s.max_ms, "rss_bytes": s.rss})
            })
            .collect::<Vec<_>>(),
    );
    out
}
