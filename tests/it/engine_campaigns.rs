//! The campaign API over real HTTP, against the whole pipeline in one process (simulated time): webhooks created
//! with CleverTap's test request, campaigns made through CleverTap's `/1/targets/*.json` and through ours under
//! `/tapink/v1`, delivered to the mock Inkit's History, their status and figures, Preview and Test, and every
//! refusal naming its field with nothing stored changed.

use std::time::Duration;

use engine_api::ROUTES;
use http::Method;
use inkit_mock::{FaultPlan, MockConfig};
use integration_tests::{
    EngineClient, MockServer, PipelineApp, assert_clevertap_error, seed_body, seed_records, webhook_to,
};
use pipeline::Storage;
use serde_json::{Value, json};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

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

/// The body of a previewed or tested request, read as JSON.
fn rendered_body(request: &Value) -> Value {
    let body = request["body"].as_str().unwrap_or_else(|| panic!("no body in {request}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {body}"))
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
    let endpoint = MockServer::with_seed_templates().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = PipelineApp::start_with(Storage::DataDir(dir.path().to_owned())).await;
    let mut webhook = webhook_to(&endpoint.url);
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
// CleverTap's targets API
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn targets_create_saves_a_webhook_campaign_that_puts_one_document_per_user_in_history() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;

    // act
    let id = app.api.create_target_ok(&seed_campaign("Seed letter")).await;
    app.run_for(Duration::from_secs(60)).await;
    let result = app.api.targets("result", &json!({ "id": id })).await;

    // assert
    let renders = app.renders().await;
    assert_eq!(names(&renders), SEED_NAMES, "one document per user");
    let ada = renders.iter().find(|r| r["merge_parameters"]["Name"] == "Ada Lovelace").expect("Ada's entry");
    assert_eq!(
        ada["merge_parameters"],
        json!({"Name": "Ada Lovelace", "email": "ada@example.com", "phone number": "+14155550100"})
    );
    assert_eq!(ada["template_id"], "tmpl_SeedLetter000000000001");
    assert_eq!(result.status, 200, "{}", result.text());
    let body = result.json();
    assert_eq!((body["status"].as_str(), body["id"].as_u64()), (Some("success"), Some(id)));
    assert_eq!(body["campaign_status"], "Completed");
    let figures = &body["result"];
    assert_eq!(
        [&figures["qualified"], &figures["sent"], &figures["delivered"], &figures["failed"], &figures["in_flight"]],
        [&json!(5), &json!(5), &json!(5), &json!({}), &json!(0)],
        "{figures}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn target_mode_webhooks_is_accepted_as_well_as_webhook() {
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign_with("Plural", "target_mode", json!("webhooks"))).await;
    assert_eq!(app.api.campaign(id).await["name"], "Plural");
    app.shutdown().await;
}

#[tokio::test]
async fn estimate_only_answers_the_reach_of_a_where_and_saves_nothing() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let before = app.stored();
    let in_london = json!({"common_profile_properties":
        {"profile_fields": [{"name": "City", "operator": "equals", "value": "London"}]}});
    let charged_in_november = json!({"event_name": "Charged", "from": 20261101, "to": 20261130});

    // act
    let estimate = |r#where: Value| {
        let mut campaign = seed_campaign_with("Estimate", "where", r#where);
        campaign["estimate_only"] = json!(true);
        let api = app.api.clone();
        async move { api.targets("create", &campaign).await }
    };
    let london = estimate(in_london).await;
    let charged = estimate(charged_in_november).await;
    let everyone = estimate(json!({})).await;

    // assert
    assert_eq!(london.status, 200, "{}", london.text());
    assert_eq!(london.json(), json!({"status": "success", "estimate": {"qualified": 1, "reachable": 1}}));
    assert_eq!(charged.json()["estimate"]["qualified"], 2, "Ada and Grace bought in November");
    assert_eq!(everyone.json()["estimate"]["qualified"], 5);
    assert_eq!(app.stored(), before, "an estimate saves nothing");
    assert_eq!(app.api.targets("list", &json!({})).await.json()["targets"], json!([]));
    app.shutdown().await;
}

