//! Fault injection, set through `PUT /__admin/faults` or `MockConfig.faults`: error statuses, 429s, dropped
//! connections, sequences, every n-th, per-token rate limits, latency, seeded probability.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use inkit_mock::{ApiToken, FaultPlan, FaultRule, MockConfig};
use integration_tests::{
    Client, MockServer, Reply, SEED_TEMPLATE_HTML, assert_api_error, create_template, seed_params,
};
use serde_json::{Value, json};

/// A mock with one template, and the body of a valid generate request for it.
async fn mock_with(config: MockConfig) -> (MockServer, Client, Value) {
    let mock = MockServer::start_with(config).await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});
    (mock, client, body)
}

async fn put_plan(client: &Client, plan: Value) -> Reply {
    client.put("/__admin/faults", &plan).await
}

async fn statuses(client: &Client, body: &Value, n: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(client.post("/v1/generate", body).await.status);
    }
    out
}

fn rule(route: &str, kind: &str) -> FaultRule {
    FaultRule { route: route.into(), kind: kind.into(), ..FaultRule::default() }
}

#[tokio::test]
async fn a_status_fault_set_through_admin_answers_500_injected_and_stores_nothing() {
    // arrange
    let (mock, client, body) = mock_with(MockConfig::default()).await;
    let plan =
        json!({"seed": 1, "fault": [{"route": "POST /generate", "kind": "status", "status": 500, "probability": 1.0}]});
    let put = put_plan(&client, plan).await;
    assert_eq!(put.status, 200, "{}", put.text());

    // act
    let with_prefix = client.post("/v1/generate", &body).await;
    let without_prefix = client.post("/generate", &body).await;
    let other_route = client.post("/v1/render", &body).await;

    // assert
    for reply in [&with_prefix, &without_prefix] {
        let err = assert_api_error(reply, 500, None);
        assert_eq!(err["type"], "injected_fault");
    }
    assert_eq!(other_route.status, 200, "the rule is for POST /generate only: {}", other_route.text());
    assert_eq!(mock.inkit.entry_count(), 1, "only the unfaulted render is stored");
    let plan = client.get("/__admin/faults").await.json();
    assert_eq!(plan["seed"], 1);
    assert_eq!(plan["fault"][0]["route"], "POST /generate");
    assert_eq!(plan["fault"][0]["status"], 500);
    let journal = client.get("/__admin/requests?route=POST%20/generate").await.json();
    assert_eq!(journal["items"][0]["fault"], "fault[0] status 500", "{journal}");
}

#[tokio::test]
async fn a_fault_plan_given_in_the_config_is_in_force_from_the_start() {
    // arrange
    let faults = FaultPlan { seed: 3, faults: vec![FaultRule { status: Some(503), ..rule("POST *", "status") }] };
    let mock = MockServer::start_with(MockConfig { faults, ..MockConfig::default() }).await;
    let client = mock.client();

    // act
    let template = client.post("/v1/template", &json!({"name": "x", "source": "html", "file": "PHA+"})).await;
    let generate = client.post("/v1/generate", &json!({})).await;
    let list = client.get("/v1/template").await;

    // assert
    for reply in [&template, &generate] {
        let err = assert_api_error(reply, 503, None);
        assert_eq!(err["type"], "injected_fault");
        assert_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    }
    assert_eq!(list.status, 200, "GET is not matched by \"POST *\"");
    assert_eq!(client.get("/__admin/faults").await.json()["fault"][0]["route"], "POST *");
}

