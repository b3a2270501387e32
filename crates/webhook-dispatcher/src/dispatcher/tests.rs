//! The dispatcher's lanes over real loopback HTTP: at most `concurrency` requests in flight per webhook, a
//! webhook that never answers holding up none of another's deliveries, a step taking no more from the
//! outbox than it may hold, a stopping driver recording every answer it had, and `close` letting requests in
//! flight finish and recording them while starting no more.

use std::sync::atomic::AtomicUsize;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::body::ContentFormat;
use crate::outbox::MemoryOutbox;
use crate::webhook::WebhookSpec;

/// Requests an endpoint received and has not answered yet, and the most there ever were at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
    answered: AtomicUsize,
}

/// An endpoint on loopback that answers each request `200` after `hold`, or never when `hold` is `None`.
async fn endpoint(hold: Option<Duration>) -> (String, Arc<InFlight>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let in_flight = Arc::new(InFlight::default());
    let seen = in_flight.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_lowercase();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    buf.drain(..end + 4 + length);
                    let now = seen.now.fetch_add(1, Ordering::SeqCst) + 1;
                    seen.most.fetch_max(now, Ordering::SeqCst);
                    let Some(hold) = hold else {
                        std::future::pending::<()>().await;
                        return;
                    };
                    tokio::time::sleep(hold).await;
                    seen.now.fetch_sub(1, Ordering::SeqCst);
                    seen.answered.fetch_add(1, Ordering::SeqCst);
                    if stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, in_flight)
}

/// A dispatcher with a memory outbox and the real clock, telling `sink`.
fn dispatcher(config: DispatcherConfig, sink: Arc<dyn OutcomeSink>) -> Arc<Dispatcher> {
    Arc::new(Dispatcher::new(config, clock::system(), Arc::new(MemoryOutbox::new()), sink))
}

/// Adds webhook `name` posting to `url` with `concurrency`, and campaign `campaign_id` sending a fixed body
/// through it.
fn add_webhook(dispatcher: &Dispatcher, name: &str, url: &str, concurrency: usize, campaign_id: u64) {
    let spec: WebhookSpec =
        serde_json::from_value(json!({"name": name, "method": "POST", "url": url})).expect("spec reads");
    let webhook = Webhook::from_spec(spec).expect("valid webhook");
    dispatcher.add_webhook(WebhookSettings { concurrency, ..WebhookSettings::new(webhook) }).expect("added");
    dispatcher
        .add_campaign(CampaignContent {
            campaign_id,
            name: name.into(),
            webhook: name.into(),
            content: Content::CustomBody {
                source: r#"{"hello": "{{ Profile.Name }}"}"#.into(),
                format: ContentFormat::Json,
            },
        })
        .expect("campaign compiles");
}

/// `n` deliveries of campaign `campaign_id` through webhook `name`, ids `{name}-{i}`.
fn deliveries(name: &str, campaign_id: u64, n: usize) -> Vec<Delivery> {
    let now = clock::Timestamp::now();
    (0..n)
        .map(|i| Delivery {
            id: format!("{name}-{i}"),
            webhook: name.into(),
            campaign_id,
            ..crate::synthetic::delivery(i, now)
        })
        .collect()
}

/// Counts deliveries told settled, and the most the outbox had taken and not settled when it was told.
#[derive(Default)]
struct Watch {
    outbox: Mutex<Option<Arc<dyn Outbox>>>,
    settled: Mutex<Vec<String>>,
    most_taken: AtomicUsize,
}

impl OutcomeSink for Watch {
    fn settled(&self, delivery: &Delivery, _: &DeliveryState, _: u32) {
        if let Some(outbox) = &*self.outbox.lock().expect("not poisoned") {
            self.most_taken.fetch_max(outbox.counts().taken, Ordering::SeqCst);
        }
        self.settled.lock().expect("not poisoned").push(delivery.id.clone());
    }
}

