//! The whole pipeline for a test, in-process and in simulated time, with its engine API served on a loopback
//! port: campaigns and webhooks are made over real HTTP as a user makes them, the clock moves only when the
//! test says so, and History is read back from the mock Inkit.

use std::path::PathBuf;
use std::time::Duration;

use clock::Timestamp;
use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE, EngineApiConfig};
use pipeline::bridge::lock;
use pipeline::{Pipeline, PipelineConfig, Storage, TimeMode};
use serde_json::{Value, json};

use crate::engine::stored_users;
use crate::{Client, EngineClient, admin_history};

/// Where the simulated clock starts: 2026-12-01 09:00 UTC (the account's zone is UTC).
pub const APP_START: &str = "2026-12-01T09:00:00Z";

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The seed walkthrough's custom body (`fixtures/bodies/seed.json`): Liquid that fills the seed template.
pub fn seed_body() -> String {
    std::fs::read_to_string(fixtures().join("bodies/seed.json")).expect("the seed body")
}

/// The records of `fixtures/profiles/seed-users.json`: five users, two Charged events and one view.
pub fn seed_records() -> Value {
    let text = std::fs::read_to_string(fixtures().join("profiles/seed-users.json")).expect("the seed users");
    let file: Value = serde_json::from_str(&text).expect("the seed users are JSON");
    file["d"].clone()
}

/// The seed walkthrough's webhook, named "Inkit": `POST` to the Inkit at `inkit_url`'s `/v1/generate` with the
/// API token.
pub fn webhook_to(inkit_url: &str) -> Value {
    json!({"name": "Inkit", "method": "POST", "url": format!("{inkit_url}/v1/generate"),
           "content_type": "json", "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN}})
}

/// The running pipeline and clients for its engine API and its mock Inkit.
pub struct PipelineApp {
    pub pipeline: Pipeline,
    /// The engine API, with the default account.
    pub api: EngineClient,
    /// The mock Inkit, with its default token.
    pub inkit: Client,
}

impl PipelineApp {
    /// In memory, simulated time from [`APP_START`], the seed templates loaded into Inkit.
    pub async fn start() -> Self {
        Self::start_with(Storage::Memory).await
    }

    /// As [`PipelineApp::start`], with its data in `storage` (a data directory survives a restart).
    pub async fn start_with(storage: Storage) -> Self {
        let mut config = PipelineConfig {
            time: TimeMode::Simulated { start: APP_START.parse().expect("time") },
            storage,
            engine_api: Some(("127.0.0.1:0".parse().expect("addr"), EngineApiConfig::default())),
            ..PipelineConfig::default()
        };
        config.inkit.templates_dir = Some(fixtures().join("templates"));
        let pipeline = Pipeline::start(config).await.expect("the pipeline starts");
        let url = pipeline.engine_url().expect("the engine API is served");
        let api = EngineClient::new(&url, Some((DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE)));
        let inkit = Client::new(pipeline.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN));
        Self { pipeline, api, inkit }
    }

    /// [`PipelineApp::start`], then the seed's webhook created over HTTP (its test request answered 200) and
    /// the seed users uploaded.
    pub async fn with_webhook_and_seed_users() -> Self {
        let app = Self::start().await;
        let reply = app.api.create_webhook(&app.inkit_webhook()).await;
        assert_eq!(reply.status, 200, "creating the webhook: {}", reply.text());
        app.api.upload_ok(seed_records()).await;
        app
    }

    /// The seed walkthrough's webhook: `POST` to this pipeline's Inkit `/v1/generate` with the API token.
    pub fn inkit_webhook(&self) -> Value {
        webhook_to(&self.pipeline.inkit_url())
    }

    pub fn now(&self) -> Timestamp {
        self.pipeline.now()
    }

    /// Moves simulated time forward by `by`, running everything that falls due on the way.
    pub async fn run_for(&self, by: Duration) {
        self.pipeline.run_until(self.now() + by).await.expect("the simulation settles");
    }

    /// History's render entries (the documents the webhook made), newest first.
    pub async fn renders(&self) -> Vec<Value> {
        let list = admin_history(&self.inkit, "kind=render&page_size=1000").await;
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Everything History holds, tests and renders: its count.
    pub async fn history_count(&self) -> u64 {
        let list = admin_history(&self.inkit, "").await;
        list["metadata"]["pagination"]["total_count"].as_u64().unwrap_or_else(|| panic!("no total_count: {list}"))
    }

    /// What the engine holds about webhooks, campaigns (status, definition, figures), saved segments and users
    /// (profiles and events), as JSON: compare it before and after a refused request.
    pub fn stored(&self) -> Value {
        let engine = lock(&self.pipeline.engine);
        let webhooks: Vec<Value> = engine
            .webhooks()
            .map(|name| json!({"name": name, "definition": engine.webhook_definition(name)}))
            .collect();
        let campaigns: Vec<Value> = engine
            .campaigns()
            .map(|c| {
                let total = engine.report(c.id).expect("a report").total();
                json!({"id": c.id, "status": engine.status(c.id).expect("a status").label(),
                       "definition": engine.campaign_source(c.id),
                       "figures": [total.qualified, total.handed, total.delivered, total.failed]})
            })
            .collect();
        let segments: Vec<Value> = engine
            .saved_segments()
            .iter()
            .map(|(id, s)| json!({"id": id, "name": s.name, "segment": s.segment.to_json()}))
            .collect();
        json!({"webhooks": webhooks, "campaigns": campaigns, "segments": segments,
               "profiles": engine.store().profile_count(), "events": engine.store().event_count(),
               "users": stored_users(&engine)})
    }

    pub async fn shutdown(self) {
        self.pipeline.shutdown().await;
    }
}
