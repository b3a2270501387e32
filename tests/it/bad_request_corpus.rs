//! The malformed-request corpus (`fixtures/bad-requests/`, format in docs/testing.md) sent to real servers
//! over loopback: every route of inkit-mock and of the engine API gets bad JSON, wrong types, missing fields,
//! huge bodies, invalid UTF-8, unknown ids, missing or wrong credentials and wrong methods. Each case must get
//! its documented 4xx in JSON with a message naming the problem; the server must keep serving; and what it
//! stores must be unchanged.

use std::collections::HashMap;

use bytes::Bytes;
use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE};
use http::Method;
use integration_tests::{
    Case, Client, Corpus, Credentials, MockServer, PipelineApp, Reply, SEED_TEMPLATE_HTML, create_template, generate,
    seed_body, seed_params,
};
use serde_json::{Value, json};

/// The fewest cases each corpus must hold: it cannot silently shrink to nothing.
const MIN_INKIT_CASES: usize = 150;
const MIN_ENGINE_CASES: usize = 120;

fn inkit_credentials(credentials: Credentials) -> Vec<(&'static str, &'static str)> {
    match credentials {
        Credentials::Valid => vec![("X-Inkit-API-Token", inkit_mock::DEFAULT_TOKEN)],
        Credentials::None => vec![],
        Credentials::Wrong => vec![("X-Inkit-API-Token", "not-a-real-token")],
        other => panic!("credentials {other:?} are the engine's, not inkit-mock's"),
    }
}

fn engine_credentials(credentials: Credentials) -> Vec<(&'static str, &'static str)> {
    let (id, passcode) = ("X-CleverTap-Account-Id", "X-CleverTap-Passcode");
    match credentials {
        Credentials::Valid => vec![(id, DEFAULT_ACCOUNT_ID), (passcode, DEFAULT_PASSCODE)],
        Credentials::None => vec![],
        Credentials::Wrong => vec![(id, DEFAULT_ACCOUNT_ID), (passcode, "wrong")],
        Credentials::UnknownAccount => vec![(id, "NOT-AN-ACCOUNT"), (passcode, DEFAULT_PASSCODE)],
        Credentials::NoPasscode => vec![(id, DEFAULT_ACCOUNT_ID)],
    }
}

/// inkit-mock's error shape: exactly `error`, `code` (the status), `type` (the kind the status stands for, as
/// docs/inkit-mock.md lists them) and `field`.
fn inkit_shape(reply: &Reply) -> Option<String> {
    let body: Value = serde_json::from_slice(&reply.body).ok()?;
    let mut keys: Vec<&str> = body.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    keys.sort_unstable();
    let kind = match reply.status {
        400 => "malformed_body",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        422 => "validation_failed",
        _ => "",
    };
    (keys != ["code", "error", "field", "type"] || body["code"] != reply.status || body["type"] != kind)
        .then(|| format!("not the error shape with code {} and type {kind:?}", reply.status))
}

/// CleverTap's error shape: exactly `{"status": "fail", "error", "code"}`, `code` the status.
fn clevertap_shape(reply: &Reply) -> Option<String> {
    let body: Value = serde_json::from_slice(&reply.body).ok()?;
    let keys = body.as_object().map_or(0, serde_json::Map::len);
    (keys != 3 || body["status"] != "fail" || body["code"] != reply.status)
        .then(|| format!("not CleverTap's error shape with code {}", reply.status))
}