#[tokio::test]
async fn a_webhook_never_has_more_requests_in_flight_than_its_concurrency() {
    // arrange: answers held 20 ms, a concurrency of 3, and 30 deliveries due at once
    let (url, in_flight) = endpoint(Some(Duration::from_millis(20))).await;
    let dispatcher = dispatcher(DispatcherConfig::default(), Arc::new(NoSink));
    add_webhook(&dispatcher, "Hook", &url, 3, 1);
    dispatcher.submit(deliveries("Hook", 1, 30)).expect("submitted");

    // act
    let report = dispatcher.run_due().await.expect("step runs");

    // assert: all delivered, three at a time (not fewer, not more)
    assert_eq!(report.delivered, 30, "{report:?}");
    assert_eq!(in_flight.answered.load(Ordering::SeqCst), 30);
    assert_eq!(in_flight.most.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn in_real_time_a_webhook_that_never_answers_holds_up_none_of_another_webhooks_deliveries() {
    // arrange: "Dead" never answers and has 50 deliveries due first, queued behind its 2 lanes; "Live" answers
    let (dead_url, dead) = endpoint(None).await;
    let (live_url, _) = endpoint(Some(Duration::ZERO)).await;
    let watch = Arc::new(Watch::default());
    let dispatcher = dispatcher(DispatcherConfig::default(), watch.clone());
    add_webhook(&dispatcher, "Dead", &dead_url, 2, 1);
    add_webhook(&dispatcher, "Live", &live_url, 2, 2);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = tokio::spawn(dispatcher.clone().run(async move {
        let _ = stopped.await;
    }));

    // act
    dispatcher.submit(deliveries("Dead", 1, 50)).expect("submitted");
    dispatcher.submit(deliveries("Live", 2, 20)).expect("submitted");
    let started = std::time::Instant::now();
    while watch.settled.lock().expect("not poisoned").len() < 20 && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // assert: every "Live" delivery settled well inside the attempt timeout, while "Dead" holds its 2 requests
    let settled = watch.settled.lock().expect("not poisoned").clone();
    assert_eq!(settled.len(), 20, "settled within 2 s: {settled:?}");
    assert!(settled.iter().all(|id| id.starts_with("Live-")), "{settled:?}");
    assert_eq!(dead.most.load(Ordering::SeqCst), 2);
    let _ = stop.send(());
    driver.await.expect("driver stops");
}

#[tokio::test]
async fn a_step_takes_at_most_two_batches_from_the_outbox_at_a_time_and_still_sends_everything_due() {
    // arrange: batches of 8, 100 deliveries due, answers held 2 ms so that the queue fills
    let (url, _) = endpoint(Some(Duration::from_millis(2))).await;
    let watch = Arc::new(Watch::default());
    let config = DispatcherConfig { take_batch: 8, ..DispatcherConfig::default() };
    let dispatcher = dispatcher(config, watch.clone());
    *watch.outbox.lock().expect("not poisoned") = Some(dispatcher.outbox().clone());
    add_webhook(&dispatcher, "Hook", &url, 4, 1);
    dispatcher.submit(deliveries("Hook", 1, 100)).expect("submitted");

    // act
    let report = dispatcher.run_due().await.expect("step runs");

    // assert: all 100 sent in the one step, never more than 16 taken and unsettled at once
    assert_eq!(report.delivered, 100, "{report:?}");
    assert_eq!(watch.settled.lock().expect("not poisoned").len(), 100);
    let most = watch.most_taken.load(Ordering::SeqCst);
    assert!(most <= 16, "{most} taken at once");
    assert!(most > 4, "the queue never filled ({most}): the test shows nothing");
}

/// A sink that takes 5 ms to hear each outcome, so the settler falls behind the lanes.
struct SlowSink;

impl OutcomeSink for SlowSink {
    fn settled(&self, _: &Delivery, _: &DeliveryState, _: u32) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A dispatcher with a memory outbox telling `sink`, webhook "Hook" (campaign 1, `concurrency` lanes) posting
/// to an endpoint that answers after `hold`, its real-time driver running, and `n` deliveries submitted.
struct Running {
    dispatcher: Arc<Dispatcher>,
    outbox: Arc<dyn Outbox>,
    endpoint: Arc<InFlight>,
    stop: tokio::sync::oneshot::Sender<()>,
    driver: tokio::task::JoinHandle<()>,
}

async fn running(hold: Duration, concurrency: usize, sink: Arc<dyn OutcomeSink>, n: usize) -> Running {
    let (url, endpoint) = endpoint(Some(hold)).await;
    let outbox: Arc<dyn Outbox> = Arc::new(MemoryOutbox::new());
    let dispatcher = Arc::new(Dispatcher::new(DispatcherConfig::default(), clock::system(), outbox.clone(), sink));
    add_webhook(&dispatcher, "Hook", &url, concurrency, 1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = tokio::spawn(dispatcher.clone().run(async move {
        let _ = stopped.await;
    }));
    dispatcher.submit(deliveries("Hook", 1, n)).expect("submitted");
    Running { dispatcher, outbox, endpoint, stop, driver }
}

impl Running {
    /// Waits (at most 10 s) until `ready` holds for the endpoint.
    async fn until(&self, ready: impl Fn(&InFlight) -> bool) {
        let started = std::time::Instant::now();
        while !ready(&self.endpoint) && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Tells the driver to stop and waits until it has returned.
    async fn stop_driver(self) -> (Arc<Dispatcher>, Arc<dyn Outbox>, Arc<InFlight>) {
        let _ = self.stop.send(());
        self.driver.await.expect("driver stops");
        (self.dispatcher, self.outbox, self.endpoint)
    }
}

#[tokio::test]
async fn the_real_time_driver_records_every_answer_its_lanes_had_before_it_returns() {
    // arrange: 50 deliveries answered at once, and a sink slow enough that when the driver is told to stop,
    // most answers are still waiting for the settler
    let run = running(Duration::ZERO, 8, Arc::new(SlowSink), 50).await;
    run.until(|e| e.answered.load(Ordering::SeqCst) >= 50).await;
    tokio::time::sleep(Duration::from_millis(20)).await; // the last answers reach their lanes
    let recorded_at_stop = run.outbox.counts().delivered;

    // act
    let (_, outbox, _) = run.stop_driver().await;

    // assert: nothing answered is left unrecorded in the outbox, so nothing is sent again after a restart
    assert!(recorded_at_stop < 40, "the settler was not behind ({recorded_at_stop} recorded): the test proves nothing");
    let counts = outbox.counts();
    assert_eq!((counts.delivered, counts.pending, counts.taken), (50, 0, 0), "{counts:?}");
}

#[tokio::test]
async fn close_lets_requests_in_flight_finish_and_records_them_but_starts_no_more() {
    // arrange: answers take 200 ms, 2 lanes, 10 deliveries; the driver has stopped with 2 requests in flight
    let run = running(Duration::from_millis(200), 2, Arc::new(NoSink), 10).await;
    run.until(|e| e.now.load(Ordering::SeqCst) >= 2).await;
    let (dispatcher, outbox, endpoint) = run.stop_driver().await;

    // act
    dispatcher.close().await;

    // assert: the two in flight were answered and recorded; the eight queued were never sent
    assert_eq!(endpoint.answered.load(Ordering::SeqCst), 2);
    assert_eq!(endpoint.most.load(Ordering::SeqCst), 2);
    assert_eq!(outbox.counts().delivered, 2, "{:?}", outbox.counts());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(endpoint.answered.load(Ordering::SeqCst), 2, "no request started after close");
}
