//! inkit-mock killed with SIGKILL while deliveries are in flight, then started again on the same data
//! directory and port: nothing is lost on either side. The dispatcher (in this process, real time) delivers
//! every user; every delivery it saw answered 200 is in History after the restart; every user has a document;
//! and the only copies are re-sends of requests whose answers the kill cut off, each marked a duplicate.
//!
//! The mock is the real `tapink inkit` binary with a `slow_answer` fault (10–50 ms between storing a request
//! and answering it), so at the kill many requests are stored but not yet answered: the case that makes
//! duplicates.

use std::time::{Duration, Instant};

use integration_tests::{
    Client, Letters, TapinkProcess, all_renders, by_delivery, fixtures, free_loopback_addr, kill_hard,
};
use pipeline::{PipelineConfig, Storage, TimeMode};
use webhook_dispatcher::retry::{RetryPolicy, Schedule};

const USERS: u64 = 4_000;
const DEADLINE: Duration = Duration::from_secs(180);

const SLOW_ANSWERS: &str = r#"
[[fault]]
route = "POST /generate"
kind = "slow_answer"
min_ms = 10
max_ms = 50
"#;

async fn start_inkit(dir: &str, addr: &str, faults: &str) -> TapinkProcess {
    let templates = fixtures().join("templates");
    let templates = templates.to_str().expect("utf-8 path");
    TapinkProcess::start(["--data-dir", dir, "--addr", addr, "--templates", templates, "--faults", faults]).await
}

/// How many History entries the mock holds (all kinds, duplicates included).
async fn history_entries(inkit: &Client) -> u64 {
    let reply = inkit.get("/__admin/health").await;
    reply.json()["history_entries"].as_u64().unwrap_or_else(|| panic!("health: {}", reply.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inkit_killed_and_restarted_mid_campaign_loses_nothing_and_marks_every_resent_copy() {
    // arrange: the mock on a fixed port (the webhook's URL stays right across the restart), retries every
    // 250 ms for 25 s so the deliveries outlast the restart
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("inkit");
    let data = data.to_str().expect("utf-8 path").to_owned();
    let faults = dir.path().join("faults.toml");
    std::fs::write(&faults, SLOW_ANSWERS).expect("write the fault plan");
    let faults = faults.to_str().expect("utf-8 path").to_owned();
    let addr = free_loopback_addr();
    let mut first = start_inkit(&data, &addr, &faults).await;
    let inkit = Client::new(&first.url, Some(inkit_mock::DEFAULT_TOKEN));
    let config = PipelineConfig { time: TimeMode::Real, storage: Storage::Memory, ..PipelineConfig::default() };
    let retry = RetryPolicy {
        schedule: Schedule::Fixed { delays: vec![Duration::from_millis(250); 100] },
        ..RetryPolicy::clevertap()
    };
    let started = Instant::now();
    let letters = Letters::start(config, Some(&first.url), retry, USERS).await;
    let outbox = letters.pipeline.dispatcher.outbox();

    // act: kill the mock once a fifth of the users have their document, start it again on the same data
    while history_entries(&inkit).await < USERS / 5 {
        assert!(started.elapsed() < DEADLINE, "a fifth delivered: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = kill_hard(&mut first).await;
    let at_kill = outbox.counts();
    let second = start_inkit(&data, &addr, &faults).await;
    while outbox.counts().delivered < USERS as usize {
        let counts = outbox.counts();
        assert_eq!(counts.dead_letter, 0, "no delivery gave up: {counts:?}");
        assert!(started.elapsed() < DEADLINE, "every user delivered: not within {DEADLINE:?}: {counts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // assert: the kill came mid-campaign
    assert!(!killed.success(), "the first mock was killed: {killed}");
    assert!(at_kill.delivered < USERS as usize, "the kill came before the end: {at_kill:?}");
    // every user has a document, and every copy after the first is marked a duplicate of it
    let inkit = Client::new(&second.url, Some(inkit_mock::DEFAULT_TOKEN));
    let entries = all_renders(&inkit).await;
    let documents = by_delivery(&entries);
    assert_eq!(documents.len() as u64, USERS, "every user has a document");
    // every 200 the dispatcher saw is in History; a copy is only a re-send of a request whose answer was lost
    let (mut duplicates, mut lost) = (0, 0);
    for (delivery, copies) in &documents {
        let entry = outbox.get(delivery).expect("outbox").expect("History's delivery is in the outbox");
        let answers_lost = entry.attempts.iter().filter(|a| a.status.is_none()).count();
        let ok: Vec<u32> = entry.attempts.iter().filter(|a| a.status == Some(200)).map(|a| a.number).collect();
        assert_eq!(ok, [entry.attempts.len() as u32], "{delivery}: one 200, the last attempt: {:?}", entry.attempts);
        assert!(
            copies.len() - 1 <= answers_lost,
            "{delivery}: {} copies but only {answers_lost} attempts without an answer: {:?}",
            copies.len(),
            entry.attempts
        );
        duplicates += copies.len() - 1;
        lost += answers_lost;
    }
    // the outbox holds one delivery per user, all answered 200, and History knows each of them (above): so
    // History has every delivery the dispatcher saw answered
    let counts = outbox.counts();
    let total = counts.pending + counts.taken + counts.delivered + counts.dead_letter + counts.not_sent;
    assert_eq!((total, counts.delivered), (USERS as usize, USERS as usize), "{counts:?}");
    assert!(lost > 0, "the kill cut off requests in flight");
    assert!(duplicates > 0, "requests stored but not answered before the kill were sent again");
    assert_eq!(entries.len(), USERS as usize + duplicates, "History holds the documents and their marked copies");
    letters.assert_report_complete(USERS);
    println!(
        "inkit restart: {USERS} users, killed at {} delivered, {lost} attempts cut off, {duplicates} marked copies, \
         {:.1} s",
        at_kill.delivered,
        started.elapsed().as_secs_f64()
    );
    letters.pipeline.shutdown().await;
}
