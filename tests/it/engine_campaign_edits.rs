//! Editing a campaign over real HTTP (`PATCH /tapink/v1/campaigns/{id}`): CleverTap's edit rules by status,
//! refusals naming the field with nothing changed, and the edited campaign after a restart on the same data
//! directory.

use std::time::Duration;

use http::Method;
use integration_tests::{MockServer, PipelineApp, assert_clevertap_error, seed_body, seed_records, webhook_to};
use pipeline::Storage;
use serde_json::{Value, json};

const HOUR: Duration = Duration::from_secs(3600);

fn letter(when: &str) -> Value {
    json!({"name": "Letter", "webhook_endpoint_name": "Inkit", "where": {}, "when": when,
           "content": {"body": seed_body()}})
}

async fn edit(app: &PipelineApp, id: u64, changes: Value) -> integration_tests::Reply {
    app.api.send(Method::PATCH, &format!("/tapink/v1/campaigns/{id}"), changes.to_string(), &[]).await
}

#[tokio::test]
async fn an_edited_campaign_is_the_edited_one_after_a_restart() {
    // arrange: an Inkit outside the pipeline (its address outlives the restart), a data directory, a campaign
    // for 10:00 (the pipeline starts at 09:00)
    let endpoint = MockServer::with_seed_templates().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = PipelineApp::start_with(Storage::DataDir(dir.path().to_owned())).await;
    let webhook = webhook_to(&endpoint.url);
    assert_eq!(app.api.create_webhook(&webhook).await.status, 200);
    app.api.upload_ok(seed_records()).await;
    let created = app.api.post("/tapink/v1/campaigns", &letter("20261201 10:00")).await;
    let id = created.json()["campaign"]["id"].as_u64().unwrap_or_else(|| panic!("no id: {}", created.text()));

    // act: moved to 11:00 and renamed, then a restart
    let edited = edit(&app, id, json!({"name": "Letter at eleven", "when": "20261201 11:00"})).await;
    app.shutdown().await;
    let again = PipelineApp::start_with(Storage::DataDir(dir.path().to_owned())).await;
    let shown = again.api.campaign(id).await;
    again.run_for(Duration::from_secs(90 * 60)).await;
    let at_half_past_ten = integration_tests::admin_history(&endpoint.client(), "kind=render").await;
    again.run_for(HOUR).await;
    let at_half_past_eleven = integration_tests::admin_history(&endpoint.client(), "kind=render").await;

    // assert
    assert_eq!(edited.status, 200, "{}", edited.text());
    assert_eq!(edited.json()["campaign"]["scheduled_on"], "20261201 11:00");
    assert_eq!((shown["name"].as_str(), shown["status"].as_str()), (Some("Letter at eleven"), Some("Scheduled")));
    assert_eq!(shown["scheduled_on"], "20261201 11:00", "{shown}");
    assert_eq!(shown["definition"]["when"], "20261201 11:00");
    assert_eq!(shown["definition"]["content"]["body"], seed_body(), "what the edit did not name stays");
    assert_eq!(at_half_past_ten["items"], json!([]), "nothing at the old time");
    assert_eq!(at_half_past_eleven["items"].as_array().map(Vec::len), Some(5), "{at_half_past_eleven}");
    again.shutdown().await;
}

#[tokio::test]
async fn a_running_campaign_changes_only_its_name_labels_and_content_and_refusals_name_the_field() {
    // arrange: a live campaign, running
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let live = json!({"name": "Cart", "webhook_endpoint_name": "Inkit", "where": {},
                      "trigger": {"action": {"event": "Added To Cart"}}, "content": {"body": seed_body()}});
    let created = app.api.post("/tapink/v1/campaigns", &live).await;
    let id = created.json()["campaign"]["id"].as_u64().unwrap_or_else(|| panic!("no id: {}", created.text()));

    // act
    let trigger = edit(&app, id, json!({"trigger": {"action": {"event": "Charged"}}})).await;
    let audience = edit(
        &app,
        id,
        json!({"where": null, "segment": {"profile": {"name": "City", "operator": "equals", "value": "Paris"}}}),
    )
    .await;
    let draft = edit(&app, id, json!({"draft": true})).await;
    let broken = edit(&app, id, json!({"content": {"body": "{% if %}"}})).await;
    let bad_name = edit(&app, id, json!({"name": 7})).await;
    let not_object = app.api.send(Method::PATCH, &format!("/tapink/v1/campaigns/{id}"), "[1]", &[]).await;
    let unknown = edit(&app, 42, json!({"name": "x"})).await;
    let unchanged = app.api.campaign(id).await;
    let renamed =
        edit(&app, id, json!({"name": "Cart reminder", "labels": ["q4"], "content": {"body": "{\"v\": 2}"}})).await;

    // assert
    let running =
        format!("cannot be changed while campaign {id} is Running (only name, labels and content may change)");
    assert_eq!(assert_clevertap_error(&trigger, 409), format!("trigger: {running}"));
    assert_eq!(assert_clevertap_error(&audience, 409), format!("segment: {running}"));
    assert!(assert_clevertap_error(&draft, 400).starts_with("draft: an edit does not publish"));
    assert!(assert_clevertap_error(&broken, 400).starts_with("content:"), "{}", broken.text());
    assert_eq!(assert_clevertap_error(&bad_name, 400), "name: must be a string, not a number");
    assert!(assert_clevertap_error(&not_object, 400).starts_with("body: must be an object of the fields to change"));
    assert_eq!(assert_clevertap_error(&unknown, 404), "id: no campaign with id 42");
    assert_eq!(unchanged["definition"], live, "nothing refused was kept");
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    let definition = &renamed.json()["campaign"]["definition"];
    assert_eq!((definition["name"].as_str(), definition["labels"].clone()), (Some("Cart reminder"), json!(["q4"])));
    let preview =
        app.api.post(&format!("/tapink/v1/campaigns/{id}/preview"), &json!({"profile": {"Name": "Zoe"}})).await;
    assert_eq!(preview.json()["request"]["body"], "{\"v\": 2}", "the dispatcher has the edited content");
    app.shutdown().await;
}