#[tokio::test]
async fn list_answers_the_campaigns_whose_scheduled_start_is_between_from_and_to() {
    // arrange: one sent now (2026-12-01), one later (2026-12-15), one draft
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let now = app.api.create_target_ok(&seed_campaign("Now")).await;
    let later = app.api.create_target_ok(&seed_campaign_with("Later", "when", json!("20261215 10:00"))).await;
    let draft = app.api.create_target_ok(&seed_campaign_with("Draft", "draft", json!(true))).await;

    // act
    let first_day = app.api.targets("list", &json!({"from": 20261201, "to": 20261201})).await;
    let rest_of_month = app.api.targets("list", &json!({"from": "20261202", "to": "20261231"})).await;
    let all = app.api.targets("list", &json!({})).await;
    let no_body = app.api.post_raw("/1/targets/list.json", "").await;

    // assert
    assert_eq!(first_day.status, 200, "{}", first_day.text());
    assert_eq!(
        first_day.json(),
        json!({"status": "success", "targets": [
            {"id": now, "name": "Now", "status": "Completed", "webhook": "Inkit", "scheduled_on": "20261201 09:00"}]})
    );
    assert_eq!(
        rest_of_month.json()["targets"],
        json!([{"id": later, "name": "Later", "status": "Scheduled", "webhook": "Inkit",
                "scheduled_on": "20261215 10:00"}])
    );
    let ids = |reply: &integration_tests::Reply| -> Vec<u64> {
        reply.json()["targets"].as_array().expect("targets").iter().filter_map(|t| t["id"].as_u64()).collect()
    };
    assert_eq!(ids(&all), [now, later, draft], "without from and to, every campaign, drafts too");
    assert_eq!(ids(&no_body), [now, later, draft]);
    let draft_item = &all.json()["targets"][2];
    assert_eq!(draft_item["status"], "Draft");
    assert!(draft_item.get("scheduled_on").is_none(), "a draft has no start: {draft_item}");
    app.shutdown().await;
}

