//! The pipeline's webhook channel for the engine API: campaign content checked by the dispatcher, webhooks
//! created with CleverTap's test request, and Preview and Test rendered and sent exactly as a delivery would be.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use campaign_engine::campaign::Campaign;
use campaign_engine::delivery::{Delivery as EngineDelivery, RunKey};
use engine_api::channel::{Channel, ChannelError, ChannelFuture, SampleUser};
use serde_json::{Value, json};
use webhook_dispatcher::client::{Answer, HttpClient, OutgoingRequest};
use webhook_dispatcher::dispatcher::{DispatchError, Dispatcher, PreparedRequest};
use webhook_dispatcher::webhook::WebhookSpec;

use crate::bridge::{Bridge, dispatcher_delivery};
use crate::setup::{WebhookSetupError, create_webhook};

pub struct PipelineChannel {
    pub clock: Arc<dyn clock::Clock>,
    pub dispatcher: Arc<Dispatcher>,
    pub bridge: Arc<Bridge>,
    pub client: HttpClient,
}

/// The request a campaign sends for one user, rendered by the dispatcher as a delivery would be. The campaign's
/// content is registered with the dispatcher first if it is not yet.
pub fn preview_request(
    dispatcher: &Dispatcher,
    bridge: &Bridge,
    campaign: &Campaign,
    user: &SampleUser,
    at: clock::Timestamp,
) -> Result<PreparedRequest, ChannelError> {
    let id = format!("{}-preview-{}", campaign.id, user.object_id);
    prepare(dispatcher, bridge, campaign, user, at, id)
}

/// Tells one Send Test from every other, also across restarts: its delivery id (the request's `Idempotency-Key`)
/// must not repeat, or the endpoint takes a second test of the same user for a duplicate delivery.
static TESTS_SENT: AtomicU64 = AtomicU64::new(0);

/// [`preview_request`] for a Send Test: the same request, under a delivery id of its own.
fn test_request(
    dispatcher: &Dispatcher,
    bridge: &Bridge,
    campaign: &Campaign,
    user: &SampleUser,
    at: clock::Timestamp,
) -> Result<PreparedRequest, ChannelError> {
    let n = TESTS_SENT.fetch_add(1, Ordering::Relaxed);
    let id = format!("{}-test-{}-{}.{n}", campaign.id, user.object_id, at.as_nanosecond());
    prepare(dispatcher, bridge, campaign, user, at, id)
}

fn prepare(
    dispatcher: &Dispatcher,
    bridge: &Bridge,
    campaign: &Campaign,
    user: &SampleUser,
    at: clock::Timestamp,
    id: String,
) -> Result<PreparedRequest, ChannelError> {
    bridge.register(campaign).map_err(|e| ChannelError::bad_input(e.to_string()))?;
    let delivery = EngineDelivery {
        trace_id: EngineDelivery::trace_for(&id),
        id,
        campaign_id: campaign.id,
        campaign_name: campaign.name.clone(),
        webhook: campaign.webhook.clone(),
        run: RunKey::Scheduled(0),
        object_id: user.object_id.clone(),
        identity: user.identity.clone(),
        profile: user.profile.clone(),
        event: user.event.clone(),
        created_at: at,
    };
    dispatcher.prepare(&dispatcher_delivery(delivery), 1).map_err(|e| ChannelError::bad_input(e.to_string()))
}

/// Sends a prepared request once, as CleverTap's "Send Test" does: `{"status", "body", "latency_ms"}`.
pub async fn send_once(
    client: &HttpClient,
    request: &PreparedRequest,
    timeout: Duration,
) -> Result<Value, ChannelError> {
    let method = http::Method::from_bytes(request.method.as_str().as_bytes())
        .map_err(|e| ChannelError::bad_input(format!("method: {e}")))?;
    let outgoing = OutgoingRequest {
        method,
        url: request.url.clone(),
        headers: request.headers.clone(),
        body: Bytes::from(request.body.clone()),
    };
    let started = Instant::now();
    let report = client.send(outgoing, timeout).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match report.answer {
        Answer::Response { status, body, content_type, .. } => {
            Ok(json!({"status": status, "content_type": content_type, "body": body, "latency_ms": latency_ms}))
        }
        Answer::TimedOut => Err(ChannelError::endpoint(format!("{} did not answer within {timeout:?}", request.url))),
        Answer::ConnectionFailed { error } => {
            Err(ChannelError::endpoint(format!("cannot reach {}: {error}", request.url)))
        }
    }
}

fn prepared_json(request: &PreparedRequest) -> Value {
    let headers: serde_json::Map<String, Value> =
        request.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    json!({"method": request.method.as_str(), "url": request.url, "headers": headers, "body": request.body})
}

/// Reads a webhook's JSON, naming the field at fault (`headers: invalid type: …`): serde's message says what
/// was wrong but not where, so the field is found by leaving each out in turn; one whose absence makes the rest
/// readable (or only missing) is the one; a missing field is named by serde. With several bad fields the message
/// falls back to `webhook: …`.
fn read_spec(spec: Value) -> Result<WebhookSpec, ChannelError> {
    let error = match serde_json::from_value::<WebhookSpec>(spec.clone()) {
        Ok(spec) => return Ok(spec),
        Err(e) => e,
    };
    let culprit = spec.as_object().and_then(|fields| {
        fields.keys().find(|key| {
            let mut without = fields.clone();
            without.remove(key.as_str());
            serde_json::from_value::<WebhookSpec>(Value::Object(without))
                .map_or_else(|e| e.to_string().starts_with(&format!("missing field `{key}`")), |_| true)
        })
    });
    let message = error.to_string();
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    let at = culprit.map(String::as_str).or(missing).unwrap_or("webhook");
    Err(ChannelError::bad_input(format!("{at}: {error}")))
}

impl Channel for PipelineChannel {
    fn check_campaign(&self, campaign: &Campaign) -> Result<(), ChannelError> {
        // The API puts the field first (`content: …`) and the campaign is not saved: its id would only confuse.
        self.bridge.register(campaign).map_err(|e| {
            ChannelError::bad_input(match e {
                DispatchError::Content { error, .. } => error.to_string(),
                DispatchError::ContentTooLarge { size, limit, .. } => {
                    format!("the body is {size} bytes, over the limit of {limit} bytes")
                }
                other => other.to_string(),
            })
        })
    }

    fn create_webhook(&self, spec: Value, skip_check: bool) -> ChannelFuture<'_, String> {
        Box::pin(async move {
            let spec = read_spec(spec)?;
            create_webhook(&self.dispatcher, spec, !skip_check).await.map_err(|e| match e {
                WebhookSetupError::TestFailed(_) => ChannelError::endpoint(e.to_string()),
                _ => ChannelError::bad_input(e.to_string()),
            })
        })
    }

    fn preview(&self, campaign: &Campaign, user: &SampleUser) -> Result<Value, ChannelError> {
        let now = self.clock.now();
        preview_request(&self.dispatcher, &self.bridge, campaign, user, now).map(|r| prepared_json(&r))
    }

    fn send_test<'a>(&'a self, campaign: &'a Campaign, user: &'a SampleUser) -> ChannelFuture<'a, Value> {
        Box::pin(async move {
            let now = self.clock.now();
            let request = test_request(&self.dispatcher, &self.bridge, campaign, user, now)?;
            let answer = send_once(&self.client, &request, Duration::from_secs(3)).await?;
            Ok(json!({"request": prepared_json(&request), "response": answer}))
        })
    }

    fn engine_changed(&self) {
        self.bridge.engine_changed();
    }
}
