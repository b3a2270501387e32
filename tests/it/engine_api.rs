//! The engine API's good paths over real HTTP: uploads, profile lookups, both forms of the profiles and events
//! exports walked page by page, counts, deletion, warnings for filters that are not evaluated, cursor
//! lifetime, and graceful shutdown.

use std::time::Duration;

use integration_tests::{EngineClient, EngineServer, Export, assert_clevertap_error};
use serde_json::{Value, json};

/// `n` users `u0…`, each with a Charged event of Amount i on 2026-11-0{1,2}; tiers alternate gold/silver.
fn users(n: usize) -> Value {
    let mut records = Vec::new();
    for i in 0..n {
        let tier = if i % 2 == 0 { "gold" } else { "silver" };
        records.push(json!({"type": "profile", "identity": format!("u{i}"), "ts": 1_793_523_600,
            "profileData": {"Name": format!("User {i}"), "Email": format!("u{i}@example.com"), "Tier": tier}}));
        records.push(json!({"type": "event", "identity": format!("u{i}"), "ts": 1_793_610_000 + (i as i64 % 2) * 86_400,
            "evtName": "Charged", "evtData": {"Amount": i, "Items": [{"Category": if i % 3 == 0 { "books" } else { "toys" }}]}}));
    }
    Value::Array(records)
}

/// A server holding `users(n)`.
async fn server_with_users(n: usize) -> (EngineServer, EngineClient) {
    let server = EngineServer::start().await;
    let client = server.client();
    client.upload_ok(users(n)).await;
    (server, client)
}

fn charged_in_november() -> Value {
    json!({"event_name": "Charged", "from": 20261101, "to": 20261130})
}

fn identities(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r["identity"].as_str().unwrap_or("?").to_owned()).collect()
}

#[tokio::test]
async fn an_upload_answers_processed_and_unprocessed_and_keeps_only_the_good_records() {
    // arrange
    let server = EngineServer::start().await;
    let client = server.client();

    // act
    let reply = client
        .upload(json!([
            {"type": "profile", "identity": "ada", "profileData": {"Name": "Ada", "Email": "ada@example.com"}},
            {"type": "profile", "identity": "bad", "profileData": {"Email": "not an email"}},
            {"type": "event", "identity": "ada", "evtName": "Charged", "evtData": {"Amount": 5}},
        ]))
        .await;

    // assert
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type(), "application/json");
    let body = reply.json();
    assert_eq!(body["status"], "partial");
    assert_eq!(body["processed"], 2);
    assert_eq!(body["unprocessed"][0]["code"], 515);
    assert_eq!(
        body["unprocessed"][0]["error"],
        "Profile data is incorrect. Email is not valid.Skipped record number : 2"
    );
    assert_eq!(body["unprocessed"][0]["record"]["identity"], "bad");
    let engine = server.engine();
    assert_eq!((engine.store().profile_count(), engine.store().event_count()), (1, 1));
}

#[tokio::test]
async fn a_dry_run_answers_as_an_upload_would_and_stores_nothing() {
    // arrange
    let server = EngineServer::start().await;
    let client = server.client();
    let body = json!({"d": [{"type": "profile", "identity": "ada", "profileData": {"Name": "Ada"}},
                            {"type": "event", "identity": "ada", "evtName": "App Launched", "evtData": {}}]});

    // act
    let dry = client.post("/1/upload?dryRun=1", &body).await;
    let stored_after_dry_run = server.stored();
    let real = client.post("/1/upload?dryRun=0", &body).await;

    // assert
    assert_eq!(dry.status, 200);
    assert_eq!(dry.json()["processed"], 1);
    assert_eq!(dry.json()["unprocessed"][0]["code"], 513);
    assert_eq!(stored_after_dry_run, json!([]));
    assert_eq!(real.json(), dry.json());
    assert_eq!(server.engine().store().profile_count(), 1);
}