#[tokio::test]
async fn too_many_requests_answers_429_with_retry_after() {
    // arrange
    let (mock, client, body) = mock_with(MockConfig::default()).await;
    put_plan(&client, json!({"fault": [{"route": "POST /generate", "kind": "too_many_requests", "retry_after_s": 7}]}))
        .await;

    // act
    let reply = client.post("/v1/generate", &body).await;

    // assert
    assert_api_error(&reply, 429, None);
    assert_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    assert_eq!(mock.inkit.entry_count(), 0);
    put_plan(&client, json!({"fault": [{"route": "POST /generate", "kind": "too_many_requests"}]})).await;
    let default = client.post("/v1/generate", &body).await;
    assert_eq!(default.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
}

#[tokio::test]
async fn a_close_fault_drops_the_connection_without_an_answer_and_stores_nothing() {
    // arrange
    let (mock, client, body) = mock_with(MockConfig::default()).await;
    put_plan(&client, json!({"fault": [{"route": "POST /generate", "kind": "close"}]})).await;

    // act
    let result = client
        .try_send(Method::POST, "/v1/generate", Bytes::from(body.to_string()), &[("content-type", "application/json")])
        .await;

    // assert
    let error = result.expect_err("the connection should close without an answer");
    assert!(!error.is_empty());
    assert_eq!(mock.inkit.entry_count(), 0);
    let journal = client.get("/__admin/requests?route=POST%20/generate").await.json();
    assert_eq!(journal["items"][0]["status"], 0, "{journal}");
    assert_eq!(journal["items"][0]["fault"], "fault[0] close");
    assert_eq!(client.post("/v1/render", &body).await.status, 200, "other routes still answer");
}

#[tokio::test]
async fn a_sequence_fails_the_first_requests_then_passes() {
    // arrange
    let (mock, client, body) = mock_with(MockConfig::default()).await;
    put_plan(
        &client,
        json!({"fault": [{"route": "POST /generate", "kind": "sequence", "steps": ["500", "500", "ok"]}]}),
    )
    .await;

    // act
    let got = statuses(&client, &body, 4).await;

    // assert
    assert_eq!(got, [500, 500, 200, 200]);
    assert_eq!(mock.inkit.entry_count(), 2);
}

#[tokio::test]
async fn a_repeating_sequence_starts_over_and_can_close() {
    // arrange
    let (_mock, client, body) = mock_with(MockConfig::default()).await;
    put_plan(
        &client,
        json!({"fault": [{"route": "POST /generate", "kind": "sequence", "steps": ["502", "ok"], "then": "repeat"}]}),
    )
    .await;

    // act
    let got = statuses(&client, &body, 5).await;

    // assert
    assert_eq!(got, [502, 200, 502, 200, 502]);
}

#[tokio::test]
async fn every_third_request_fails() {
    // arrange
    let (mock, client, body) = mock_with(MockConfig::default()).await;
    put_plan(&client, json!({"fault": [{"route": "POST /generate", "kind": "every", "n": 3, "outcome": "500"}]})).await;

    // act
    let got = statuses(&client, &body, 7).await;

    // assert
    assert_eq!(got, [200, 200, 500, 200, 200, 500, 200]);
    assert_eq!(mock.inkit.entry_count(), 5);
}

#[tokio::test]
async fn a_rate_limit_applies_per_token() {
    // arrange
    let tokens = vec![
        ApiToken { name: "first".into(), token: "tok-first".into() },
        ApiToken { name: "second".into(), token: "tok-second".into() },
    ];
    let faults = FaultPlan {
        seed: 0,
        faults: vec![FaultRule { limit: Some(2), per_seconds: Some(60), ..rule("POST /generate", "rate_limit") }],
    };
    let mock = MockServer::start_with(MockConfig { tokens, faults, ..MockConfig::default() }).await;
    let first = mock.client().with_token(Some("tok-first"));
    let second = mock.client().with_token(Some("tok-second"));
    let template = create_template(&first, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});

    // act
    let got = statuses(&first, &body, 3).await;
    let limited = first.post("/v1/generate", &body).await;
    let other_token = second.post("/v1/generate", &body).await;
    mock.advance(Duration::from_secs(60));
    let after_window = first.post("/v1/generate", &body).await;

    // assert
    assert_eq!(got, [200, 200, 429]);
    let err = assert_api_error(&limited, 429, None);
    assert_eq!(err["type"], "rate_limited");
    assert_eq!(limited.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("60"));
    assert_eq!(other_token.status, 200, "{}", other_token.text());
    assert_eq!(after_window.status, 200, "a new window starts after per_seconds: {}", after_window.text());
    assert_eq!(mock.inkit.entry_count(), 4);
}

