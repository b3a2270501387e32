//! `tapink test-send` and `tapink dlq`: sending one rendered body, and the dispatcher's dead letters, through
//! the real binary.

use std::time::Duration;

use integration_tests::{MockServer, run_tapink};
use serde_json::json;
use webhook_dispatcher::delivery::{Delivery, DeliveryState};
use webhook_dispatcher::outbox::{Outbox, SqliteOutbox};

const SEED_BODY: &str = "../fixtures/bodies/seed.json";

async fn tapink(args: &[&str]) -> (i32, String, String) {
    let (status, stdout, stderr) = run_tapink(args.to_vec(), Duration::from_secs(30)).await;
    (status.code().unwrap_or(-1), stdout, stderr)
}

#[tokio::test]
async fn test_send_delivers_the_rendered_body_and_prints_the_answer() {
    // arrange: the mock with the seed's template
    let mock = MockServer::start_with(inkit_mock::MockConfig {
        templates_dir: Some("../fixtures/templates".into()),
        ..inkit_mock::MockConfig::default()
    })
    .await;
    let url = format!("{}/v1/generate", mock.url);

    // act
    let header = format!("X-Inkit-API-Token: {}", inkit_mock::DEFAULT_TOKEN);
    let args = ["test-send", "--url", &url, "-H", &header, "--body", SEED_BODY, "--profile", r#"{"Name": "Ada"}"#];
    let (code, stdout, stderr) = tapink(&args).await;

    // assert: answered 200, and Inkit's History has the rendered parameters
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("HTTP 200"), "{stdout}");
    assert!(stdout.contains("\"document_id\""), "{stdout}");
    let history = mock.client().get("/__admin/history?kind=render").await.json();
    assert_eq!(history["items"][0]["merge_parameters"], json!({"Name": "Ada", "email": "-", "phone number": "-"}));
}

#[tokio::test]
async fn test_send_exits_1_on_a_refusal_or_an_unreachable_endpoint() {
    let mock = MockServer::start().await;
    let url = format!("{}/v1/generate", mock.url);
    let (code, stdout, stderr) =
        tapink(&["test-send", "--url", &url, "--body", SEED_BODY, "--profile", "{}", "-H", "X-Inkit-API-Token: nope"])
            .await;
    assert_eq!(code, 1);
    assert!(stdout.starts_with("HTTP 401"), "{stdout}");
    assert!(stderr.contains("only HTTP 200"), "{stderr}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let (code, _, stderr) = tapink(&["test-send", "--url", &nowhere, "--body", SEED_BODY, "--profile", "{}"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot reach"), "{stderr}");

    let (code, _, stderr) =
        tapink(&["test-send", "--url", &url, "--body", SEED_BODY, "--profile", "{}", "-H", "no colon"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("expected 'Name: value'"), "{stderr}");
}

#[tokio::test]
async fn dlq_lists_dead_letters_and_replays_them() {
    // arrange: an outbox in a data directory with one dead letter
    let dir = tempfile::tempdir().unwrap();
    {
        let outbox = SqliteOutbox::open(dir.path().join("outbox.sqlite3")).unwrap();
        let now = clock::Timestamp::now();
        let delivery = Delivery {
            id: "1001:1:user-7".into(),
            trace_id: "trace-7".into(),
            object_id: "obj-7".into(),
            identity: None,
            webhook: "Inkit".into(),
            campaign_id: 1001,
            campaign_name: "Spring".into(),
            profile: serde_json::Map::new(),
            event: None,
            created_at: now,
        };
        outbox.enqueue(vec![delivery], now).unwrap();
        outbox.take_due(now, 1).unwrap();
        let reason = "Webhook Dispatch Failed: HTTP 503 on attempt 3; retries exhausted".to_owned();
        outbox.settle("1001:1:user-7", None, DeliveryState::DeadLetter { at: now, reason }).unwrap();
    }
    let data_dir = dir.path().to_str().unwrap();

    // act and assert: listed with its reason
    let (code, stdout, stderr) = tapink(&["dlq", "--data-dir", data_dir, "list"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1001:1:user-7") && stdout.contains("Webhook Dispatch Failed"), "{stdout}");
    let (_, json_lines, _) = tapink(&["dlq", "--data-dir", data_dir, "list", "--json"]).await;
    let entry: serde_json::Value = serde_json::from_str(json_lines.lines().next().unwrap()).unwrap();
    assert_eq!(entry["delivery"]["trace_id"], "trace-7");

    // replayed: pending again, and no longer listed; an unknown id is an error naming it
    let (code, stdout, _) = tapink(&["dlq", "--data-dir", data_dir, "replay", "1001:1:user-7"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("replayed 1001:1:user-7"), "{stdout}");
    let (_, stdout, _) = tapink(&["dlq", "--data-dir", data_dir, "list"]).await;
    assert!(stdout.contains("no dead letters"), "{stdout}");
    let (code, _, stderr) = tapink(&["dlq", "--data-dir", data_dir, "replay", "nope"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot replay nope"), "{stderr}");
}

#[tokio::test]
async fn dlq_without_an_outbox_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = tapink(&["dlq", "--data-dir", dir.path().to_str().unwrap(), "list"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("no outbox at"), "{stderr}");
}
