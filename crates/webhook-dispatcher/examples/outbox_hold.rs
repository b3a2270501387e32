//! Memory held by 1,000,000 queued deliveries in each outbox backend: enqueue them (small profiles, in
//! batches of 10,000) and print the process's peak resident memory and, for SQLite, the file's size.
//!
//! Run: `cargo run --release -p webhook-dispatcher --example outbox_hold -- [COUNT] [memory|sqlite]`

use std::time::Instant;

use webhook_dispatcher::outbox::{MemoryOutbox, Outbox, SqliteOutbox};
use webhook_dispatcher::synthetic;

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let backend = std::env::args().nth(2).unwrap_or_else(|| "sqlite".into());
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("outbox.sqlite3");
    let outbox: Box<dyn Outbox> =
        if backend == "memory" { Box::new(MemoryOutbox::new()) } else { Box::new(SqliteOutbox::open(&path)?) };
    let baseline = peak_kib();
    let now = clock::Timestamp::now();
    let started = Instant::now();
    for start in (0..count).step_by(10_000) {
        let batch = (start..(start + 10_000).min(count)).map(|i| synthetic::delivery(i, now)).collect();
        outbox.enqueue(batch, now)?;
    }
    let elapsed = started.elapsed();
    let counts = outbox.counts();
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(dir.path().join("outbox.sqlite3-wal")).map(|m| m.len()).unwrap_or(0);
    println!(
        "{backend}: {} pending after enqueueing {count} in {:.1} s; peak RSS {} MiB ({} MiB above the start){}",
        counts.pending,
        elapsed.as_secs_f64(),
        peak_kib() / 1024,
        peak_kib().saturating_sub(baseline) / 1024,
        if file > 0 { format!("; file {} MiB", file / (1024 * 1024)) } else { String::new() }
    );
    Ok(())
}
