//! `tapink up` killed with SIGKILL in the middle of a campaign, then started again on the same data directory:
//! the campaign completes, no user is skipped, and History holds at most the duplicates the crash could cause
//! (deliveries answered but not yet recorded as settled), each marked as a duplicate.
//!
//! The suite runs it at the size, 100,000 users (about 80 s for the debug binary on two cores);
//! `TAPINK_CRASH_USERS=20000` runs a quicker one while working on it.

use std::time::{Duration, Instant};

use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE};
use integration_tests::{
    Client, EngineClient, TapinkProcess, admin_history, fixtures, free_loopback_addr, kill_hard, seed_body,
};
use serde_json::json;

/// How long each half of the campaign may take in real time (debug build, 2 cores).
const DEADLINE: Duration = Duration::from_secs(300);

/// How many users the campaign goes to: `TAPINK_CRASH_USERS`, in thousands rounded down, default 100,000.
fn users() -> u64 {
    let asked = std::env::var("TAPINK_CRASH_USERS").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(100_000);
    (asked / 1_000).max(1) * 1_000
}

/// `tapink up` on `dir`; a restart replays the journal, the outbox and History of the whole campaign before it
/// listens, which the debug binary takes seconds over, so it gets the campaign's deadline.
async fn start(dir: &str, inkit: &str, engine: &str) -> TapinkProcess {
    let templates = fixtures().join("templates");
    let templates = templates.to_str().expect("utf-8 path");
    TapinkProcess::start_up_within(
        DEADLINE,
        ["--data-dir", dir, "--inkit-addr", inkit, "--engine-addr", engine, "--templates", templates],
    )
    .await
}

/// History's total of renders, all or only first copies (`duplicates=false`).
async fn renders(inkit: &Client, duplicates: Option<bool>) -> u64 {
    let filter = duplicates.map_or(String::new(), |d| format!("&duplicates={d}"));
    let list = admin_history(inkit, &format!("kind=render&page_size=1{filter}")).await;
    list["metadata"]["pagination"]["total_count"].as_u64().expect("a total count")
}

async fn wait_until(what: &str, tapink: &TapinkProcess, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < DEADLINE, "{what}: not within {DEADLINE:?}; stderr:\n{}", tapink.stderr());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_killed_mid_way_completes_after_a_restart_with_no_user_skipped_and_duplicates_marked() {
    // arrange: a data directory, fixed ports (the webhook's URL must still be right after the restart)
    let users = users();
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_arg = dir.path().to_str().expect("utf-8 path").to_owned();
    let (inkit_addr, engine_addr) = (free_loopback_addr(), free_loopback_addr());
    let mut first = start(&dir_arg, &inkit_addr, &engine_addr).await;
    let engine = EngineClient::new(&first.url, Some((DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE)));
    let inkit = Client::new(first.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN));
    let webhook = json!({"name": "Inkit", "method": "POST", "url": format!("{}/v1/generate", first.inkit_url()),
                         "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN}});
    assert_eq!(engine.create_webhook(&webhook).await.status, 200);
    for chunk in 0..users / 1_000 {
        let records: Vec<_> = (chunk * 1_000..(chunk + 1) * 1_000)
            .map(|i| {
                json!({"type": "profile", "identity": format!("user-{i}"),
                            "profileData": {"Name": format!("User {i}"), "Email": format!("user{i}@example.com")}})
            })
            .collect();
        let answer = engine.upload_ok(json!(records)).await;
        assert_eq!(answer["processed"], 1_000, "{answer}");
    }
    engine
        .create_target_ok(&json!({"name": "Letters", "target_mode": "webhook", "webhook_endpoint_name": "Inkit",
                                  "where": {}, "when": "now", "content": {"body": seed_body()}}))
        .await;

    // act: kill it once a fifth of the users have their document, then start it again
    wait_until("a fifth delivered", &first, async || renders(&inkit, None).await >= users / 5).await;
    let at_kill = renders(&inkit, None).await;
    let killed = kill_hard(&mut first).await;
    let restarting = Instant::now();
    let second = start(&dir_arg, &inkit_addr, &engine_addr).await;
    let restart = restarting.elapsed();
    let inkit = Client::new(second.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN));
    wait_until("every user delivered", &second, async || renders(&inkit, Some(false)).await >= users).await;

    // assert
    assert!(!killed.success(), "the first process was killed: {killed}");
    assert!(at_kill < users, "the kill came before the end ({at_kill} documents)");
    let firsts = renders(&inkit, Some(false)).await;
    let duplicates = renders(&inkit, Some(true)).await;
    assert_eq!(firsts, users, "every user has exactly one first document");
    // A crash can repeat only what was answered but not yet recorded as settled: at most one settle batch
    // (1,024) plus the requests in flight.
    assert!(duplicates <= 2_000, "{duplicates} duplicates, more than the crash could cause");
    assert_eq!(renders(&inkit, None).await, firsts + duplicates, "every other copy is marked a duplicate");
    println!(
        "crash recovery: {users} users, killed at {at_kill} documents, {duplicates} marked duplicates, restart \
         listening after {:.1} s, {:.1} s in all",
        restart.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
