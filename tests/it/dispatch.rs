//! The webhook dispatcher end to end: deliveries rendered, sent over real loopback HTTP to inkit-mock, retried
//! on a simulated clock, dead-lettered and replayed, kept across a restart in a SQLite outbox, and checked in
//! the mock's History (merge parameters, `Idempotency-Key`, trace headers, duplicates).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clock::{Clock, ManualClock, Timestamp};
use inkit_mock::MockConfig;
use integration_tests::{Client, MockServer, SEED_TEMPLATE_HTML, admin_history, create_template};
use serde_json::{Value, json};
use webhook_dispatcher::body::ContentFormat;
use webhook_dispatcher::client::Answer;
use webhook_dispatcher::delivery::{Delivery, DeliveryState, OutboxEntry};
use webhook_dispatcher::dispatcher::{
    CampaignContent, DispatchError, Dispatcher, DispatcherConfig, OutcomeSink, WebhookSettings,
};
use webhook_dispatcher::outbox::{MemoryOutbox, Outbox, OutboxCounts, SqliteOutbox};
use webhook_dispatcher::retry::{RetryPolicy, Schedule};
use webhook_dispatcher::webhook::{Content, Webhook, WebhookSpec};

/// The seed's campaign body: Liquid merge parameters for the Inkit template below.
const SEED_BODY: &str = include_str!("../../fixtures/bodies/seed.json");
/// The template id written in the seed body, replaced by the id of a template created in the mock.
const SEED_TEMPLATE_ID: &str = "tmpl_SeedLetter000000000001";
const WEBHOOK: &str = "Inkit";
const CAMPAIGN_ID: u64 = 1001;

// ---------------------------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------------------------

/// One final state, as the dispatcher told its sink.
#[derive(Debug, Clone, PartialEq)]
struct Settled {
    id: String,
    state: DeliveryState,
    attempts: u32,
}

/// A sink that keeps every final state it is told.
#[derive(Debug, Default)]
struct RecordingSink {
    settled: Mutex<Vec<Settled>>,
}

impl OutcomeSink for RecordingSink {
    fn settled(&self, delivery: &Delivery, state: &DeliveryState, attempts: u32) {
        let settled = Settled { id: delivery.id.clone(), state: state.clone(), attempts };
        self.settled.lock().unwrap_or_else(|p| p.into_inner()).push(settled);
    }
}

impl RecordingSink {
    fn all(&self) -> Vec<Settled> {
        self.settled.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A mock with the seed's template, and a dispatcher (memory outbox, simulated clock) that knows the "Inkit"
/// webhook (added without its test request, so fault plans see only deliveries) and the seed campaign.
struct Setup {
    mock: MockServer,
    client: Client,
    clock: Arc<ManualClock>,
    sink: Arc<RecordingSink>,
    dispatcher: Arc<Dispatcher>,
    /// The seed's template, created in the mock.
    template_id: String,
}

async fn setup(config: DispatcherConfig) -> Setup {
    let mock = MockServer::start_with(MockConfig::default()).await;
    let client = mock.client();
    let template_id = create_template(&client, "Seed letter", SEED_TEMPLATE_HTML).await;
    let clock = manual_clock();
    let sink = Arc::new(RecordingSink::default());
    let dispatcher = new_dispatcher(config, &clock, Arc::new(MemoryOutbox::new()), &sink);
    dispatcher.add_webhook(WebhookSettings::new(inkit_webhook(&generate_url(&mock.url)))).expect("webhook added");
    dispatcher.add_campaign(seed_campaign(&template_id)).expect("seed campaign compiles");
    Setup { mock, client, clock, sink, dispatcher, template_id }
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(start_time()))
}

fn start_time() -> Timestamp {
    "2026-11-27T09:00:00Z".parse().expect("valid time")
}

fn new_dispatcher(
    config: DispatcherConfig,
    clock: &Arc<ManualClock>,
    outbox: Arc<dyn Outbox>,
    sink: &Arc<RecordingSink>,
) -> Arc<Dispatcher> {
    Arc::new(Dispatcher::new(config, clock.clone() as Arc<dyn Clock>, outbox, sink.clone() as Arc<dyn OutcomeSink>))
}

fn generate_url(base: &str) -> String {
    format!("{base}/v1/generate")
}

/// The seed's webhook: POST to `url` with the mock's default token.
fn inkit_webhook(url: &str) -> Webhook {
    let spec: WebhookSpec = serde_json::from_value(json!({
        "name": WEBHOOK, "method": "POST", "url": url, "content_type": "json",
        "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN}, "auth": {"type": "none"}
    }))
    .expect("webhook spec reads");
    Webhook::from_spec(spec).expect("valid webhook")
}

fn campaign(body: String) -> CampaignContent {
    CampaignContent {
        campaign_id: CAMPAIGN_ID,
        name: "Seed letter".into(),
        webhook: WEBHOOK.into(),
        content: Content::CustomBody { source: body, format: ContentFormat::Json },
    }
}

/// The seed body, sending to the template `template_id`.
fn seed_campaign(template_id: &str) -> CampaignContent {
    assert!(SEED_BODY.contains(SEED_TEMPLATE_ID), "the seed body names its template");
    campaign(SEED_BODY.replace(SEED_TEMPLATE_ID, template_id))
}

fn delivery(id: &str, profile: Value) -> Delivery {
    let Value::Object(profile) = profile else { panic!("a profile is an object: {profile}") };
    Delivery {
        id: id.into(),
        trace_id: format!("trace-{id}"),
        object_id: format!("obj-{id}"),
        identity: None,
        webhook: WEBHOOK.into(),
        campaign_id: CAMPAIGN_ID,
        campaign_name: "Seed letter".into(),
        profile,
        event: None,
        created_at: start_time(),
    }
}

fn ada() -> Value {
    json!({"Name": "Ada", "Email": "ada@example.com", "Phone": "+44 20 7946 0000"})
}

fn entry(dispatcher: &Dispatcher, id: &str) -> OutboxEntry {
    dispatcher.outbox().get(id).expect("outbox readable").unwrap_or_else(|| panic!("{id} is in the outbox"))
}

fn attempt_statuses(entry: &OutboxEntry) -> Vec<Option<u16>> {
    entry.attempts.iter().map(|a| a.status).collect()
}

/// How far `at` is ahead of the clock; panics if it is not ahead.
fn wait_until(clock: &ManualClock, at: Timestamp) -> Duration {
    let now = clock.now();
    assert!(at > now, "{at} is not after now ({now})");
    at.duration_since(now).unsigned_abs()
}

/// Moves the clock to the next due delivery and runs what is due.
async fn step(setup: &Setup) -> webhook_dispatcher::dispatcher::StepReport {
    let due = setup.dispatcher.next_due().expect("something is due");
    setup.clock.set(due);
    setup.dispatcher.run_due().await.expect("step runs")
}

async fn put_faults(client: &Client, rules: Value) {
    let reply = client.put("/__admin/faults", &json!({"seed": 1, "fault": rules})).await;
    assert_eq!(reply.status, 200, "fault plan: {}", reply.text());
}

async fn clear_faults(client: &Client) {
    let reply = client.delete("/__admin/faults").await;
    assert!(reply.status == 200 || reply.status == 204, "clearing faults: {} {}", reply.status, reply.text());
}

/// Every render History holds.
async fn renders(client: &Client) -> Vec<Value> {
    let list = admin_history(client, "kind=render&page_size=100").await;
    list["items"].as_array().unwrap_or_else(|| panic!("no items in {list}")).clone()
}

/// The History entries a delivery made (its id travels as the `Idempotency-Key`).
fn renders_of<'a>(entries: &'a [Value], delivery_id: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["request_headers"]["idempotency-key"] == delivery_id).collect()
}