#[tokio::test]
async fn a_profile_is_found_by_email_identity_or_object_id_in_clevertaps_record_shape() {
    // arrange
    let server = EngineServer::start().await;
    let client = server.client();
    client
        .upload_ok(json!([
            {"type": "profile", "identity": "ada 1", "objectId": "obj-ada", "ts": 1_793_523_600,
             "profileData": {"Name": "Ada", "Email": "ada+news@example.com", "Phone": "+14155550100", "Tz": "Europe/London"}},
            {"type": "event", "identity": "ada 1", "ts": 1_793_610_000, "evtName": "Charged", "evtData": {"Amount": 1}},
            {"type": "event", "identity": "ada 1", "ts": 1_793_696_400, "evtName": "Charged", "evtData": {"Amount": 2}},
        ]))
        .await;

    // act: the Node library sends values unencoded; other clients encode them
    let raw_email = client.profile("email=ada+news@example.com").await;
    let encoded_email = client.profile("email=ada%2Bnews%40example.com").await;
    let identity = client.profile("identity=ada%201").await;
    let object_id = client.profile("objectId=obj-ada").await;
    let first_wins = client.profile("objectId=nobody&email=ada+news@example.com").await;

    // assert: the record's objectId is the CleverTap ID; obj-ada is another way to find the user
    assert_eq!(raw_email.status, 200, "{}", raw_email.text());
    let clevertap_id = raw_email.json()["record"]["objectId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        raw_email.json(),
        json!({"status": "success", "record": {
            "identity": "ada 1", "objectId": clevertap_id, "email": "ada+news@example.com", "name": "Ada",
            "phone": "+14155550100", "profileData": {"Tz": "Europe/London"},
            "events": {"Charged": {"count": 2, "first_seen": 1_793_610_000, "last_seen": 1_793_696_400}},
            "platformInfo": []}})
    );
    for reply in [&encoded_email, &identity, &object_id, &first_wins] {
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["record"]["objectId"], clevertap_id.as_str());
    }
}

#[tokio::test]
async fn an_unknown_user_is_404_in_clevertaps_error_shape() {
    let server = EngineServer::start().await;
    let reply = server.client().profile("email=nobody@example.com").await;
    assert_eq!(assert_clevertap_error(&reply, 404), "No user profile with email nobody@example.com");
}

#[tokio::test]
async fn profiles_walk_every_page_with_the_node_librarys_get_form() {
    // arrange
    let (_server, client) = server_with_users(23).await;

    // act
    let walk = client.walk_get(Export::Profiles, &json!({}), 5).await;

    // assert
    let sizes: Vec<usize> = walk.pages.iter().map(|p| p["records"].as_array().map_or(0, Vec::len)).collect();
    assert_eq!(sizes, [5, 5, 5, 5, 3]);
    let expected: Vec<String> = (0..23).map(|i| format!("u{i}")).collect();
    assert_eq!(identities(&walk.records), expected);
    assert!(walk.pages.last().unwrap().get("next_cursor").is_none());
    assert_eq!(walk.records[4]["email"], "u4@example.com");
    assert_eq!(walk.records[4]["profileData"]["Tier"], "gold");
    assert_eq!(walk.records[4]["events"]["Charged"]["count"], 1);
}

#[tokio::test]
async fn profiles_walk_every_page_with_the_documented_post_then_cursor_form() {
    // arrange
    let (_server, client) = server_with_users(23).await;
    let gold_buyers = json!({"event_name": "Charged", "from": 20261101, "to": 20261130,
        "common_profile_properties": {"profile_fields": [{"name": "Tier", "operator": "equals", "value": "gold"}]}});

    // act
    let walk = client.walk_post(Export::Profiles, &gold_buyers, 4).await;

    // assert: u0, u2, …, u22
    let expected: Vec<String> = (0..23).filter(|i| i % 2 == 0).map(|i| format!("u{i}")).collect();
    assert_eq!(identities(&walk.records), expected);
    assert_eq!(walk.pages.len(), 3);
    assert_eq!(client.count(Export::Profiles, &gold_buyers).await, 12);
}

