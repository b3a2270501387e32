//! The request journal (`/__admin/requests`), the counts that outlive it (`/__admin/counts`) and health.

use bytes::Bytes;
use http::Method;
use inkit_mock::{ApiToken, MockConfig};
use integration_tests::{MockServer, SEED_TEMPLATE_HTML, create_template, seed_params};
use serde_json::{Value, json};

fn items(journal: &Value) -> &Vec<Value> {
    journal["items"].as_array().unwrap_or_else(|| panic!("no items in {journal}"))
}

#[tokio::test]
async fn every_request_is_journaled_including_rejected_ones() {
    // arrange
    let mock = MockServer::start_with(MockConfig { body_limit: 1024, ..MockConfig::default() }).await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let good = json!({"template_id": template, "merge_parameters": seed_params("Ada")});
    assert_eq!(client.delete("/__admin/requests").await.status, 204);

    // act
    let sent = [
        client.with_token(None).post("/v1/generate", &good).await.status,
        client.send(Method::POST, "/v1/generate", Bytes::from_static(b"{broken"), &[]).await.status,
        client.post("/v1/generate", &json!({"pad": "x".repeat(2000)})).await.status,
        client.get("/v1/render/rend_unknown").await.status,
        client.get("/v1/nowhere?x=1").await.status,
        client.post("/generate", &good).await.status,
    ];
    let journal = client.get("/__admin/requests").await.json();

    // assert
    assert_eq!(sent, [401, 400, 413, 404, 404, 200]);
    let entries: Vec<&Value> = items(&journal).iter().filter(|e| e["route"] != "DELETE /__admin/requests").collect();
    let seen: Vec<(&str, &str, &str, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap(),
                e["path"].as_str().unwrap(),
                e["route"].as_str().unwrap(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/generate", "POST /generate", 200),
            ("GET", "/v1/nowhere", "GET /nowhere", 404),
            ("GET", "/v1/render/rend_unknown", "GET /render/{id}", 404),
            ("POST", "/v1/generate", "POST /generate", 413),
            ("POST", "/v1/generate", "POST /generate", 400),
            ("POST", "/v1/generate", "POST /generate", 401),
        ],
        "newest first: {journal}"
    );
    for e in &entries {
        assert!(e["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
        assert!(e["body_excerpt"].is_string(), "{e}");
        assert!(e["received_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    }
    assert_eq!(entries[4]["body_excerpt"], "{broken");
    assert_eq!(entries[5]["body_excerpt"], good.to_string());
    assert_eq!(entries[1]["query"], "x=1");
    assert!(entries[0]["body_excerpt"].as_str().unwrap().contains(&template));
}

#[tokio::test]
async fn the_api_token_never_appears_in_the_journal_only_its_name() {
    // arrange
    let secret = "tok-very-secret-1234567890";
    let tokens = vec![ApiToken { name: "crm".into(), token: secret.into() }];
    let mock = MockServer::start_with(MockConfig { tokens, ..MockConfig::default() }).await;
    let client = mock.client().with_token(Some(secret));
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;

    // act
    client.post("/v1/generate", &json!({"template_id": template, "merge_parameters": seed_params("Ada")})).await;
    let unknown = client.with_token(Some("tok-guessed-secret-999")).get("/v1/render").await;
    let journal = client.get("/__admin/requests").await;
    let counts = client.get("/__admin/counts").await;
    let history = client.get("/__admin/history").await;

    // assert
    assert_eq!(unknown.status, 401);
    for reply in [&journal, &counts, &history] {
        let text = reply.text();
        assert!(!text.contains(secret), "the token leaked: {text}");
        assert!(!text.contains("tok-guessed-secret-999"), "an unknown token leaked: {text}");
    }
    let journal = journal.json();
    let token_headers: Vec<&str> =
        items(&journal).iter().map(|e| e["headers"]["x-inkit-api-token"].as_str().unwrap_or("")).collect();
    assert_eq!(token_headers, ["<unknown token>", "<token crm>", "<token crm>"]);
}

#[tokio::test]
async fn the_journal_filters_by_route_and_status() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let good = json!({"template_id": template, "merge_parameters": seed_params("Ada")});
    client.post("/v1/generate", &good).await;
    client.post("/generate", &json!({})).await;
    client.with_token(None).post("/v1/generate", &good).await;
    client.with_token(Some("nope")).get("/v1/render").await;
    client.get("/v1/render").await;

    // act
    let by_route = client.get("/__admin/requests?route=POST%20/generate").await.json();
    let by_route_plus = client.get("/__admin/requests?route=POST+/generate").await.json();
    let by_status = client.get("/__admin/requests?status=401").await.json();
    let both = client.get("/__admin/requests?route=GET%20/render&status=401").await.json();
    let limited = client.get("/__admin/requests?limit=2").await.json();
    let bad_status = client.get("/__admin/requests?status=teapot").await;

    // assert
    let statuses = |j: &Value| items(j).iter().map(|e| e["status"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(statuses(&by_route), [401, 422, 200]);
    assert!(items(&by_route).iter().all(|e| e["route"] == "POST /generate"));
    assert_eq!(by_route_plus["items"], by_route["items"], "+ reads as a space");
    assert_eq!(statuses(&by_status), [401, 401]);
    let routes: Vec<&str> = items(&by_status).iter().map(|e| e["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["GET /render", "POST /generate"]);
    assert_eq!(items(&both).len(), 1);
    assert_eq!(items(&limited).len(), 2);
    assert_eq!(bad_status.status, 422);
    assert_eq!(bad_status.json()["field"], "status");
}

#[tokio::test]
async fn a_small_journal_keeps_the_newest_requests_and_counts_keep_them_all() {
    // arrange
    let mock = MockServer::start_with(MockConfig { journal_capacity: 5, ..MockConfig::default() }).await;
    let client = mock.client();

    // act: 12 requests, 4 of them refused
    for i in 0..8 {
        let reply = client.get(&format!("/v1/template?page={}", i + 1)).await;
        assert_eq!(reply.status, 200);
    }
    for _ in 0..4 {
        assert_eq!(client.with_token(None).get("/v1/render").await.status, 401);
    }
    let journal = client.get("/__admin/requests").await.json();
    let counts = client.get("/__admin/counts").await.json();

    // assert
    assert_eq!(items(&journal).len(), 5);
    assert_eq!(journal["total_received"], 12);
    assert_eq!(journal["dropped_from_journal"], 7);
    let kept: Vec<(&str, Option<&str>)> =
        items(&journal).iter().map(|e| (e["route"].as_str().unwrap(), e["query"].as_str())).collect();
    assert_eq!(
        kept,
        [
            ("GET /render", None),
            ("GET /render", None),
            ("GET /render", None),
            ("GET /render", None),
            ("GET /template", Some("page=8")),
        ]
    );
    assert_eq!(counts["total"], 13, "the 12 requests and the journal query: {counts}");
    assert_eq!(counts["routes"]["GET /template"]["total"], 8, "{counts}");
    assert_eq!(counts["routes"]["GET /template"]["by_status"]["200"], 8, "{counts}");
    assert_eq!(counts["routes"]["GET /render"]["total"], 4, "{counts}");
    assert_eq!(counts["routes"]["GET /render"]["by_status"]["401"], 4, "{counts}");
}

#[tokio::test]
async fn deleting_the_journal_empties_it() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    for _ in 0..3 {
        client.get("/v1/template").await;
    }

    // act
    let deleted = client.delete("/__admin/requests").await;
    let journal = client.get("/__admin/requests").await.json();
    let counts = client.get("/__admin/counts").await.json();

    // assert
    assert_eq!((deleted.status, deleted.content_type()), (204, "application/json"));
    let routes: Vec<&str> = items(&journal).iter().map(|e| e["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["DELETE /__admin/requests"], "only the delete itself is journaled after it");
    assert_eq!(counts["routes"].get("GET /template"), None, "{counts}");
}

#[tokio::test]
async fn health_says_ok_with_counts() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    create_template(&client, "Second", "<p>{{x}}</p>").await;
    for name in ["Ada", "Bo", "Cy"] {
        client.post("/v1/generate", &json!({"template_id": template, "merge_parameters": seed_params(name)})).await;
    }

    // act
    let health = client.get("/__admin/health").await;
    let anonymous = client.with_token(None).get("/__admin/health").await;

    // assert
    assert_eq!((health.status, health.content_type()), (200, "application/json"));
    let h = health.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["history_entries"], 3);
    assert_eq!(h["templates"], 2);
    assert_eq!(h["time"], "2026-11-27T09:00:00.000Z");
    assert_eq!(anonymous.status, 200, "the admin API needs no token");
}

#[tokio::test]
async fn a_long_body_is_kept_as_an_excerpt_with_its_full_size() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let body = json!({"template_id": "tmpl_x", "merge_parameters": {"Name": "a".repeat(5000)}});

    // act
    client.post("/v1/generate", &body).await;
    let journal = client.get("/__admin/requests?limit=1").await.json();

    // assert
    let entry = &items(&journal)[0];
    assert_eq!(entry["body_bytes"], body.to_string().len());
    let excerpt = entry["body_excerpt"].as_str().unwrap();
    assert_eq!(excerpt.len(), 2048);
    assert!(body.to_string().starts_with(excerpt));
}

#[tokio::test]
async fn a_request_abandoned_during_an_injected_delay_is_journaled_with_status_0() {
    // arrange: every generate waits 400 ms before it is handled
    let mock = MockServer::start().await;
    let client = mock.client();
    let plan = serde_json::json!({"fault": [{"route": "POST /generate", "kind": "latency", "ms": 400}]});
    assert_eq!(client.put("/__admin/faults", &plan).await.status, 200);

    // act: the client gives up after 100 ms and closes its connection
    let body = serde_json::json!({"template_id": "tmpl_x", "merge_parameters": {}});
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(100), client.post("/v1/generate", &body)).await;
    assert!(gave_up.is_err(), "the request should still be waiting");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;

    // assert: the journal and the counts still know about it
    let journal = client.get("/__admin/requests?route=POST%20/generate").await.json();
    let items = journal["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{journal}");
    assert_eq!(items[0]["status"], 0);
    assert_eq!(items[0]["fault"], "latency 400 ms");
    let counts = client.get("/__admin/counts").await.json();
    assert_eq!(counts["routes"]["POST /generate"]["total"], 1, "{counts}");
}
