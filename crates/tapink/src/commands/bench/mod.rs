//! `tapink bench`: measures the system on this machine with data it generates from a fixed seed, phase by
//! phase, each with a progress bar, then prints a table (and with `--json FILE` writes the figures):
//!
//! - `mock.rs`: History write rate of inkit-mock under load (`http_load.rs`), against the bare hyper ceiling;
//! - `render.rs`: renders/s of the seed's body on one core (`synthetic_bodies.rs`);
//! - `latency.rs`: event-to-History latency of a live campaign (`live.rs`);
//! - `segment.rs`: segment evaluation on `--profiles` profiles and `--events` events;
//! - `deliveries.rs`: end-to-end deliveries/s of a one-time campaign to `--users` users;
//! - `soak.rs`: `--soak MINUTES` of steady events, memory and latency per interval.
//!
//! Each phase's peak resident memory is its own (`memory.rs`); CPU per operation (`cpu.rs`) is given
//! beside the rates because it moves far less when other work shares the machine.

mod cpu;
mod deliveries;
mod http_load;
mod latency;
mod live;
mod memory;
mod mock;
mod outcome;
mod render;
mod segment;
mod soak;
mod synthetic_bodies;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

use memory::{PhaseMemory, mib};
use outcome::{Outcome, print_rows, verdict};

/// Measure tapink on this machine: History write rate, renders, deliveries, segments, latency, memory.
#[derive(Debug, Args)]
#[command(after_help = "Phases (all by default, in this order):
  mock        History write rate of inkit-mock (SQLite) under 32 keep-alive connections, against a bare
              hyper server measured in the same run (target: 0.7 of it); every 2xx must be in History
  render      renders/s of the seed's webhook body on one core (target: 1,000,000/s)
  latency     event-to-History latency of a live campaign with no delay, --rate events/s for --seconds;
              every event's document must be in History
  segment     the dashboard's example segment on --profiles profiles / --events events
              (targets: under 0.1 s, under 1.5 GB resident)
  deliveries  a one-time campaign to --users users end to end, publish to the last History entry
              (target: 25,000/s); every user's document must be in History
Each phase reports its own peak resident memory (VmHWM, reset between phases) and the resident size it
started from (memory earlier phases freed is not always given back to the system).

--soak MINUTES keeps --rate events/s flowing through a live campaign and prints a row every
--sample-seconds; it fails (exit 1) unless latency held (every row's p99 at most --max-p99-ms, every
event's document in History) and memory stayed flat (the second half grew by at most 8 KiB per event
and by no more than the first half plus 10 %). Alone it runs only the soak; with --only, the phases
listed and then the soak.

Examples:
  tapink bench                                   every phase with the defaults (a few minutes)
  tapink bench --only render,segment --json bench.json
  tapink bench --soak 3                          a three-minute soak at 500 events/s
Build with --release: figures from a debug build are meaningless.")]
pub struct BenchArgs {
    /// Users the one-time campaign of `deliveries` is published to.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    users: u64,
    /// Profiles in the store of `segment`.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    profiles: u64,
    /// Events in the store of `segment`.
    #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(0..=500_000_000))]
    events: u64,
    /// Seed of every generated user, body and event: the same seed, the same data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also write every figure as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Run only these phases (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "PHASE,...")]
    only: Vec<Phase>,
    /// Run the soak for MINUTES (fractions allowed, e.g. 0.5).
    #[arg(long, value_name = "MINUTES", value_parser = minutes, allow_negative_numbers = true)]
    soak: Option<f64>,
    /// Events per second posted in `latency` and the soak.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=20_000))]
    rate: u64,
    /// Seconds each timed measurement runs: the load of `mock` (per server), `render`, the events of `latency`.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    seconds: u64,
    /// Seconds between the soak's rows.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    sample_seconds: u64,
    /// The soak's latency bound: every row's p99 event-to-History latency must be at most this many ms.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    max_p99_ms: u64,
}

/// The phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    Mock,
    Render,
    Latency,
    Segment,
    Deliveries,
}

impl Phase {
    /// The smaller phases first: memory a phase frees is not always given back to the system, so a phase's
    /// peak starts from what the phases before it left resident (its row says from how much).
    const ALL: [Phase; 5] = [Phase::Mock, Phase::Render, Phase::Latency, Phase::Segment, Phase::Deliveries];

    fn name(self) -> &'static str {
        match self {
            Phase::Mock => "mock",
            Phase::Render => "render",
            Phase::Deliveries => "deliveries",
            Phase::Segment => "segment",
            Phase::Latency => "latency",
        }
    }

    async fn run(self, args: &BenchArgs) -> anyhow::Result<Outcome> {
        match self {
            Phase::Mock => mock::run(args).await,
            Phase::Render => render::run(args).await,
            Phase::Deliveries => deliveries::run(args).await,
            Phase::Segment => segment::run(args).await,
            Phase::Latency => latency::run(args).await,
        }
    }
}

