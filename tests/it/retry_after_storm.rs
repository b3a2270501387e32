//! A 429 storm with `Retry-After`: for the first minutes of a campaign Inkit answers 80 % of generates with
//! 429 and `Retry-After: 40`. The dispatcher must wait as told (no delivery is tried again sooner than 40 s
//! after a 429, although its schedule alone would retry after 15 s), not slow down more than it was told, and
//! finish once the storm is over: every user's document in History, no duplicate, the report adds up.
//!
//! In simulated time (the mock's journal stamps requests on the same clock), so the gaps are exact and the run
//! takes seconds.

use std::collections::HashMap;
use std::time::Duration;

use clock::Timestamp;
use integration_tests::{Client, Letters, all_renders, by_delivery};
use pipeline::{PipelineConfig, Storage, TimeMode};
use serde_json::Value;
use webhook_dispatcher::retry::{RetryPolicy, Schedule};

const USERS: u64 = 2_000;
const START: &str = "2026-12-01T09:00:00Z";
const RETRY_AFTER: Duration = Duration::from_secs(40);
/// How long the storm lasts, in simulated time.
const STORM: Duration = Duration::from_secs(8 * 60);

const STORM_PLAN: &str = r#"
seed = 429
[[fault]]
route = "POST /generate"
kind = "too_many_requests"
retry_after_s = 40
probability = 0.8
"#;

/// The mock's journal of `POST /generate`, grouped by delivery (`Idempotency-Key`), each oldest first:
/// (received at, status).
async fn journal_by_delivery(inkit: &Client) -> HashMap<String, Vec<(Timestamp, u16)>> {
    let reply = inkit.get("/__admin/requests?limit=1000000&route=POST%20/generate").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let journal = reply.json();
    assert_eq!(journal["dropped_from_journal"], 0, "the journal kept every request");
    let mut groups: HashMap<String, Vec<(u64, Timestamp, u16)>> = HashMap::new();
    for r in journal["items"].as_array().expect("items") {
        let key = r["headers"]["idempotency-key"].as_str().unwrap_or_else(|| panic!("no delivery id: {r}"));
        let at = r["received_at"].as_str().and_then(|t| t.parse().ok()).expect("received_at");
        let entry = (r["seq"].as_u64().expect("seq"), at, r["status"].as_u64().expect("status") as u16);
        groups.entry(key.to_owned()).or_default().push(entry);
    }
    groups
        .into_iter()
        .map(|(key, mut requests)| {
            requests.sort_by_key(|r| r.0);
            (key, requests.into_iter().map(|(_, at, status)| (at, status)).collect())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_with_retry_after_is_waited_out_as_told_and_every_user_still_gets_a_document() {
    // arrange: the schedule alone would retry after 15 s; Retry-After asks for 40 s
    let start: Timestamp = START.parse().expect("time");
    let mut config =
        PipelineConfig { time: TimeMode::Simulated { start }, storage: Storage::Memory, ..PipelineConfig::default() };
    config.inkit.faults = inkit_mock::FaultPlan::from_toml(STORM_PLAN).expect("fault plan");
    config.inkit.journal_capacity = 1_000_000;
    let retry = RetryPolicy {
        schedule: Schedule::Fixed { delays: vec![Duration::from_secs(15); 40] },
        ..RetryPolicy::clevertap()
    };
    let letters = Letters::start(config, None, retry, USERS).await;
    let pipeline = &letters.pipeline;
    let inkit = Client::new(pipeline.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN));

    // act: the storm, then Inkit calms down (its fault plan cleared over the admin API) and the rest is sent
    pipeline.run_until(start + STORM).await.expect("the storm settles");
    let during = all_renders(&inkit).await.len() as u64;
    assert_eq!(inkit.delete("/__admin/faults").await.status, 204);
    pipeline.run_until(start + Duration::from_secs(3600)).await.expect("the simulation settles");

    // assert: the storm was one (most first tries refused), and still running when it was lifted
    let journal = journal_by_delivery(&inkit).await;
    let refused: usize = journal.values().map(|r| r.iter().filter(|(_, s)| *s == 429).count()).sum();
    let first_refused = journal.values().filter(|r| r[0].1 == 429).count();
    assert!(first_refused as u64 > USERS * 7 / 10, "most first tries were refused: {first_refused}");
    assert!(during < USERS, "some users were still waiting when the storm ended ({during} delivered)");
    // every retry after a 429 came Retry-After later, not sooner (the 15 s schedule) and not much later
    let mut gaps = 0;
    for (delivery, requests) in &journal {
        for pair in requests.windows(2) {
            let ((at, status), (next, _)) = (pair[0], pair[1]);
            assert_eq!(status, 429, "{delivery}: only 429s are retried here: {requests:?}");
            let gap = next.duration_since(at).unsigned_abs();
            assert!(
                gap >= RETRY_AFTER && gap < RETRY_AFTER + Duration::from_secs(1),
                "{delivery}: retried {gap:?} after a 429 with Retry-After 40: {requests:?}"
            );
            gaps += 1;
        }
        assert!(requests.iter().rev().skip(1).all(|(_, s)| *s == 429), "{delivery}: {requests:?}");
        assert_eq!(requests.last().map(|r| r.1), Some(200), "{delivery} ends delivered: {requests:?}");
        assert!(
            requests.iter().all(|(at, s)| *s != 429 || at.duration_since(start).unsigned_abs() <= STORM),
            "{delivery}: no 429 after the storm: {requests:?}"
        );
    }
    assert_eq!(gaps, refused, "every 429 was followed by exactly one retry");
    // the dispatcher's own attempt log tells the same story
    let outbox = pipeline.dispatcher.outbox();
    for (delivery, requests) in &journal {
        let entry = outbox.get(delivery).expect("outbox").expect("the delivery is in the outbox");
        let logged: Vec<Option<u16>> = entry.attempts.iter().map(|a| a.status).collect();
        let seen: Vec<Option<u16>> = requests.iter().map(|(_, s)| Some(*s)).collect();
        assert_eq!(logged, seen, "{delivery}: the attempt log matches what Inkit received");
    }
    // History: every user's document once, and the report adds up
    let entries = all_renders(&inkit).await;
    let documents: HashMap<String, Vec<&Value>> = by_delivery(&entries);
    assert_eq!(documents.len() as u64, USERS, "every user has a document");
    assert_eq!(entries.len() as u64, USERS, "a 429 stores nothing, so no copies");
    assert_eq!(journal.len() as u64, USERS);
    letters.assert_report_complete(USERS);
    println!(
        "429 storm: {USERS} users, {refused} answers 429 ({first_refused} first tries), {during} delivered during \
         the storm"
    );
    letters.pipeline.shutdown().await;
}