#[tokio::test]
async fn list_refuses_dates_it_cannot_read_naming_the_field() {
    let app = PipelineApp::start().await;
    let cases = [
        (json!({"from": "2026-12-01"}), "from: must be a date YYYYMMDD, not \"2026-12-01\""),
        (json!({"to": 2026}), "to: must be a date YYYYMMDD, not 2026"),
        (json!({"from": 20261231, "to": 20261201}), "from: 20261231 is after to (20261201)"),
    ];
    for (body, expected) in cases {
        let reply = app.api.targets("list", &body).await;
        assert_eq!(assert_clevertap_error(&reply, 400), expected, "{body}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn result_is_409_naming_the_status_until_the_campaign_completes_then_answers_its_figures() {
    // arrange: one campaign for later, one throttled to 2 a minute (still running after its first minute)
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let later = app.api.create_target_ok(&seed_campaign_with("Later", "when", json!("20261201 12:00"))).await;
    let throttled = app.api.create_target_ok(&seed_campaign_with("Slow", "throttle", json!({"per_minute": 2}))).await;
    app.run_for(Duration::from_secs(1)).await;
    let before = app.stored();

    // act
    let scheduled = app.api.targets("result", &json!({ "id": later })).await;
    let running = app.api.targets("result", &json!({ "id": throttled })).await;
    let after_asking = app.stored();
    app.run_for(4 * HOUR).await;
    let completed = app.api.targets("result", &json!({ "id": later })).await;

    // assert
    assert_eq!(
        assert_clevertap_error(&scheduled, 409),
        format!("Campaign {later} is Scheduled; its result is available once it has completed")
    );
    assert_eq!(
        assert_clevertap_error(&running, 409),
        format!("Campaign {throttled} is Running; its result is available once it has completed")
    );
    assert_eq!(after_asking, before, "asking changes nothing");
    assert_eq!(completed.status, 200, "{}", completed.text());
    assert_eq!(completed.json()["result"]["delivered"], 5);
    let slow = app.api.targets("result", &json!({ "id": throttled })).await;
    assert_eq!(slow.json()["result"]["delivered"], 5, "{}", slow.text());
    assert_eq!(app.renders().await.len(), 10);
    app.shutdown().await;
}

#[tokio::test]
async fn result_and_stop_refuse_an_unknown_or_malformed_id_naming_it() {
    let app = PipelineApp::with_webhook_and_seed_users().await;
    app.api.create_target_ok(&seed_campaign_with("Later", "when", json!("20261215 10:00"))).await;
    let before = app.stored();
    for action in ["result", "stop"] {
        let unknown = app.api.targets(action, &json!({"id": 42})).await;
        assert_eq!(assert_clevertap_error(&unknown, 404), "id: no campaign with id 42", "{action}");
        let cases = [
            (json!({"id": "abc"}), "id: must be a positive integer campaign id, not \"abc\""),
            (json!({"id": 0}), "id: must be a positive integer campaign id, not 0"),
            (json!({"id": -3}), "id: must be a positive integer campaign id, not -3"),
            (json!({"id": 1.5}), "id: must be a positive integer campaign id, not 1.5"),
            (json!({}), "id: is required: the campaign id"),
        ];
        for (body, expected) in cases {
            let reply = app.api.targets(action, &body).await;
            assert_eq!(assert_clevertap_error(&reply, 400), expected, "{action} {body}");
        }
        let malformed = app.api.post_raw(&format!("/1/targets/{action}.json"), "{\"id\": ").await;
        assert!(assert_clevertap_error(&malformed, 400).starts_with("Malformed JSON"), "{action}");
    }
    assert_eq!(app.stored(), before, "nothing changed");
    app.shutdown().await;
}

#[tokio::test]
async fn stop_ends_a_scheduled_campaign_for_good_and_stopping_it_again_is_success() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign_with("Later", "when", json!("20261201 12:00"))).await;

    // act
    let stopped = app.api.targets("stop", &json!({ "id": id })).await;
    let after_stop = app.stored();
    let again = app.api.targets("stop", &json!({ "id": id.to_string() })).await;
    app.run_for(DAY).await;

    // assert
    assert_eq!(stopped.status, 200, "{}", stopped.text());
    assert_eq!(stopped.json(), json!({"status": "success"}));
    assert_eq!(again.json(), json!({"status": "success"}), "already stopped: success, no action");
    assert_eq!(app.api.campaign(id).await["status"], "Stopped");
    assert_eq!(app.renders().await, Vec::<Value>::new(), "its run never happens");
    assert_eq!(app.stored(), after_stop, "the second stop changed nothing");
    let result = app.api.targets("result", &json!({ "id": id })).await;
    assert_eq!(result.json()["campaign_status"], "Stopped", "a stopped campaign has a result: {}", result.text());
    app.shutdown().await;
}

