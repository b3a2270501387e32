//! The dispatcher: takes the engine's deliveries into the outbox, and sends what is due. For each delivery
//! it renders the campaign's body and the webhook's URL for the user, adds the webhook's headers and
//! authentication, sends with a per-attempt timeout, lets the webhook's retry policy decide what follows,
//! and reports the delivery's final state.
//!
//! An OAuth 2.0 client-credentials webhook gets its bearer token from the dispatcher's [`TokenCache`] when an
//! attempt starts (after `prepare`, which shows a placeholder). A failed token fetch is a failed attempt,
//! retried like a connection failure; a 401 from the webhook drops the cached token, so the next attempt
//! fetches a new one.
//!
//! Time comes from the `Clock`: `run_due` sends what is due now and returns, and `next_due` says when the
//! next delivery is due, so a simulated clock can step from one to the next (a day of retries in no real
//! time). `run` is the real-time driver; there, attempts run on their own, so a slow or dead endpoint holds
//! up only its own webhook's deliveries, and at most `concurrency` of them at a time.
//!
//! Both drivers take what is due, prepare each request (or settle at once what cannot be sent or must wait
//! for the throttle), and queue the prepared attempt in its webhook's [`Lanes`]: at most `concurrency` tasks
//! per webhook send them one after another. The drivers never wait for a send, so one webhook's backlog does
//! not stop them taking other webhooks' deliveries. A lane hands each answer's settles to the [`Settler`]'s
//! thread and goes on to its next request.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use clock::{Clock, Timestamp};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use crate::body::{BodyTemplate, CompileError, ContentFormat, RenderError, RenderInput};
use crate::client::{Answer, AttemptReport, HttpClient, OutgoingRequest};
use crate::delivery::{AttemptLog, Delivery, DeliveryState, OutboxEntry};
use crate::lanes::Lanes;
use crate::oauth::{TokenCache, TokenError};
use crate::outbox::{Outbox, OutboxError};
use crate::payload::{Payload, PayloadOptions, Recipient};
use crate::retry::{AttemptOutcome, Decision, FailureReason, RetryAfter, RetryPolicy, jitter_seed};
use crate::settler::Settler;
use crate::throttle::{Throttle, ThrottleState};
use crate::webhook::{Auth, Content, Method, UrlRenderError, Webhook};

/// The longest the real-time driver goes without looking at the outbox (and flushing its settles).
const MAX_LOOK_INTERVAL: Duration = Duration::from_secs(1);

/// What counts as delivered. CleverTap: HTTP 200 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuccessRule {
    #[default]
    Http200,
    Any2xx,
}

impl SuccessRule {
    fn accepts(self, status: u16) -> bool {
        match self {
            SuccessRule::Http200 => status == 200,
            SuccessRule::Any2xx => (200..300).contains(&status),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// How long an attempt may take (CleverTap: 3 s).
    pub timeout: Duration,
    pub success: SuccessRule,
    /// Most deliveries taken from the outbox in one step.
    pub take_batch: usize,
    /// Largest body sent: a campaign whose source is larger is refused when it is saved, and a user whose
    /// rendered body is larger is not sent to. CleverTap's limit is undocumented; 1 MiB matches inkit-mock's
    /// default request limit.
    pub max_body_bytes: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            timeout: crate::client::DEFAULT_TIMEOUT,
            success: SuccessRule::Http200,
            take_batch: 4096,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// A webhook and how its deliveries are sent.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub webhook: Webhook,
    pub retry: RetryPolicy,
    pub throttle: Throttle,
    /// Most attempts in flight at once for this webhook.
    pub concurrency: usize,
}

impl WebhookSettings {
    /// CleverTap's defaults: its retry policy, no throttle, 64 attempts at a time.
    pub fn new(webhook: Webhook) -> Self {
        Self { webhook, retry: RetryPolicy::clevertap(), throttle: Throttle::unlimited(), concurrency: 64 }
    }
}

/// What a campaign sends through its webhook.
#[derive(Debug, Clone)]
pub struct CampaignContent {
    pub campaign_id: u64,
    pub name: String,
    pub webhook: String,
    pub content: Content,
}

/// Why something given to the dispatcher was refused, at the moment it was given.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("unknown webhook {0:?}: create it first")]
    UnknownWebhook(String),
    #[error("campaign {campaign_id} content is {size} bytes, over the limit of {limit} bytes")]
    ContentTooLarge { campaign_id: u64, size: usize, limit: usize },
    #[error("campaign {campaign_id} content: {error}")]
    Content { campaign_id: u64, error: CompileError },
    #[error("webhook {name:?}: {message}")]
    Webhook { name: String, message: String },
    #[error(
        "webhook {name:?} was not saved: its test request was answered {answer}, and CleverTap saves a webhook only on HTTP 200"
    )]
    TestRequestRefused { name: String, answer: String },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Told each delivery's final state, once (the engine's reports listen here).
