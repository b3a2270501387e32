//! `tapink up` as users run it: the real binary in real time, its two listening lines, a webhook and a campaign
//! made over HTTP and delivered to History by themselves, SIGTERM, and the data directory carrying webhooks,
//! campaigns and History across a restart.

use std::time::Duration;

use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE};
use integration_tests::{Client, EngineClient, TapinkProcess, admin_history, fixtures, seed_body};
use serde_json::{Value, json};

/// How long real-time delivery to five users may take.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(10);

fn path_arg(path: &std::path::Path) -> String {
    path.to_str().expect("paths are UTF-8").to_owned()
}

fn templates() -> String {
    path_arg(&fixtures().join("templates"))
}

fn seed_users() -> String {
    path_arg(&fixtures().join("profiles/seed-users.json"))
}

fn engine(tapink: &TapinkProcess) -> EngineClient {
    EngineClient::new(&tapink.url, Some((DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE)))
}

fn inkit(tapink: &TapinkProcess) -> Client {
    Client::new(tapink.inkit_url(), Some(inkit_mock::DEFAULT_TOKEN))
}

/// The seed's webhook to this process's Inkit, created over HTTP (its test request must be answered 200).
async fn create_inkit_webhook(tapink: &TapinkProcess) {
    let webhook = json!({"name": "Inkit", "method": "POST", "url": format!("{}/v1/generate", tapink.inkit_url()),
                         "headers": {"X-Inkit-API-Token": inkit_mock::DEFAULT_TOKEN}});
    let reply = engine(tapink).create_webhook(&webhook).await;
    assert_eq!(reply.status, 200, "creating the webhook: {}; stderr:\n{}", reply.text(), tapink.stderr());
}

/// A send-now campaign of the seed body to everyone; returns its id.
async fn create_seed_campaign(tapink: &TapinkProcess, name: &str) -> u64 {
    engine(tapink)
        .create_target_ok(&json!({"name": name, "target_mode": "webhook", "webhook_endpoint_name": "Inkit",
                                  "where": {}, "when": "now", "content": {"body": seed_body()}}))
        .await
}