#[tokio::test]
async fn stopping_a_completed_campaign_is_success_and_changes_nothing() {
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign("Now")).await;
    app.run_for(Duration::from_secs(60)).await;
    let before = app.stored();
    let reply = app.api.targets("stop", &json!({ "id": id })).await;
    assert_eq!(reply.json(), json!({"status": "success"}));
    assert_eq!(app.stored(), before);
    assert_eq!(app.api.campaign(id).await["status"], "Completed");
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Refusals at save
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_liquid_syntax_error_is_refused_at_save_with_its_line_and_column() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let broken = seed_campaign_with("Broken", "content", json!({"body": "{\n  \"a\": \"{{ Profile.name \"\n}"}));
    let before = app.stored();

    for path in ["/1/targets/create.json", "/tapink/v1/campaigns"] {
        // act
        let reply = app.api.post(path, &broken).await;

        // assert
        let message = assert_clevertap_error(&reply, 400);
        assert!(message.starts_with("content: "), "{path}: {message}");
        assert!(message.contains("line 2") && message.contains("column"), "{path}: line and column: {message}");
        assert_eq!(app.stored(), before, "{path}: nothing saved");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_campaign_naming_an_unknown_webhook_is_refused_naming_it_and_the_known_ones() {
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let before = app.stored();
    let reply = app.api.targets("create", &seed_campaign_with("x", "webhook_endpoint_name", json!("Nope"))).await;
    assert_eq!(
        assert_clevertap_error(&reply, 400),
        "webhook_endpoint_name: no webhook named \"Nope\" (create it first: POST /tapink/v1/webhooks); known: Inkit"
    );
    assert_eq!(app.stored(), before);
    app.shutdown().await;
}

#[tokio::test]
async fn every_bad_campaign_field_is_refused_naming_it_and_nothing_is_saved() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let mut no_name = seed_campaign("x");
    no_name.as_object_mut().expect("object").remove("name");
    let bad_operator = json!({"event_name": "Charged", "from": 20261101, "to": 20261130,
                              "event_properties": [{"name": "Amount", "operator": "like", "value": 1}]});
    let cases = [
        (no_name, "name: is required"),
        (seed_campaign_with("x", "target_mode", json!("push")), "target_mode: must be \"webhook\""),
        (seed_campaign_with("x", "where", bad_operator), "where.event_properties[0].operator: "),
        (seed_campaign_with("x", "segment", json!("all")), "where: give where or segment, not both"),
        (seed_campaign_with("x", "when", json!("2026-12-01")), "when"),
        (seed_campaign_with("x", "content", json!({"body": 3})), "content.body: must be a string, not a number"),
        (seed_campaign_with("x", "control_group", json!(1)), "control_group: must be a percentage from 2 to 99"),
        (seed_campaign_with("x", "throttle", json!({"per_minute": 0})), "throttle.per_minute: "),
        (seed_campaign_with("x", "trigger", json!({"action": {}})), "trigger"),
        (seed_campaign_with("x", "estimate_only", json!("yes")), "estimate_only: must be true or false"),
        (seed_campaign_with("x", "draft", json!(1)), "draft: must be true or false"),
        (seed_campaign_with("x", "devices", json!("ios")), "devices: must be a list of strings"),
        (seed_campaign_with("x", "colour", json!("red")), "colour: unknown field"),
        (json!(["a list"]), "body: must be a JSON object, not a list"),
    ];
    let before = app.stored();

    for path in ["/1/targets/create.json", "/tapink/v1/campaigns"] {
        for (campaign, expected) in &cases {
            // act
            let reply = app.api.post(path, campaign).await;

            // assert
            let message = assert_clevertap_error(&reply, 400);
            assert!(message.starts_with(expected), "{path}: {message:?} does not start with {expected:?}");
            assert_eq!(app.stored(), before, "{path}: {expected} saved nothing");
        }
        let malformed = app.api.post_raw(path, "{\"name\": \"x\",,}").await;
        assert_eq!(assert_clevertap_error(&malformed, 400), "Malformed JSON: line 1 column 14: key must be a string");
    }
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Our campaign API
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_draft_is_published_then_runs_and_shows_its_status_definition_and_runs() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let definition = seed_campaign_with("Letter at ten", "when", json!("20261201 10:00"));
    let mut draft = definition.clone();
    draft["draft"] = json!(true);

    // act
    let created = app.api.post("/tapink/v1/campaigns", &draft).await;
    let id = created.json()["campaign"]["id"].as_u64().unwrap_or_else(|| panic!("no id: {}", created.text()));
    let published = app.api.post(&format!("/tapink/v1/campaigns/{id}/publish"), &json!({})).await;
    let twice = app.api.post(&format!("/tapink/v1/campaigns/{id}/publish"), &json!({})).await;
    app.run_for(2 * HOUR).await;
    let shown = app.api.campaign(id).await;
    let listed = app.api.get("/tapink/v1/campaigns").await;

    // assert
    assert_eq!(created.status, 200, "{}", created.text());
    let as_created = &created.json()["campaign"];
    assert_eq!((as_created["status"].as_str(), as_created["name"].as_str()), (Some("Draft"), Some("Letter at ten")));
    assert_eq!(as_created["definition"], draft, "the definition as sent");
    assert!(as_created.get("scheduled_on").is_none(), "a draft is not scheduled: {as_created}");
    assert_eq!(as_created["runs"], json!({}));
    assert_eq!(published.status, 200, "{}", published.text());
    let as_published = &published.json()["campaign"];
    assert_eq!(as_published["status"], "Scheduled");
    assert_eq!(as_published["scheduled_on"], "20261201 10:00");
    assert_eq!(assert_clevertap_error(&twice, 409), format!("campaign {id} is already published"));
    assert_eq!(shown["status"], "Completed");
    assert_eq!(shown["result"]["delivered"], 5, "{shown}");
    let run = &shown["runs"]["0"];
    assert_eq!(
        (run["qualified"].as_u64(), run["sent"].as_u64(), run["delivered"].as_u64()),
        (Some(5), Some(5), Some(5))
    );
    assert_eq!(
        listed.json()["campaigns"],
        json!([{"id": id, "name": "Letter at ten", "status": "Completed", "webhook": "Inkit",
                "scheduled_on": "20261201 10:00"}])
    );
    assert_eq!(names(&app.renders().await), SEED_NAMES);
    app.shutdown().await;
}

