//! History: what an entry records, merge warnings, Idempotency-Key duplicates, the admin filters, the
//! merged HTML and PDF of an entry, reset, and survival across a restart with SQLite.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use inkit_mock::{ApiToken, MockConfig, Storage};
use integration_tests::{
    Client, MockServer, SEED_TEMPLATE_HTML, admin_history, assert_api_error, create_template, generate, item_ids,
    pdf_text, seed_params,
};
use serde_json::{Value, json};

const PAST_DELAY: Duration = Duration::from_secs(5);

async fn post_with_headers(client: &Client, path: &str, body: &Value, headers: &[(&str, &str)]) -> Value {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let reply = client.send(Method::POST, path, Bytes::from(body.to_string()), &all).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

fn total(list: &Value) -> u64 {
    list["metadata"]["pagination"]["total_count"].as_u64().unwrap_or_else(|| panic!("no total_count in {list}"))
}

fn data_dir_config(dir: &std::path::Path) -> MockConfig {
    MockConfig {
        storage: Storage::DataDir(dir.to_owned()),
        processing_delay: Duration::from_secs(1),
        ..MockConfig::default()
    }
}

#[tokio::test]
async fn an_entry_records_the_request_and_who_made_it_but_never_the_token() {
    // arrange
    let token = "s3cret-token-value-42";
    let tokens = vec![ApiToken { name: "CleverTap webhook".into(), token: token.into() }];
    let mock = MockServer::start_with(MockConfig { tokens, ..MockConfig::default() }).await;
    let client = mock.client().with_token(Some(token));
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = json!({
        "template_id": template, "name": "Welcome Ada", "description": "test",
        "merge_parameters": seed_params("Ada"),
        "destinations": {"inkit_storage": {"name": "Welcome letter", "expire_after_n_views": 2}},
    });
    let headers = [
        ("idempotency-key", "key-123"),
        ("x-request-id", "req-456"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("x-unrelated", "dropped"),
    ];

    // act
    let created = post_with_headers(&client, "/v1/generate", &body, &headers).await;
    let history = admin_history(&client, "").await;
    let one = client.get(&format!("/__admin/history/{}", created["id"].as_str().unwrap())).await;

    // assert
    assert_eq!(total(&history), 1);
    let e = &history["items"][0];
    assert_eq!(e["id"], created["id"]);
    assert_eq!(e["document_id"], created["document_id"]);
    assert_eq!(e["kind"], "render");
    assert_eq!(e["route"], "POST /v1/generate");
    assert_eq!(e["template_id"], template.as_str());
    assert_eq!(e["template_name"], "Welcome");
    assert_eq!(e["name"], "Welcome Ada");
    assert_eq!(e["description"], "test");
    assert_eq!(e["merge_parameters"], seed_params("Ada"));
    assert_eq!(e["destinations"], body["destinations"]);
    assert_eq!(e["status"], "in_progress");
    assert_eq!(e["warnings"], json!([]));
    assert_eq!(e["created_at"], "2026-11-27T09:00:00.000Z");
    let created_at = e["created_at"].as_str().unwrap();
    assert!(created_at.ends_with('Z') && created_at.parse::<clock::Timestamp>().is_ok(), "{created_at}");
    assert_eq!(e["created_by"]["name"], "CleverTap webhook");
    assert_eq!(e["duplicate_of"], Value::Null);
    let kept = &e["request_headers"];
    assert_eq!(kept["idempotency-key"], "key-123");
    assert_eq!(kept["x-request-id"], "req-456");
    assert_eq!(kept["traceparent"], headers[2].1);
    assert_eq!(kept.get("x-unrelated"), None, "{kept}");
    assert_eq!(kept.get("x-inkit-api-token"), None, "{kept}");
    assert_eq!(one.status, 200);
    assert_eq!(one.json(), *e);
    for text in [history.to_string(), one.text()] {
        assert!(!text.contains(token), "the API token is in History: {text}");
    }
    mock.advance(PAST_DELAY);
    let later = client.get(&format!("/__admin/history/{}", created["id"].as_str().unwrap())).await.json();
    assert_eq!(later["status"], "completed");
    assert_eq!(later["completed_at"], "2026-11-27T09:00:00.200Z");
}

#[tokio::test]
async fn merge_problems_are_recorded_as_warnings() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;

    // act: no "email", and an extra "coupon"
    let (id, _) = generate(&client, &template, json!({"Name": "Ada", "phone number": "+1", "coupon": "SAVE10"})).await;
    let (clean, _) = generate(&client, &template, seed_params("Bo")).await;

    // assert
    let e = client.get(&format!("/__admin/history/{id}")).await.json();
    let warnings: Vec<(&str, &str)> = e["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["code"].as_str().unwrap(), w["field"].as_str().unwrap()))
        .collect();
    assert_eq!(warnings, [("missing_merge_field", "email"), ("unused_merge_parameter", "coupon")]);
    assert!(e["warnings"].as_array().unwrap().iter().all(|w| w["message"].as_str().is_some_and(|m| !m.is_empty())));
    let clean = client.get(&format!("/__admin/history/{clean}")).await.json();
    assert_eq!(clean["warnings"], json!([]));
}

#[tokio::test]
async fn a_repeated_idempotency_key_is_kept_as_a_second_entry_marked_duplicate_of_the_first() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});
    let key = [("idempotency-key", "delivery-7")];

    // act
    let first = post_with_headers(&client, "/v1/generate", &body, &key).await;
    let retry = post_with_headers(&client, "/v1/generate", &body, &key).await;
    let other = post_with_headers(&client, "/v1/generate", &body, &[("idempotency-key", "delivery-8")]).await;

    // assert
    assert_ne!(first["id"], retry["id"], "the retry is a second entry");
    assert_eq!(mock.inkit.entry_count(), 3);
    let retry_entry = client.get(&format!("/__admin/history/{}", retry["id"].as_str().unwrap())).await.json();
    assert_eq!(retry_entry["duplicate_of"], first["id"]);
    let first_entry = client.get(&format!("/__admin/history/{}", first["id"].as_str().unwrap())).await.json();
    assert_eq!(first_entry["duplicate_of"], Value::Null);
    let dups = admin_history(&client, "duplicates=true").await;
    assert_eq!(item_ids(&dups), [retry["id"].as_str().unwrap().to_owned()]);
    let originals = admin_history(&client, "duplicates=false").await;
    let mut ids = item_ids(&originals);
    ids.sort();
    let mut expected = vec![first["id"].as_str().unwrap().to_owned(), other["id"].as_str().unwrap().to_owned()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_api_error(&client.get("/__admin/history?duplicates=maybe").await, 422, Some("duplicates"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_with_one_key_give_one_first_and_nineteen_duplicates() {
    // arrange: SQLite, so the requests really overlap while they are written
    let dir = tempfile::tempdir().unwrap();
    let mock = MockServer::start_with(data_dir_config(dir.path())).await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});

    // act
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (client, body) = (client.clone(), body.clone());
            tokio::spawn(async move {
                post_with_headers(&client, "/v1/generate", &body, &[("idempotency-key", "same-key")]).await
            })
        })
        .collect();
    let mut answered = Vec::new();
    for t in tasks {
        answered.push(t.await.unwrap()["id"].as_str().unwrap().to_owned());
    }

    // assert
    let firsts = admin_history(&client, "duplicates=false").await;
    let dups = admin_history(&client, "duplicates=true&page_size=100").await;
    assert_eq!(total(&firsts), 1, "{firsts}");
    assert_eq!(total(&dups), 19, "{dups}");
    let first = item_ids(&firsts).remove(0);
    assert!(answered.contains(&first));
    assert!(dups["items"].as_array().unwrap().iter().all(|d| d["duplicate_of"] == first.as_str()), "{dups}");
    let mut all: Vec<String> = item_ids(&dups).into_iter().chain([first]).collect();
    all.sort();
    answered.sort();
    assert_eq!(all, answered);
}