pub trait OutcomeSink: Send + Sync {
    fn settled(&self, delivery: &Delivery, state: &DeliveryState, attempts: u32);
}

/// A sink that forgets (for previews and tools that read the outbox instead).
#[derive(Debug, Default)]
pub struct NoSink;

impl OutcomeSink for NoSink {
    fn settled(&self, _: &Delivery, _: &DeliveryState, _: u32) {}
}

/// A request as it would be sent: what Preview shows. For an OAuth 2.0 webhook the `authorization` header is the
/// placeholder `Bearer <fetched at send time>`: the token is fetched (or taken from the cache) when an attempt
/// starts, and never shown.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PreparedRequest {
    #[serde(serialize_with = "method_name")]
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Why a delivery cannot be sent at all (not retried).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotSendable {
    #[error("unknown webhook {0:?}")]
    UnknownWebhook(String),
    #[error("no content for campaign {0}")]
    UnknownCampaign(u64),
    #[error("{0}")]
    Render(RenderError),
    #[error("{0}")]
    Url(String),
    #[error("the rendered body is {size} bytes, over the limit of {limit} bytes")]
    BodyTooLarge { size: usize, limit: usize },
}

/// Counts of one step.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StepReport {
    pub sent: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub dead_letters: usize,
    pub not_sent: usize,
    pub throttled: usize,
}

struct WebhookRuntime {
    settings: WebhookSettings,
    throttle: Mutex<ThrottleState>,
    /// Prepared attempts waiting to be sent, and the (at most `concurrency`) tasks sending them.
    lanes: Lanes<Attempt>,
}

/// One request ready to be sent, waiting in its webhook's lanes: plain data, no future.
struct Attempt {
    /// The deliveries it carries: one, or a broadcast batch.
    group: Vec<OutboxEntry>,
    request: PreparedRequest,
    /// For `run_due`: counts the attempt out of its step when it ends (or is dropped unsent).
    step: Option<AttemptEnded>,
}

enum Prepared {
    Body(BodyTemplate),
    /// `broadcast`: many users per request (CleverTap's four conditions, `Webhook::is_broadcast`).
    KeyValues {
        pairs: Vec<(BodyTemplate, BodyTemplate)>,
        options: PayloadOptions,
        broadcast: bool,
    },
}

pub struct Dispatcher {
    config: DispatcherConfig,
    clock: Arc<dyn Clock>,
    outbox: Arc<dyn Outbox>,
    client: HttpClient,
    /// OAuth 2.0 access tokens, per webhook.
    tokens: TokenCache,
    sink: Arc<dyn OutcomeSink>,
    webhooks: RwLock<HashMap<String, Arc<WebhookRuntime>>>,
    campaigns: RwLock<HashMap<u64, Arc<Prepared>>>,
    /// Rung when there may be new work sooner than the driver planned (a submit, a retry due before
    /// `next_look`).
    wake: Notify,
    /// When the real-time driver will next look at the outbox unless rung (ms since the epoch; `i64::MIN`
    /// while it is busy, so that every retry rings): a retry due later needs no wake-up.
    next_look: AtomicI64,
    /// Records the lanes' attempts (outbox and sink) on its own thread.
    settler: Settler,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub fn new(
        config: DispatcherConfig,
        clock: Arc<dyn Clock>,
        outbox: Arc<dyn Outbox>,
        sink: Arc<dyn OutcomeSink>,
    ) -> Self {
        Self {
            tokens: TokenCache::new(config.timeout),
            config,
            clock,
            outbox,
            client: HttpClient::new(),
            sink,
            webhooks: RwLock::new(HashMap::new()),
            campaigns: RwLock::new(HashMap::new()),
            wake: Notify::new(),
            next_look: AtomicI64::new(i64::MIN),
            settler: Settler::start("outbox-settler"),
        }
    }

    /// Adds (or replaces) a webhook without the test request.
    pub fn add_webhook(&self, settings: WebhookSettings) -> Result<(), DispatchError> {
        let runtime = WebhookRuntime {
            throttle: Mutex::new(ThrottleState::new(settings.throttle)),
            lanes: Lanes::new(settings.concurrency),
            settings,
        };
        let name = runtime.settings.webhook.name().to_owned();
        self.webhooks.write().unwrap_or_else(|p| p.into_inner()).insert(name, Arc::new(runtime));
        Ok(())
    }