#[tokio::test]
async fn a_campaign_on_multiple_dates_awaits_its_next_run_between_them_then_completes() {
    // arrange: CleverTap's object form of `when`
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let when = json!({"type": "later", "delivery_date_time": ["20261202 10:00", "20261204 10:00"]});
    let id = app.api.create_target_ok(&seed_campaign_with("Twice", "when", when)).await;
    let scheduled = app.api.campaign(id).await;

    // act
    app.run_for(2 * DAY).await;
    let between = app.api.campaign(id).await;
    let result_between = app.api.targets("result", &json!({ "id": id })).await;
    app.run_for(3 * DAY).await;
    let done = app.api.campaign(id).await;

    // assert
    assert_eq!(
        (scheduled["status"].as_str(), scheduled["scheduled_on"].as_str()),
        (Some("Scheduled"), Some("20261202 10:00"))
    );
    assert_eq!(between["status"], "Awaiting Next Run");
    assert_eq!(
        assert_clevertap_error(&result_between, 409),
        format!("Campaign {id} is Awaiting Next Run; its result is available once it has completed")
    );
    assert_eq!(done["status"], "Completed");
    for run in ["0", "1"] {
        assert_eq!(done["runs"][run]["delivered"], 5, "run {run}: {done}");
    }
    assert_eq!(done["result"]["delivered"], 10);
    assert_eq!(app.renders().await.len(), 10);
    app.shutdown().await;
}

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

#[tokio::test]
async fn a_campaign_is_stopped_through_our_api_before_it_runs() {
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign_with("Later", "when", json!("20261201 10:00"))).await;
    let reply = app.api.post(&format!("/tapink/v1/campaigns/{id}/stop"), &json!({})).await;
    app.run_for(2 * HOUR).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["campaign"]["status"], "Stopped");
    assert_eq!(app.renders().await.len(), 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_live_campaign_made_through_our_api_sends_when_its_event_arrives() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let mut live = seed_campaign("Cart reminder");
    let fields = live.as_object_mut().expect("object");
    fields.remove("when");
    fields.insert(
        "trigger".into(),
        json!({"action": {"event": "Added To Cart"}, "delay": {"value": 10, "unit": "minutes"}}),
    );
    let created = app.api.post("/tapink/v1/campaigns", &live).await;
    assert_eq!(created.status, 200, "{}", created.text());

    // act
    app.api
        .upload_ok(json!([{"type": "event", "identity": "grace-1906", "evtName": "Added To Cart", "evtData": {}}]))
        .await;
    app.run_for(Duration::from_secs(5 * 60)).await;
    let before_delay = app.renders().await.len();
    app.run_for(Duration::from_secs(10 * 60)).await;

    // assert
    assert_eq!(created.json()["campaign"]["status"], "Running");
    assert_eq!(before_delay, 0, "not before its 10 minutes");
    assert_eq!(names(&app.renders().await), ["Grace Hopper"]);
    app.shutdown().await;
}

