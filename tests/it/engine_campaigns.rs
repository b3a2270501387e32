//! The campaign API over real HTTP, against the whole pipeline in one process (simulated time): webhooks created
//! with CleverTap's test request, campaigns made through CleverTap's `/1/targets/*.json` and through ours under
//! `/tapink/v1`, delivered to the mock Inkit's History, their status and figures, Preview and Test, and every
//! refusal naming its field with nothing stored changed.

use std::time::Duration;

use inkit_mock::{FaultPlan, MockConfig};
use integration_tests::{MockServer, PipelineApp, assert_clevertap_error, seed_body, seed_records};
use pipeline::Storage;
use serde_json::{Value, json};

const HOUR: Duration = Duration::from_secs(3600);

/// The names of the seed's five users, as the seed body puts them in `merge_parameters.Name`.
const SEED_NAMES: [&str; 5] = ["Ada Lovelace", "Barbara Liskov", "Edsger Dijkstra", "Grace Hopper", "Jack Montana"];

/// A webhook campaign with the seed body for everyone, sent now: the targets API's JSON.
fn seed_campaign(name: &str) -> Value {
    json!({"name": name, "target_mode": "webhook", "webhook_endpoint_name": "Inkit", "where": {}, "when": "now",
           "content": {"body": seed_body()}})
}

/// [`seed_campaign`] with `key` set to `value`.
fn seed_campaign_with(name: &str, key: &str, value: Value) -> Value {
    let mut campaign = seed_campaign(name);
    campaign[key] = value;
    campaign
}