/// The `Idempotency-Key`s of every `POST /generate` the mock received, answered or not.
async fn generate_requests(client: &Client) -> Vec<String> {
    let journal = client.get("/__admin/requests?route=POST%20/generate").await.json();
    journal["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {journal}"))
        .iter()
        .map(|r| r["headers"]["idempotency-key"].as_str().unwrap_or("").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// The walkthrough
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_seed_walkthrough_delivers_rendered_merge_parameters_with_idempotency_and_trace_headers() {
    // arrange
    let mock = MockServer::start_with(MockConfig::default()).await;
    let client = mock.client();
    let template_id = create_template(&client, "Seed letter", SEED_TEMPLATE_HTML).await;
    let clock = manual_clock();
    let sink = Arc::new(RecordingSink::default());
    let dispatcher = new_dispatcher(DispatcherConfig::default(), &clock, Arc::new(MemoryOutbox::new()), &sink);
    let test_answer = dispatcher
        .create_webhook(WebhookSettings::new(inkit_webhook(&generate_url(&mock.url))))
        .await
        .expect("the mock answers the test request 200, so the webhook is saved");
    dispatcher.add_campaign(seed_campaign(&template_id)).expect("seed campaign compiles");
    let tricky_name = "Ada \"Countess\"\nLovelace";
    let deliveries = vec![
        delivery("dlv-grace", json!({"Name": "Grace", "Email": "grace@example.com", "Phone": "+1 555 0101"})),
        delivery("dlv-alan", json!({"Name": "Alan", "Email": "alan@example.com"})),
        delivery("dlv-ada", json!({"Name": tricky_name, "Email": "ada@example.com", "Phone": "+44 20 7946 0000"})),
    ];
    let expected = [
        ("dlv-grace", json!({"Name": "Grace", "email": "grace@example.com", "phone number": "+1 555 0101"})),
        ("dlv-alan", json!({"Name": "Alan", "email": "alan@example.com", "phone number": "-"})),
        ("dlv-ada", json!({"Name": tricky_name, "email": "ada@example.com", "phone number": "+44 20 7946 0000"})),
    ];

    // act
    let submitted = dispatcher.submit(deliveries).expect("submitted");
    let report = dispatcher.run_due().await.expect("step runs");

    // assert
    assert!(matches!(test_answer, Answer::Response { status: 200, .. }), "{test_answer:?}");
    let tests = admin_history(&client, "kind=test").await;
    assert_eq!(tests["items"].as_array().map(Vec::len), Some(1), "the test request is in History: {tests}");
    assert_eq!(tests["items"][0]["kind"], "test");
    assert_eq!(tests["items"][0]["test_body"]["is_test"], true);

    assert_eq!((submitted, report.sent, report.delivered), (3, 3, 3), "{report:?}");
    let entries = renders(&client).await;
    assert_eq!(entries.len(), 3, "one History entry per delivery: {entries:#?}");
    for (id, merge_parameters) in expected {
        let mine = renders_of(&entries, id);
        assert_eq!(mine.len(), 1, "{id}: {entries:#?}");
        let e = mine[0];
        assert_eq!(e["merge_parameters"], merge_parameters, "{id}");
        assert_eq!(e["template_id"], template_id.as_str(), "{id}");
        assert_eq!(e["description"], "test", "{id}");
        assert_eq!(e["request_headers"]["x-tapink-trace-id"], format!("trace-{id}"), "{id}");
        assert_eq!(e["request_headers"]["x-tapink-delivery-id"], id, "{id}");
        assert_eq!(e["request_headers"]["x-tapink-attempt"], "1", "{id}");
        assert!(e["duplicate_of"].is_null(), "{id}: {e}");
    }
    assert_eq!(dispatcher.outbox().counts(), OutboxCounts { delivered: 3, ..OutboxCounts::default() });
    assert_eq!(dispatcher.next_due(), None, "nothing left to send");
    let mut settled = sink.all();
    settled.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(settled.len(), 3, "{settled:?}");
    for (s, id) in settled.iter().zip(["dlv-ada", "dlv-alan", "dlv-grace"]) {
        assert_eq!(s.id, id);
        assert!(matches!(s.state, DeliveryState::Delivered { status: 200, .. }), "{s:?}");
        assert_eq!(s.attempts, 1, "{s:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Retries, dead letters and replay
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn inkit_failing_twice_then_recovering_is_delivered_on_the_third_attempt_15_s_apart() {
    // arrange
    let s = setup(DispatcherConfig::default()).await;
    put_faults(&s.client, json!([{"route": "POST /generate", "kind": "sequence", "steps": ["500", "500"]}])).await;
    s.dispatcher.submit(vec![delivery("dlv-flaky", ada())]).expect("submitted");

    // act
    let first = s.dispatcher.run_due().await.expect("first step");
    let first_wait = wait_until(&s.clock, s.dispatcher.next_due().expect("a retry is scheduled"));
    let second = step(&s).await;
    let second_wait = wait_until(&s.clock, s.dispatcher.next_due().expect("a second retry is scheduled"));
    let third = step(&s).await;

    // assert
    assert_eq!((first.retrying, second.retrying, third.delivered), (1, 1, 1), "{first:?} {second:?} {third:?}");
    assert_eq!(first_wait, Duration::from_secs(15), "CleverTap waits 15 s before a retry");
    assert_eq!(second_wait, Duration::from_secs(15));
    assert_eq!(s.dispatcher.next_due(), None);
    let entries = renders(&s.client).await;
    assert_eq!(entries.len(), 1, "the failed attempts stored nothing: {entries:#?}");
    assert_eq!(entries[0]["request_headers"]["idempotency-key"], "dlv-flaky");
    assert_eq!(entries[0]["request_headers"]["x-tapink-attempt"], "3");
    let e = entry(&s.dispatcher, "dlv-flaky");
    assert_eq!(attempt_statuses(&e), [Some(500), Some(500), Some(200)]);
    assert_eq!(e.attempts.iter().map(|a| a.number).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(matches!(e.state, DeliveryState::Delivered { status: 200, .. }), "{:?}", e.state);
    let settled = s.sink.all();
    assert_eq!(settled.len(), 1, "the sink hears only the final state: {settled:?}");
    assert_eq!(settled[0].attempts, 3);
}

#[tokio::test]
async fn exhausted_retries_make_a_dead_letter_that_replays_once_inkit_recovers() {
    // arrange
    let s = setup(DispatcherConfig::default()).await;
    put_faults(&s.client, json!([{"route": "POST /generate", "kind": "status", "status": 503, "probability": 1.0}]))
        .await;
    s.dispatcher.submit(vec![delivery("dlv-down", ada())]).expect("submitted");

    // act
    let reports = [step(&s).await, step(&s).await, step(&s).await];
    let dead = s.dispatcher.outbox().dead_letters(None, 10).expect("dead letters readable");
    let dead_of_inkit = s.dispatcher.outbox().dead_letters(Some(WEBHOOK), 10).expect("dead letters readable");
    let next_after_dead = s.dispatcher.next_due();
    let history_while_down = renders(&s.client).await;
    clear_faults(&s.client).await;
    s.dispatcher.outbox().replay("dlv-down", s.clock.now()).expect("a dead letter replays");
    let replayed = s.dispatcher.run_due().await.expect("replay step");

    // assert
    assert_eq!(reports.map(|r| (r.retrying, r.dead_letters)), [(1, 0), (1, 0), (0, 1)]);
    assert_eq!(next_after_dead, None, "a dead letter is not retried on its own");
    assert!(history_while_down.is_empty(), "503s store nothing: {history_while_down:#?}");
    assert_eq!(dead.iter().map(|e| e.delivery.id.as_str()).collect::<Vec<_>>(), ["dlv-down"]);
    assert_eq!(dead_of_inkit.len(), 1);
    assert_eq!(attempt_statuses(&dead[0]), [Some(503), Some(503), Some(503)]);
    match &dead[0].state {
        DeliveryState::DeadLetter { reason, .. } => {
            assert!(reason.starts_with("Webhook Dispatch Failed"), "{reason}");
            assert!(reason.contains("HTTP 503 on attempt 3"), "{reason}");
        }
        other => panic!("expected a dead letter, got {other:?}"),
    }
    assert_eq!(replayed.delivered, 1, "{replayed:?}");
    let entries = renders(&s.client).await;
    assert_eq!(renders_of(&entries, "dlv-down").len(), 1, "{entries:#?}");
    assert_eq!(entries.len(), 1);
    let e = entry(&s.dispatcher, "dlv-down");
    assert_eq!(attempt_statuses(&e), [Some(503), Some(503), Some(503), Some(200)]);
    assert!(s.dispatcher.outbox().dead_letters(None, 10).expect("readable").is_empty());
    let settled = s.sink.all();
    assert_eq!(settled.len(), 2, "told of the dead letter, then of the delivery: {settled:?}");
    assert!(matches!(settled[0].state, DeliveryState::DeadLetter { .. }) && settled[0].attempts == 3, "{settled:?}");
    assert!(matches!(settled[1].state, DeliveryState::Delivered { .. }) && settled[1].attempts == 4, "{settled:?}");
}

#[tokio::test]
async fn a_replayed_dead_letter_that_fails_again_gets_a_fresh_set_of_retries() {
    // arrange: a dead letter after CleverTap's 3 attempts, and Inkit still down
    let s = setup(DispatcherConfig::default()).await;
    put_faults(&s.client, json!([{"route": "POST /generate", "kind": "status", "status": 503, "probability": 1.0}]))
        .await;
    s.dispatcher.submit(vec![delivery("dlv-again", ada())]).expect("submitted");
    let before = [step(&s).await, step(&s).await, step(&s).await];
    assert_eq!(before.map(|r| r.dead_letters), [0, 0, 1]);

    // act: replay it while Inkit is still failing
    s.dispatcher.outbox().replay("dlv-again", s.clock.now()).expect("a dead letter replays");
    let after = [step(&s).await, step(&s).await, step(&s).await];

    // assert: three more attempts (retry, retry, dead letter), all in the log
    assert_eq!(after.map(|r| (r.retrying, r.dead_letters)), [(1, 0), (1, 0), (0, 1)]);
    let e = entry(&s.dispatcher, "dlv-again");
    assert_eq!(attempt_statuses(&e), [Some(503); 6]);
    match &e.state {
        DeliveryState::DeadLetter { reason, .. } => assert!(reason.contains("on attempt 3"), "{reason}"),
        other => panic!("expected a dead letter, got {other:?}"),
    }
}

#[tokio::test]
async fn a_4xx_answer_is_a_dead_letter_after_one_attempt_by_default() {
    // arrange
    let s = setup(DispatcherConfig::default()).await;
    put_faults(&s.client, json!([{"route": "POST /generate", "kind": "status", "status": 400}])).await;
    s.dispatcher.submit(vec![delivery("dlv-bad-request", ada())]).expect("submitted");

    // act
    let report = s.dispatcher.run_due().await.expect("step runs");

    // assert
    assert_eq!((report.sent, report.retrying, report.dead_letters), (1, 0, 1), "{report:?}");
    assert_eq!(s.dispatcher.next_due(), None, "a 400 is not retried");
    let e = entry(&s.dispatcher, "dlv-bad-request");
    assert_eq!(attempt_statuses(&e), [Some(400)]);
    match &e.state {
        DeliveryState::DeadLetter { reason, .. } => {
            assert!(reason.starts_with("Webhook Dispatch Failed"), "{reason}");
            assert!(reason.contains("HTTP 400 on attempt 1"), "{reason}");
        }
        other => panic!("expected a dead letter, got {other:?}"),
    }
    assert_eq!(s.sink.all().iter().map(|x| x.attempts).collect::<Vec<_>>(), [1]);
}

#[tokio::test]
async fn a_429_with_retry_after_pushes_the_retry_past_clevertaps_15_s() {
    // arrange
    let s = setup(DispatcherConfig::default()).await;
    put_faults(
        &s.client,
        json!([{"route": "POST /generate", "kind": "sequence", "steps": ["429"], "retry_after_s": 60}]),
    )
    .await;
    s.dispatcher.submit(vec![delivery("dlv-throttled", ada())]).expect("submitted");

    // act
    let first = s.dispatcher.run_due().await.expect("first step");
    let wait = wait_until(&s.clock, s.dispatcher.next_due().expect("a retry is scheduled"));
    let second = step(&s).await;

    // assert
    assert_eq!((first.retrying, second.delivered), (1, 1), "{first:?} {second:?}");
    assert!(wait >= Duration::from_secs(60), "Retry-After: 60 is honoured, not CleverTap's 15 s: {wait:?}");
    let e = entry(&s.dispatcher, "dlv-throttled");
    assert_eq!(attempt_statuses(&e), [Some(429), Some(200)]);
    assert_eq!(renders_of(&renders(&s.client).await, "dlv-throttled").len(), 1);
}

/// A loopback TCP proxy to `target` (`http://host:port`) that holds back the answer on its first connection
/// for `hold`: the request reaches the mock at once (so the mock stores it and answers), but the answer
/// comes back after the dispatcher has given up. Later connections pass straight through. Returns its URL.
///
/// The mock's `latency` fault cannot stage this: it waits *before* handling the request, and when the
/// client gives up and closes the connection, the mock drops the request without storing it.
async fn proxy_holding_first_answer(target: &str, hold: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    let target = target.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        let mut connections = 0_u32;
        while let Ok((inbound, _)) = listener.accept().await {
            connections += 1;
            let hold = if connections == 1 { hold } else { Duration::ZERO };
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                let (mut from_client, mut to_client) = inbound.into_split();
                let (mut from_mock, mut to_mock) = outbound.into_split();
                let up = tokio::io::copy(&mut from_client, &mut to_mock);
                let down = async {
                    tokio::time::sleep(hold).await;
                    tokio::io::copy(&mut from_mock, &mut to_client).await
                };
                let _ = tokio::join!(up, down);
            });
        }
    });
    url
}

#[tokio::test]
async fn a_timeout_whose_request_was_stored_makes_the_retry_a_duplicate_in_history() {
    // arrange
    let config = DispatcherConfig { timeout: Duration::from_millis(200), ..DispatcherConfig::default() };
    let s = setup(config).await;
    let proxy = proxy_holding_first_answer(&s.mock.url, Duration::from_millis(600)).await;
    s.dispatcher.add_webhook(WebhookSettings::new(inkit_webhook(&generate_url(&proxy)))).expect("webhook replaced");
    s.dispatcher.submit(vec![delivery("dlv-slow", ada())]).expect("submitted");

    // act
    let started = Instant::now();
    let first = s.dispatcher.run_due().await.expect("first step");
    let first_took = started.elapsed();
    let stored_before_retry = renders(&s.client).await;
    let second = step(&s).await;

    // assert
    assert_eq!((first.retrying, second.delivered), (1, 1), "{first:?} {second:?}");
    assert!(first_took < Duration::from_millis(550), "the attempt gave up after its 200 ms timeout: {first_took:?}");
    let e = entry(&s.dispatcher, "dlv-slow");
    assert_eq!(e.attempts.len(), 2, "{e:?}");
    assert_eq!((e.attempts[0].status, e.attempts[0].error.as_deref()), (None, Some("timed out")));
    assert_eq!(e.attempts[1].status, Some(200));
    assert_eq!(stored_before_retry.len(), 1, "the mock stored the timed-out request: {stored_before_retry:#?}");
    let entries = renders(&s.client).await;
    let mine = renders_of(&entries, "dlv-slow");
    assert_eq!(mine.len(), 2, "{entries:#?}");
    let attempt = |n: &str| {
        *mine.iter().find(|e| e["request_headers"]["x-tapink-attempt"] == n).unwrap_or_else(|| panic!("attempt {n}"))
    };
    let (original, retry) = (attempt("1"), attempt("2"));
    assert!(original["duplicate_of"].is_null(), "{original}");
    assert_eq!(retry["duplicate_of"], original["id"], "the retry is shown as a duplicate of the first: {retry}");
    let duplicates = admin_history(&s.client, "duplicates=true").await;
    assert_eq!(duplicates["items"].as_array().map(Vec::len), Some(1), "{duplicates}");
    assert_eq!(duplicates["items"][0]["id"], retry["id"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries that are never sent
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn abort_in_the_body_stops_a_users_message_as_liquid_logic_aborted_without_sending_it() {
    // arrange
    let s = setup(DispatcherConfig::default()).await;
    let template_id = &s.template_id;
    let body = format!(
        "{{% unless Profile.Email %}}{{% abort %}}{{% endunless %}}\
         {{\"template_id\": \"{template_id}\", \"merge_parameters\": \
         {{\"Name\": \"{{{{ Profile.Name }}}}\", \"email\": \"{{{{ Profile.Email }}}}\", \"phone number\": \"-\"}}}}"
    );
    s.dispatcher.add_campaign(campaign(body)).expect("the abort body compiles");
    let with_email = delivery("dlv-with-email", ada());
    let without_email = delivery("dlv-no-email", json!({"Name": "Nobody"}));

    // act
    s.dispatcher.submit(vec![with_email, without_email]).expect("submitted");
    let report = s.dispatcher.run_due().await.expect("step runs");

    // assert
    assert_eq!((report.sent, report.delivered, report.not_sent), (1, 1, 1), "{report:?}");
    let e = entry(&s.dispatcher, "dlv-no-email");
    assert!(
        matches!(&e.state, DeliveryState::NotSent { reason, .. } if reason == "LiquidLogicAborted"),
        "{:?}",
        e.state
    );
    assert!(e.attempts.is_empty(), "no attempt was made: {:?}", e.attempts);
    assert_eq!(generate_requests(&s.client).await, ["dlv-with-email"], "only the user with an Email was sent");
    assert!(renders_of(&renders(&s.client).await, "dlv-no-email").is_empty());
    let aborted: Vec<_> = s.sink.all().into_iter().filter(|x| x.id == "dlv-no-email").collect();
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    assert_eq!(aborted[0].attempts, 0);
    assert_eq!(s.dispatcher.outbox().counts(), OutboxCounts { delivered: 1, not_sent: 1, ..OutboxCounts::default() });
}

#[tokio::test]
async fn a_url_that_renders_invalid_for_a_user_is_a_dead_letter_invalid_webhook_url_and_never_sent() {
    // arrange
    let s = setup(DispatcherConfig::default()).await;
    let port = s.mock.url.rsplit(':').next().expect("the mock's url has a port").parse::<u16>().expect("a port");
    let personalized = inkit_webhook("http://127.0.0.1:{{ Profile.port }}/v1/generate");
    s.dispatcher.add_webhook(WebhookSettings::new(personalized)).expect("the URL template is valid");
    let good = delivery("dlv-good-port", json!({"Name": "Ada", "Email": "ada@example.com", "port": port}));
    let bad = delivery("dlv-bad-port", json!({"Name": "Bob", "Email": "bob@example.com", "port": "http"}));

    // act
    s.dispatcher.submit(vec![good, bad]).expect("submitted");
    let report = s.dispatcher.run_due().await.expect("step runs");

    // assert
    assert_eq!((report.sent, report.delivered, report.dead_letters), (1, 1, 1), "{report:?}");
    let e = entry(&s.dispatcher, "dlv-bad-port");
    match &e.state {
        DeliveryState::DeadLetter { reason, .. } => assert!(reason.starts_with("Invalid Webhook URL"), "{reason}"),
        other => panic!("expected a dead letter, got {other:?}"),
    }
    assert!(e.attempts.is_empty(), "never sent: {:?}", e.attempts);
    assert_eq!(s.dispatcher.next_due(), None, "an invalid URL is not retried");
    assert_eq!(generate_requests(&s.client).await, ["dlv-good-port"]);
    let dead = s.dispatcher.outbox().dead_letters(None, 10).expect("readable");
    assert_eq!(dead.iter().map(|e| e.delivery.id.as_str()).collect::<Vec<_>>(), ["dlv-bad-port"]);
}

#[tokio::test]
async fn create_webhook_is_refused_when_the_test_request_gets_http_500_and_the_webhook_is_not_saved() {
    // arrange
    let mock = MockServer::start_with(MockConfig::default()).await;
    let client = mock.client();
    let template_id = create_template(&client, "Seed letter", SEED_TEMPLATE_HTML).await;
    put_faults(&client, json!([{"route": "POST /generate", "kind": "status", "status": 500}])).await;
    let clock = manual_clock();
    let sink = Arc::new(RecordingSink::default());
    let dispatcher = new_dispatcher(DispatcherConfig::default(), &clock, Arc::new(MemoryOutbox::new()), &sink);

    // act
    let created = dispatcher.create_webhook(WebhookSettings::new(inkit_webhook(&generate_url(&mock.url)))).await;
    let campaign = dispatcher.add_campaign(seed_campaign(&template_id));

    // assert
    match created {
        Err(ref e @ DispatchError::TestRequestRefused { ref name, ref answer }) => {
            assert_eq!((name.as_str(), answer.as_str()), (WEBHOOK, "HTTP 500"));
            assert!(e.to_string().contains("HTTP 500"), "{e}");
        }
        other => panic!("expected TestRequestRefused, got {other:?}"),
    }
    assert!(matches!(&campaign, Err(DispatchError::UnknownWebhook(name)) if name == WEBHOOK), "{campaign:?}");
    let tests = admin_history(&client, "kind=test").await;
    assert_eq!(tests["items"].as_array().map(Vec::len), Some(0), "{tests}");
}

// ---------------------------------------------------------------------------------------------------------------
// The outbox
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_sqlite_outbox_keeps_retrying_deliveries_across_a_restart_and_delivers_them_all() {
    // arrange
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outbox.sqlite");
    let mock = MockServer::start_with(MockConfig::default()).await;
    let client = mock.client();
    let template_id = create_template(&client, "Seed letter", SEED_TEMPLATE_HTML).await;
    let clock = manual_clock();
    let sink = Arc::new(RecordingSink::default());
    let nothing_listens = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        format!("http://{}/v1/generate", listener.local_addr().expect("local addr"))
    };
    let ids: Vec<String> = (1..=5).map(|i| format!("dlv-durable-{i}")).collect();
    let before_restart = {
        let outbox = Arc::new(SqliteOutbox::open(&path).expect("outbox opens"));
        let dispatcher = new_dispatcher(DispatcherConfig::default(), &clock, outbox, &sink);
        dispatcher.add_webhook(WebhookSettings::new(inkit_webhook(&nothing_listens))).expect("webhook");
        dispatcher.add_campaign(seed_campaign(&template_id)).expect("campaign");
        dispatcher.submit(ids.iter().map(|id| delivery(id, ada())).collect()).expect("submitted");
        dispatcher.run_due().await.expect("step runs")
        // The dispatcher and its outbox are dropped here: the process "stops".
    };

    // act
    let outbox = Arc::new(SqliteOutbox::open(&path).expect("the outbox reopens"));
    let reopened = outbox.counts();
    let dispatcher = new_dispatcher(DispatcherConfig::default(), &clock, outbox, &sink);
    dispatcher.add_webhook(WebhookSettings::new(inkit_webhook(&generate_url(&mock.url)))).expect("webhook");
    dispatcher.add_campaign(seed_campaign(&template_id)).expect("campaign");
    let due = dispatcher.next_due().expect("the retries are still scheduled");
    clock.set(due);
    let after_restart = dispatcher.run_due().await.expect("step runs");

    // assert
    assert_eq!((before_restart.sent, before_restart.retrying), (5, 5), "{before_restart:?}");
    assert_eq!(reopened, OutboxCounts { pending: 5, ..OutboxCounts::default() }, "nothing lost in the restart");
    assert_eq!(after_restart.delivered, 5, "{after_restart:?}");
    assert_eq!(dispatcher.outbox().counts(), OutboxCounts { delivered: 5, ..OutboxCounts::default() });
    let entries = renders(&client).await;
    assert_eq!(entries.len(), 5, "{entries:#?}");
    for id in &ids {
        assert_eq!(renders_of(&entries, id).len(), 1, "{id}");
        let e = entry(&dispatcher, id);
        assert_eq!(attempt_statuses(&e), [None, Some(200)], "{id}: the refused attempt is kept");
        assert!(e.attempts[0].error.is_some(), "{id}: {:?}", e.attempts[0]);
    }
    assert_eq!(sink.all().len(), 5);
}

#[tokio::test]
async fn the_same_delivery_submitted_twice_is_sent_once() {
    // arrange
    let s = setup(DispatcherConfig::default()).await;
    let twice = delivery("dlv-twice", ada());

    // act
    let first = s.dispatcher.submit(vec![twice.clone()]).expect("submitted");
    let again = s.dispatcher.submit(vec![twice.clone(), twice.clone()]).expect("submitted");
    let report = s.dispatcher.run_due().await.expect("step runs");
    let after_delivery = s.dispatcher.submit(vec![twice]).expect("submitted");
    let later = s.dispatcher.run_due().await.expect("step runs");

    // assert
    assert_eq!((first, again, after_delivery), (1, 0, 0));
    assert_eq!((report.sent, report.delivered, later.sent), (1, 1, 0), "{report:?} {later:?}");
    assert_eq!(generate_requests(&s.client).await, ["dlv-twice"]);
    assert_eq!(renders(&s.client).await.len(), 1);
    assert_eq!(s.sink.all().len(), 1);
    assert_eq!(s.dispatcher.outbox().counts(), OutboxCounts { delivered: 1, ..OutboxCounts::default() });
}

// ---------------------------------------------------------------------------------------------------------------
// OAuth 2.0 client credentials
// ---------------------------------------------------------------------------------------------------------------

/// A token endpoint on loopback: answers every request with `body` (one request per connection), and keeps
/// each request as text. Returns its URL and the requests.
async fn oauth_token_endpoint(body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://{}/oauth/token", listener.local_addr().expect("local addr"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let request = loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let length = text[..end]
                        .to_lowercase()
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()))
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break text;
                    }
                };
                seen.lock().unwrap_or_else(|p| p.into_inner()).push(request);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, requests)
}

