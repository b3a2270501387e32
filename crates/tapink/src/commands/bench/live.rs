//! A live campaign with no delay, running for real, for the `latency` phase and the soak: the whole pipeline
//! in real time with its SQLite files in a temporary directory and the engine's CleverTap API on loopback;
//! synthetic users uploaded; a campaign that sends the seed's body the moment a user does `Bench Event`.
//! Events are posted to `/1/upload` as a CleverTap SDK would; each makes one delivery, and its latency is
//! read back from History: the entry's creation time minus the event's time in the engine, which the
//! delivery id carries (`<campaign>-e<nanos>.<n>-<user>`, the `Idempotency-Key` Inkit stores).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use engine_api::EngineApiConfig;
use inkit_mock::EntryKind;
use pipeline::bridge::lock;
use pipeline::synthetic::upload_bodies;
use pipeline::trace::DeliveryName;
use pipeline::{Pipeline, PipelineConfig, Storage, TimeMode};
use serde_json::{Value, json};
use webhook_dispatcher::client::{Answer, HttpClient, OutgoingRequest};

use crate::seed;

/// The event that triggers the campaign.
pub const EVENT: &str = "Bench Event";

/// The pipeline with its live campaign.
pub struct LiveRig {
    pipeline: Pipeline,
    _dir: tempfile::TempDir,
    upload_url: String,
    http: HttpClient,
    campaign_id: u64,
    users: u64,
    /// History entries read by [`LiveRig::new_latencies`], counted in the order they were stored
    /// (`Inkit::entries_stored_since`).
    read: usize,
    posted: u64,
}

/// What [`LiveRig::new_latencies`] found since its last call.
#[derive(Debug, Default)]
pub struct NewEntries {
    /// Event-to-History latencies of the campaign's first entries per delivery, in milliseconds.
    pub latencies_ms: Vec<f64>,
    /// Entries that repeat a delivery already in History (a retry whose first answer was lost).
    pub duplicates: u64,
}

impl LiveRig {
    /// Starts the pipeline, uploads `users` synthetic users of `seed` and publishes the live campaign.
    pub async fn start(users: u64, seed: u64) -> anyhow::Result<LiveRig> {
        let dir = tempfile::tempdir().context("a temporary data directory")?;
        let config = PipelineConfig {
            time: TimeMode::Real,
            storage: Storage::DataDir(dir.path().join("data")),
            engine_api: Some((SocketAddr::from(([127, 0, 0, 1], 0)), EngineApiConfig::default())),
            ..PipelineConfig::default()
        };
        let pipeline = Pipeline::start(config).await.context("starting the pipeline")?;
        let inkit = pipeline.inkit_url();
        let token = inkit_mock::DEFAULT_TOKEN;
        let http = HttpClient::new();
        let template_id = seed::create_template(&http, &inkit, token).await?;
        pipeline.create_webhook(seed::webhook(&inkit, token)?, true).await.context("creating the webhook")?;
        for body in upload_bodies(users, seed) {
            lock(&pipeline.engine).upload(&body).context("uploading synthetic users")?;
        }
        let spec = pipeline
            .save_campaign(&json!({"name": "Bench: live", "target_mode": "webhook", "webhook_endpoint_name": "Inkit",
                "where": {}, "trigger": {"action": {"event": EVENT}},
                "content": {"body": seed::body(&template_id), "format": "json"}}))
            .context("saving the live campaign")?;
        let engine = pipeline.engine_url().context("the engine API is not served")?;
        Ok(LiveRig {
            _dir: dir,
            upload_url: format!("{engine}/1/upload"),
            http,
            campaign_id: spec.campaign.id,
            users,
            read: 0,
            posted: 0,
            pipeline,
        })
    }

    /// Events posted so far.
    pub fn posted(&self) -> u64 {
        self.posted
    }

    /// Posts `n` events (at most 1,000, CleverTap's limit per call) in one `/1/upload`, for the next users
    /// in turn; fails unless the engine took all of them.
    pub async fn post_events(&mut self, n: u64) -> anyhow::Result<()> {
        let records: Vec<Value> = (self.posted..self.posted + n)
            .map(|k| {
                json!({"type": "event", "identity": format!("user-{}", k % self.users.max(1)),
                       "evtName": EVENT, "evtData": {"n": k}})
            })
            .collect();
        let request = OutgoingRequest {
            method: http::Method::POST,
            url: self.upload_url.clone(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-clevertap-account-id".into(), engine_api::DEFAULT_ACCOUNT_ID.into()),
                ("x-clevertap-passcode".into(), engine_api::DEFAULT_PASSCODE.into()),
            ],
            body: Bytes::from(json!({"d": records}).to_string()),
        };
        match self.http.send(request, Duration::from_secs(10)).await.answer {
            Answer::Response { status: 200, body, .. } => {
                let answer: Value = serde_json::from_str(&body).context("the engine's answer is not JSON")?;
                if answer["processed"].as_u64() != Some(n) {
                    bail!("the engine did not take every event: {body}");
                }
            }
            other => bail!("posting events to /1/upload failed: {other:?}"),
        }
        self.posted += n;
        Ok(())
    }

    /// Posts the events due at `rate` a second since `since` (when none had been posted), up to `limit` in
    /// all, in calls of at most 1,000.
    pub async fn post_due(&mut self, rate: u64, since: Instant, limit: u64) -> anyhow::Result<()> {
        let due = ((since.elapsed().as_secs_f64() * rate as f64) as u64).min(limit);
        while self.posted < due {
            let n = (due - self.posted).min(1_000);
            self.post_events(n).await?;
        }
        Ok(())
    }

    /// The campaign's History entries accepted since the last call, as latencies.
    pub fn new_latencies(&mut self) -> NewEntries {
        let (entries, read) = self.pipeline.inkit.entries_stored_since(self.read);
        self.read = read;
        let mut found = NewEntries::default();
        for entry in &entries {
            if entry.kind != EntryKind::Render {
                continue;
            }
            let Some(event_at) = entry.idempotency_key.as_deref().and_then(|key| self.event_nanos(key)) else {
                continue;
            };
            if entry.duplicate_of.is_some() {
                found.duplicates += 1;
                continue;
            }
            let latency = (entry.created_at.as_nanosecond() - event_at) as f64 / 1e6;
            found.latencies_ms.push(latency.max(0.0));
        }
        found
    }

    /// The instant (ns) of the event behind a delivery id of this campaign.
    fn event_nanos(&self, delivery_id: &str) -> Option<i128> {
        let name = DeliveryName::parse(delivery_id)?;
        if name.campaign_id != self.campaign_id {
            return None;
        }
        let event = name.run.strip_prefix('e')?;
        event.split_once('.').map_or(event, |(nanos, _)| nanos).parse().ok()
    }

    pub async fn shutdown(self) {
        self.pipeline.shutdown().await;
    }
}

/// The value at percentile `p` (0 to 100) of sorted values, by nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_by_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