#[tokio::test]
async fn one_batch_sent_with_an_idempotency_key_has_no_duplicates() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let renders: Vec<Value> = ["Ada", "Bo", "Cy"].iter().map(|n| json!({"merge_parameters": seed_params(n)})).collect();

    // act: a client that sends every POST with a key, sending a batch once
    let body = json!({"template_id": template, "renders": renders});
    post_with_headers(&client, "/v1/batch", &body, &[("idempotency-key", "batch-1")]).await;

    // assert: three different documents, none of them a retry of another
    let dups = admin_history(&client, "duplicates=true").await;
    assert_eq!(total(&dups), 0, "items of one batch were marked as retries of each other: {dups}");
}

#[tokio::test]
async fn admin_history_filters_by_template_status_time_text_and_kind() {
    // arrange: at 09:00:00, 09:00:10 and 09:00:20; processing takes 1 s
    let mock = MockServer::start().await;
    let client = mock.client();
    let welcome = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let invoice = create_template(&client, "Invoice", "<p>{{amount}} for {{Name}}</p>").await;
    let (a, _) = generate(&client, &welcome, seed_params("Zanzibar")).await;
    mock.advance(Duration::from_secs(10));
    let (b, _) = generate(&client, &invoice, json!({"amount": "12.50", "Name": "Bo"})).await;
    mock.advance(Duration::from_secs(10));
    let (c, _) = generate(&client, &welcome, seed_params("Cy")).await;
    let test = client.post("/v1/generate", &json!({"is_test": true, "targetId": 1})).await.json();
    let test = test["id"].as_str().unwrap().to_owned();
    let ids = |query: &'static str| {
        let client = client.clone();
        async move {
            let mut v = item_ids(&admin_history(&client, query).await);
            v.sort();
            v
        }
    };
    let sorted = |v: &[&String]| {
        let mut v: Vec<String> = v.iter().map(|s| (*s).clone()).collect();
        v.sort();
        v
    };

    // act + assert
    let by_template = admin_history(&client, &format!("template_id={invoice}")).await;
    assert_eq!(item_ids(&by_template), [b.as_str()]);
    assert_eq!(ids("status=completed").await, sorted(&[&a, &b]));
    assert_eq!(ids("status=in_progress").await, [c.as_str()]);
    assert_eq!(ids("status=test").await, [test.as_str()]);
    assert_eq!(ids("from=2026-11-27T09:00:05Z").await, sorted(&[&b, &c, &test]));
    assert_eq!(ids("to=2026-11-27T09:00:15Z").await, sorted(&[&a, &b]));
    assert_eq!(ids("from=2026-11-27T09:00:05Z&to=2026-11-27T09:00:15Z").await, [b.as_str()]);
    assert_eq!(ids("from=2026-11-27T09:00:10Z&to=2026-11-27T09:00:10Z").await, [b.as_str()], "bounds are inclusive");
    assert_eq!(ids("q=zanzibar").await, [a.as_str()]);
    assert_eq!(ids("q=12.50").await, [b.as_str()]);
    assert_eq!(ids("q=nothing-matches-this").await, Vec::<String>::new());
    assert_eq!(ids("kind=test").await, [test.as_str()]);
    assert_eq!(ids("kind=render").await, sorted(&[&a, &b, &c]));
    assert_api_error(&client.get("/__admin/history?from=yesterday").await, 422, Some("from"));
    assert_api_error(&client.get("/__admin/history?to=2026-13-45").await, 422, Some("to"));
    assert_api_error(&client.get("/__admin/history?kind=letter").await, 422, Some("kind"));
    assert_api_error(&client.get("/__admin/history?status=lost").await, 422, Some("status"));
    assert_eq!(client.get("/__admin/history?page_size=1000").await.status, 200, "the admin allows big pages");
    assert_api_error(&client.get("/__admin/history?page_size=1001").await, 422, Some("page_size"));
}