#[tokio::test]
async fn latency_on_one_route_does_not_delay_a_concurrent_request_to_another() {
    // arrange
    let (_mock, client, body) = mock_with(MockConfig::default()).await;
    put_plan(&client, json!({"fault": [{"route": "POST /generate", "kind": "latency", "ms": 300}]})).await;
    let slow_client = client.clone();
    let slow = tokio::spawn(async move {
        let started = Instant::now();
        let reply = slow_client.post("/v1/generate", &body).await;
        (reply.status, started.elapsed())
    });
    // Let the slow request reach the server and start waiting (this test's one real sleep).
    tokio::time::sleep(Duration::from_millis(50)).await;

    // act
    let started = Instant::now();
    let fast = client.get("/v1/template").await;
    let fast_elapsed = started.elapsed();
    let (slow_status, slow_elapsed) = slow.await.unwrap();

    // assert
    assert_eq!(fast.status, 200);
    assert_eq!(slow_status, 200);
    assert!(slow_elapsed >= Duration::from_millis(300), "the latency fault did not delay: {slow_elapsed:?}");
    assert!(fast_elapsed < Duration::from_millis(200), "the other route waited for the slow one: {fast_elapsed:?}");
}

#[tokio::test]
async fn a_slow_answer_stores_the_request_at_once_and_a_client_that_gives_up_leaves_it_stored() {
    // arrange
    let (mock, client, body) = mock_with(MockConfig::default()).await;
    put_plan(&client, json!({"fault": [{"route": "POST /generate", "kind": "slow_answer", "ms": 1000}]})).await;

    // act: give up long before the answer comes, as a client with a short timeout does
    let started = Instant::now();
    let gave_up = tokio::time::timeout(Duration::from_millis(100), client.post("/v1/generate", &body)).await;
    while mock.inkit.entry_count() == 0 && started.elapsed() < Duration::from_millis(900) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stored_before_the_answer = (mock.inkit.entry_count(), started.elapsed());
    let waited = Instant::now();
    let answered = client.post("/v1/generate", &body).await;

    // assert
    assert!(gave_up.is_err(), "the answer came before the slow_answer delay");
    assert_eq!(stored_before_the_answer.0, 1, "stored before the answer was due: {stored_before_the_answer:?}");
    assert_eq!(answered.status, 200, "{}", answered.text());
    assert!(waited.elapsed() >= Duration::from_millis(1000), "the answer was held back: {:?}", waited.elapsed());
    assert_eq!(mock.inkit.entry_count(), 2);
    let journal = client.get("/__admin/requests?route=POST%20/generate").await.json();
    assert_eq!(journal["items"][0]["fault"], "slow answer 1000 ms", "{journal}");
}

#[tokio::test]
async fn a_bad_plan_is_refused_naming_the_field_and_the_old_plan_stays() {
    // arrange
    let (mock, client, body) = mock_with(MockConfig::default()).await;
    let good = json!({"seed": 9, "fault": [{"route": "POST /generate", "kind": "status", "status": 500}]});
    assert_eq!(put_plan(&client, good).await.status, 200);
    let before = client.get("/__admin/faults").await.json();
    let bad_rule = |r: Value| json!({"fault": [{"route": "POST /generate", "kind": "status", "status": 500}, r]});
    let cases = [
        (json!({"fault": [{"route": "POST /generate", "kind": "status", "status": 99}]}), "fault[0].status"),
        (json!({"fault": [{"route": "POST /generate", "kind": "status"}]}), "fault[0].status"),
        (bad_rule(json!({"route": "*", "kind": "explode"})), "fault[1].kind"),
        (bad_rule(json!({"route": "", "kind": "close"})), "fault[1].route"),
        (bad_rule(json!({"route": "POST /v1/generate", "kind": "close"})), "fault[1].route"),
        (bad_rule(json!({"route": "POST /generat", "kind": "close"})), "fault[1].route"),
        (bad_rule(json!({"route": "*", "kind": "close", "probability": 1.5})), "fault[1].probability"),
        (bad_rule(json!({"route": "*", "kind": "sequence", "steps": []})), "fault[1].steps"),
        (bad_rule(json!({"route": "*", "kind": "sequence", "steps": ["ok", "maybe"]})), "fault[1].steps[1]"),
        (bad_rule(json!({"route": "*", "kind": "every", "n": 0, "outcome": "500"})), "fault[1].n"),
        (bad_rule(json!({"route": "*", "kind": "rate_limit", "limit": 1})), "fault[1].per_seconds"),
        (bad_rule(json!({"route": "*", "kind": "latency"})), "fault[1].ms"),
        (json!({"fault": [{"route": "*", "kind": "close", "colour": "red"}]}), "body"),
        (json!({"fault": "none"}), "body"),
    ];

    for (plan, field) in cases {
        // act
        let reply = put_plan(&client, plan.clone()).await;

        // assert
        assert_api_error(&reply, 422, Some(field));
        assert_eq!(client.get("/__admin/faults").await.json(), before, "after {plan}");
    }
    let malformed = client.send(Method::PUT, "/__admin/faults", Bytes::from_static(b"{nope"), &[]).await;
    assert_api_error(&malformed, 400, None);
    assert_eq!(client.post("/v1/generate", &body).await.status, 500, "the old plan is still in force");
    assert_eq!(mock.inkit.entry_count(), 0);
}