    /// Creates a webhook as CleverTap does: sends its test request and saves it only if the endpoint answers
    /// HTTP 200. Returns the answer. An OAuth 2.0 webhook's test request carries its bearer token; a failed token
    /// fetch refuses the webhook.
    pub async fn create_webhook(&self, settings: WebhookSettings) -> Result<Answer, DispatchError> {
        let webhook = &settings.webhook;
        let name = webhook.name().to_owned();
        let profile = Map::new();
        let url = webhook
            .render_url(&RenderInput::for_profile(&profile))
            .map_err(|e| DispatchError::Webhook { name: name.clone(), message: e.to_string() })?;
        let body = crate::payload::test_request(&[("key".to_owned(), "value".to_owned())]).to_string();
        let mut headers = base_headers(webhook, ContentFormat::Json);
        headers.push(("user-agent".into(), USER_AGENT.into()));
        self.authorize(webhook, &mut headers)
            .await
            .map_err(|e| DispatchError::Webhook { name: name.clone(), message: format!("OAuth token: {e}") })?;
        let request = OutgoingRequest { method: http_method(webhook.method()), url, headers, body: Bytes::from(body) };
        let report = self.client.send(request, self.config.timeout).await;
        self.after_answer(webhook, &report.answer);
        match &report.answer {
            Answer::Response { status: 200, .. } => {
                self.add_webhook(settings)?;
                Ok(report.answer)
            }
            other => Err(DispatchError::TestRequestRefused { name, answer: describe_answer(other) }),
        }
    }

    /// Compiles a campaign's content (syntax errors are reported now, with their position).
    pub fn add_campaign(&self, content: CampaignContent) -> Result<(), DispatchError> {
        if !self.webhooks.read().unwrap_or_else(|p| p.into_inner()).contains_key(&content.webhook) {
            return Err(DispatchError::UnknownWebhook(content.webhook.clone()));
        }
        let size = match &content.content {
            Content::CustomBody { source, .. } => source.len(),
            Content::KeyValues { key_values, .. } => key_values.iter().map(|(k, v)| k.len() + v.len()).sum(),
        };
        if size > self.config.max_body_bytes {
            let limit = self.config.max_body_bytes;
            return Err(DispatchError::ContentTooLarge { campaign_id: content.campaign_id, size, limit });
        }
        let compile_err = |error| DispatchError::Content { campaign_id: content.campaign_id, error };
        let prepared = match &content.content {
            Content::CustomBody { source, format } => {
                Prepared::Body(BodyTemplate::compile(source, *format).map_err(compile_err)?)
            }
            Content::KeyValues { key_values, fields } => {
                let mut pairs = Vec::with_capacity(key_values.len());
                for (k, v) in key_values {
                    let key = BodyTemplate::compile(k, ContentFormat::Text).map_err(compile_err)?;
                    let value = BodyTemplate::compile(v, ContentFormat::Text).map_err(compile_err)?;
                    pairs.push((key, value));
                }
                let broadcast =
                    self.webhook(&content.webhook).is_some_and(|w| w.settings.webhook.is_broadcast(&content.content));
                Prepared::KeyValues { pairs, options: PayloadOptions::with_fields(*fields), broadcast }
            }
        };
        self.campaigns.write().unwrap_or_else(|p| p.into_inner()).insert(content.campaign_id, Arc::new(prepared));
        Ok(())
    }

    /// Takes deliveries into the outbox, due now. Durable when it returns; the same delivery twice is kept once.
    pub fn submit(&self, deliveries: Vec<Delivery>) -> Result<usize, DispatchError> {
        let added = self.outbox.enqueue(deliveries, self.clock.now())?;
        self.wake.notify_one();
        Ok(added)
    }