/// History's renders once there are `n`, polled until [`DELIVERY_DEADLINE`]; panics with what there is then.
async fn wait_for_renders(tapink: &TapinkProcess, n: usize) -> Vec<Value> {
    let client = inkit(tapink);
    let deadline = tokio::time::Instant::now() + DELIVERY_DEADLINE;
    loop {
        let list = admin_history(&client, "kind=render&page_size=1000").await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= n {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} renders in History after {DELIVERY_DEADLINE:?}; stderr:\n{}",
            items.len(),
            tapink.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/1/targets/result.json` once it shows `delivered` deliveries (outcomes settle just after History has them).
async fn wait_for_delivered(tapink: &TapinkProcess, id: u64, delivered: u64) -> Value {
    let deadline = tokio::time::Instant::now() + DELIVERY_DEADLINE;
    loop {
        let reply = engine(tapink).targets("result", &json!({ "id": id })).await;
        let body = reply.json();
        if body["result"]["delivered"].as_u64() == Some(delivered) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "result after {DELIVERY_DEADLINE:?}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback address no one listens on now (the port the OS picks for a listener that is closed at once).
fn free_loopback_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").to_string()
}

fn names(renders: &[Value]) -> Vec<String> {
    let mut names: Vec<String> =
        renders.iter().map(|r| r["merge_parameters"]["Name"].as_str().unwrap_or("?").to_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn up_prints_both_urls_delivers_a_campaign_to_history_in_real_time_and_exits_0_on_sigterm() {
    // arrange
    let seed = seed_users();
    let mut tapink = TapinkProcess::start_up([
        "--in-memory",
        "--inkit-addr",
        "127.0.0.1:0",
        "--engine-addr",
        "127.0.0.1:0",
        "--templates",
        &templates(),
        "--load",
        &seed,
    ])
    .await;

    // act
    create_inkit_webhook(&tapink).await;
    let id = create_seed_campaign(&tapink, "Seed letter").await;
    let renders = wait_for_renders(&tapink, 5).await;
    let result = wait_for_delivered(&tapink, id, 5).await;
    let status = tapink.terminate().await;

    // assert
    assert_eq!(tapink.preamble, [format!("loaded {seed}: 8 processed, 0 unprocessed")]);
    for (url, what) in tapink.urls.iter().zip(["inkit-mock", "engine-api"]) {
        let port = url.strip_prefix("http://127.0.0.1:").and_then(|p| p.parse::<u16>().ok());
        assert!(port.is_some_and(|p| p != 0), "{what} URL {url:?} has the port picked");
    }
    assert_ne!(tapink.urls[0], tapink.urls[1]);
    assert_eq!(
        names(&renders),
        ["Ada Lovelace", "Barbara Liskov", "Edsger Dijkstra", "Grace Hopper", "Jack Montana"],
        "one document per user"
    );
    assert_eq!(result["result"]["qualified"], 5);
    assert!(status.success(), "exit after SIGTERM: {status}; stderr:\n{}", tapink.stderr());
    let rest = tapink.rest_of_stdout().await;
    assert!(rest.contains("data in memory"), "{rest}");
}

#[tokio::test]
async fn up_keeps_webhooks_campaigns_and_history_in_its_data_dir_across_a_restart() {
    // arrange: a webhook, a campaign delivered to five users, then SIGTERM. Inkit keeps its port across the
    // restart, as it does with `tapink up`'s default address, so the saved webhook's URL still reaches it.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = path_arg(&dir.path().join("data"));
    let inkit_addr = free_loopback_addr();
    let args = |extra: &[String]| -> Vec<String> {
        let mut args: Vec<String> = ["--data-dir", &data, "--inkit-addr", &inkit_addr, "--engine-addr", "127.0.0.1:0"]
            .map(str::to_owned)
            .to_vec();
        args.extend(["--templates".to_owned(), templates()]);
        args.extend_from_slice(extra);
        args
    };
    let first_args = args(&["--load".to_owned(), seed_users()]);
    let mut first = TapinkProcess::start_up(&first_args).await;
    create_inkit_webhook(&first).await;
    let sent_before = create_seed_campaign(&first, "Before the restart").await;
    wait_for_renders(&first, 5).await;
    wait_for_delivered(&first, sent_before, 5).await;
    let status = first.terminate().await;
    assert!(status.success(), "exit after SIGTERM: {status}; stderr:\n{}", first.stderr());

    // act
    let mut second = TapinkProcess::start_up(args(&[])).await;
    let webhooks = engine(&second).get("/tapink/v1/webhooks").await;
    let campaigns = engine(&second).get("/tapink/v1/campaigns").await;
    let history = admin_history(&inkit(&second), "kind=render&page_size=1000").await;
    let sent_after = create_seed_campaign(&second, "After the restart").await;
    let renders = wait_for_renders(&second, 10).await;
    wait_for_delivered(&second, sent_after, 5).await;
    let status = second.terminate().await;

    // assert
    assert_eq!(webhooks.json(), json!({"status": "success", "webhooks": ["Inkit"]}));
    let listed = campaigns.json()["campaigns"].clone();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(
        (listed[0]["id"].as_u64(), listed[0]["name"].as_str(), listed[0]["status"].as_str()),
        (Some(sent_before), Some("Before the restart"), Some("Completed"))
    );
    assert_eq!(history["items"].as_array().map(Vec::len), Some(5), "History keeps its entries: {history}");
    assert_eq!(renders.len(), 10, "the first campaign is not sent again; the webhook works after the restart");
    assert!(status.success(), "exit after SIGTERM: {status}; stderr:\n{}", second.stderr());
    assert!(!first.stderr().contains("restoring"), "a new data dir has nothing to restore:\n{}", first.stderr());
    let stderr = second.stderr();
    assert!(stderr.contains("restoring ") && stderr.contains("(History, outbox, engine journal)"), "{stderr}");
    let restored = stderr.lines().find(|l| l.starts_with("restored in ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        restored.contains(" 5 profiles")
            && restored.contains(" 6 History entries")
            && restored.contains(" 0 deliveries"),
        "the restored line counts what was kept (History: 5 documents and the webhook's test request): {restored}"
    );
}

#[tokio::test]
async fn up_on_a_port_in_use_fails_saying_which() {
    // arrange: something already listens where the engine API would
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = taken.local_addr().expect("local addr").to_string();

    // act
    let (status, stdout, stderr) = integration_tests::run_tapink(
        ["up", "--in-memory", "--inkit-addr", "127.0.0.1:0", "--engine-addr", &addr],
        Duration::from_secs(30),
    )
    .await;

    // assert
    assert!(!status.success(), "tapink up started on a taken port; stdout: {stdout}");
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "stderr: {stderr}");
    assert!(!stdout.contains("listening"), "no listening line: {stdout}");
}

#[tokio::test]
async fn up_shows_only_the_names_of_tokens_and_accounts_given_on_the_command_line() {
    // arrange
    let mut tapink = TapinkProcess::start_up([
        "--in-memory",
        "--inkit-addr",
        "127.0.0.1:0",
        "--engine-addr",
        "127.0.0.1:0",
        "--token",
        "ci=s3cret-token",
        "--account",
        "CI-ACCOUNT=s3cret-passcode",
    ])
    .await;

    // act
    let webhooks =
        EngineClient::new(&tapink.url, Some(("CI-ACCOUNT", "s3cret-passcode"))).get("/tapink/v1/webhooks").await;
    let status = tapink.terminate().await;
    let stdout = format!("{}\n{}", tapink.listening_lines.join("\n"), tapink.rest_of_stdout().await);

    // assert
    assert_eq!(webhooks.status, 200, "the account given works: {}", webhooks.text());
    assert!(stdout.contains("tokens ci") && stdout.contains("accounts CI-ACCOUNT"), "names are shown: {stdout}");
    assert!(!stdout.contains("s3cret"), "secrets are not printed: {stdout}");
    assert!(!stdout.contains(inkit_mock::DEFAULT_TOKEN), "nor a default token that is not accepted: {stdout}");
    assert!(status.success(), "{status}");
}
