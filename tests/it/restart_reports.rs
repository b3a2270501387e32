//! A restart on the same data directory keeps the campaigns' reports: outcomes settled before it (delivered,
//! dead letters by reason, not sent), conversions, and the `Webhook Delivered` events with what they triggered,
//! counted once, and nothing sent again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use campaign_engine::engine::WEBHOOK_DELIVERED;
use campaign_engine::profile::IdentityKind;
use campaign_engine::report::CampaignReport;
use clock::Timestamp;
use integration_tests::{Client, admin_history};
use pipeline::bridge::lock;
use pipeline::{Pipeline, PipelineConfig, Storage, TimeMode};
use serde_json::json;
use webhook_dispatcher::webhook::WebhookSpec;

const START: &str = "2026-12-01T09:00:00Z";
const USERS: [&str; 5] = ["ada", "alan", "bob", "eve", "grace"];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("time")
}

/// A simulated-time pipeline on `dir`, from `start`, with an Inkit that answers `faults`.
async fn start(dir: &Path, start: Timestamp, faults: &str) -> Pipeline {
    let mut config = PipelineConfig {
        time: TimeMode::Simulated { start },
        storage: Storage::DataDir(dir.to_owned()),
        ..PipelineConfig::default()
    };
    config.inkit.templates_dir = Some(fixtures().join("templates"));
    config.inkit.faults = inkit_mock::FaultPlan::from_toml(faults).expect("a fault plan");
    Pipeline::start(config).await.expect("the pipeline starts")
}

/// What must be the same after the restart: both campaigns' reports, each user's `Webhook Delivered` events,
/// and how many documents Inkit made.
async fn state(pipeline: &Pipeline, campaigns: [u64; 2]) -> ([CampaignReport; 2], Vec<Vec<Timestamp>>, usize) {
    let (reports, delivered) = {
        let engine = lock(&pipeline.engine);
        let reports = campaigns.map(|id| engine.report(id).expect("a report").clone());
        let delivered = USERS
            .iter()
            .map(|u| {
                let user = engine.store().find(IdentityKind::Identity, u).expect("a user");
                let events = engine.store().events_of(&user.object_id);
                events.iter().filter(|e| e.name == WEBHOOK_DELIVERED).map(|e| e.ts).collect()
            })
            .collect();
        (reports, delivered)
    };
    let client = Client::new(pipeline.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN));
    let renders = admin_history(&client, "kind=render&page_size=100").await["items"].as_array().map_or(0, Vec::len);
    (reports, delivered, renders)
}

#[tokio::test]
async fn reports_after_a_restart_are_the_reports_before_it_with_nothing_sent_or_raised_twice() {
    // arrange: Inkit refuses the first two generates with 400 (dead letters); the body aborts for Eve; a live
    // campaign thanks every user whose letter was delivered; two users convert
    let dir = tempfile::tempdir().expect("temp dir");
    let first = start(
        dir.path(),
        at(START),
        "[[fault]]\nroute = \"POST /generate\"\nkind = \"sequence\"\nsteps = [\"400\", \"400\"]\n",
    )
    .await;
    let webhook: WebhookSpec = serde_json::from_value(json!({
        "name": "Inkit", "method": "POST", "url": format!("{}/v1/generate", first.inkit_url()),
        "content_type": "json", "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN}
    }))
    .expect("a webhook spec");
    first.create_webhook(webhook, false).await.expect("webhook");
    let profiles: Vec<_> =
        USERS.iter().map(|u| json!({"type": "profile", "identity": u, "profileData": {"Name": u}})).collect();
    lock(&first.engine).upload(&json!({ "d": profiles })).expect("upload");
    let seed = std::fs::read_to_string(fixtures().join("bodies/seed.json")).expect("the seed body");
    let body = format!("{{% if Profile.Name == \"eve\" %}}{{% abort %}}{{% endif %}}{seed}");
    let letter = first
        .save_campaign(&json!({"name": "Letter", "webhook_endpoint_name": "Inkit", "where": {},
                               "conversion_goal": {"event_name": "Charged", "conversion_time": "1D"},
                               "content": {"body": body}}))
        .expect("saves")
        .campaign
        .id;
    let delivered_letter = json!({"event": WEBHOOK_DELIVERED,
                                  "where": [{"name": "Campaign Id", "operator": "equals", "value": letter}]});
    let thanks = first
        .save_campaign(&json!({"name": "Thanks", "webhook_endpoint_name": "Inkit", "where": {},
                               "trigger": {"action": delivered_letter, "delay": {"value": 1, "unit": "hours"}},
                               "content": {"body": seed}}))
        .expect("saves")
        .campaign
        .id;
    first.run_until(at(START) + Duration::from_secs(1800)).await.expect("runs");
    let charged: Vec<_> = ["ada", "alan", "bob"]
        .iter()
        .map(|u| json!({"type": "event", "identity": u, "evtName": "Charged", "evtData": {"Amount": 10}}))
        .collect();
    lock(&first.engine).upload(&json!({ "d": charged })).expect("upload");
    let end = at(START) + Duration::from_secs(3 * 3600);
    first.run_until(end).await.expect("runs");
    let before = state(&first, [letter, thanks]).await;
    first.shutdown().await;

    // act: the same data directory, from where the first run ended, with Inkit answering everything
    let second = start(dir.path(), end, "").await;
    second.run_until(end + Duration::from_secs(3600)).await.expect("runs");
    let after = state(&second, [letter, thanks]).await;
    second.shutdown().await;

    // assert
    let letter_report = before.0[0].total();
    assert_eq!(
        (letter_report.handed, letter_report.delivered, letter_report.in_flight()),
        (5, 2, 0),
        "{letter_report:?}"
    );
    assert_eq!(letter_report.failed.values().sum::<u64>(), 2, "two dead letters: {:?}", letter_report.failed);
    assert!(letter_report.failed.keys().all(|reason| reason.contains("HTTP 400")), "{:?}", letter_report.failed);
    assert_eq!(letter_report.not_sent.values().sum::<u64>(), 1, "Eve's abort");
    assert_eq!(letter_report.conversions, 3, "{letter_report:?}");
    assert_eq!(before.0[1].total().delivered, 2, "a thanks to each user whose letter was delivered");
    assert_eq!(after.0, before.0, "the same reports, run by run");
    assert_eq!(after.1, before.1, "each Webhook Delivered once, at its instant");
    assert_eq!(after.2, before.2, "nothing sent again");
}
