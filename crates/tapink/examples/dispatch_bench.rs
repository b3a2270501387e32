//! Deliveries/s end to end: the dispatcher renders the seed's body for N users and sends each to
//! inkit-mock over loopback, which records it in History; both keep their state in SQLite (the outbox and
//! History), as in `tapink up`. Counts from the first submit to the last delivery settled.
//!
//! Run: `cargo run --release -p tapink --example dispatch_bench -- [USERS] [--in-memory] [--real-time]`
//!
//! By default the dispatcher is driven step by step (`run_due` until nothing is due), as the simulated
//! clock drives it; `--real-time` runs its real-time driver (`run`, as `tapink up` does) in the background
//! instead and waits until the outbox counts every delivery settled.
//!
//! Besides deliveries/s it prints the process's CPU time per delivery (user + system, from `/proc`), split
//! by thread: the dispatcher's (tokio workers and main), its outbox settler (the thread that writes the
//! lanes' settles to the outbox), inkit-mock's server threads (which also append History to its commit log)
//! and its History ingest thread (which moves that log into SQLite). CPU time moves far less than
//! throughput when other work shares the machine.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use webhook_dispatcher::delivery::Delivery;
use webhook_dispatcher::dispatcher::{CampaignContent, Dispatcher, DispatcherConfig, NoSink, WebhookSettings};
use webhook_dispatcher::outbox::{MemoryOutbox, Outbox, SqliteOutbox};
use webhook_dispatcher::synthetic;
use webhook_dispatcher::webhook::{Content, Webhook, WebhookSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    allocator::tune();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let users: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let in_memory = std::env::args().any(|a| a == "--in-memory");
    let real_time = std::env::args().any(|a| a == "--real-time");
    let dir = tempfile::tempdir()?;

    // inkit-mock with the seed's template, History in SQLite (or memory).
    let config = inkit_mock::MockConfig {
        storage: if in_memory {
            inkit_mock::Storage::Memory
        } else {
            inkit_mock::Storage::DataDir(dir.path().join("inkit"))
        },
        templates_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/templates").into()),
        journal_capacity: 1000,
        ..inkit_mock::MockConfig::default()
    };
    let inkit = inkit_mock::Inkit::open(config, clock::system())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/generate", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(inkit_mock::serve(listener, inkit.clone(), async move {
        let _ = stopped.await;
    }));

    // The dispatcher, its outbox in SQLite (or memory), the seed's webhook and body.
    let outbox: Arc<dyn Outbox> = if in_memory {
        Arc::new(MemoryOutbox::new())
    } else {
        Arc::new(SqliteOutbox::open(dir.path().join("outbox.sqlite3"))?)
    };
    let dispatcher = Arc::new(Dispatcher::new(DispatcherConfig::default(), clock::system(), outbox, Arc::new(NoSink)));
    let spec: WebhookSpec = serde_json::from_value(json!({
        "name": "Inkit", "method": "POST", "url": url, "content_type": "json",
        "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN},
    }))?;
    dispatcher.add_webhook(WebhookSettings { concurrency: 64, ..WebhookSettings::new(Webhook::from_spec(spec)?) })?;
    let body = include_str!("../../../fixtures/bodies/seed.json").to_owned();
    dispatcher.add_campaign(CampaignContent {
        campaign_id: 1_700_000_001,
        name: "bench".into(),
        webhook: "Inkit".into(),
        content: Content::CustomBody { source: body, format: webhook_dispatcher::body::ContentFormat::Json },
    })?;

    let now = clock::Timestamp::now();
    let deliveries: Vec<Delivery> = (0..users).map(|i| synthetic::delivery(i, now)).collect();

    let cpu_before = ProcessCpu::read();
    let started = Instant::now();
    for chunk in deliveries.chunks(10_000) {
        dispatcher.submit(chunk.to_vec())?;
    }
    let submitted = started.elapsed();
    let mut report = webhook_dispatcher::dispatcher::StepReport::default();
    if real_time {
        let (stop_driver, driver_stopped) = tokio::sync::oneshot::channel::<()>();
        let driver = tokio::spawn(dispatcher.clone().run(async move {
            let _ = driver_stopped.await;
        }));
        loop {
            let counts = dispatcher.outbox().counts();
            if counts.delivered + counts.dead_letter + counts.not_sent >= users {
                (report.delivered, report.dead_letters) = (counts.delivered, counts.dead_letter);
                // The driver writes the last settles within a second; write them now, as `run_due` does.
                dispatcher.outbox().flush()?;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let _ = stop_driver.send(());
        driver.await?;
    } else {
        while dispatcher.next_due().is_some() {
            let step = dispatcher.run_due().await?;
            report.delivered += step.delivered;
            report.dead_letters += step.dead_letters;
        }
    }
    let elapsed = started.elapsed();
    let cpu = ProcessCpu::read().since(&cpu_before);
    let stored = inkit.entry_count();
    println!(
        "{users} deliveries ({}): submitted in {:.2} s, all settled in {:.2} s => {:.0} deliveries/s; delivered {}, dead letters {}, History entries {}",
        match (in_memory, real_time) {
            (true, false) => "memory outbox and History",
            (false, false) => "SQLite outbox and History",
            (true, true) => "memory outbox and History, real-time driver",
            (false, true) => "SQLite outbox and History, real-time driver",
        },
        submitted.as_secs_f64(),
        elapsed.as_secs_f64(),
        users as f64 / elapsed.as_secs_f64(),
        report.delivered,
        report.dead_letters,
        stored
    );
    let per = |seconds: f64| seconds * 1e6 / users as f64;
    let threads: Vec<String> =
        cpu.by_thread.iter().map(|(group, seconds)| format!("{group} {:.1}", per(*seconds))).collect();
    println!("CPU per delivery: {:.1} µs (by thread, µs: {})", per(cpu.total), threads.join(", "));
    let peak = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
    });
    println!("peak resident memory of the process: {} kB", peak.unwrap_or_else(|| "unknown".into()));
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

