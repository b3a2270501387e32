//! The outbox's own cost per delivery, without HTTP: enqueue N deliveries (in batches of 10,000, as
//! `dispatch_bench` submits them), then take them in batches of 4,096 and settle each as delivered with an
//! attempt like a real one (inkit-mock's answer, about 700 bytes, as the response excerpt), as the
//! dispatcher does. Prints the process's CPU time per delivery for each phase (user + system, from `/proc`,
//! so it counts any thread the outbox runs), which other work on the machine disturbs far less than
//! elapsed time.
//!
//! Run: `cargo run --release -p webhook-dispatcher --example outbox_bench -- [COUNT] [memory|sqlite]`

use std::time::Instant;

use serde_json::json;
use webhook_dispatcher::delivery::{AttemptLog, DeliveryState};
use webhook_dispatcher::outbox::{MemoryOutbox, Outbox, SqliteOutbox};
use webhook_dispatcher::synthetic;

/// The process's CPU time so far, in seconds (Linux reports utime and stime in USER_HZ, 100 a second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let backend = std::env::args().nth(2).unwrap_or_else(|| "sqlite".into());
    let dir = tempfile::tempdir()?;
    let outbox: Box<dyn Outbox> = if backend == "memory" {
        Box::new(MemoryOutbox::new())
    } else {
        Box::new(SqliteOutbox::open(dir.path().join("outbox.sqlite3"))?)
    };
    let now = clock::Timestamp::now();
    let answer = json!({
        "id": "rnd_0123456789abcdef01234567", "document_id": "doc_0123456789abcdef01234567", "name": "",
        "description": "test", "html": "", "template_id": "tmpl_SeedLetter000000000001", "folder_id": null,
        "batch_id": null, "status": "pending", "width": 8.5, "height": 11.0, "unit": "in",
        "merge_parameters": {"Name": "User \"1\"", "email": "user1@example.com", "phone number": "-"},
        "destinations": {}, "pdf_url": "/v1/render/rnd_0123456789abcdef01234567/pdf", "html_url": "",
        "expire_after_n_views": null, "expire_at": null, "created_at": "2026-11-27T10:00:00Z",
        "updated_at": "2026-11-27T10:00:00Z", "created_by": {"name": "Default token"},
    })
    .to_string();

    let (cpu, wall) = (cpu_seconds(), Instant::now());
    for start in (0..count).step_by(10_000) {
        let batch = (start..(start + 10_000).min(count)).map(|i| synthetic::delivery(i, now)).collect();
        outbox.enqueue(batch, now)?;
    }
    let enqueue = (cpu_seconds() - cpu, wall.elapsed());

    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut settled = 0;
    loop {
        let due = outbox.take_due(now, 4096)?;
        if due.is_empty() {
            break;
        }
        for entry in due {
            let attempt = AttemptLog {
                number: entry.next_attempt(),
                started_at: now,
                latency_ms: 1.25,
                status: Some(200),
                error: None,
                response_excerpt: answer.clone(),
            };
            outbox.settle(&entry.delivery.id, Some(attempt), DeliveryState::Delivered { at: now, status: 200 })?;
            settled += 1;
        }
    }
    outbox.flush()?;
    let drain = (cpu_seconds() - cpu, wall.elapsed());

    let per = |seconds: f64| seconds * 1e6 / count as f64;
    println!(
        "{backend}, {count} deliveries: enqueue {:.1} µs CPU each ({:.2} s), take and settle {:.1} µs CPU each ({:.2} s), total {:.1} µs; {settled} settled, {:?}",
        per(enqueue.0),
        enqueue.1.as_secs_f64(),
        per(drain.0),
        drain.1.as_secs_f64(),
        per(enqueue.0 + drain.0),
        outbox.counts(),
    );
    Ok(())
}