#[tokio::test]
async fn preview_renders_the_request_for_a_stored_user_and_for_a_profile_given_here_and_sends_nothing() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign_with("Preview me", "draft", json!(true))).await;
    let history_before = app.history_count().await;
    let stored_before = app.stored();
    let preview = |body: Value| {
        let api = app.api.clone();
        async move { api.post(&format!("/tapink/v1/campaigns/{id}/preview"), &body).await }
    };

    // act
    let by_identity = preview(json!({"identity": "ada-1815"})).await;
    let by_email = preview(json!({"email": "grace@example.com"})).await;
    let by_object_id = preview(json!({"objectId": "-2ce3cca260664f70b82b1c6bb505f462"})).await;
    let ad_hoc = preview(json!({"profile": {"Name": "Zoë \"Z\" Ad-hoc", "Email": "zoe@example.com"}})).await;

    // assert
    assert_eq!(by_identity.status, 200, "{}", by_identity.text());
    let request = &by_identity.json()["request"];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["url"], format!("{}/v1/generate", app.pipeline.inkit_url()));
    assert_eq!(
        rendered_body(request),
        json!({"merge_parameters": {"Name": "Ada Lovelace", "email": "ada@example.com", "phone number": "+14155550100"},
               "template_id": "tmpl_SeedLetter000000000001", "description": "test"})
    );
    assert_eq!(rendered_body(&by_email.json()["request"])["merge_parameters"]["Name"], "Grace Hopper");
    assert_eq!(rendered_body(&by_object_id.json()["request"])["merge_parameters"]["Name"], "Jack Montana");
    assert_eq!(ad_hoc.status, 200, "{}", ad_hoc.text());
    assert_eq!(
        rendered_body(&ad_hoc.json()["request"])["merge_parameters"],
        json!({"Name": "Zoë \"Z\" Ad-hoc", "email": "zoe@example.com", "phone number": "-"}),
        "escaped as JSON, the seed's default for the missing phone"
    );
    assert_eq!(app.history_count().await, history_before, "a preview sends nothing");
    assert_eq!(app.stored(), stored_before);
    app.shutdown().await;
}

#[tokio::test]
async fn test_sends_the_campaign_once_for_one_user_and_answers_the_endpoints_reply() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign_with("Test me", "draft", json!(true))).await;
    let stored_before = app.stored();

    // act
    let by_identity =
        app.api.post(&format!("/tapink/v1/campaigns/{id}/test"), &json!({"identity": "grace-1906"})).await;
    let ad_hoc = app.api.post(&format!("/tapink/v1/campaigns/{id}/test"), &json!({"profile": {"Name": "Zoe"}})).await;

    // assert
    assert_eq!(by_identity.status, 200, "{}", by_identity.text());
    let answer = &by_identity.json()["answer"];
    assert_eq!(answer["response"]["status"], 200, "{answer}");
    assert!(answer["response"]["latency_ms"].as_f64().is_some(), "{answer}");
    assert_eq!(rendered_body(&answer["request"])["merge_parameters"]["Name"], "Grace Hopper");
    assert_eq!(ad_hoc.json()["answer"]["response"]["status"], 200, "{}", ad_hoc.text());
    let renders = app.renders().await;
    assert_eq!(names(&renders), ["Grace Hopper", "Zoe"], "each test is one real send");
    let grace = renders.iter().find(|r| r["merge_parameters"]["Name"] == "Grace Hopper").expect("Grace");
    assert_eq!(grace["merge_parameters"]["email"], "grace@example.com");
    assert_eq!(app.stored(), stored_before, "a test is not a delivery: the draft and its figures are unchanged");
    app.shutdown().await;
}

#[tokio::test]
async fn each_test_is_a_send_of_its_own_not_a_duplicate_of_the_last() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign_with("Test me", "draft", json!(true))).await;
    let path = format!("/tapink/v1/campaigns/{id}/test");

    // act: the same user twice, and two profiles given here
    for body in [
        json!({"identity": "grace-1906"}),
        json!({"identity": "grace-1906"}),
        json!({"profile": {"Name": "Zoe"}}),
        json!({"profile": {"Name": "Yann"}}),
    ] {
        let reply = app.api.post(&path, &body).await;
        assert_eq!(reply.json()["answer"]["response"]["status"], 200, "{body}: {}", reply.text());
    }

    // assert
    let renders = app.renders().await;
    assert_eq!(names(&renders), ["Grace Hopper", "Grace Hopper", "Yann", "Zoe"]);
    let duplicates: Vec<&Value> = renders.iter().filter(|r| !r["duplicate_of"].is_null()).collect();
    assert!(duplicates.is_empty(), "each test has its own Idempotency-Key: {duplicates:#?}");
    app.shutdown().await;
}