#[tokio::test]
async fn events_walk_every_page_in_both_forms_with_exact_counts() {
    // arrange
    let (_server, client) = server_with_users(30).await;
    let books = json!({"event_name": "Charged", "from": 20261101, "to": 20261130,
        "event_properties": [{"name": "Category", "operator": "equals", "value": "books"}]});

    // act
    let all_get = client.walk_get(Export::Events, &charged_in_november(), 7).await;
    let all_post = client.walk_post(Export::Events, &charged_in_november(), 7).await;
    let books_get = client.walk_get(Export::Events, &books, 3).await;
    let first_day = client
        .walk_post(Export::Events, &json!({"event_name": "Charged", "from": 20261102, "to": 20261102}), 100)
        .await;

    // assert
    assert_eq!(all_get.records.len(), 30);
    assert_eq!(all_get.pages.len(), 5);
    assert_eq!(all_post.records, all_get.records);
    assert_eq!(books_get.records.len(), 10, "u0, u3, …, u27 bought books");
    assert_eq!(first_day.records.len(), 15);
    assert_eq!(client.count(Export::Events, &charged_in_november()).await, 30);
    assert_eq!(client.count(Export::Events, &books).await, 10);
    let record = &all_get.records[3];
    assert_eq!(record["identity"], "u3");
    assert_eq!(record["ts"], 1_793_696_400);
    assert_eq!(record["event_props"]["Amount"], 3);
    assert_eq!(record["session_props"], json!({}));
    assert_eq!(record["profileData"]["Tier"], "silver");
    assert!(record["objectId"].as_str().is_some_and(|id| !id.is_empty()), "{record}");
}

#[tokio::test]
async fn a_query_that_fits_one_page_has_no_next_cursor_and_an_empty_result_has_no_records() {
    // arrange
    let (_server, client) = server_with_users(3).await;

    // act
    let one_page = client.walk_get(Export::Profiles, &json!({}), 10).await;
    let nobody =
        client.walk_post(Export::Events, &json!({"event_name": "Nothing", "from": 20261101, "to": 20261130}), 10).await;

    // assert
    assert_eq!(one_page.pages.len(), 1);
    assert_eq!(one_page.records.len(), 3);
    assert_eq!(nobody.pages, [json!({"status": "success", "records": []})]);
}

#[tokio::test]
async fn counts_answer_synchronously() {
    let (_server, client) = server_with_users(9).await;
    let reply = client.post("/1/counts/profiles.json", &json!({})).await;
    assert_eq!(reply.json(), json!({"status": "success", "count": 9}));
    let reply = client.post("/1/counts/events.json", &charged_in_november()).await;
    assert_eq!(reply.json(), json!({"status": "success", "count": 9}));
}

#[tokio::test]
async fn deleting_profiles_removes_them_and_their_events() {
    // arrange
    let (server, client) = server_with_users(5).await;
    let u4 = client.profile("identity=u4").await.json()["record"]["objectId"].as_str().unwrap().to_owned();

    // act
    let reply =
        client.post("/1/delete/profiles.json", &json!({"identity": ["u1", "u2", "nobody"], "guid": [u4]})).await;

    // assert
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"status": "success"}));
    for gone in ["identity=u1", "identity=u2", "email=u4@example.com"] {
        assert_eq!(client.profile(gone).await.status, 404, "{gone}");
    }
    assert_eq!(client.profile("identity=u0").await.status, 200);
    assert_eq!(client.count(Export::Profiles, &json!({})).await, 2);
    assert_eq!(client.count(Export::Events, &charged_in_november()).await, 2);
    assert_eq!(server.engine().store().event_count(), 2);
}

#[tokio::test]
async fn users_deleted_between_pages_are_left_out_of_later_pages() {
    // arrange
    let (_server, client) = server_with_users(6).await;
    let first = client
        .get(&format!("/1/profiles.json?batch_size=3&query={}", integration_tests::url_encode("{}")))
        .await
        .json();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();

    // act
    client.post("/1/delete/profiles.json", &json!({"identity": ["u4"]})).await;
    let second = client.get(&format!("/1/profiles.json?cursor={cursor}")).await.json();

    // assert
    assert_eq!(identities(first["records"].as_array().unwrap()), ["u0", "u1", "u2"]);
    assert_eq!(identities(second["records"].as_array().unwrap()), ["u3", "u5"]);
    assert!(second.get("next_cursor").is_none());
}

