//! Phase `deliveries`: end-to-end deliveries/s of a one-time campaign to `--users` synthetic users through
//! the real pipeline (`Pipeline::start` in real time, outbox, History and the engine's journal in SQLite
//! files in a temporary directory): the users uploaded in CleverTap's format, the seed's webhook and body,
//! the campaign published, and the time from publishing to the last History entry. Checks that every
//! user's document reached History, once per user (duplicates counted apart).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use inkit_mock::EntryKind;
use pipeline::bridge::lock;
use pipeline::synthetic::upload_bodies;
use pipeline::trace::DeliveryName;
use pipeline::{Pipeline, PipelineConfig, Storage, TimeMode};
use serde_json::json;
use webhook_dispatcher::client::HttpClient;

use super::BenchArgs;
use super::cpu::{self, ThreadCpu};
use super::outcome::{Outcome, verdict};
use crate::number_format::group;
use crate::progress::Progress;
use crate::seed;

/// The target, from the dispatcher's issue: 0.3 of the bare hyper ceiling (about 25,000/s on this machine).
pub const TARGET_PER_S: f64 = 25_000.0;
/// How long settling may stand still before the phase gives up.
const STALL: Duration = Duration::from_secs(120);
/// inkit-mock's threads; they commit History themselves.
const THREADS: [(&str, &str); 1] = [("inkit-mock-", "inkit-mock server")];

pub async fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let users = args.users;
    let dir = tempfile::tempdir().context("a temporary data directory")?;
    let config = PipelineConfig {
        time: TimeMode::Real,
        storage: Storage::DataDir(dir.path().join("data")),
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::start(config).await.context("starting the pipeline")?;
    let inkit = pipeline.inkit_url();
    let token = inkit_mock::DEFAULT_TOKEN;
    let template_id = seed::create_template(&HttpClient::new(), &inkit, token).await?;
    pipeline.create_webhook(seed::webhook(&inkit, token)?, true).await.context("creating the webhook")?;
    let spec = pipeline
        .save_campaign(&json!({"name": "Bench: one-time", "target_mode": "webhook", "webhook_endpoint_name": "Inkit",
            "where": {}, "when": "now", "content": {"body": seed::body(&template_id), "format": "json"}, "draft": true}))
        .context("saving the campaign")?;
    let campaign_id = spec.campaign.id;

    let mut bar = Progress::new("upload", users, "profiles");
    let upload_started = Instant::now();
    let mut uploaded = 0;
    for body in upload_bodies(users, args.seed) {
        let outcome = lock(&pipeline.engine).upload(&body).context("uploading synthetic users")?;
        if outcome.processed == 0 {
            bail!("the synthetic users were refused: {:?}", outcome.unprocessed.first());
        }
        uploaded += outcome.processed as u64;
        bar.update(uploaded);
    }
    bar.finish(uploaded);
    let upload_time = upload_started.elapsed();

    let cpu_before = ThreadCpu::read(&THREADS);
    let process_before = cpu::process();
    let published_at = clock::Timestamp::now();
    let started = Instant::now();
    lock(&pipeline.engine).publish(campaign_id).context("publishing")?;
    let mut bar = Progress::new("deliveries", users, "settled");
    let (mut last, mut moved) = (0, Instant::now());
    let settled = loop {
        let settled = pipeline.sink.settled();
        let total = settled.total();
        if total >= users {
            bar.finish(total);
            break settled;
        }
        bar.update(total);
        if total > last {
            (last, moved) = (total, Instant::now());
        } else if moved.elapsed() > STALL {
            bail!("deliveries: only {total} of {users} settled, none more in {} s", STALL.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let settled_time = started.elapsed();
    let cpu = ThreadCpu::read(&THREADS);
    let process_cpu = cpu::process() - process_before;

    let entries = pipeline.inkit.entries_where(|e| e.kind == EntryKind::Render);
    let mut users_in_history: HashSet<String> = HashSet::with_capacity(users as usize);
    let (mut ours, mut duplicates) = (0u64, 0u64);
    let mut last_entry = published_at;
    for entry in &entries {
        let Some(name) = entry.idempotency_key.as_deref().and_then(DeliveryName::parse) else { continue };
        if name.campaign_id != campaign_id {
            continue;
        }
        ours += 1;
        last_entry = last_entry.max(entry.created_at);
        if !users_in_history.insert(name.object_id) {
            duplicates += 1;
        }
    }
    drop(entries);
    pipeline.shutdown().await;

    let to_last_entry = last_entry.duration_since(published_at).as_secs_f64().max(1e-9);
    let rate = users_in_history.len() as f64 / to_last_entry;
    let per_delivery = |seconds: f64| seconds * 1e6 / users.max(1) as f64;
    let inkit_cpu = cpu.since(&cpu_before, "inkit-mock server");
    let all = users_in_history.len() as u64 == users && settled.delivered == users;

    let mut out = Outcome::default();
    out.row("users uploaded", format!("{} in {:.1} s", group(uploaded), upload_time.as_secs_f64()));
    out.row("publish to last History entry", format!("{to_last_entry:.1} s"));
    out.row_against(
        "deliveries end to end, SQLite",
        format!("{} /s", group(rate as u64)),
        verdict("≥ 25,000/s (issue 4's rough figure; this phase runs the engine too)", rate >= TARGET_PER_S),
    );
    out.row(
        "CPU per delivery: process / inkit-mock",
        format!("{:.0} / {:.0} µs", per_delivery(process_cpu), per_delivery(inkit_cpu)),
    );
    out.row(
        "every user's document in History",
        format!(
            "{} ({} of {}, {} duplicates)",
            if all { "yes" } else { "NO" },
            group(users_in_history.len() as u64),
            group(users),
            group(duplicates)
        ),
    );
    out.check(
        all,
        format!(
            "deliveries: {} users, {} delivered, {} users' documents in History",
            users,
            settled.delivered,
            users_in_history.len()
        ),
    );
    out.set("users", users);
    out.set("upload_seconds", upload_time.as_secs_f64());
    out.set("seconds_to_last_history_entry", to_last_entry);
    out.set("seconds_to_all_settled", settled_time.as_secs_f64());
    out.set("deliveries_per_s", rate);
    out.set("target_deliveries_per_s", TARGET_PER_S);
    out.set("delivered", settled.delivered);
    out.set("failed", settled.failed + settled.not_sent);
    out.set("retried", settled.retried);
    out.set("history_entries", ours);
    out.set("users_in_history", users_in_history.len());
    out.set("duplicates", duplicates);
    out.set("every_user_in_history", all);
    out.set("process_cpu_us_per_delivery", per_delivery(process_cpu));
    out.set("inkit_cpu_us_per_delivery", per_delivery(inkit_cpu));
    Ok(out)
}