#[tokio::test]
async fn test_against_an_endpoint_that_cannot_be_reached_answers_502() {
    // arrange: a webhook saved without its test request, to a port nobody listens on
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let mut webhook = app.inkit_webhook();
    webhook["name"] = json!("Down");
    webhook["url"] = json!(format!("http://{closed}/v1/generate"));
    webhook["skip_check"] = json!(true);
    assert_eq!(app.api.create_webhook(&webhook).await.status, 200);
    let campaign = seed_campaign_with("To nowhere", "webhook_endpoint_name", json!("Down"));
    let mut draft = campaign.clone();
    draft["draft"] = json!(true);
    let id = app.api.create_target_ok(&draft).await;

    // act
    let reply = app.api.post(&format!("/tapink/v1/campaigns/{id}/test"), &json!({"identity": "ada-1815"})).await;

    // assert
    let message = assert_clevertap_error(&reply, 502);
    assert!(message.starts_with(&format!("cannot reach http://{closed}/v1/generate")), "{message}");
    app.shutdown().await;
}

#[tokio::test]
async fn without_the_pipeline_webhooks_are_names_and_preview_and_test_answer_501() {
    // arrange: the engine API alone, as `tapink engine` serves it
    let server = integration_tests::EngineServer::start().await;
    let api = server.client();
    let created = api.create_webhook(&json!({"name": "Inkit", "method": "POST", "url": "http://127.0.0.1:9/x"})).await;
    api.upload_ok(seed_records()).await;
    let id = api.create_target_ok(&seed_campaign_with("Alone", "draft", json!(true))).await;

    // act
    let preview = api.post(&format!("/tapink/v1/campaigns/{id}/preview"), &json!({"identity": "ada-1815"})).await;
    let test = api.post(&format!("/tapink/v1/campaigns/{id}/test"), &json!({"identity": "ada-1815"})).await;
    let nameless = api.create_webhook(&json!({"method": "POST"})).await;

    // assert
    assert_eq!(created.json(), json!({"status": "success", "name": "Inkit"}));
    let expected = "This needs the webhook dispatcher, which `tapink engine` does not run: use `tapink up`";
    assert_eq!(assert_clevertap_error(&preview, 501), expected);
    assert_eq!(assert_clevertap_error(&test, 501), expected);
    assert_eq!(assert_clevertap_error(&nameless, 400), "name: is required: the webhook's nickname");
    assert_eq!(api.get("/tapink/v1/webhooks").await.json()["webhooks"], json!(["Inkit"]));
}

#[tokio::test]
async fn preview_and_test_refuse_what_they_cannot_read_naming_it() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let id = app.api.create_target_ok(&seed_campaign_with("Draft", "draft", json!(true))).await;
    let history_before = app.history_count().await;
    let before = app.stored();

    for action in ["preview", "test"] {
        let path = format!("/tapink/v1/campaigns/{id}/{action}");
        let cases = [
            (json!({"identity": "nobody"}), 404, "identity: no user profile with identity \"nobody\""),
            (json!({"email": "nobody@example.com"}), 404, "email: no user profile with email \"nobody@example.com\""),
            (json!({"profile": "Ada"}), 400, "profile: must be an object of profile properties, not \"Ada\""),
            (json!({"identity": "ada-1815", "event": 3}), 400, "event: must be an object of event properties, not 3"),
            (json!({}), 400, "body: give identity, email or objectId of a user, or a profile"),
            (json!(["ada-1815"]), 400, "body: must be an object with identity, email, objectId or profile"),
        ];
        for (body, status, expected) in cases {
            // act
            let reply = app.api.post(&path, &body).await;

            // assert
            assert_eq!(assert_clevertap_error(&reply, status), expected, "{action} {body}");
        }
        let unknown =
            app.api.post(&format!("/tapink/v1/campaigns/42/{action}"), &json!({"identity": "ada-1815"})).await;
        assert_eq!(assert_clevertap_error(&unknown, 404), "id: no campaign with id 42");
        let bad_id =
            app.api.post(&format!("/tapink/v1/campaigns/abc/{action}"), &json!({"identity": "ada-1815"})).await;
        assert_eq!(assert_clevertap_error(&bad_id, 400), "id: must be a positive integer campaign id, not \"abc\"");
    }
    assert_eq!(app.history_count().await, history_before, "nothing sent");
    assert_eq!(app.stored(), before);
    app.shutdown().await;
}