#[tokio::test]
async fn deleting_the_plan_clears_every_fault() {
    // arrange
    let (mock, client, body) = mock_with(MockConfig::default()).await;
    put_plan(&client, json!({"seed": 5, "fault": [{"route": "*", "kind": "status", "status": 500}]})).await;
    assert_eq!(client.post("/v1/generate", &body).await.status, 500);

    // act
    let deleted = client.delete("/__admin/faults").await;

    // assert
    assert_eq!((deleted.status, deleted.content_type()), (204, "application/json"));
    assert_eq!(client.get("/__admin/faults").await.json(), json!({"seed": 0, "fault": []}));
    assert_eq!(client.post("/v1/generate", &body).await.status, 200);
    assert_eq!(mock.inkit.entry_count(), 1);
}

#[tokio::test]
async fn admin_routes_are_never_faulted_even_by_a_rule_for_every_route() {
    // arrange
    let faults = FaultPlan { seed: 0, faults: vec![rule("*", "close")] };
    let mock = MockServer::start_with(MockConfig { faults, ..MockConfig::default() }).await;
    let client = mock.client();
    let api = client.try_send(Method::GET, "/v1/template", Bytes::new(), &[]).await;
    assert!(api.is_err(), "API routes are faulted");

    // act
    let mut replies = Vec::new();
    for path in [
        "/__admin/health",
        "/__admin/requests",
        "/__admin/counts",
        "/__admin/history",
        "/__admin/templates",
        "/__admin/faults",
        "/__admin/dashboard",
        "/",
    ] {
        replies.push((path, client.try_send(Method::GET, path, Bytes::new(), &[]).await));
    }
    let status_everywhere = json!({"fault": [{"route": "*", "kind": "status", "status": 500}]});
    let put = put_plan(&client, status_everywhere).await;
    let reset = client.send(Method::POST, "/__admin/reset?keep_history=true", Bytes::new(), &[]).await;
    let health = client.get("/__admin/health").await;
    let cleared = client.delete("/__admin/faults").await;

    // assert
    for (path, reply) in replies {
        let reply = reply.unwrap_or_else(|e| panic!("{path} was faulted: {e}"));
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    }
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(reset.status, 204);
    assert_eq!(health.status, 200);
    assert_eq!(cleared.status, 204);
    assert_eq!(client.get("/v1/template").await.status, 200);
}

#[tokio::test]
async fn a_seeded_probability_fails_the_same_requests_on_every_run() {
    // arrange
    let plan = json!({"seed": 42, "fault": [{"route": "POST /generate", "kind": "status", "status": 500, "probability": 0.5}]});
    let mut runs = Vec::new();

    for _ in 0..2 {
        let (mock, client, body) = mock_with(MockConfig::default()).await;
        assert_eq!(put_plan(&client, plan.clone()).await.status, 200);

        // act
        let got = statuses(&client, &body, 40).await;
        let stored = mock.inkit.entry_count();
        runs.push((got, stored));
    }

    // assert
    let (first, stored) = &runs[0];
    assert_eq!(runs[0], runs[1], "the same seed and requests should fail the same way");
    let failed = first.iter().filter(|&&s| s == 500).count();
    assert!((5..=35).contains(&failed), "probability 0.5 failed {failed} of 40: {first:?}");
    assert!(first.iter().all(|&s| s == 200 || s == 500), "{first:?}");
    assert_eq!(*stored, 40 - failed, "exactly the passed requests are stored");
    let (other_seed, _) = {
        let (mock, client, body) = mock_with(MockConfig::default()).await;
        let mut other = plan.clone();
        other["seed"] = json!(43);
        put_plan(&client, other).await;
        (statuses(&client, &body, 40).await, mock)
    };
    assert_ne!(&other_seed, first, "another seed should give another pattern");
}