#[tokio::test]
async fn deleted_renders_stay_in_history_as_deleted_but_leave_the_render_list() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let (gone, _) = generate(&client, &template, seed_params("Ada")).await;
    let (_, gone_doc) = generate(&client, &template, seed_params("Bo")).await;
    let (kept, _) = generate(&client, &template, seed_params("Cy")).await;
    mock.advance(PAST_DELAY);

    // act
    assert_eq!(client.delete(&format!("/v1/render/{gone}")).await.status, 204);
    assert_eq!(client.delete(&format!("/v1/document/{gone_doc}")).await.status, 204);

    // assert
    assert_eq!(item_ids(&client.get("/v1/render").await.json()), [kept.as_str()]);
    assert_eq!(client.get("/v1/document").await.json()["items"].as_array().unwrap().len(), 1);
    let history = admin_history(&client, "").await;
    assert_eq!(total(&history), 3);
    let deleted = admin_history(&client, "status=deleted").await;
    assert_eq!(total(&deleted), 2, "{deleted}");
    for e in deleted["items"].as_array().unwrap() {
        assert_eq!(e["status"], "deleted");
        assert_eq!(e["deleted_at"], "2026-11-27T09:00:05.000Z");
        assert_eq!(e["merge_parameters"]["Name"].as_str().map(|n| n == "Ada" || n == "Bo"), Some(true), "{e}");
    }
}

