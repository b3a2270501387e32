//! The whole flow in one process, in simulated time: profiles uploaded to the engine, a webhook campaign
//! with the seed's body, the dispatcher's real HTTP to the mock Inkit, History, and the outcomes back in the
//! campaign's report.

use std::path::PathBuf;
use std::time::Duration;

use campaign_engine::engine::WEBHOOK_DELIVERED;
use clock::Timestamp;
use integration_tests::{Client, admin_history};
use pipeline::bridge::lock;
use pipeline::{Pipeline, PipelineConfig, Storage, TimeMode};
use serde_json::{Value, json};
use webhook_dispatcher::webhook::WebhookSpec;

const START: &str = "2026-12-01T09:00:00Z";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

async fn simulated() -> Pipeline {
    let mut config = PipelineConfig {
        time: TimeMode::Simulated { start: START.parse().expect("time") },
        storage: Storage::Memory,
        ..PipelineConfig::default()
    };
    config.inkit.templates_dir = Some(fixtures().join("templates"));
    Pipeline::start(config).await.expect("the pipeline starts")
}

/// The seed walkthrough's webhook: POST to Inkit's generate with the API token header.
fn inkit_webhook(pipeline: &Pipeline) -> WebhookSpec {
    serde_json::from_value(json!({
        "name": "Inkit", "method": "POST", "url": format!("{}/v1/generate", pipeline.inkit_url()),
        "content_type": "json", "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN}
    }))
    .expect("a webhook spec")
}

fn seed_body() -> String {
    std::fs::read_to_string(fixtures().join("bodies/seed.json")).expect("the seed body")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("time")
}

async fn renders(pipeline: &Pipeline) -> Vec<Value> {
    let client = Client::new(pipeline.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN));
    let list = admin_history(&client, "kind=render&page_size=100").await;
    list["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_send_now_campaign_puts_one_document_per_user_in_history_and_the_report_adds_up() {
    // arrange
    let pipeline = simulated().await;
    pipeline.create_webhook(inkit_webhook(&pipeline), true).await.expect("the mock answers the test request 200");
    let tricky = "Ada \"Countess\"\nLovelace";
    lock(&pipeline.engine)
        .upload(&json!({"d": [
            {"type": "profile", "identity": "ada", "profileData": {"Name": tricky, "Email": "ada@example.com", "Phone": "+14155550100"}},
            {"type": "profile", "identity": "alan", "profileData": {"Name": "Alan", "Email": "alan@example.com"}},
            {"type": "profile", "identity": "grace", "profileData": {"Email": "grace@example.com"}},
        ]}))
        .expect("upload");

    // act
    let spec = pipeline
        .save_campaign(&json!({"name": "Welcome letter", "target_mode": "webhook", "webhook_endpoint_name": "Inkit",
                               "where": {}, "when": "now", "content": {"body": seed_body()}}))
        .expect("the campaign saves");
    let steps = pipeline.run_until(at(START) + Duration::from_secs(60)).await.expect("runs");

    // assert
    let id = spec.campaign.id;
    assert_eq!(steps.delivered, 3, "{steps:?}");
    let entries = renders(&pipeline).await;
    let mut names: Vec<String> =
        entries.iter().map(|e| e["merge_parameters"]["Name"].as_str().unwrap_or("?").to_owned()).collect();
    names.sort();
    assert_eq!(names, ["Ada \"Countess\"\nLovelace", "Alan", "test"], "the seed's default for a missing name");
    let ada = entries.iter().find(|e| e["merge_parameters"]["email"] == "ada@example.com").expect("Ada's entry");
    assert_eq!(ada["merge_parameters"]["phone number"], "+14155550100");
    assert_eq!(ada["template_id"], "tmpl_SeedLetter000000000001");
    let delivery_id = ada["request_headers"]["idempotency-key"].as_str().expect("a delivery id");
    assert!(delivery_id.starts_with(&format!("{id}-r0-")), "{delivery_id}");
    {
        let engine = lock(&pipeline.engine);
        let report = engine.report(id).expect("a report").total();
        assert_eq!((report.qualified, report.handed, report.delivered, report.in_flight()), (3, 3, 3, 0));
        let ada = engine.store().find(campaign_engine::profile::IdentityKind::Identity, "ada").expect("ada");
        let events = engine.store().events_of(&ada.object_id);
        assert!(events.iter().any(|e| e.name == WEBHOOK_DELIVERED), "Webhook Delivered recorded: {events:?}");
    }
    pipeline.shutdown().await;
}

