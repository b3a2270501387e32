//! The fault tests' campaign: a pipeline whose webhook POSTs the seed letter to an Inkit `/v1/generate` with
//! a retry policy of the test's choosing, `users` synthetic users, and one campaign to all of them; then
//! History read back whole and grouped by the delivery that made each entry, and the checks every such
//! test makes: one first copy per user, every other copy marked a duplicate of it.

use std::collections::HashMap;

use pipeline::bridge::lock;
use pipeline::{Pipeline, PipelineConfig};
use serde_json::{Value, json};
use webhook_dispatcher::retry::RetryPolicy;

use crate::{Client, admin_history, fixtures, seed_body};

/// A started pipeline with its letter campaign saved (in real time it is already sending).
pub struct Letters {
    pub pipeline: Pipeline,
    pub campaign: u64,
}

impl Letters {
    /// Starts the pipeline (`config.inkit` gets the fixture templates), creates the webhook `Inkit` to
    /// `inkit_url` (the pipeline's own Inkit when `None`) without its test request, uploads `users`
    /// synthetic users and saves the campaign.
    pub async fn start(mut config: PipelineConfig, inkit_url: Option<&str>, retry: RetryPolicy, users: u64) -> Self {
        config.inkit.templates_dir = Some(fixtures().join("templates"));
        let pipeline = Pipeline::start(config).await.expect("the pipeline starts");
        let url = inkit_url.map_or_else(|| pipeline.inkit_url(), str::to_owned);
        let spec = serde_json::from_value(json!({
            "name": "Inkit", "method": "POST", "url": format!("{url}/v1/generate"),
            "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN}}))
        .expect("webhook spec");
        pipeline.create_webhook_with(spec, false, |settings| settings.retry = retry).await.expect("webhook");
        for body in pipeline::synthetic::upload_bodies(users, 7) {
            lock(&pipeline.engine).upload(&body).expect("upload");
        }
        let campaign = json!({"name": "Letters", "webhook_endpoint_name": "Inkit", "where": {},
                              "content": {"body": seed_body()}});
        let campaign = pipeline.save_campaign(&campaign).expect("campaign").campaign.id;
        Self { pipeline, campaign }
    }

    /// Asserts the campaign's report adds up: every user qualified, handed over and delivered; nothing
    /// failed, not sent or in flight.
    pub fn assert_report_complete(&self, users: u64) {
        let report = lock(&self.pipeline.engine).report(self.campaign).expect("report").total();
        assert_eq!((report.qualified, report.handed, report.delivered), (users, users, users), "{report:?}");
        assert_eq!(report.in_flight(), 0, "{report:?}");
        assert!(report.failed.is_empty() && report.not_sent.is_empty(), "{report:?}");
    }
}

/// Every render entry in an Inkit's History, oldest first, read page by page through the admin API.
pub async fn all_renders(inkit: &Client) -> Vec<Value> {
    let mut entries = Vec::new();
    for page in 1.. {
        let list = admin_history(inkit, &format!("kind=render&page_size=1000&page={page}&sort=created_at")).await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        entries.extend(items);
    }
    entries
}

/// Render entries grouped by the delivery that made them (the `Idempotency-Key` the dispatcher sent),
/// each group oldest first; asserts that in each group one copy is the first and every other copy is
/// marked a duplicate of it.
pub fn by_delivery(entries: &[Value]) -> HashMap<String, Vec<&Value>> {
    let mut groups: HashMap<String, Vec<&Value>> = HashMap::new();
    for e in entries {
        let key = e["request_headers"]["idempotency-key"].as_str().unwrap_or_else(|| panic!("no delivery id: {e}"));
        groups.entry(key.to_owned()).or_default().push(e);
    }
    for (delivery, copies) in &groups {
        let firsts: Vec<&&Value> = copies.iter().filter(|e| e["duplicate_of"].is_null()).collect();
        assert_eq!(firsts.len(), 1, "{delivery}: exactly one copy is not marked a duplicate: {copies:?}");
        let marked = copies.iter().filter(|e| e["duplicate_of"] == firsts[0]["id"]).count();
        assert_eq!(marked, copies.len() - 1, "{delivery}: every other copy is marked a duplicate of the first");
    }
    groups
}