#[tokio::test]
async fn our_routes_refuse_an_id_that_is_not_a_positive_integer_or_not_known() {
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let before = app.stored();
    for (method, suffix) in [(Method::GET, ""), (Method::POST, "/publish"), (Method::POST, "/stop")] {
        for (id, status, expected) in [
            ("0", 400, "id: must be a positive integer campaign id, not \"0\""),
            ("-1", 400, "id: must be a positive integer campaign id, not \"-1\""),
            ("12x", 400, "id: must be a positive integer campaign id, not \"12x\""),
            ("42", 404, "id: no campaign with id 42"),
        ] {
            let path = format!("/tapink/v1/campaigns/{id}{suffix}");
            let reply = app.api.send(method.clone(), &path, "{}", &[("content-type", "application/json")]).await;
            assert_eq!(assert_clevertap_error(&reply, status), expected, "{method} {path}");
        }
    }
    assert_eq!(app.stored(), before);
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials, routes and methods
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_campaign_route_needs_credentials() {
    // arrange
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let before = app.stored();
    let anonymous = app.api.with_account(None);
    let intruder = app.api.with_account(Some(("TAPINK-ACCOUNT", "wrong")));
    let routes = ROUTES.iter().filter(|r| r.contains("/targets/") || r.contains("/tapink/v1/"));

    for route in routes {
        let (method, path) = route.split_once(' ').expect("METHOD PATH");
        let method: Method = method.parse().expect("a method");
        let path = path.replace("{id}", "7");
        let body = seed_campaign("x").to_string();

        // act
        let without = anonymous.send(method.clone(), &path, body.clone(), &[]).await;
        let wrong = intruder.send(method.clone(), &path, body, &[]).await;

        // assert
        assert_eq!(assert_clevertap_error(&without, 401), "Account ID is not valid", "{route}");
        assert_eq!(assert_clevertap_error(&wrong, 401), "Passcode is not valid for this Account ID", "{route}");
    }
    assert_eq!(app.stored(), before, "nothing changed without credentials");
    app.shutdown().await;
}

#[tokio::test]
async fn an_unknown_route_is_404_and_a_wrong_method_is_405_naming_the_allowed_methods() {
    let app = PipelineApp::start().await;
    let anonymous = app.api.with_account(None);
    for client in [&app.api, &anonymous] {
        let send = |method: Method, path: &'static str| {
            let client: EngineClient = client.clone();
            async move { client.send(method, path, "", &[]).await }
        };
        let unknown = send(Method::GET, "/tapink/v1/campaign").await;
        assert_eq!(assert_clevertap_error(&unknown, 404), "No such API: GET /tapink/v1/campaign");
        let estimate = send(Method::POST, "/1/targets/estimate.json").await;
        assert_eq!(assert_clevertap_error(&estimate, 404), "No such API: POST /1/targets/estimate.json");
        let cases = [
            (
                Method::GET,
                "/tapink/v1/campaigns/7/publish",
                "Method GET is not allowed on /tapink/v1/campaigns/7/publish; use POST",
            ),
            (
                Method::DELETE,
                "/tapink/v1/campaigns/7",
                "Method DELETE is not allowed on /tapink/v1/campaigns/7; use GET or PATCH",
            ),
            (Method::PUT, "/tapink/v1/campaigns", "Method PUT is not allowed on /tapink/v1/campaigns; use GET or POST"),
            (
                Method::DELETE,
                "/tapink/v1/webhooks",
                "Method DELETE is not allowed on /tapink/v1/webhooks; use GET or POST",
            ),
            (Method::GET, "/1/targets/list.json", "Method GET is not allowed on /1/targets/list.json; use POST"),
            (Method::GET, "/1/targets/create.json", "Method GET is not allowed on /1/targets/create.json; use POST"),
        ];
        for (method, path, expected) in cases {
            let reply = send(method.clone(), path).await;
            assert_eq!(assert_clevertap_error(&reply, 405), expected, "{method} {path}");
        }
    }
    app.shutdown().await;
}