/// The `merge_parameters.Name` of each render, sorted.
fn names(renders: &[Value]) -> Vec<String> {
    let mut names: Vec<String> =
        renders.iter().map(|r| r["merge_parameters"]["Name"].as_str().unwrap_or("?").to_owned()).collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_webhook_is_saved_once_its_test_request_is_answered_200() {
    // arrange
    let app = PipelineApp::start().await;

    // act
    let reply = app.api.create_webhook(&app.inkit_webhook()).await;
    let listed = app.api.get("/tapink/v1/webhooks").await;

    // assert
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.json(), json!({"status": "success", "name": "Inkit"}));
    assert_eq!(listed.json(), json!({"status": "success", "webhooks": ["Inkit"]}));
    let tests = integration_tests::admin_history(&app.inkit, "kind=test").await;
    assert_eq!(tests["items"].as_array().map(Vec::len), Some(1), "CleverTap's test request is in History: {tests}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_webhook_whose_test_request_is_answered_500_is_refused_with_502_and_not_saved() {
    // arrange: an endpoint that answers every generate with 500
    let failing = MockServer::start_with(MockConfig {
        faults: FaultPlan::from_toml("[[fault]]\nroute = \"POST /generate\"\nkind = \"status\"\nstatus = 500\n")
            .expect("a fault plan"),
        ..MockConfig::default()
    })
    .await;
    let app = PipelineApp::start().await;
    let before = app.stored();
    let mut webhook = app.inkit_webhook();
    webhook["name"] = json!("Failing");
    webhook["url"] = json!(format!("{}/v1/generate", failing.url));

    // act
    let reply = app.api.create_webhook(&webhook).await;
    let campaign = app.api.targets("create", &seed_campaign_with("x", "webhook_endpoint_name", json!("Failing"))).await;

    // assert
    let message = assert_clevertap_error(&reply, 502);
    assert!(message.contains("HTTP 500"), "the endpoint's answer is named: {message}");
    assert_eq!(app.stored(), before, "nothing saved");
    assert_eq!(app.api.get("/tapink/v1/webhooks").await.json()["webhooks"], json!([]));
    assert!(assert_clevertap_error(&campaign, 400).starts_with("webhook_endpoint_name: no webhook named \"Failing\""));
    app.shutdown().await;
}

#[tokio::test]
async fn a_webhook_whose_endpoint_cannot_be_reached_is_refused_with_502() {
    // arrange: a port nobody listens on
    let app = PipelineApp::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let mut webhook = app.inkit_webhook();
    webhook["url"] = json!(format!("http://{closed}/v1/generate"));

    // act
    let reply = app.api.create_webhook(&webhook).await;

    // assert
    assert_clevertap_error(&reply, 502);
    assert_eq!(app.api.get("/tapink/v1/webhooks").await.json()["webhooks"], json!([]));
    app.shutdown().await;
}

#[tokio::test]
async fn a_malformed_webhook_is_refused_naming_the_field_and_nothing_is_saved() {
    // arrange
    let app = PipelineApp::start().await;
    let url = format!("{}/v1/generate", app.pipeline.inkit_url());
    let cases = [
        (json!({"name": "X", "method": "POST"}), "url"),
        (json!({"name": "X", "method": "PATCH", "url": url}), "method: \"PATCH\" is not one of POST, GET, PUT, DELETE"),
        (json!({"name": " ", "method": "POST", "url": url}), "name: must not be empty"),
        (json!({"name": "X", "method": "POST", "url": "ftp://example.com/x"}), "url: "),
        (json!({"name": "X", "method": "POST", "url": url, "colour": "red"}), "colour"),
        (json!({"name": "X", "method": "POST", "url": url, "content_type": "xml"}), "content_type: \"xml\""),
        (json!({"name": "X", "method": "POST", "url": url, "skip_check": "yes"}), "skip_check: must be true or false"),
        (json!(["X"]), "body: must be a webhook object"),
    ];
    let before = app.stored();

    for (webhook, field) in cases {
        // act
        let reply = app.api.create_webhook(&webhook).await;

        // assert
        let message = assert_clevertap_error(&reply, 400);
        assert!(message.contains(field), "{webhook} → {message:?} names {field:?}");
        assert_eq!(app.stored(), before, "{webhook} changed nothing");
    }
    let malformed = app.api.post_raw("/tapink/v1/webhooks", "{\"name\": ").await;
    assert!(assert_clevertap_error(&malformed, 400).starts_with("Malformed JSON"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_webhook_saved_without_its_test_request_is_set_up_again_after_a_restart() {
    // arrange: a data directory; a webhook to an Inkit outside the pipeline (its address outlives the restart),
    // saved with skip_check, and a draft naming it
    let endpoint = MockServer::start_with(MockConfig {
        templates_dir: Some(integration_tests::fixtures().join("templates")),
        ..MockConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = PipelineApp::start_with(Storage::DataDir(dir.path().to_owned())).await;
    let mut webhook = app.inkit_webhook();
    webhook["url"] = json!(format!("{}/v1/generate", endpoint.url));
    webhook["skip_check"] = json!(true);
    let created = app.api.create_webhook(&webhook).await;
    assert_eq!(created.status, 200, "{}", created.text());
    app.api.upload_ok(seed_records()).await;
    let draft = app.api.create_target_ok(&seed_campaign_with("Later", "draft", json!(true))).await;
    app.shutdown().await;

    // act
    let again = PipelineApp::start_with(Storage::DataDir(dir.path().to_owned())).await;
    let published = again.api.post(&format!("/tapink/v1/campaigns/{draft}/publish"), &json!({})).await;
    again.run_for(HOUR).await;

    // assert
    assert_eq!(again.api.get("/tapink/v1/webhooks").await.json()["webhooks"], json!(["Inkit"]));
    assert_eq!(published.status, 200, "{}", published.text());
    let history = integration_tests::admin_history(&endpoint.client(), "kind=render&page_size=100").await;
    let renders = history["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(names(&renders), SEED_NAMES, "the dispatcher has the webhook again");
    again.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Our campaign API
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_stopped_draft_cannot_be_published() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign_with("Never", "draft", json!(true))).await;
    let stopped = app.api.post(&format!("/tapink/v1/campaigns/{id}/stop"), &json!({})).await;
    let before = app.stored();

    // act
    let published = app.api.post(&format!("/tapink/v1/campaigns/{id}/publish"), &json!({})).await;
    app.run_for(HOUR).await;

    // assert
    assert_eq!(stopped.json()["campaign"]["status"], "Stopped", "{}", stopped.text());
    assert_eq!(assert_clevertap_error(&published, 409), format!("campaign {id} is Stopped: it cannot be published"));
    assert_eq!(app.stored(), before, "still a stopped draft");
    assert_eq!(app.renders().await.len(), 0, "nothing sent");
    app.shutdown().await;
}