/// Sends every case, checking the answer's shape with `shape` and, after each, that the server still answers
/// `alive`; fails naming every case answered wrongly.
async fn run(
    cases: &[Case],
    client: &Client,
    ids: &HashMap<&str, String>,
    credentials: fn(Credentials) -> Vec<(&'static str, &'static str)>,
    shape: fn(&Reply) -> Option<String>,
    alive: &str,
) {
    let mut problems = Vec::new();
    for case in cases {
        let reply = case.send(client, ids, credentials).await;
        problems.extend(case.check(&reply, ids));
        problems.extend(shape(&reply).map(|p| format!("{}: {p}; answer: {}", case.name, reply.text())));
        let after = client.send(Method::GET, alive, Bytes::new(), &credentials(Credentials::Valid)).await;
        assert_eq!(after.status, 200, "after {}: the server stopped serving: {}", case.name, after.text());
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases answered wrongly:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}

/// What inkit-mock stores, through its admin API: History (every entry, in full), templates, batches, the
/// fault plan.
async fn inkit_stored(admin: &Client) -> Value {
    let mut stored = json!({});
    for path in
        ["/__admin/history?page_size=1000&sort=created_at", "/__admin/templates?page_size=1000", "/__admin/faults"]
    {
        let reply = admin.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        stored[path] = reply.json();
    }
    let batches = admin.with_token(Some(inkit_mock::DEFAULT_TOKEN)).get("/v1/batch?page_size=100").await;
    stored["batches"] = batches.json();
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_inkit_mock_route_refuses_the_bad_request_corpus_and_stores_nothing() {
    // arrange: a template, a render and a batch for the cases to name
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let (render, document) = generate(&client, &template, seed_params("Ada")).await;
    let batch = client
        .post("/v1/batch", &json!({"template_id": template, "renders": [{"merge_parameters": seed_params("Bo")}]}))
        .await;
    assert_eq!(batch.status, 200, "{}", batch.text());
    let batch = batch.json()["id"].as_str().expect("batch id").to_owned();
    mock.advance(std::time::Duration::from_secs(5));
    let ids =
        HashMap::from([("template", template.clone()), ("render", render), ("document", document), ("batch", batch)]);
    let routes: Vec<String> = inkit_mock::API_ROUTES.iter().map(|r| r.replacen(" /", " /v1/", 1)).collect();
    let routes: Vec<&str> = routes.iter().map(String::as_str).collect();
    let corpus = Corpus::load("inkit.toml", &routes);
    let all_routes: Vec<&str> = inkit_mock::API_ROUTES.iter().chain(inkit_mock::ADMIN_ROUTES).copied().collect();
    corpus.assert_covers(&ids, &all_routes, "/v1");
    let cases = corpus.case;
    let anonymous = Client::new(&mock.url, None);
    let before = inkit_stored(&anonymous).await;

    // act
    run(&cases, &anonymous, &ids, inkit_credentials, inkit_shape, "/v1/template").await;

    // assert
    assert_eq!(inkit_stored(&anonymous).await, before, "a refused request changed what inkit-mock stores");
    generate(&client, &template, seed_params("Cy")).await;
    assert!(cases.len() >= MIN_INKIT_CASES, "only {} inkit-mock cases", cases.len());
    println!("bad-request corpus: {} inkit-mock cases", cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engine_api_route_refuses_the_bad_request_corpus_and_stores_nothing() {
    // arrange: the seed users, the webhook, a draft campaign and a saved segment for the cases to name
    let app = PipelineApp::with_webhook_and_seed_users().await;
    let campaign = app
        .api
        .post(
            "/tapink/v1/campaigns",
            &json!({"name": "Letters", "draft": true, "webhook_endpoint_name": "Inkit", "where": {},
                    "when": "now", "content": {"body": seed_body()}}),
        )
        .await;
    assert_eq!(campaign.status, 200, "{}", campaign.text());
    let campaign = campaign.json()["campaign"]["id"].as_u64().expect("campaign id").to_string();
    let segment = app
        .api
        .post(
            "/tapink/v1/segments",
            &json!({"id": "buyers", "name": "Buyers", "segment": {"did": {"event": "Charged", "ever": true}}}),
        )
        .await;
    assert_eq!(segment.status, 200, "{}", segment.text());
    let ids = HashMap::from([("campaign", campaign)]);
    let corpus = Corpus::load("engine.toml", engine_api::ROUTES);
    corpus.assert_covers(&ids, engine_api::ROUTES, "");
    let cases = corpus.case;
    let client = Client::new(app.pipeline.engine_url().expect("engine url"), None);
    let before = app.stored();

    // act
    run(&cases, &client, &ids, engine_credentials, clevertap_shape, "/tapink/v1/webhooks").await;

    // assert
    assert_eq!(app.stored(), before, "a refused request changed what the engine stores");
    assert_eq!(app.history_count().await, 1, "only the webhook's test request reached Inkit");
    app.api.upload_ok(json!([{"type": "profile", "identity": "after", "profileData": {"Name": "After"}}])).await;
    assert!(cases.len() >= MIN_ENGINE_CASES, "only {} engine-api cases", cases.len());
    println!("bad-request corpus: {} engine-api cases", cases.len());
    app.shutdown().await;
}
