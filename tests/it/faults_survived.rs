//! The pipeline under a hostile Inkit: 10,000 deliveries while Inkit answers 500 to 30 % of requests,
//! resets 10 % of connections and answers 5 % only after the dispatcher has given up on them. Every user's
//! document must end up in History, every duplicate must be one whose answer was lost (and be marked as
//! such), and the campaign's report must add up.

use std::collections::HashMap;
use std::time::Duration;

use integration_tests::{Client, admin_history};
use pipeline::bridge::lock;
use pipeline::{Pipeline, PipelineConfig, Storage, TimeMode};
use serde_json::{Value, json};
use webhook_dispatcher::dispatcher::DispatcherConfig;
use webhook_dispatcher::retry::{RetryPolicy, Schedule};

const USERS: u64 = 10_000;
const START: &str = "2026-12-01T09:00:00Z";

const FAULTS: &str = r#"
seed = 2026
[[fault]]
route = "POST /generate"
kind = "slow_answer"
ms = 400
probability = 0.05
[[fault]]
route = "POST /generate"
kind = "status"
status = 500
probability = 0.3
[[fault]]
route = "POST /generate"
kind = "close"
probability = 0.1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_deliveries_survive_errors_resets_and_lost_answers_with_every_duplicate_marked() {
    // arrange: a short attempt timeout (the slow answers arrive after it) and enough retries that no user
    // runs out of them (0.45^16 per user)
    let start = START.parse().expect("time");
    let mut config = PipelineConfig {
        time: TimeMode::Simulated { start },
        storage: Storage::Memory,
        dispatcher: DispatcherConfig { timeout: Duration::from_millis(200), ..DispatcherConfig::default() },
        ..PipelineConfig::default()
    };
    config.inkit.templates_dir =
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/templates"));
    config.inkit.faults = inkit_mock::FaultPlan::from_toml(FAULTS).expect("fault plan");
    let pipeline = Pipeline::start(config).await.expect("starts");
    let spec = serde_json::from_value(json!({
        "name": "Inkit", "method": "POST", "url": format!("{}/v1/generate", pipeline.inkit_url()),
        "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN}}))
    .expect("webhook spec");
    pipeline
        .create_webhook_with(spec, false, |settings| {
            settings.retry = RetryPolicy {
                schedule: Schedule::Fixed { delays: vec![Duration::from_secs(15); 15] },
                ..RetryPolicy::clevertap()
            };
        })
        .await
        .expect("webhook");
    for body in pipeline::synthetic::upload_bodies(USERS, 7) {
        lock(&pipeline.engine).upload(&body).expect("upload");
    }
    let body =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bodies/seed.json"))
            .expect("seed body");
    let campaign = pipeline
        .save_campaign(
            &json!({"name": "Letters", "webhook_endpoint_name": "Inkit", "where": {}, "content": {"body": body}}),
        )
        .expect("campaign")
        .campaign
        .id;

    // act
    pipeline.run_until(start + Duration::from_secs(3600)).await.expect("the simulation settles");

    // assert: every user has a document; duplicates are exactly the lost answers, marked
    let client = Client::new(pipeline.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN));
    let mut entries: Vec<Value> = Vec::new();
    for page in 1.. {
        let list = admin_history(&client, &format!("kind=render&page_size=1000&page={page}&sort=created_at")).await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        entries.extend(items);
    }
    let mut by_delivery: HashMap<String, Vec<&Value>> = HashMap::new();
    for e in &entries {
        let key = e["request_headers"]["idempotency-key"].as_str().expect("a delivery id").to_owned();
        by_delivery.entry(key).or_default().push(e);
    }
    assert_eq!(by_delivery.len() as u64, USERS, "one delivery per user reached History");
    let outbox = pipeline.dispatcher.outbox();
    let mut duplicates = 0;
    for (delivery, stored) in &by_delivery {
        let marked = stored.iter().filter(|e| !e["duplicate_of"].is_null()).count();
        assert_eq!(marked, stored.len() - 1, "{delivery}: all but the first copy are marked duplicates");
        let entry = outbox.get(delivery).expect("outbox").expect("the delivery is in the outbox");
        let lost_answers =
            entry.attempts.iter().filter(|a| a.status.is_none() && a.error.as_deref() == Some("timed out")).count();
        assert!(
            stored.len() - 1 <= lost_answers,
            "{delivery}: {} copies but only {lost_answers} attempts whose answer was lost: {:?}",
            stored.len(),
            entry.attempts
        );
        duplicates += marked;
    }
    assert!(duplicates > 0, "the 5 % slow answers made duplicates");
    let report = lock(&pipeline.engine).report(campaign).expect("report").total();
    assert_eq!((report.qualified, report.handed, report.delivered), (USERS, USERS, USERS), "{report:?}");
    assert_eq!(report.in_flight(), 0);
    assert!(report.failed.is_empty() && report.not_sent.is_empty(), "{report:?}");
    assert_eq!(entries.len(), USERS as usize + duplicates, "History holds the users' documents and the marked copies");
    pipeline.shutdown().await;
}