#[tokio::test]
async fn an_entry_shows_its_merged_html_escaped_and_its_pdf() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let params = json!({"Name": "O'Brien & <Sons>", "email": "\"quoted\"@example.com", "phone number": "1"});
    let (id, _) = generate(&client, &template, params).await;
    mock.advance(PAST_DELAY);

    // act
    let html = client.get(&format!("/__admin/history/{id}/html")).await;
    let pdf = client.get(&format!("/__admin/history/{id}/pdf")).await;
    let missing = client.get("/__admin/history/rend_nope/html").await;

    // assert
    assert_eq!(html.status, 200);
    assert!(html.content_type().starts_with("text/html"), "{}", html.content_type());
    let text = html.text();
    assert!(text.contains("<h1>Hello O&#39;Brien &amp; &lt;Sons&gt;</h1>"), "{text}");
    assert!(text.contains("Email: &quot;quoted&quot;@example.com"), "{text}");
    assert!(!text.contains("<Sons>"), "{text}");
    assert_eq!((pdf.status, pdf.content_type()), (200, "application/pdf"));
    assert!(pdf_text(&pdf.body).contains("Hello O'Brien & <Sons>"));
    assert_api_error(&missing, 404, None);
}

#[tokio::test]
async fn history_templates_batches_and_duplicate_marks_survive_a_restart() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let first = MockServer::start_with(data_dir_config(dir.path())).await;
    let client = first.client();
    let welcome = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let invoice = create_template(&client, "Invoice", "<p>{{amount}}</p>").await;
    let receipt = create_template(&client, "Receipt", "<p>{{total}}</p>").await;
    let body = json!({"template_id": welcome, "merge_parameters": seed_params("Ada")});
    let original = post_with_headers(&client, "/v1/generate", &body, &[("idempotency-key", "k1")]).await;
    first.advance(Duration::from_secs(2));
    let retry = post_with_headers(&client, "/v1/generate", &body, &[("idempotency-key", "k1")]).await;
    let (doomed, _) = generate(&client, &invoice, json!({"amount": "3"})).await;
    let batch = client
        .post(
            "/v1/batch",
            &json!({"template_id": receipt, "renders": [{"merge_parameters": {"total": "1"}}, {"merge_parameters": {"total": "2"}}]}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    client.post("/v1/generate", &json!({"is_test": true})).await;
    assert_eq!(client.delete(&format!("/v1/render/{doomed}")).await.status, 204);
    first.advance(Duration::from_secs(10));
    let snapshot = |client: Client| {
        let batch = batch.clone();
        let welcome = welcome.clone();
        async move {
            vec![
                admin_history(&client, "page_size=1000").await,
                client.get("/v1/template").await.json(),
                client.get(&format!("/v1/template/{welcome}")).await.json(),
                client.get("/v1/batch").await.json(),
                client.get(&format!("/v1/batch/{batch}")).await.json(),
                client.get("/v1/render").await.json(),
                client.get("/v1/document").await.json(),
                client.get("/v1/folder").await.json(),
            ]
        }
    };
    let before = snapshot(client.clone()).await;
    first.stop().await;

    // act
    let second = MockServer::start_with(data_dir_config(dir.path())).await;
    second.advance(Duration::from_secs(12)); // the same time as when the snapshot was taken
    let after = snapshot(second.client()).await;

    // assert
    assert_eq!(total(&before[0]), 6, "{}", before[0]);
    let names = ["history", "templates", "template", "batches", "batch", "renders", "documents", "folders"];
    for ((name, b), a) in names.iter().zip(&before).zip(&after) {
        assert_eq!(a, b, "{name} changed across the restart");
    }
    let retry_entry = second.client().get(&format!("/__admin/history/{}", retry["id"].as_str().unwrap())).await.json();
    assert_eq!(retry_entry["duplicate_of"], original["id"]);
    assert_eq!(retry_entry["status"], "completed");
    let doomed_entry = second.client().get(&format!("/__admin/history/{doomed}")).await.json();
    assert_eq!(doomed_entry["status"], "deleted");
    let pdf = second.client().get(&format!("/v1/render/{}/pdf", original["id"].as_str().unwrap())).await;
    assert!(pdf_text(&pdf.body).contains("Hello Ada"));
    let document = |reply: &Value| format!("/v1/document/{}", reply["document_id"].as_str().unwrap());
    let doc = second.client().get(&document(&original)).await.json();
    assert_eq!(doc["id"], original["document_id"], "a document made before the restart is found by its id");
    let again = post_with_headers(&second.client(), "/v1/generate", &body, &[("idempotency-key", "k1")]).await;
    let again_doc = second.client().get(&document(&again)).await.json();
    assert_eq!(again_doc["id"], again["document_id"], "a document made after the restart is found by its id");
    let again = second.client().get(&format!("/__admin/history/{}", again["id"].as_str().unwrap())).await.json();
    assert_eq!(again["duplicate_of"], original["id"], "a key seen before the restart is still known after it");
}

#[tokio::test]
async fn reset_clears_history_and_batches_but_keeps_templates() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});
    post_with_headers(&client, "/v1/generate", &body, &[("idempotency-key", "k1")]).await;
    let batch = json!({"template_id": template, "renders": [{"merge_parameters": seed_params("Bo")}]});
    assert_eq!(client.post("/v1/batch", &batch).await.status, 200);

    // act
    let reset = client.send(Method::POST, "/__admin/reset", Bytes::new(), &[]).await;

    // assert
    assert_eq!(reset.status, 204);
    assert_eq!(mock.inkit.entry_count(), 0);
    assert_eq!(total(&admin_history(&client, "").await), 0);
    assert_eq!(total(&client.get("/v1/render").await.json()), 0);
    assert_eq!(total(&client.get("/v1/batch").await.json()), 0);
    assert_eq!(client.get(&format!("/v1/template/{template}")).await.status, 200);
    let after = post_with_headers(&client, "/v1/generate", &body, &[("idempotency-key", "k1")]).await;
    let after = client.get(&format!("/__admin/history/{}", after["id"].as_str().unwrap())).await.json();
    assert_eq!(after["duplicate_of"], Value::Null, "the key was forgotten with the History it belonged to");
}