    /// When the next delivery is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.outbox.next_due()
    }

    pub fn outbox(&self) -> &Arc<dyn Outbox> {
        &self.outbox
    }

    /// The request a delivery would make (Preview), without sending it. An OAuth 2.0 webhook's `authorization`
    /// is a placeholder here (see [`PreparedRequest`]); attempts put the bearer token in its place.
    pub fn prepare(&self, delivery: &Delivery, attempt: u32) -> Result<PreparedRequest, NotSendable> {
        self.prepare_group(&[delivery], attempt)
    }

    /// The one request that carries `deliveries`: one delivery, or (for a broadcast campaign) up to its
    /// batch size, all of one campaign, with `"profiles"` an array of those users.
    fn prepare_group(&self, deliveries: &[&Delivery], attempt: u32) -> Result<PreparedRequest, NotSendable> {
        let delivery = deliveries[0];
        let webhook =
            self.webhook(&delivery.webhook).ok_or_else(|| NotSendable::UnknownWebhook(delivery.webhook.clone()))?;
        let campaign = self.campaign(delivery.campaign_id).ok_or(NotSendable::UnknownCampaign(delivery.campaign_id))?;
        let webhook = &webhook.settings.webhook;
        let campaign_value = json!({"campaignId": delivery.campaign_id, "name": delivery.campaign_name});
        // A broadcast's URL and key-value pairs have no personalization, so the first user's view serves all.
        let input =
            RenderInput { profile: &delivery.profile, event: delivery.event.as_ref(), campaign: &campaign_value };
        let url = webhook.render_url(&input).map_err(|e| match e {
            UrlRenderError::Liquid(r) => NotSendable::Render(r),
            other => NotSendable::Url(other.to_string()),
        })?;
        let (body, format) = match &*campaign {
            Prepared::Body(template) => (template.render(&input).map_err(NotSendable::Render)?, template.format()),
            Prepared::KeyValues { pairs, options, broadcast } => {
                let mut rendered = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    rendered.push((
                        k.render(&input).map_err(NotSendable::Render)?,
                        v.render(&input).map_err(NotSendable::Render)?,
                    ));
                }
                let recipients: Vec<Recipient<'_>> = deliveries.iter().map(|d| recipient(d)).collect();
                let payload = if *broadcast {
                    Payload::broadcast(delivery.campaign_id, &rendered, &recipients, options).next()
                } else {
                    Some(Payload::single(delivery.campaign_id, &rendered, &recipients[0], options))
                };
                (payload.map(|p| p.to_json()).unwrap_or_default(), ContentFormat::Json)
            }
        };
        let (key, delivery_id) = match deliveries {
            [one] => (one.id.clone(), one.id.clone()),
            many => {
                let hash = many.iter().fold(0u64, |h, d| h.rotate_left(5) ^ crate::retry::jitter_seed(&d.id, 0));
                (format!("broadcast-{hash:016x}"), format!("{} (+{} more)", many[0].id, many.len() - 1))
            }
        };
        let mut headers = base_headers(webhook, format);
        headers.extend([
            ("user-agent".to_owned(), USER_AGENT.to_owned()),
            ("idempotency-key".to_owned(), key),
            ("x-tapink-delivery-id".to_owned(), delivery_id),
            ("x-tapink-trace-id".to_owned(), delivery.trace_id.clone()),
            ("x-tapink-attempt".to_owned(), attempt.to_string()),
        ]);
        if body.len() > self.config.max_body_bytes {
            return Err(NotSendable::BodyTooLarge { size: body.len(), limit: self.config.max_body_bytes });
        }
        let body = if webhook.method() == Method::Get { String::new() } else { body };
        Ok(PreparedRequest { method: webhook.method(), url, headers, body })
    }

    fn webhook(&self, name: &str) -> Option<Arc<WebhookRuntime>> {
        self.webhooks.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    fn campaign(&self, id: u64) -> Option<Arc<Prepared>> {
        self.campaigns.read().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// For an OAuth 2.0 webhook, puts its bearer token (cached, or fetched now) in `authorization`, in place of
    /// Preview's placeholder. Nothing to do for other webhooks.
    async fn authorize(&self, webhook: &Webhook, headers: &mut Vec<(String, String)>) -> Result<(), TokenError> {
        if !matches!(webhook.auth(), Auth::OAuth2ClientCredentials { .. }) {
            return Ok(());
        }
        let value = format!("Bearer {}", self.tokens.bearer(webhook, &self.client, self.clock.now()).await?);
        match headers.iter_mut().find(|(name, _)| name == "authorization") {
            Some((_, v)) => *v = value,
            None => headers.push(("authorization".to_owned(), value)),
        }
        Ok(())
    }

    /// A 401 from an OAuth 2.0 webhook: its token is stale or revoked, so the next attempt fetches a new one.
    fn after_answer(&self, webhook: &Webhook, answer: &Answer) {
        if matches!(answer, Answer::Response { status: 401, .. })
            && matches!(webhook.auth(), Auth::OAuth2ClientCredentials { .. })
        {
            self.tokens.invalidate(webhook.name());
        }
    }

    /// Sends everything due now and waits for every attempt to end (the simulated clock's step).
    ///
    /// It takes the next batch from the outbox only once at most a batch of the step's deliveries is still
    /// queued or in flight, so a step holds at most two batches in memory however much is due. That cannot
    /// make one webhook starve another's deliveries of time: the step ends only when all of its attempts have
    /// ended, slow ones included, and all of them happen at the step's instant of the clock.
    pub async fn run_due(self: &Arc<Self>) -> Result<StepReport, DispatchError> {
        let mut report = StepReport::default();
        let attempts = Arc::new(StepAttempts::default());
        loop {
            attempts.at_most(self.config.take_batch).await;
            let due = self.outbox.take_due(self.clock.now(), self.config.take_batch)?;
            if due.is_empty() {
                break;
            }
            self.queue(due, Some(&attempts), &mut report);
        }
        attempts.at_most(0).await;
        report.add_outcomes(&attempts.outcomes.lock().unwrap_or_else(|p| p.into_inner()));
        self.outbox.flush()?;
        Ok(report)
    }

    /// The real-time driver: sends deliveries as they fall due until `shutdown`; attempts in flight then
    /// finish on their own (their deliveries stay in the outbox until settled). Before it returns, every
    /// attempt that had ended is recorded in the outbox.
    ///
    /// It looks at the outbox when something is submitted, when a retry falls due before its next look, and
    /// at least once a second, flushing settles each time (so a crash loses at most a second's, or the
    /// outbox's batch of, settles: those deliveries are sent again). An attempt ending does not wake it: under
    /// load that was one look, and one small commit, per delivery.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            self.next_look.store(i64::MIN, Ordering::SeqCst);
            let mut report = StepReport::default();
            match self.outbox.take_due(self.clock.now(), self.config.take_batch) {
                Ok(due) => {
                    let more = due.len() == self.config.take_batch;
                    self.queue(due, None, &mut report);
                    if more {
                        continue;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
            }
            if let Err(e) = self.outbox.flush() {
                tracing::error!(error = %e, "cannot write settled deliveries to the outbox");
            }
            let now = self.clock.now();
            let wait = self
                .next_due()
                .map(|t| t.duration_since(now).max(jiff::SignedDuration::ZERO).unsigned_abs())
                .unwrap_or(MAX_LOOK_INTERVAL)
                .min(MAX_LOOK_INTERVAL);
            let look_at = now.as_millisecond().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
            self.next_look.store(look_at, Ordering::SeqCst);
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        // Answers already received are recorded before the driver returns, so a clean stop does not send
        // their deliveries again after a restart.
        self.settler.caught_up().await;
        if let Err(e) = self.outbox.flush() {
            tracing::error!(error = %e, "cannot write settled deliveries to the outbox");
        }
    }

    /// Stops sending, for a clean stop after the drivers have returned: lanes take no more requests (those
    /// still queued stay due in the outbox and are sent after a restart), the requests in flight finish (for
    /// at most the attempt timeout), and every outcome is written to the outbox before this returns, so
    /// nothing answered is sent again after a restart.
    pub async fn close(&self) {
        let deadline = std::time::Instant::now() + self.config.timeout + Duration::from_secs(1);
        loop {
            let webhooks: Vec<Arc<WebhookRuntime>> =
                self.webhooks.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
            let running: usize = webhooks.iter().map(|w| w.lanes.close()).sum();
            if running == 0 || std::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.settler.caught_up().await;
        if let Err(e) = self.outbox.flush() {
            tracing::error!(error = %e, "cannot write settled deliveries to the outbox");
        }
    }

    /// Splits due deliveries into the requests that carry them: one each, except a broadcast campaign's,
    /// which go together in batches of its batch size.
    fn group_into_requests(&self, due: Vec<OutboxEntry>) -> Vec<Vec<OutboxEntry>> {
        let mut requests = Vec::with_capacity(due.len());
        let mut broadcasts: HashMap<u64, (usize, Vec<OutboxEntry>)> = HashMap::new();
        for entry in due {
            match self.campaign(entry.delivery.campaign_id).as_deref() {
                Some(Prepared::KeyValues { broadcast: true, options, .. }) => {
                    broadcasts
                        .entry(entry.delivery.campaign_id)
                        .or_insert_with(|| (options.batch_size.get(), Vec::new()))
                        .1
                        .push(entry);
                }
                _ => requests.push(vec![entry]),
            }
        }
        for (_, (batch_size, entries)) in broadcasts {
            let mut entries = entries.into_iter().peekable();
            while entries.peek().is_some() {
                requests.push(entries.by_ref().take(batch_size).collect());
            }
        }
        requests
    }

    /// Prepares the requests that carry `due` and queues each in its webhook's lanes (starting lanes up to
    /// the webhook's concurrency); settles at once what cannot be sent or must wait for the throttle. With
    /// `step`, each queued attempt counts itself out of that step when it ends.
    fn queue(self: &Arc<Self>, due: Vec<OutboxEntry>, step: Option<&Arc<StepAttempts>>, report: &mut StepReport) {
        // Queued per webhook, one lock per webhook and batch rather than per request.
        let mut queued: Vec<(Arc<WebhookRuntime>, Vec<Attempt>)> = Vec::new();
        for group in self.group_into_requests(due) {
            let Some((runtime, group, request)) = self.start(group, report) else { continue };
            let attempt = Attempt { step: step.map(|s| s.join(group.len())), group, request };
            match queued.iter_mut().find(|(r, _)| Arc::ptr_eq(r, &runtime)) {
                Some((_, attempts)) => attempts.push(attempt),
                None => queued.push((runtime, vec![attempt])),
            }
        }
        for (runtime, attempts) in queued {
            for _ in 0..runtime.lanes.push(attempts) {
                tokio::spawn(self.clone().lane(runtime.clone()));
            }
        }
    }

    /// Starts one request for `group` (one delivery, or a broadcast batch): settles the group at once if it
    /// cannot be sent or must wait for the throttle, else returns its webhook and the prepared request.
    fn start(
        &self,
        group: Vec<OutboxEntry>,
        report: &mut StepReport,
    ) -> Option<(Arc<WebhookRuntime>, Vec<OutboxEntry>, PreparedRequest)> {
        let now = self.clock.now();
        let first = &group[0];
        let Some(runtime) = self.webhook(&first.delivery.webhook) else {
            let reason = NotSendable::UnknownWebhook(first.delivery.webhook.clone()).to_string();
            for entry in &group {
                let state = DeliveryState::NotSent { at: now, reason: reason.clone() };
                self.finish(entry, None, state.clone());
                report.count(&state);
            }
            return None;
        };
        let deliveries: Vec<&Delivery> = group.iter().map(|e| &e.delivery).collect();
        let request = match self.prepare_group(&deliveries, first.next_attempt()) {
            Ok(r) => r,
            Err(e) => {
                let state = match &e {
                    NotSendable::Url(detail) => DeliveryState::DeadLetter {
                        at: now,
                        reason: format!("{}: {detail}", FailureReason::InvalidWebhookUrl.clevertap_error()),
                    },
                    NotSendable::Render(RenderError::Aborted) => {
                        DeliveryState::NotSent { at: now, reason: "LiquidLogicAborted".into() }
                    }
                    other => DeliveryState::NotSent { at: now, reason: other.to_string() },
                };
                for entry in &group {
                    self.finish(entry, None, state.clone());
                    report.count(&state);
                }
                return None;
            }
        };
        if let Err(next) = runtime.throttle.lock().unwrap_or_else(|p| p.into_inner()).acquire(now) {
            report.throttled += group.len();
            for entry in &group {
                if let Err(e) = self.outbox.settle(&entry.delivery.id, None, DeliveryState::Pending { due_at: next }) {
                    tracing::error!(error = %e, delivery = %entry.delivery.id, "cannot reschedule a throttled delivery");
                }
            }
            return None;
        }
        report.sent += group.len();
        Some((runtime, group, request))
    }

    /// One lane of a webhook: sends its queued attempts one after another until none is left. A lane that
    /// panics (a sink may) is replaced while attempts still wait.
    async fn lane(self: Arc<Self>, runtime: Arc<WebhookRuntime>) {
        let _replaced_if_it_panics = LaneEnded { dispatcher: self.clone(), runtime: runtime.clone() };
        while let Some(Attempt { group, request, step }) = runtime.lanes.next() {
            let settles = self.send(&runtime, &group, request).await;
            let me = self.clone();
            self.settler.hand(move || {
                let states: Vec<DeliveryState> = group
                    .iter()
                    .zip(settles)
                    .map(|(entry, (attempt, state))| {
                        me.finish(entry, Some(attempt), state.clone());
                        state
                    })
                    .collect();
                if let Some(step) = step {
                    step.ended(&states);
                }
            });
        }
    }

    /// Sends one prepared request; returns each delivery's attempt and next state by the one answer, in the
    /// order of `group`.
    async fn send(
        &self,
        runtime: &WebhookRuntime,
        group: &[OutboxEntry],
        request: PreparedRequest,
    ) -> Vec<(AttemptLog, DeliveryState)> {
        let started_at = self.clock.now();
        let webhook = &runtime.settings.webhook;
        let mut headers = request.headers;
        let fetch_started = std::time::Instant::now();
        if let Err(e) = self.authorize(webhook, &mut headers).await {
            // No token, no request: an attempt that failed like a connection failure (retryable).
            let latency = fetch_started.elapsed();
            let error = format!("OAuth token: {e}");
            return self.settles(runtime, group, &AttemptOutcome::ConnectionFailed, |number| AttemptLog {
                number,
                started_at,
                latency_ms: latency.as_secs_f64() * 1000.0,
                status: None,
                error: Some(error.clone()),
                response_excerpt: String::new(),
            });
        }
        let outgoing = OutgoingRequest {
            method: http_method(request.method),
            url: request.url,
            headers,
            body: Bytes::from(request.body),
        };
        let AttemptReport { answer, latency } = self.client.send(outgoing, self.config.timeout).await;
        self.after_answer(webhook, &answer);
        let outcome = match &answer {
            Answer::Response { status, .. } if self.config.success.accepts(*status) => {
                AttemptOutcome::Delivered { status: *status }
            }
            Answer::Response { status, retry_after, .. } => AttemptOutcome::Status {
                status: *status,
                retry_after: retry_after.as_deref().and_then(RetryAfter::parse),
            },
            Answer::TimedOut => AttemptOutcome::TimedOut,
            Answer::ConnectionFailed { .. } => AttemptOutcome::ConnectionFailed,
        };
        self.settles(runtime, group, &outcome, |number| attempt_log(number, started_at, latency, &answer))
    }

    /// Each delivery of a request by its one outcome: its attempt (with its own number) and next state.
    fn settles(
        &self,
        runtime: &WebhookRuntime,
        group: &[OutboxEntry],
        outcome: &AttemptOutcome,
        log: impl Fn(u32) -> AttemptLog,
    ) -> Vec<(AttemptLog, DeliveryState)> {
        group
            .iter()
            .map(|entry| {
                let (attempt, policy_attempt) = (entry.next_attempt(), entry.next_attempt_since_replay());
                (log(attempt), self.next_state(runtime, entry, attempt, policy_attempt, outcome))
            })
            .collect()
    }

    /// What follows an attempt, as the webhook's retry policy decides.
    fn next_state(
        &self,
        runtime: &WebhookRuntime,
        entry: &OutboxEntry,
        attempt: u32,
        policy_attempt: u32,
        outcome: &AttemptOutcome,
    ) -> DeliveryState {
        let now = self.clock.now();
        let seed = jitter_seed(&entry.delivery.id, attempt);
        match runtime.settings.retry.next_attempt_at(policy_attempt, outcome, now, seed) {
            Decision::Done => {
                let status = match outcome {
                    AttemptOutcome::Delivered { status } => *status,
                    _ => 200,
                };
                DeliveryState::Delivered { at: now, status }
            }
            Decision::RetryAt(due_at) => DeliveryState::Pending { due_at },
            Decision::GiveUp { reason } => DeliveryState::DeadLetter { at: now, reason: reason.to_string() },
        }
    }

    /// Records an attempt and the next state; tells the sink when the state is final.
    fn finish(&self, entry: &OutboxEntry, attempt: Option<AttemptLog>, state: DeliveryState) {
        let attempts = entry.attempts.len() as u32 + u32::from(attempt.is_some());
        if let Err(e) = self.outbox.settle(&entry.delivery.id, attempt, state.clone()) {
            tracing::error!(error = %e, delivery = %entry.delivery.id, "cannot record a delivery's state");
            return;
        }
        match state {
            DeliveryState::Pending { due_at } => {
                if due_at.as_millisecond() < self.next_look.load(Ordering::SeqCst) {
                    self.wake.notify_one();
                }
            }
            _ => self.sink.settled(&entry.delivery, &state, attempts),
        }
    }
}

/// The deliveries of one step still queued or in flight, and the outcomes of those that ended. Each
/// attempt counts its deliveries out when it ends (also by panicking), and only the one that brings the
/// count down to what the step waits for wakes it: one wake-up per wait rather than one per delivery, which
/// the step's driver (often another thread) would pay for.
struct StepAttempts {
    running: AtomicUsize,
    /// The count the step waits for (`usize::MAX` while it does not wait).
    waits_for: AtomicUsize,
    outcomes: Mutex<StepReport>,
    done: Notify,
}

impl Default for StepAttempts {
    fn default() -> Self {
        Self {
            running: AtomicUsize::new(0),
            waits_for: AtomicUsize::new(usize::MAX),
            outcomes: Mutex::default(),
            done: Notify::new(),
        }
    }
}

impl StepAttempts {
    /// Counts in an attempt carrying `deliveries`; it counts them out through the returned [`AttemptEnded`].
    fn join(self: &Arc<Self>, deliveries: usize) -> AttemptEnded {
        self.running.fetch_add(deliveries, Ordering::SeqCst);
        AttemptEnded { step: self.clone(), deliveries }
    }

    /// Waits until at most `limit` deliveries joined so far are still queued or in flight (0: all ended).
    async fn at_most(&self, limit: usize) {
        self.waits_for.store(limit, Ordering::SeqCst);
        loop {
            let notified = self.done.notified();
            if self.running.load(Ordering::SeqCst) <= limit {
                break;
            }
            notified.await;
        }
        self.waits_for.store(usize::MAX, Ordering::SeqCst);
    }
}

/// Counts an attempt's deliveries out of its step when dropped: when it ends, panics, or is dropped unrun.
struct AttemptEnded {
    step: Arc<StepAttempts>,
    deliveries: usize,
}

impl AttemptEnded {
    /// The attempt ended with these states of its deliveries: adds them to the step's outcomes.
    fn ended(self, states: &[DeliveryState]) {
        let mut outcomes = self.step.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        states.iter().for_each(|state| outcomes.count(state));
    }
}

/// Dropped when a lane's task ends; if it ends by a panic, the lane is counted out and another takes its place
/// while attempts still wait (a lane that ends normally was counted out by [`Lanes::next`]).
struct LaneEnded {
    dispatcher: Arc<Dispatcher>,
    runtime: Arc<WebhookRuntime>,
}

impl Drop for LaneEnded {
    fn drop(&mut self) {
        if std::thread::panicking() && self.runtime.lanes.abandoned() {
            tokio::spawn(self.dispatcher.clone().lane(self.runtime.clone()));
        }
    }
}

impl Drop for AttemptEnded {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!("a delivery attempt panicked");
        }
        let before = self.step.running.fetch_sub(self.deliveries, Ordering::SeqCst);
        let waits_for = self.step.waits_for.load(Ordering::SeqCst);
        if before > waits_for && before - self.deliveries <= waits_for {
            self.step.done.notify_one();
        }
    }
}

impl StepReport {
    /// Adds the outcomes counted by the attempts (delivered, retrying, dead letters, not sent).
    fn add_outcomes(&mut self, outcomes: &StepReport) {
        self.delivered += outcomes.delivered;
        self.retrying += outcomes.retrying;
        self.dead_letters += outcomes.dead_letters;
        self.not_sent += outcomes.not_sent;
    }

    fn count(&mut self, state: &DeliveryState) {
        match state {
            DeliveryState::Delivered { .. } => self.delivered += 1,
            DeliveryState::Pending { .. } => self.retrying += 1,
            DeliveryState::DeadLetter { .. } => self.dead_letters += 1,
            DeliveryState::NotSent { .. } => self.not_sent += 1,
        }
    }
}

/// A delivery's user as CleverTap's key-value payload shows them.
fn recipient(delivery: &Delivery) -> Recipient<'_> {
    let text = |key: &str| delivery.profile.get(key).and_then(Value::as_str);
    Recipient {
        identity: delivery.identity.as_deref().or_else(|| text("Identity")),
        email: text("Email"),
        name: text("Name"),
        phone: text("Phone"),
        event_properties: delivery.event.as_ref(),
        ..Recipient::new(&delivery.object_id, &delivery.profile)
    }
}

