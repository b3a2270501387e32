//! The pipeline under a hostile Inkit: 10,000 deliveries while Inkit answers 500 to 30 % of requests,
//! resets 10 % of connections and answers 5 % only after the dispatcher has given up on them. Every user's
//! document must end up in History, every duplicate must be one whose answer was lost (and be marked as
//! such), and the campaign's report must add up.

use std::time::Duration;

use integration_tests::{Client, Letters, all_renders, by_delivery};
use pipeline::{PipelineConfig, Storage, TimeMode};
use webhook_dispatcher::dispatcher::DispatcherConfig;
use webhook_dispatcher::retry::{RetryPolicy, Schedule};

const USERS: u64 = 10_000;
const START: &str = "2026-12-01T09:00:00Z";

const FAULTS: &str = r#"
seed = 2026
[[fault]]
route = "POST /generate"
kind = "slow_answer"
ms = 400
probability = 0.05
[[fault]]
route = "POST /generate"
kind = "status"
status = 500
probability = 0.3
[[fault]]
route = "POST /generate"
kind = "close"
probability = 0.1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_deliveries_survive_errors_resets_and_lost_answers_with_every_duplicate_marked() {
    // arrange: a short attempt timeout (the slow answers arrive after it) and enough retries that no user
    // runs out of them (0.45^16 per user)
    let start = START.parse().expect("time");
    let mut config = PipelineConfig {
        time: TimeMode::Simulated { start },
        storage: Storage::Memory,
        dispatcher: DispatcherConfig { timeout: Duration::from_millis(200), ..DispatcherConfig::default() },
        ..PipelineConfig::default()
    };
    config.inkit.faults = inkit_mock::FaultPlan::from_toml(FAULTS).expect("fault plan");
    let retry = RetryPolicy {
        schedule: Schedule::Fixed { delays: vec![Duration::from_secs(15); 15] },
        ..RetryPolicy::clevertap()
    };
    let letters = Letters::start(config, None, retry, USERS).await;
    let pipeline = &letters.pipeline;

    // act
    pipeline.run_until(start + Duration::from_secs(3600)).await.expect("the simulation settles");

    // assert: every user has a document; duplicates are exactly the lost answers, marked
    let client = Client::new(pipeline.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN));
    let entries = all_renders(&client).await;
    let by_delivery = by_delivery(&entries);
    assert_eq!(by_delivery.len() as u64, USERS, "one delivery per user reached History");
    let outbox = pipeline.dispatcher.outbox();
    let mut duplicates = 0;
    for (delivery, stored) in &by_delivery {
        let entry = outbox.get(delivery).expect("outbox").expect("the delivery is in the outbox");
        let lost_answers =
            entry.attempts.iter().filter(|a| a.status.is_none() && a.error.as_deref() == Some("timed out")).count();
        assert!(
            stored.len() - 1 <= lost_answers,
            "{delivery}: {} copies but only {lost_answers} attempts whose answer was lost: {:?}",
            stored.len(),
            entry.attempts
        );
        duplicates += stored.len() - 1;
    }
    assert!(duplicates > 0, "the 5 % slow answers made duplicates");
    letters.assert_report_complete(USERS);
    assert_eq!(entries.len(), USERS as usize + duplicates, "History holds the users' documents and the marked copies");
    letters.pipeline.shutdown().await;
}