#[tokio::test]
async fn reset_with_sqlite_stays_reset_after_a_restart_and_templates_stay() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let fixtures = tempfile::tempdir().unwrap();
    std::fs::write(fixtures.path().join("fixed.html"), "<p>{{x}}</p>").unwrap();
    std::fs::write(fixtures.path().join("fixed.toml"), "id = \"tmpl_fixedid123\"\n").unwrap();
    let config = || MockConfig { templates_dir: Some(fixtures.path().to_owned()), ..data_dir_config(dir.path()) };
    let first = MockServer::start_with(config()).await;
    let client = first.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    generate(&client, &template, seed_params("Ada")).await;
    generate(&client, "tmpl_fixedid123", json!({"x": "1"})).await;
    let batch = json!({"template_id": template, "renders": [{"merge_parameters": seed_params("Bo")}]});
    assert_eq!(client.post("/v1/batch", &batch).await.status, 200);

    // act
    assert_eq!(client.send(Method::POST, "/__admin/reset", Bytes::new(), &[]).await.status, 204);
    first.stop().await;
    let second = MockServer::start_with(config()).await;
    let client = second.client();

    // assert
    assert_eq!(total(&admin_history(&client, "").await), 0);
    assert_eq!(total(&client.get("/v1/batch").await.json()), 0);
    let shown = client.get(&format!("/v1/template/{template}")).await;
    assert_eq!(shown.status, 200, "an API-created template was lost: {}", shown.text());
    assert_eq!(shown.json()["html"], SEED_TEMPLATE_HTML);
    assert_eq!(client.get("/v1/template/tmpl_fixedid123").await.status, 200);
    assert_eq!(total(&client.get("/v1/template").await.json()), 2);
    generate(&client, &template, seed_params("Cy")).await;
    assert_eq!(second.inkit.entry_count(), 1);
}

#[tokio::test]
async fn the_api_token_never_reaches_the_data_directory() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let token = "tok-must-not-be-stored-9f8e7d";
    let config = MockConfig {
        tokens: vec![ApiToken { name: "crm".into(), token: token.into() }],
        ..data_dir_config(dir.path())
    };
    let mock = MockServer::start_with(config).await;
    let client = mock.client().with_token(Some(token));
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;

    // act
    generate(&client, &template, seed_params("Ada")).await;
    client.post("/v1/generate", &json!({"is_test": true})).await;
    mock.stop().await;

    // assert (the writer may still be checkpointing the WAL: a file that vanished meanwhile is skipped)
    let mut read = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let Ok(bytes) = std::fs::read(&path) else { continue };
        read += bytes.len();
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "token found in {}", path.display());
    }
    assert!(read > 0, "no database written");
}