const USER_AGENT: &str = "tapink-dispatcher (CleverTap webhook simulation)";

/// What Preview shows as an OAuth 2.0 webhook's `authorization`; attempts replace it with the bearer token.
pub const OAUTH_AUTHORIZATION_PLACEHOLDER: &str = "Bearer <fetched at send time>";

/// Content type, the webhook's own headers and its authorization (for OAuth 2.0, a placeholder that
/// [`Dispatcher::authorize`] replaces).
fn base_headers(webhook: &Webhook, format: ContentFormat) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_owned(), format.content_type().to_owned())];
    for (name, value) in webhook.headers() {
        headers.push((name.as_str().to_owned(), value.as_str().to_owned()));
    }
    match webhook.auth() {
        Auth::OAuth2ClientCredentials { .. } => {
            headers.push(("authorization".to_owned(), OAUTH_AUTHORIZATION_PLACEHOLDER.to_owned()));
        }
        auth => {
            if let Some(value) = auth.authorization() {
                headers.push(("authorization".to_owned(), value.expose().to_owned()));
            }
        }
    }
    headers
}

fn method_name<S: serde::Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

fn http_method(m: Method) -> http::Method {
    match m {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
    }
}

fn attempt_log(number: u32, started_at: Timestamp, latency: Duration, answer: &Answer) -> AttemptLog {
    let (status, error, response_excerpt) = match answer {
        Answer::Response { status, body, .. } => (Some(*status), None, crate::client::excerpt(body).to_owned()),
        Answer::TimedOut => (None, Some("timed out".to_owned()), String::new()),
        Answer::ConnectionFailed { error } => (None, Some(error.clone()), String::new()),
    };
    AttemptLog { number, started_at, latency_ms: latency.as_secs_f64() * 1000.0, status, error, response_excerpt }
}

fn describe_answer(answer: &Answer) -> String {
    match answer {
        Answer::Response { status, .. } => format!("HTTP {status}"),
        Answer::TimedOut => "with a timeout".to_owned(),
        Answer::ConnectionFailed { error } => format!("with a connection failure ({error})"),
    }
}

#[cfg(test)]
mod tests;