/// CPU time (user + system, seconds) of the whole process and of its live threads grouped by name, read
/// from `/proc` (clock ticks, 10 ms each: a run of many seconds makes that negligible).
struct ProcessCpu {
    total: f64,
    by_thread: Vec<(&'static str, f64)>,
}

impl ProcessCpu {
    /// Thread names as the parts of the run: tokio's workers and the main thread run the dispatcher;
    /// inkit-mock's server threads also append its History to the commit log.
    const GROUPS: [(&'static str, &'static str); 4] = [
        ("inkit-mock-", "inkit-mock server"),
        ("history-ingest", "History ingest"),
        ("outbox-settler", "outbox settler"),
        ("", "dispatcher"),
    ];

    fn read() -> Self {
        let total = std::fs::read_to_string("/proc/self/stat").map(|s| ticks(&s)).unwrap_or(0.0);
        let mut by_thread: Vec<(&'static str, f64)> = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
            let path = task.path();
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let Ok(stat) = std::fs::read_to_string(path.join("stat")) else { continue };
            let group = Self::GROUPS.iter().find(|(prefix, _)| name.starts_with(prefix)).map_or("other", |g| g.1);
            match by_thread.iter_mut().find(|(g, _)| *g == group) {
                Some((_, seconds)) => *seconds += ticks(&stat),
                None => by_thread.push((group, ticks(&stat))),
            }
        }
        by_thread.sort_by_key(|(group, _)| Self::GROUPS.iter().position(|g| g.1 == *group));
        Self { total, by_thread }
    }

    fn since(&self, before: &Self) -> Self {
        let earlier = |group: &str| before.by_thread.iter().find(|(g, _)| *g == group).map_or(0.0, |g| g.1);
        Self {
            total: self.total - before.total,
            by_thread: self.by_thread.iter().map(|(group, seconds)| (*group, seconds - earlier(group))).collect(),
        }
    }
}

/// utime + stime of a `/proc/.../stat` line, in seconds (Linux reports them in USER_HZ, 100 a second). The fields after the command name (which may
/// hold spaces, so it is skipped up to its closing parenthesis) are state, ppid, ... with utime and stime
/// the 12th and 13th.
fn ticks(stat: &str) -> f64 {
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / 100.0
}