/// `--soak`: a number of minutes above zero, at most a week.
fn minutes(s: &str) -> Result<f64, String> {
    let m: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of minutes"))?;
    if !(m.is_finite() && m > 0.0 && m <= 7.0 * 24.0 * 60.0) {
        return Err(format!("{s} is not between 0 and 10080 minutes (a week)"));
    }
    Ok(m)
}

const DEBUG_WARNING: &str =
    "warning: this is a debug build; its figures are meaningless (build with `cargo build --release`)";

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(minutes) = args.soak {
        let samples = minutes * 60.0 / args.sample_seconds as f64;
        if samples < 4.0 {
            bail!(
                "--soak {minutes}: the soak needs at least 4 rows to judge memory, one every --sample-seconds {} s; \
                 give at least {} s",
                args.sample_seconds,
                4 * args.sample_seconds
            );
        }
    }
    // Open the JSON file first: a bad path is refused now, not after minutes of measuring.
    let mut json_file = match &args.json {
        Some(path) => Some(
            std::fs::File::create(path)
                .with_context(|| format!("--json {}: cannot create the file", path.display()))?,
        ),
        None => None,
    };
    let phases: Vec<Phase> = match (args.only.is_empty(), args.soak) {
        (true, Some(_)) => Vec::new(),
        (true, None) => Phase::ALL.to_vec(),
        (false, _) => Phase::ALL.into_iter().filter(|p| args.only.contains(p)).collect(),
    };

    let debug = cfg!(debug_assertions);
    if debug {
        eprintln!("{DEBUG_WARNING}");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_before = load_average();
    let started = Instant::now();
    println!(
        "tapink bench · {} build · seed {} · {cores} cores · load average {} at the start",
        if debug { "DEBUG" } else { "release" },
        args.seed,
        load_before.as_deref().unwrap_or("unknown")
    );
    if debug {
        println!("{DEBUG_WARNING}");
    }
    if !phases.is_empty() {
        println!();
        println!("{:<11} {:<40} {:>22}   target", "phase", "figure", "value");
    }

    let mut results = Map::new();
    let mut failures: Vec<String> = Vec::new();
    for phase in phases {
        eprintln!("{}:", phase.name());
        let memory = PhaseMemory::start();
        let mut outcome = phase.run(&args).await.with_context(|| format!("phase {}", phase.name()))?;
        add_memory(&mut outcome, &memory);
        print_rows(phase.name(), &outcome.rows);
        failures.extend(outcome.failures.iter().cloned());
        results.insert(phase.name().to_owned(), Value::Object(outcome.json));
    }
    let soak = match args.soak {
        Some(minutes) => {
            eprintln!("soak:");
            println!();
            let outcome = soak::run(&args, minutes).await.context("the soak")?;
            println!();
            print_rows("soak", &outcome.rows);
            failures.extend(outcome.failures.iter().cloned());
            Some(Value::Object(outcome.json))
        }
        None => None,
    };
    let load_after = load_average();
    println!();
    println!(
        "{:.0} s in all; load average {} at the end",
        started.elapsed().as_secs_f64(),
        load_after.as_deref().unwrap_or("unknown")
    );
    for failure in &failures {
        println!("FAILED: {failure}");
    }

    if let (Some(file), Some(path)) = (json_file.as_mut(), &args.json) {
        let figures = json!({
            "build": if debug { "debug" } else { "release" },
            "seed": args.seed,
            "cores": cores,
            "load_average_at_start": load_before,
            "load_average_at_end": load_after,
            "seconds": started.elapsed().as_secs_f64(),
            "settings": {"users": args.users, "profiles": args.profiles, "events": args.events,
                         "rate": args.rate, "seconds": args.seconds, "soak_minutes": args.soak,
                         "sample_seconds": args.sample_seconds},
            "phases": results,
            "soak": soak,
            "failures": failures,
        });
        let mut text = serde_json::to_string_pretty(&figures)?;
        text.push('\n');
        file.write_all(text.as_bytes())
            .with_context(|| format!("--json {}: cannot write the figures", path.display()))?;
    }
    if !failures.is_empty() {
        bail!("{} check(s) failed: {}", failures.len(), failures.join("; "));
    }
    Ok(())
}

/// The phase's peak resident memory as a row and JSON figures; where the peak cannot be its own, says why.
fn add_memory(outcome: &mut Outcome, memory: &PhaseMemory) {
    outcome.set("rss_at_start_bytes", memory.rss_at_start);
    match memory.peak() {
        Ok(peak) => {
            let from = memory.rss_at_start.map_or(String::new(), |start| format!(" (from {})", mib(start)));
            let value = format!("{}{from}", mib(peak));
            match outcome.memory_target.clone() {
                Some((target, words)) => {
                    outcome.row_against("peak resident memory", value, verdict(&words, peak < target))
                }
                None => outcome.row("peak resident memory", value),
            }
            outcome.set("peak_rss_bytes", peak);
        }
        Err(why) => {
            outcome.row("peak resident memory", "not measured");
            outcome.set("peak_rss_bytes", Value::Null);
            outcome.set("peak_rss_unavailable", format!("the peak could not be reset between phases ({why})"));
            eprintln!("note: peak resident memory not measured: {why}");
        }
    }
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