#[tokio::test]
async fn a_live_campaign_with_a_delay_delivers_in_simulated_time_without_waiting() {
    // arrange
    let pipeline = simulated().await;
    pipeline.create_webhook(inkit_webhook(&pipeline), true).await.expect("webhook");
    pipeline
        .save_campaign(&json!({"name": "Abandoned cart", "webhook_endpoint_name": "Inkit", "where": {},
            "trigger": {"inaction": {"did": {"event": "Added To Cart"}, "not": {"event": "Charged"},
                                     "within": {"value": 2, "unit": "hours"}}},
            "content": {"body": seed_body()}}))
        .expect("saves");
    lock(&pipeline.engine)
        .upload(&json!({"d": [
            {"type": "event", "identity": "buyer", "evtName": "Added To Cart", "evtData": {}},
            {"type": "event", "identity": "browser", "evtName": "Added To Cart", "evtData": {}},
        ]}))
        .expect("upload");
    pipeline.run_until(at(START) + Duration::from_secs(600)).await.expect("runs");
    lock(&pipeline.engine)
        .upload(
            &json!({"d": [{"type": "event", "identity": "buyer", "evtName": "Charged", "evtData": {"Amount": 10}}]}),
        )
        .expect("upload");

    // act
    let real = std::time::Instant::now();
    pipeline.run_until(at(START) + Duration::from_secs(3 * 3600)).await.expect("runs");

    // assert
    let entries = renders(&pipeline).await;
    assert_eq!(entries.len(), 1, "only the user who did not buy: {entries:#?}");
    assert_eq!(pipeline.now(), at(START) + Duration::from_secs(3 * 3600));
    assert!(real.elapsed() < Duration::from_secs(10), "two simulated hours take no real time");
    pipeline.shutdown().await;
}

#[tokio::test]
async fn a_body_that_does_not_compile_is_refused_when_the_campaign_is_saved() {
    let pipeline = simulated().await;
    pipeline.create_webhook(inkit_webhook(&pipeline), true).await.expect("webhook");
    let error = pipeline
        .save_campaign(&json!({"name": "Broken", "webhook_endpoint_name": "Inkit", "where": {},
                               "content": {"body": "{\"a\": \"{{ Profile.name \"}"}}))
        .expect_err("a Liquid syntax error");
    let message = error.to_string();
    assert!(message.contains("line 1"), "{message}");
    assert_eq!(lock(&pipeline.engine).campaigns().count(), 0, "nothing saved");
    let unknown = pipeline
        .save_campaign(&json!({"name": "x", "webhook_endpoint_name": "Nope", "where": {}}))
        .expect_err("unknown webhook");
    assert!(unknown.to_string().contains("unknown webhook \"Nope\""), "{unknown}");
    pipeline.shutdown().await;
}

#[tokio::test]
async fn tapink_trace_follows_a_history_entry_back_to_its_delivery_and_every_attempt() {
    // arrange: a data directory; Inkit fails the first generate, so the delivery is retried
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = PipelineConfig {
        time: TimeMode::Simulated { start: START.parse().expect("time") },
        storage: Storage::DataDir(dir.path().to_owned()),
        ..PipelineConfig::default()
    };
    config.inkit.templates_dir = Some(fixtures().join("templates"));
    config.inkit.faults = inkit_mock::FaultPlan::from_toml(
        "[[fault]]\nroute = \"POST /generate\"\nkind = \"sequence\"\nsteps = [\"500\"]\n",
    )
    .expect("a fault plan");
    let pipeline = Pipeline::start(config).await.expect("starts");
    // Saved without the test request, which the fault would fail.
    pipeline.create_webhook(inkit_webhook(&pipeline), false).await.expect("webhook");
    lock(&pipeline.engine)
        .upload(&json!({"d": [{"type": "profile", "identity": "ada", "profileData": {"Name": "Ada"}}]}))
        .expect("upload");
    let spec = pipeline
        .save_campaign(&json!({"name": "Letter", "webhook_endpoint_name": "Inkit", "where": {},
                               "content": {"body": seed_body()}}))
        .expect("saves");
    pipeline.run_until(at(START) + Duration::from_secs(3600)).await.expect("runs");
    let entries = renders(&pipeline).await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let render_id = entries[0]["id"].as_str().expect("id").to_owned();
    pipeline.shutdown().await;

    // act
    let data_dir = dir.path().to_str().expect("utf-8 path");
    let (status, stdout, stderr) =
        integration_tests::run_tapink(["trace", "--data-dir", data_dir, render_id.as_str()], Duration::from_secs(30))
            .await;

    // assert
    assert!(status.success(), "{stderr}");
    let campaign = spec.campaign.id;
    assert!(stdout.contains(&format!("trigger    scheduled run 0 of campaign {campaign}")), "{stdout}");
    assert!(stdout.contains("attempt 1") && stdout.contains("HTTP 500"), "the failed attempt: {stdout}");
    assert!(stdout.contains("attempt 2") && stdout.contains("HTTP 200"), "the retry: {stdout}");
    assert!(stdout.contains(&format!("History    {render_id}")), "{stdout}");
    assert!(stdout.contains("state      delivered"), "{stdout}");

    let (status, _, stderr) = integration_tests::run_tapink(
        ["trace", "--data-dir", data_dir, "rend_doesnotexist0000000000"],
        Duration::from_secs(30),
    )
    .await;
    assert!(!status.success());
    assert!(stderr.contains("no History entry rend_doesnotexist0000000000"), "{stderr}");
}
