//! What the benchmark examples share (`segment_bench`, `live_bench`, and `ingest_bench` in engine-api, include
//! this file): the seed and the instant their data is drawn with (`campaign_engine::synthetic`), their
//! arguments, the process's peak memory and CPU time, and a journal that keeps nothing. Each example uses a
//! part of it.
#![allow(dead_code)]

use campaign_engine::journal::{Journal, JournalError};
use clock::Timestamp;
use serde_json::Value;

/// The seed the examples have always used, so their figures stay comparable.
pub const SEED: u64 = 0x7A91_17E5_EED5_0001;

/// The instant the data is generated against.
pub fn now() -> Timestamp {
    "2026-03-01T00:00:00Z".parse().expect("a timestamp")
}

/// A whole-number argument (`1_000_000` and `1,000,000` read too), or `default`.
pub fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).map_or(default, |a| a.replace(['_', ','], "").parse().expect("a whole number"))
}

/// Peak resident set size (`VmHWM`), as Linux reports it.
pub fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l["VmHWM:".len()..].trim().to_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// CPU time used by the whole process so far (user + system), in seconds; `/proc/self/stat` counts in ticks
/// of 10 ms.
pub fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// A journal that keeps nothing: a benchmark measures parsing, validation and the store, not the disk.
pub struct Discard;

impl Journal for Discard {
    fn append(&mut self, _kind: &str, _at: Timestamp, _body: &Value) -> Result<(), JournalError> {
        Ok(())
    }

    fn replay(
        &mut self,
        _apply: &mut dyn FnMut(&str, Timestamp, Value) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        Ok(())
    }
}