#[tokio::test]
async fn an_oauth_webhook_fetches_its_token_once_reuses_it_and_fetches_again_after_expiry() {
    // arrange
    let mock = MockServer::start_with(MockConfig::default()).await;
    let client = mock.client();
    let template_id = create_template(&client, "Seed letter", SEED_TEMPLATE_HTML).await;
    let (token_url, token_requests) =
        oauth_token_endpoint(r#"{"access_token":"tok-1","token_type":"bearer","expires_in":60}"#).await;
    let token_fetches = || token_requests.lock().unwrap_or_else(|p| p.into_inner()).len();
    let spec: WebhookSpec = serde_json::from_value(json!({
        "name": WEBHOOK, "method": "POST", "url": generate_url(&mock.url), "content_type": "json",
        "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN},
        "auth": {"type": "oauth2_client_credentials", "token_url": token_url, "client_id": "tapink",
                 "client_secret": "s3cr3t", "scopes": ["letters:write"]}
    }))
    .expect("webhook spec reads");
    let webhook = Webhook::from_spec(spec).expect("valid OAuth webhook");
    let clock = manual_clock();
    let sink = Arc::new(RecordingSink::default());
    let dispatcher = new_dispatcher(DispatcherConfig::default(), &clock, Arc::new(MemoryOutbox::new()), &sink);

    // act
    let created = dispatcher.create_webhook(WebhookSettings::new(webhook)).await;
    dispatcher.add_campaign(seed_campaign(&template_id)).expect("seed campaign compiles");
    dispatcher.submit(vec![delivery("dlv-oauth-1", ada())]).expect("submitted");
    let first = dispatcher.run_due().await.expect("step runs");
    dispatcher.submit(vec![delivery("dlv-oauth-2", ada())]).expect("submitted");
    let second = dispatcher.run_due().await.expect("step runs");
    let fetches_before_expiry = token_fetches();
    clock.advance(Duration::from_secs(61));
    dispatcher.submit(vec![delivery("dlv-oauth-3", ada())]).expect("submitted");
    let third = dispatcher.run_due().await.expect("step runs");

    // assert
    assert!(
        matches!(created, Ok(Answer::Response { status: 200, .. })),
        "the test request carried the token: {created:?}"
    );
    assert_eq!((first.delivered, second.delivered, third.delivered), (1, 1, 1), "{first:?} {second:?} {third:?}");
    assert_eq!(fetches_before_expiry, 1, "one token for the test request and two deliveries");
    assert_eq!(token_fetches(), 2, "a new token once the simulated clock passed expiry");
    let token_request = token_requests.lock().unwrap_or_else(|p| p.into_inner())[0].clone();
    assert!(token_request.starts_with("POST /oauth/token HTTP/1.1\r\n"), "{token_request}");
    assert!(token_request.contains("authorization: Basic dGFwaW5rOnMzY3IzdA==\r\n"), "{token_request}");
    assert!(token_request.ends_with("\r\n\r\ngrant_type=client_credentials&scope=letters%3Awrite"), "{token_request}");
    let entries = renders(&client).await;
    for id in ["dlv-oauth-1", "dlv-oauth-2", "dlv-oauth-3"] {
        assert_eq!(renders_of(&entries, id).len(), 1, "{id}: {entries:#?}");
        assert_eq!(attempt_statuses(&entry(&dispatcher, id)), [Some(200)], "{id}");
    }
    assert_eq!(dispatcher.outbox().counts(), OutboxCounts { delivered: 3, ..OutboxCounts::default() });
}

#[tokio::test]
async fn bodies_over_the_size_limit_are_refused_at_save_and_not_sent_at_render() {
    // arrange: a 600-byte limit; the seed's body fits
    let s = setup(DispatcherConfig { max_body_bytes: 600, ..DispatcherConfig::default() }).await;

    // act: a campaign whose source is larger, and a user whose name makes the seed's body larger
    let too_big = s.dispatcher.add_campaign(campaign(format!("{{\"x\": \"{}\"}}", "y".repeat(700))));
    s.dispatcher.submit(vec![delivery("dlv-huge", json!({"Name": "z".repeat(1000)}))]).expect("submitted");
    let report = s.dispatcher.run_due().await.expect("step runs");

    // assert
    match too_big {
        Err(e) => assert!(e.to_string().contains("over the limit of 600 bytes"), "{e}"),
        Ok(()) => panic!("a 700-byte source was accepted under a 600-byte limit"),
    }
    assert_eq!(report.not_sent, 1, "{report:?}");
    match entry(&s.dispatcher, "dlv-huge").state {
        DeliveryState::NotSent { reason, .. } => assert!(reason.contains("over the limit of 600 bytes"), "{reason}"),
        other => panic!("expected not sent, got {other:?}"),
    }
    assert!(renders(&s.client).await.is_empty(), "nothing reached Inkit");
}

/// An endpoint on loopback that answers 200 to every request and keeps each request's headers and body.
async fn recording_endpoint() -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let head = text[..end].to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    let body: Value = serde_json::from_slice(&buf[end + 4..end + 4 + length]).unwrap_or(Value::Null);
                    keep.lock().expect("not poisoned").push((head, body));
                    buf.drain(..end + 4 + length);
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                }
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_broadcast_campaign_sends_its_users_in_batches_of_one_hundred() {
    // arrange: a JSON webhook with a plain URL, and key-value content without Liquid: CleverTap's broadcast
    let (url, seen) = recording_endpoint().await;
    let clock = manual_clock();
    let sink = Arc::new(RecordingSink::default());
    let dispatcher = new_dispatcher(DispatcherConfig::default(), &clock, Arc::new(MemoryOutbox::new()), &sink);
    let spec: WebhookSpec =
        serde_json::from_value(json!({"name": "Bulk", "method": "POST", "url": url})).expect("spec reads");
    dispatcher.add_webhook(WebhookSettings::new(Webhook::from_spec(spec).expect("valid"))).expect("added");
    dispatcher
        .add_campaign(CampaignContent {
            campaign_id: 77,
            name: "Bulk".into(),
            webhook: "Bulk".into(),
            content: Content::KeyValues {
                key_values: vec![("source".into(), "tapink".into())],
                fields: Default::default(),
            },
        })
        .expect("campaign compiles");
    let deliveries: Vec<Delivery> = (0..250)
        .map(|i| Delivery {
            webhook: "Bulk".into(),
            campaign_id: 77,
            ..delivery(&format!("bulk-{i}"), json!({"Email": format!("u{i}@example.com")}))
        })
        .collect();

    // act
    dispatcher.submit(deliveries).expect("submitted");
    let report = dispatcher.run_due().await.expect("step runs");

    // assert: three requests of 100, 100 and 50 users, each a broadcast body; all 250 delivered
    assert_eq!(report.delivered, 250, "{report:?}");
    let seen = seen.lock().expect("not poisoned").clone();
    let mut sizes: Vec<usize> = seen.iter().map(|(_, body)| body["profiles"].as_array().map_or(0, Vec::len)).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 100, 100]);
    for (head, body) in &seen {
        assert_eq!(body["targetId"], 77);
        assert_eq!(body["key_values"], json!({"source": "tapink"}));
        assert!(head.contains("idempotency-key: broadcast-"), "{head}");
    }
    let emails: std::collections::HashSet<String> = seen
        .iter()
        .flat_map(|(_, body)| body["profiles"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["email"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(emails.len(), 250, "every user once");
    assert_eq!(sink.all().len(), 250);
}

/// A sink that panics when told about one delivery.
struct PanickingSink {
    on: &'static str,
}

impl OutcomeSink for PanickingSink {
    fn settled(&self, delivery: &Delivery, _: &DeliveryState, _: u32) {
        assert_ne!(delivery.id, self.on, "the sink fails on {}", self.on);
    }
}

#[tokio::test]
async fn a_step_ends_even_when_an_attempt_panics() {
    // arrange: a sink that panics on one delivery of three
    let mock = MockServer::start_with(MockConfig::default()).await;
    let template_id = create_template(&mock.client(), "Seed letter", SEED_TEMPLATE_HTML).await;
    let clock = manual_clock();
    let sink = Arc::new(PanickingSink { on: "b" });
    let outbox: Arc<dyn Outbox> = Arc::new(MemoryOutbox::new());
    let dispatcher = Arc::new(Dispatcher::new(DispatcherConfig::default(), clock.clone(), outbox, sink));
    dispatcher.add_webhook(WebhookSettings::new(inkit_webhook(&generate_url(&mock.url)))).expect("webhook added");
    dispatcher.add_campaign(seed_campaign(&template_id)).expect("seed campaign compiles");
    dispatcher.submit(["a", "b", "c"].map(|id| delivery(id, ada())).to_vec()).expect("submitted");

    // act
    let report = tokio::time::timeout(Duration::from_secs(10), dispatcher.run_due()).await;

    // assert: the step ends; the other two are reported, and all three were delivered and settled
    let report = report.expect("the step ends").expect("step runs");
    assert_eq!(report.delivered, 2, "{report:?}");
    assert_eq!(dispatcher.outbox().counts().delivered, 3);
}

#[tokio::test]
async fn in_real_time_a_retry_due_soon_is_sent_when_due_not_at_the_drivers_next_regular_look() {
    // arrange: the real-time driver, a retry 100 ms after a failure, and a first answer of 500
    let mock = MockServer::start_with(MockConfig::default()).await;
    let client = mock.client();
    let template_id = create_template(&client, "Seed letter", SEED_TEMPLATE_HTML).await;
    put_faults(&client, json!([{"route": "POST /generate", "kind": "sequence", "steps": ["500"]}])).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let outbox: Arc<dyn Outbox> = Arc::new(SqliteOutbox::open(dir.path().join("outbox.sqlite3")).expect("opens"));
    let sink = Arc::new(RecordingSink::default());
    let dispatcher =
        Arc::new(Dispatcher::new(DispatcherConfig::default(), clock::system(), outbox, sink.clone() as Arc<_>));
    let retry = RetryPolicy {
        schedule: Schedule::Fixed { delays: vec![Duration::from_millis(100)] },
        ..RetryPolicy::clevertap()
    };
    let settings = WebhookSettings { retry, ..WebhookSettings::new(inkit_webhook(&generate_url(&mock.url))) };
    dispatcher.add_webhook(settings).expect("webhook added");
    dispatcher.add_campaign(seed_campaign(&template_id)).expect("seed campaign compiles");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = tokio::spawn(dispatcher.clone().run(async move {
        let _ = stopped.await;
    }));

    // act
    let submitted = Instant::now();
    dispatcher.submit(vec![delivery("soon", ada())]).expect("submitted");
    while sink.all().is_empty() && submitted.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // assert: delivered on its second attempt, well before the driver's once-a-second look
    let elapsed = submitted.elapsed();
    assert_eq!(sink.all(), vec![Settled { id: "soon".into(), state: entry(&dispatcher, "soon").state, attempts: 2 }]);
    assert!(matches!(entry(&dispatcher, "soon").state, DeliveryState::Delivered { status: 200, .. }));
    assert!(elapsed < Duration::from_millis(800), "delivered after {elapsed:?}");
    let _ = stop.send(());
    driver.await.expect("driver stops");
}