#[tokio::test]
async fn reading_a_cursor_again_gives_the_same_page() {
    let (_server, client) = server_with_users(4).await;
    let cursor =
        client.post("/1/profiles.json?batch_size=2", &json!({})).await.json()["cursor"].as_str().unwrap().to_owned();
    let first = client.get(&format!("/1/profiles.json?cursor={cursor}")).await;
    let again = client.get(&format!("/1/profiles.json?cursor={cursor}")).await;
    assert_eq!(first.json(), again.json());
    assert_eq!(first.json()["records"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_cursor_expires_four_hours_after_its_query() {
    // arrange
    let (server, client) = server_with_users(4).await;
    let cursor = client.post("/1/events.json?batch_size=2", &charged_in_november()).await.json()["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/1/events.json?cursor={cursor}");

    // act
    server.advance(Duration::from_secs(4 * 3600 - 1));
    let just_before = client.get(&path).await;
    server.advance(Duration::from_secs(1));
    let at_expiry = client.get(&path).await;

    // assert
    assert_eq!(just_before.status, 200, "{}", just_before.text());
    let message = assert_clevertap_error(&at_expiry, 400);
    assert!(message.starts_with("cursor: unknown cursor"), "{message}");
}

#[tokio::test]
async fn filters_that_are_accepted_but_not_evaluated_add_warnings() {
    // arrange
    let (_server, client) = server_with_users(2).await;
    let query = json!({"event_name": "Charged", "from": 20261101, "to": 20261130,
        "session_properties": [{"name": "utm_source", "value": "google"}],
        "common_profile_properties": {"geo_fields": [["India"]]}});
    let expected = json!([
        "common_profile_properties.geo_fields is accepted but not evaluated yet: it does not narrow the result",
        "session_properties is accepted but not evaluated yet: it does not narrow the result"
    ]);

    // act
    let cursor = client.post("/1/profiles.json", &query).await.json();
    let count = client.post("/1/counts/events.json", &query).await.json();
    let walk = client.walk_get(Export::Events, &query, 10).await;

    // assert
    assert_eq!(cursor["warnings"], expected);
    assert_eq!(count["warnings"], expected);
    assert_eq!(count["count"], 2, "the unevaluated filters do not narrow");
    assert_eq!(walk.pages[0]["warnings"], expected);
    let plain = client.post("/1/counts/events.json", &charged_in_november()).await.json();
    assert!(plain.get("warnings").is_none(), "{plain}");
}

#[tokio::test]
async fn every_configured_account_is_accepted() {
    let config = engine_api::EngineApiConfig {
        accounts: vec!["ACME=one".parse().unwrap(), "QA=two".parse().unwrap()],
        ..engine_api::EngineApiConfig::default()
    };
    let server = EngineServer::start_with(config).await;
    let client = server.client();
    for (id, passcode) in [("ACME", "one"), ("QA", "two")] {
        let reply = client.with_account(Some((id, passcode))).post("/1/counts/profiles.json", &json!({})).await;
        assert_eq!(reply.status, 200, "{id}: {}", reply.text());
    }
    let default = client.post("/1/counts/profiles.json", &json!({})).await;
    assert_eq!(assert_clevertap_error(&default, 401), "Account ID is not valid");
}

#[tokio::test]
async fn after_shutdown_no_connection_is_accepted_and_what_was_accepted_is_kept() {
    // arrange
    let (server, _client) = server_with_users(3).await;
    let (engine, addr) = (server.engine.clone(), server.url.trim_start_matches("http://").to_owned());

    // act
    server.stop().await;

    // assert
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err(), "still accepting on {addr}");
    assert_eq!(engine.lock().unwrap().store().profile_count(), 3);
}
