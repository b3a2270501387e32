//! Phase `latency`: event-to-History latency of a live campaign with no delay (`live.rs`). Events are posted
//! to the engine's `/1/upload` at `--rate` a second for `--seconds`, each for another user; each triggers
//! one delivery, and its latency runs from the event's time in the engine to its History entry's creation.
//! Reported: p50, p90, p99 and max, and whether every event's document reached History.

use std::time::{Duration, Instant};

use super::BenchArgs;
use super::live::{LiveRig, percentile};
use super::outcome::Outcome;
use crate::number_format::group;
use crate::progress::Progress;

/// How long the phase waits, after the last event, for History entries that have stopped arriving.
const DRAIN: Duration = Duration::from_secs(30);

pub async fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let events = args.rate * args.seconds;
    let mut rig = LiveRig::start(events.min(100_000), args.seed).await?;
    let mut latencies: Vec<f64> = Vec::with_capacity(events as usize);
    let mut duplicates = 0;
    let mut bar = Progress::new("events", events, "in History");
    let started = Instant::now();
    let mut last_progress = Instant::now();
    while (latencies.len() as u64) < events {
        rig.post_due(args.rate, started, events).await?;
        let new = rig.new_latencies();
        if !new.latencies_ms.is_empty() {
            last_progress = Instant::now();
        }
        latencies.extend(new.latencies_ms);
        duplicates += new.duplicates;
        bar.update(latencies.len() as u64);
        if rig.posted() >= events && last_progress.elapsed() > DRAIN {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bar.finish(latencies.len() as u64);
    let posted = rig.posted();
    rig.shutdown().await;

    latencies.sort_by(f64::total_cmp);
    let p = |q| percentile(&latencies, q);
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
    let mut out = Outcome::default();
    out.row("events posted to /1/upload", format!("{} at {}/s", group(posted), group(args.rate)));
    out.row("p50 / p90", format!("{} / {}", ms(p(50.0)), ms(p(90.0))));
    out.row("p99 / max", format!("{} / {}", ms(p(99.0)), ms(p(100.0))));
    let all = latencies.len() as u64 == posted;
    out.row(
        "every event's document in History",
        format!("{} ({} of {})", if all { "yes" } else { "NO" }, group(latencies.len() as u64), group(posted)),
    );
    out.check(all, format!("latency: {} events posted, {} reached History", posted, latencies.len()));
    out.set("events", posted);
    out.set("rate_per_s", args.rate);
    out.set("in_history", latencies.len());
    out.set("duplicates", duplicates);
    out.set("every_event_in_history", all);
    out.set("p50_ms", p(50.0));
    out.set("p90_ms", p(90.0));
    out.set("p99_ms", p(99.0));
    out.set("max_ms", p(100.0));
    Ok(out)
}
