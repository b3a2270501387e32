//! The Inkit API routes as a client sees them.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::Method;
use inkit_mock::{ApiToken, MockConfig};
use integration_tests::{
    MockServer, SEED_TEMPLATE_HTML, admin_history, assert_api_error, create_template, generate, item_ids,
    pdf_page_count, pdf_text, seed_params,
};
use serde_json::{Value, json};

/// Longer than any processing delay the tests configure.
const PAST_DELAY: Duration = Duration::from_secs(5);

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn generate_answers_render_and_document_ids_of_inkit_form() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = integration_tests::create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;

    // act
    let reply = client
        .post(
            "/v1/generate",
            &json!({"template_id": template, "merge_parameters": {"Name": "Ada", "email": "a@x", "phone number": "1"}}),
        )
        .await;

    // assert
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/json");
    let body = reply.json();
    let id = body["id"].as_str().unwrap();
    let doc = body["document_id"].as_str().unwrap();
    assert!(id.starts_with("rend_") && id.len() == 27, "{id}");
    assert!(doc.starts_with("doc_") && doc.len() == 26, "{doc}");
}

#[tokio::test]
async fn every_route_answers_with_and_without_the_v1_prefix() {
    for prefix in ["", "/v1"] {
        // arrange
        let mock = MockServer::start().await;
        let client = mock.client();
        let t = client
            .post(
                &format!("{prefix}/template"),
                &json!({"name": "Prefix", "source": "html", "file": b64(SEED_TEMPLATE_HTML)}),
            )
            .await;
        assert_eq!(t.status, 200, "POST {prefix}/template: {}", t.text());
        let template = t.json()["id"].as_str().unwrap().to_owned();
        let render = json!({"template_id": template, "merge_parameters": seed_params("Ada")});
        let g = client.post(&format!("{prefix}/generate"), &render).await;
        assert_eq!(g.status, 200, "POST {prefix}/generate: {}", g.text());
        let r = client.post(&format!("{prefix}/render"), &render).await;
        assert_eq!(r.status, 200, "POST {prefix}/render: {}", r.text());
        let b = client
            .post(
                &format!("{prefix}/batch"),
                &json!({"template_id": template, "renders": [{"merge_parameters": seed_params("Bo")}]}),
            )
            .await;
        assert_eq!(b.status, 200, "POST {prefix}/batch: {}", b.text());
        let (rend1, doc1) = (g.json()["id"].as_str().unwrap().to_owned(), g.json()["document_id"].clone());
        let doc1 = doc1.as_str().unwrap().to_owned();
        let rend2 = r.json()["id"].as_str().unwrap().to_owned();
        let batch = b.json()["id"].as_str().unwrap().to_owned();
        mock.advance(PAST_DELAY);
        let table: Vec<(Method, String, u16, &str)> = vec![
            (Method::GET, "/template".into(), 200, "application/json"),
            (Method::GET, format!("/template/{template}"), 200, "application/json"),
            (Method::GET, "/render".into(), 200, "application/json"),
            (Method::GET, "/renders".into(), 200, "application/json"),
            (Method::GET, format!("/render/{rend1}"), 200, "application/json"),
            (Method::GET, format!("/render/{rend1}/pdf"), 200, "application/pdf"),
            (Method::GET, "/batch".into(), 200, "application/json"),
            (Method::GET, format!("/batch/{batch}"), 200, "application/json"),
            (Method::GET, "/document".into(), 200, "application/json"),
            (Method::GET, format!("/document/{doc1}"), 200, "application/json"),
            (Method::GET, format!("/download/{doc1}"), 200, "application/pdf"),
            (Method::GET, "/folder".into(), 200, "application/json"),
            (Method::DELETE, format!("/document/{doc1}"), 204, "application/json"),
            (Method::DELETE, format!("/render/{rend2}"), 204, "application/json"),
        ];

        for (method, path, status, content_type) in table {
            // act
            let reply = client.send(method.clone(), &format!("{prefix}{path}"), Bytes::new(), &[]).await;

            // assert
            assert_eq!(reply.status, status, "{method} {prefix}{path}: {}", reply.text());
            assert_eq!(reply.content_type(), content_type, "{method} {prefix}{path}");
        }
    }
}

#[tokio::test]
async fn generate_and_render_both_create_renders_listed_by_get_render() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada"), "name": "via"});

    // act
    let generated = client.post("/v1/generate", &body).await;
    let rendered = client.post("/v1/render", &body).await;

    // assert
    assert_eq!((generated.status, rendered.status), (200, 200), "{} / {}", generated.text(), rendered.text());
    let (g, r) = (generated.json(), rendered.json());
    assert_ne!(g["id"], r["id"]);
    assert!(r["id"].as_str().unwrap().starts_with("rend_") && r["document_id"].as_str().unwrap().starts_with("doc_"));
    let list = client.get("/v1/render").await.json();
    let mut ids = item_ids(&list);
    ids.sort();
    let mut expected = vec![g["id"].as_str().unwrap().to_owned(), r["id"].as_str().unwrap().to_owned()];
    expected.sort();
    assert_eq!(ids, expected);
    let history = admin_history(&client, "sort=created_at").await;
    let routes: Vec<&str> = history["items"].as_array().unwrap().iter().map(|e| e["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["POST /v1/generate", "POST /v1/render"]);
}

#[tokio::test]
async fn a_render_is_in_progress_until_the_processing_delay_has_passed() {
    // arrange
    let mock = MockServer::start().await; // processing delay 1 s
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let (id, _) = generate(&client, &template, seed_params("Ada")).await;
    let path = format!("/v1/render/{id}");

    // act
    let before = client.get(&path).await.json();
    mock.advance(Duration::from_millis(999));
    let almost = client.get(&path).await.json();
    mock.advance(Duration::from_millis(1));
    let after = client.get(&path).await.json();

    // assert
    assert_eq!(before["status"], "in_progress", "{before}");
    assert_eq!(almost["status"], "in_progress", "{almost}");
    assert_eq!(after["status"], "completed", "{after}");
    assert_eq!(after["id"], id.as_str());
    assert_eq!(after["template_id"], template.as_str());
    assert_eq!(after["merge_parameters"], seed_params("Ada"));
    assert_eq!(after["created_at"], "2026-11-27T09:00:00.000Z");
    assert_eq!(after["updated_at"], "2026-11-27T09:00:01.000Z");
}

#[tokio::test]
async fn the_pdf_is_a_json_404_while_in_progress_and_a_pdf_once_completed() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let (id, _) = generate(&client, &template, seed_params("Ada")).await;
    let path = format!("/v1/render/{id}/pdf");

    // act
    let early = client.get(&path).await;
    mock.advance(PAST_DELAY);
    let ready = client.get(&path).await;

    // assert
    let err = assert_api_error(&early, 404, None);
    assert_eq!(err["type"], "not_found");
    assert!(err["error"].as_str().unwrap().contains("in progress"), "{err}");
    assert_eq!(ready.status, 200);
    assert_eq!(ready.content_type(), "application/pdf");
    assert!(ready.body.starts_with(b"%PDF-"), "{:?}", &ready.body[..16.min(ready.body.len())]);
    assert_eq!(pdf_page_count(&ready.body), 1);
}

#[tokio::test]
async fn the_pdf_text_holds_the_merged_values_and_escaped_input_reads_as_plain_text() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let params = json!({"Name": "O'Brien & <Sons>", "email": "ob@example.com", "phone number": "+1 555 0199"});
    let (id, _) = generate(&client, &template, params).await;
    mock.advance(PAST_DELAY);

    // act
    let reply = client.get(&format!("/v1/render/{id}/pdf")).await;

    // assert
    assert_eq!(reply.status, 200, "{}", reply.text());
    let text = pdf_text(&reply.body);
    assert!(text.contains("Hello O'Brien & <Sons>"), "{text:?}");
    assert!(text.contains("Email: ob@example.com"), "{text:?}");
    assert!(text.contains("Phone: +1 555 0199"), "{text:?}");
    assert!(!text.contains("&amp;") && !text.contains("&lt;") && !text.contains("&#39;"), "{text:?}");
    assert!(!text.contains("{{"), "unfilled field in {text:?}");
}

#[tokio::test]
async fn the_page_query_gives_one_page_and_names_the_page_count_when_out_of_range() {
    // arrange: a template long enough for several pages, and the one-page seed template
    let mock = MockServer::start().await;
    let client = mock.client();
    let long_html: String = (1..=150).map(|i| format!("<p>Line {i} for {{{{Name}}}}</p>")).collect::<Vec<_>>().join("");
    let long = create_template(&client, "Long", &format!("<html><body>{long_html}</body></html>")).await;
    let short = create_template(&client, "Short", SEED_TEMPLATE_HTML).await;
    let (long_id, _) = generate(&client, &long, json!({"Name": "Ada"})).await;
    let (short_id, _) = generate(&client, &short, seed_params("Ada")).await;
    mock.advance(PAST_DELAY);
    let whole = client.get(&format!("/v1/render/{long_id}/pdf")).await;
    let pages = pdf_page_count(&whole.body);
    assert!(pages >= 3, "150 lines should need at least 3 pages, got {pages}");

    // act
    let first = client.get(&format!("/v1/render/{short_id}/pdf?page=1")).await;
    let second = client.get(&format!("/v1/render/{long_id}/pdf?page=2")).await;
    let past_end = client.get(&format!("/v1/render/{short_id}/pdf?page=99")).await;
    let past_long_end = client.get(&format!("/v1/render/{long_id}/pdf?page={}", pages + 1)).await;
    let not_a_number = client.get(&format!("/v1/render/{short_id}/pdf?page=abc")).await;
    let zero = client.get(&format!("/v1/render/{short_id}/pdf?page=0")).await;

    // assert
    assert_eq!((first.status, first.content_type()), (200, "application/pdf"));
    assert_eq!(pdf_page_count(&first.body), 1);
    assert!(pdf_text(&first.body).contains("Hello Ada"));
    assert_eq!((second.status, second.content_type()), (200, "application/pdf"));
    assert_eq!(pdf_page_count(&second.body), 1);
    let second_text = pdf_text(&second.body);
    assert!(!second_text.contains("Line 1 for Ada"), "page 2 should not hold the first line: {second_text:?}");
    assert!(second_text.contains("for Ada"), "{second_text:?}");
    let e = assert_api_error(&past_end, 404, None);
    assert!(e["error"].as_str().unwrap().contains("1 page"), "{e}");
    let e = assert_api_error(&past_long_end, 404, None);
    assert!(e["error"].as_str().unwrap().contains(&format!("{pages} page")), "{e}");
    assert_api_error(&not_a_number, 422, Some("page"));
    assert_api_error(&zero, 422, Some("page"));
}

#[tokio::test]
async fn deleting_a_render_answers_204_json_typed_and_empty_then_the_render_is_gone() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let (id, doc) = generate(&client, &template, seed_params("Ada")).await;
    mock.advance(PAST_DELAY);

    // act
    let deleted = client.delete(&format!("/v1/render/{id}")).await;

    // assert
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.content_type(), "application/json");
    assert!(deleted.body.is_empty(), "{:?}", deleted.text());
    assert_api_error(&client.get(&format!("/v1/render/{id}")).await, 404, None);
    assert_api_error(&client.get(&format!("/v1/render/{id}/pdf")).await, 404, None);
    assert_api_error(&client.get(&format!("/v1/document/{doc}")).await, 404, None);
    assert_api_error(&client.delete(&format!("/v1/render/{id}")).await, 404, None);
    assert_eq!(client.get("/v1/render").await.json()["metadata"]["pagination"]["total_count"], 0);
}

#[tokio::test]
async fn lists_use_the_inkit_envelope_with_pagination_and_sort() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let mut ids = Vec::new();
    for name in ["bravo", "alpha", "charlie"] {
        let body = json!({"template_id": template, "merge_parameters": seed_params("Ada"), "name": name});
        let r = client.post("/v1/generate", &body).await;
        assert_eq!(r.status, 200);
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
        mock.advance(Duration::from_secs(1));
    }

    // act
    let page1 = client.get("/v1/render?page=1&page_size=2").await.json();
    let page2 = client.get("/v1/render?page=2&page_size=2").await.json();
    let by_name = client.get("/v1/render?sort=name").await.json();
    let by_name_desc = client.get("/v1/render?sort=-name").await.json();
    let newest_first = client.get("/v1/render?sort=-created_at").await.json();
    let oldest_first = client.get("/v1/render?sort=created_at").await.json();

    // assert
    assert_eq!(
        page1["metadata"]["pagination"],
        json!({"page_size": 2, "current_page": 1, "next_page": 2, "prev_page": 0, "page_count": 2, "total_count": 3})
    );
    assert_eq!(
        page2["metadata"]["pagination"],
        json!({"page_size": 2, "current_page": 2, "next_page": 0, "prev_page": 1, "page_count": 2, "total_count": 3})
    );
    assert_eq!(page1["metadata"]["sort"], json!({"key": "created_at", "order": -1}));
    assert_eq!(item_ids(&page1), [ids[2].clone(), ids[1].clone()], "default is newest first");
    assert_eq!(item_ids(&page2), [ids[0].clone()]);
    let names = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(&by_name), ["alpha", "bravo", "charlie"]);
    assert_eq!(by_name["metadata"]["sort"], json!({"key": "name", "order": 1}));
    assert_eq!(names(&by_name_desc), ["charlie", "bravo", "alpha"]);
    assert_eq!(by_name_desc["metadata"]["sort"], json!({"key": "name", "order": -1}));
    assert_eq!(names(&newest_first), ["charlie", "alpha", "bravo"]);
    assert_eq!(names(&oldest_first), ["bravo", "alpha", "charlie"]);
    assert_eq!(oldest_first["metadata"]["sort"], json!({"key": "created_at", "order": 1}));
    assert_eq!(client.get("/v1/render?page=3&page_size=2").await.json()["items"], json!([]));
}

#[tokio::test]
async fn render_lists_filter_by_search_ids_destination_name_and_status() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let (a, _) = generate(&client, &template, seed_params("Zanzibar")).await;
    mock.advance(PAST_DELAY); // a is completed, the others are not
    let stored = json!({"template_id": template, "merge_parameters": seed_params("Bo"),
                        "destinations": {"inkit_storage": {"name": "Stored"}}});
    let b = client.post("/v1/generate", &stored).await.json()["id"].as_str().unwrap().to_owned();
    let (c, _) = generate(&client, &template, seed_params("Cy")).await;
    let ids = |path: &str| {
        let client = client.clone();
        let path = path.to_owned();
        async move {
            let reply = client.get(&path).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text());
            let mut v = item_ids(&reply.json());
            v.sort();
            v
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    // act + assert
    assert_eq!(ids("/v1/render?search=zanzibar").await, [a.as_str()]);
    assert_eq!(ids("/v1/render?search=nobody-has-this").await, Vec::<String>::new());
    assert_eq!(ids(&format!("/v1/render?data-id={a},{c}")).await, sorted(vec![a.clone(), c.clone()]));
    assert_eq!(ids(&format!("/v1/render?data_id={b}")).await, [b.as_str()]);
    assert_eq!(ids(&format!("/v1/render?data-id={a},%20{b}")).await, sorted(vec![a.clone(), b.clone()]));
    assert_eq!(ids("/v1/render?destination_name=inkit_storage").await, [b.as_str()]);
    assert_eq!(ids("/v1/render?destination_status=completed").await, [a.as_str()]);
    assert_eq!(ids("/v1/render?destination_status=in_progress").await, sorted(vec![b.clone(), c.clone()]));
    assert_eq!(ids(&format!("/v1/document?data-id={a}")).await.len(), 1);
}

#[tokio::test]
async fn a_batch_of_three_renders_is_counted_in_progress_then_completed() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let renders: Vec<Value> = ["Ada", "Bo", "Cy"].iter().map(|n| json!({"merge_parameters": seed_params(n)})).collect();

    // act
    let reply =
        client.post("/v1/batch", &json!({"template_id": template, "name": "November", "renders": renders})).await;

    // assert
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("rb_") && id.len() == 25, "{id}");
    let before = client.get(&format!("/v1/batch/{id}")).await.json();
    assert_eq!(before["total"], 3);
    assert_eq!(before["status"], "in_progress");
    assert_eq!(before["template_id"], template.as_str());
    assert_eq!(before["name"], "November");
    let storage = &before["destinations"]["inkit_storage"];
    assert_eq!((storage["count"].as_u64(), storage["in_progress"].as_u64()), (Some(3), Some(3)), "{before}");
    assert_eq!(storage["completed"], 0);
    mock.advance(PAST_DELAY);
    let after = client.get(&format!("/v1/batch/{id}")).await.json();
    let storage = &after["destinations"]["inkit_storage"];
    assert_eq!((storage["completed"].as_u64(), storage["in_progress"].as_u64()), (Some(3), Some(0)), "{after}");
    assert_eq!(after["status"], "completed");
    let list = client.get("/v1/batch").await.json();
    assert_eq!(item_ids(&list), [id.as_str()]);
    assert_eq!(list["metadata"]["pagination"]["total_count"], 1);
    let renders = client.get("/v1/render").await.json();
    assert_eq!(renders["items"].as_array().unwrap().len(), 3);
    assert!(renders["items"].as_array().unwrap().iter().all(|r| r["batch_id"] == id.as_str()), "{renders}");
    assert_eq!(mock.inkit.entry_count(), 3);
}

#[tokio::test]
async fn documents_are_found_by_render_id_shown_downloaded_and_deleted() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let (render, doc) = generate(&client, &template, seed_params("Ada")).await;
    let (_other, other_doc) = generate(&client, &template, seed_params("Bo")).await;

    // act
    let listed = client.get(&format!("/v1/document?data-id={render}")).await;
    let shown = client.get(&format!("/v1/document/{doc}")).await;
    let early_download = client.get(&format!("/v1/download/{doc}")).await;
    mock.advance(PAST_DELAY);
    let download = client.get(&format!("/v1/download/{doc}")).await;
    let deleted = client.delete(&format!("/v1/document/{doc}")).await;

    // assert
    assert_eq!(listed.status, 200);
    assert_eq!(item_ids(&listed.json()), [doc.as_str()]);
    assert_eq!(shown.status, 200);
    let shown = shown.json();
    assert_eq!(shown["id"], doc.as_str());
    assert_eq!(shown["render_id"], render.as_str());
    assert_eq!(shown["created_by"]["name"], "default");
    assert!(shown["folder_id"].as_str().unwrap().starts_with("fold_"), "{shown}");
    assert_api_error(&early_download, 404, None);
    assert_eq!((download.status, download.content_type()), (200, "application/pdf"));
    assert!(pdf_text(&download.body).contains("Hello Ada"));
    assert_eq!((deleted.status, deleted.content_type()), (204, "application/json"));
    assert!(deleted.body.is_empty());
    assert_api_error(&client.get(&format!("/v1/document/{doc}")).await, 404, None);
    assert_api_error(&client.get(&format!("/v1/download/{doc}")).await, 404, None);
    assert_api_error(&client.delete(&format!("/v1/document/{doc}")).await, 404, None);
    assert_eq!(item_ids(&client.get("/v1/document").await.json()), [other_doc.as_str()]);
    assert_eq!(client.get(&format!("/v1/download/{other_doc}")).await.status, 200);
}

#[tokio::test]
async fn folders_list_the_default_folder_and_every_folder_id_a_render_named() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let before = client.get("/v1/folder").await.json();
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada"),
                      "destinations": {"inkit_storage": {"folder_id": "fold_customers2026"}}});

    // act
    let reply = client.post("/v1/generate", &body).await;
    let after = client.get("/v1/folder").await.json();

    // assert
    assert_eq!(reply.status, 200, "{}", reply.text());
    let default_id = item_ids(&before);
    assert_eq!(default_id.len(), 1, "{before}");
    assert!(default_id[0].starts_with("fold_"));
    assert_eq!(before["items"][0]["name"], "Inkit Storage");
    let mut after_ids = item_ids(&after);
    after_ids.sort();
    let mut expected = vec![default_id[0].clone(), "fold_customers2026".to_owned()];
    expected.sort();
    assert_eq!(after_ids, expected);
    let render = client.get(&format!("/v1/render/{}", reply.json()["id"].as_str().unwrap())).await.json();
    assert_eq!(render["folder_id"], "fold_customers2026");
    let doc = client.get(&format!("/v1/document/{}", reply.json()["document_id"].as_str().unwrap())).await.json();
    assert_eq!(doc["folder_id"], "fold_customers2026");
}

#[tokio::test]
async fn a_template_created_from_base64_lists_its_merge_variables_in_order_of_appearance() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let html = "<html><body><p>{{zeta}} {{ alpha }} {{phone number}} {{zeta}} {{mid}}</p></body></html>";

    // act
    let created = client
        .post(
            "/v1/template",
            &json!({"name": "Order test", "description": "checks order", "source": "html", "file": b64(html),
                    "data": {"width": 21.0, "height": 29.7, "unit": "cm"}}),
        )
        .await;

    // assert
    assert_eq!(created.status, 200, "{}", created.text());
    let created = created.json();
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("tmpl_") && id.len() == 27, "{id}");
    assert_eq!(created["merge_variables"], json!(["zeta", "alpha", "phone number", "mid"]));
    let shown = client.get(&format!("/v1/template/{id}")).await.json();
    assert_eq!(shown["html"], html);
    assert_eq!(shown["name"], "Order test");
    assert_eq!(shown["source"], "html");
    assert_eq!(
        (shown["width"].as_f64(), shown["height"].as_f64(), shown["unit"].as_str()),
        (Some(21.0), Some(29.7), Some("cm"))
    );
    assert_eq!(shown["merge_variables"], created["merge_variables"]);
    assert_eq!(shown["created_by"]["name"], "default");
}

#[tokio::test]
async fn the_template_list_searches_names() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let welcome = create_template(&client, "Welcome letter", SEED_TEMPLATE_HTML).await;
    let invoice = create_template(&client, "Invoice", "<p>{{amount}}</p>").await;

    // act
    let all = client.get("/v1/template").await.json();
    let found = client.get("/v1/template?search=WELCOME").await.json();
    let by_id = client.get(&format!("/v1/template?search={invoice}")).await.json();
    let none = client.get("/v1/template?search=receipt").await.json();

    // assert
    assert_eq!(all["metadata"]["pagination"]["total_count"], 2);
    assert_eq!(item_ids(&found), [welcome.as_str()]);
    assert_eq!(found["metadata"]["pagination"]["total_count"], 1);
    assert_eq!(item_ids(&by_id), [invoice.as_str()]);
    assert_eq!(item_ids(&none), Vec::<String>::new());
}

#[tokio::test]
async fn templates_load_from_a_directory_with_fixed_ids_or_ids_stable_across_starts() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("welcome.html"), SEED_TEMPLATE_HTML).unwrap();
    std::fs::write(dir.path().join("welcome.toml"), "id = \"tmpl_fixedid123\"\nname = \"Welcome letter\"\n").unwrap();
    std::fs::write(dir.path().join("receipt.html"), "<p>Receipt for {{customer}}</p>").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a template").unwrap();
    let config = || MockConfig { templates_dir: Some(dir.path().to_owned()), ..MockConfig::default() };
    let receipt_id = |list: &Value| -> String {
        let items = list["items"].as_array().unwrap();
        items.iter().find(|t| t["name"] == "receipt").unwrap_or_else(|| panic!("no receipt in {list}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // act
    let first = MockServer::start_with(config()).await;
    let fixed = first.client().get("/v1/template/tmpl_fixedid123").await;
    let first_list = first.client().get("/v1/template").await.json();
    let render = first
        .client()
        .post("/v1/generate", &json!({"template_id": "tmpl_fixedid123", "merge_parameters": seed_params("Ada")}))
        .await;
    first.stop().await;
    let second = MockServer::start_with(config()).await;
    let second_list = second.client().get("/v1/template").await.json();

    // assert
    assert_eq!(fixed.status, 200, "{}", fixed.text());
    let fixed = fixed.json();
    assert_eq!(fixed["name"], "Welcome letter");
    assert_eq!(fixed["html"], SEED_TEMPLATE_HTML);
    assert_eq!(fixed["merge_variables"], json!(["Name", "email", "phone number"]));
    assert_eq!(first_list["metadata"]["pagination"]["total_count"], 2, "only *.html files load: {first_list}");
    assert_eq!(render.status, 200, "{}", render.text());
    let id = receipt_id(&first_list);
    assert!(id.starts_with("tmpl_") && id.len() == 27, "{id}");
    assert_eq!(receipt_id(&second_list), id, "an id derived from the file name is the same on every start");
    let shown = second.client().get(&format!("/v1/template/{id}")).await.json();
    assert_eq!(shown["merge_variables"], json!(["customer"]));
}

#[tokio::test]
async fn each_token_shows_its_own_name_as_created_by() {
    // arrange
    let tokens = vec![
        ApiToken { name: "CleverTap production".into(), token: "tok-clevertap-1".into() },
        ApiToken { name: "Back office".into(), token: "tok-backoffice-2".into() },
    ];
    let mock = MockServer::start_with(MockConfig { tokens, ..MockConfig::default() }).await;
    let clevertap = mock.client().with_token(Some("tok-clevertap-1"));
    let backoffice = mock.client().with_token(Some("tok-backoffice-2"));
    let template = create_template(&backoffice, "Welcome", SEED_TEMPLATE_HTML).await;

    // act
    let (a, doc_a) = generate(&clevertap, &template, seed_params("Ada")).await;
    let (b, _) = generate(&backoffice, &template, seed_params("Bo")).await;
    let default_token = mock.client().get("/v1/render").await;

    // assert
    let render_a = clevertap.get(&format!("/v1/render/{a}")).await.json();
    let render_b = clevertap.get(&format!("/v1/render/{b}")).await.json();
    assert_eq!(render_a["created_by"]["name"], "CleverTap production");
    assert_eq!(render_b["created_by"]["name"], "Back office");
    let doc = backoffice.get(&format!("/v1/document/{doc_a}")).await.json();
    assert_eq!(doc["created_by"]["name"], "CleverTap production");
    let t = clevertap.get(&format!("/v1/template/{template}")).await.json();
    assert_eq!(t["created_by"]["name"], "Back office");
    let history = admin_history(&clevertap, &format!("q={a}")).await;
    assert_eq!(history["items"][0]["created_by"]["name"], "CleverTap production");
    assert_api_error(&default_token, 401, None);
}

#[tokio::test]
async fn the_clevertap_test_request_without_template_is_answered_200_and_kept_as_a_test() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let body = json!({"is_test": true, "targetId": 1234, "key_values": {"key": "value"},
                      "profiles": [{"Identity": "UserId", "Email": "[email]", "push_token": "Token"}]});

    // act
    let reply = client.post("/v1/generate", &body).await;

    // assert
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/json");
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let history = admin_history(&client, "").await;
    assert_eq!(item_ids(&history), [id.as_str()]);
    let entry = &history["items"][0];
    assert_eq!(entry["kind"], "test");
    assert_eq!(entry["status"], "test");
    assert_eq!(entry["test_body"], body);
    assert_eq!(entry["template_id"], Value::Null);
    assert_eq!(client.get("/v1/render").await.json()["metadata"]["pagination"]["total_count"], 0);
    assert_eq!(client.get("/v1/document").await.json()["metadata"]["pagination"]["total_count"], 0);
    assert_api_error(&client.get(&format!("/v1/render/{id}")).await, 404, None);
}

#[tokio::test]
async fn every_api_response_is_typed_exactly_application_json_or_application_pdf() {
    // arrange
    let mock = MockServer::start_with(MockConfig { body_limit: 1024, ..MockConfig::default() }).await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let (id, doc) = generate(&client, &template, seed_params("Ada")).await;
    let early_pdf = client.get(&format!("/v1/render/{id}/pdf")).await;
    mock.advance(PAST_DELAY);
    let json_ct = |b: &[u8]| (Method::POST, "/v1/generate".to_owned(), Bytes::copy_from_slice(b));

    // act
    let mut replies = vec![("404 in progress".to_owned(), early_pdf)];
    let requests: Vec<(&str, (Method, String, Bytes))> = vec![
        ("200 get", (Method::GET, format!("/v1/render/{id}"), Bytes::new())),
        ("200 list", (Method::GET, "/v1/render?page_size=1".into(), Bytes::new())),
        ("200 pdf", (Method::GET, format!("/v1/render/{id}/pdf"), Bytes::new())),
        ("200 download", (Method::GET, format!("/v1/download/{doc}"), Bytes::new())),
        ("400 malformed", json_ct(b"{nope")),
        ("413 too large", json_ct(&vec![b' '; 4096])),
        ("422 invalid", json_ct(b"{}")),
        ("404 unknown route", (Method::GET, "/v1/nothing-here".into(), Bytes::new())),
        ("404 unknown id", (Method::GET, "/v1/render/rend_nope".into(), Bytes::new())),
        ("405 method", (Method::PATCH, "/v1/generate".into(), Bytes::new())),
        ("422 bad query", (Method::GET, "/v1/render?page_size=0".into(), Bytes::new())),
        ("204 delete", (Method::DELETE, format!("/v1/render/{id}"), Bytes::new())),
    ];
    for (what, (method, path, body)) in requests {
        replies
            .push((what.to_owned(), client.send(method, &path, body, &[("content-type", "application/json")]).await));
    }
    replies.push(("401 no token".into(), client.with_token(None).get("/v1/render").await));

    // assert
    for (what, reply) in &replies {
        let expected_status: u16 = what[..3].parse().unwrap();
        assert_eq!(reply.status, expected_status, "{what}: {}", reply.text());
        let ct = reply.content_type();
        assert!(ct == "application/json" || ct == "application/pdf", "{what}: Content-Type {ct:?}");
        if ct == "application/json" && reply.status != 204 {
            reply.json();
        }
        if reply.status >= 400 {
            assert_eq!(reply.json()["code"], reply.status, "{what}");
        }
    }
}

#[tokio::test]
async fn accented_names_show_in_the_pdf_and_style_and_script_do_not() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let html = "<html><head><style>p { color: red }</style></head><body><script>var secret = 1;</script>\
                <h1>Hello {{Name}}</h1><p>Price&nbsp;{{price}}</p></body></html>";
    let template = create_template(&client, "Accents", html).await;
    let (id, _) = generate(&client, &template, json!({"Name": "Zoë Müller-Ñúñez", "price": "€5 – “net”"})).await;
    mock.advance(PAST_DELAY);

    // act
    let reply = client.get(&format!("/v1/render/{id}/pdf")).await;

    // assert
    assert_eq!(reply.status, 200);
    let text = pdf_text(&reply.body);
    assert!(text.contains("Hello Zoë Müller-Ñúñez"), "{text:?}");
    assert!(text.contains("Price €5 – “net”"), "{text:?}");
    assert!(!text.contains("color") && !text.contains("secret"), "style or script leaked into {text:?}");
}

#[tokio::test]
async fn the_batch_list_filtered_by_destination_status_counts_only_matching_batches() {
    // arrange: an older batch that completes, then a newer one still in progress
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let batch = json!({"template_id": template, "renders": [{"merge_parameters": seed_params("Ada")}]});
    let done = client.post("/v1/batch", &batch).await.json()["id"].as_str().unwrap().to_owned();
    mock.advance(PAST_DELAY);
    let busy = client.post("/v1/batch", &batch).await.json()["id"].as_str().unwrap().to_owned();

    // act
    let completed = client.get("/v1/batch?destination_status=completed").await.json();
    let in_progress = client.get("/v1/batch?destination_status=in_progress").await.json();
    let first_page = client.get("/v1/batch?destination_status=completed&page_size=1").await.json();

    // assert
    assert_eq!(item_ids(&completed), [done.as_str()]);
    assert_eq!(item_ids(&in_progress), [busy.as_str()]);
    assert_eq!(completed["metadata"]["pagination"]["total_count"], 1, "{completed}");
    assert_eq!(in_progress["metadata"]["pagination"]["total_count"], 1, "{in_progress}");
    assert_eq!(item_ids(&first_page), [done], "the one matching batch belongs on page 1: {first_page}");
}

#[tokio::test]
async fn documents_are_searched_and_sorted_by_the_name_they_show() {
    // arrange: a document named by destinations.inkit_storage.name, and one named by the render's name
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let named = json!({"template_id": template, "name": "zz render", "merge_parameters": seed_params("Ada"),
                       "destinations": {"inkit_storage": {"name": "Alpha letter"}}});
    let alpha = client.post("/v1/generate", &named).await.json()["document_id"].as_str().unwrap().to_owned();
    let plain = json!({"template_id": template, "name": "Beta", "merge_parameters": seed_params("Bo")});
    let beta = client.post("/v1/generate", &plain).await.json()["document_id"].as_str().unwrap().to_owned();

    // act
    let shown = client.get(&format!("/v1/document/{alpha}")).await.json();
    let searched = client.get("/v1/document?search=alpha%20letter").await.json();
    let sorted = client.get("/v1/document?sort=name").await.json();

    // assert
    assert_eq!(shown["name"], "Alpha letter");
    assert_eq!(item_ids(&searched), [alpha.as_str()], "search by the name the document shows: {searched}");
    assert_eq!(item_ids(&sorted), [alpha.as_str(), beta.as_str()], "sorted by the names shown: {sorted}");
}

#[tokio::test]
async fn lists_and_tables_keep_their_shape_in_the_pdf_text() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let html = "<ul><li>One {{a}}</li><li>Two</li></ul>\
                <table><tr><td>Cell A</td><td>Cell B</td></tr><tr><td>C</td><td>D</td></tr></table>\
                <p>Chinese {{cn}} prints as a question mark</p>";
    let template = create_template(&client, "Shapes", html).await;
    let (id, _) = generate(&client, &template, json!({"a": "1", "cn": "中"})).await;
    mock.advance(PAST_DELAY);

    // act
    let text = pdf_text(&client.get(&format!("/v1/render/{id}/pdf")).await.body);

    // assert
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(lines.contains(&"- One 1") && lines.contains(&"- Two"), "{text:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("Cell A") && l.ends_with("Cell B")),
        "a row stays on one line: {text:?}"
    );
    assert!(lines.contains(&"Chinese ? prints as a question mark"), "{text:?}");
}

#[tokio::test]
async fn snake_cased_keys_from_the_node_sdk_fill_the_template_fields_without_warnings() {
    // arrange: the Node SDK turns `Name` into `name` and `phone number` into `phone_number`
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let params = json!({"name": "Ada", "email": "ada@example.com", "phone_number": 5550100});

    // act
    let (id, _) = generate(&client, &template, params).await;
    mock.advance(PAST_DELAY);

    // assert
    let text = pdf_text(&client.get(&format!("/v1/render/{id}/pdf")).await.body);
    assert!(text.contains("Hello Ada") && text.contains("Phone: 5550100"), "{text:?}");
    let entry = client.get(&format!("/__admin/history/{id}")).await.json();
    assert_eq!(entry["warnings"], json!([]), "{entry}");
}

#[tokio::test]
async fn render_and_document_lists_filter_by_template_batch_and_time() {
    // arrange: one render at 09:00:00, a batch of two at 09:00:10 from another template
    let mock = MockServer::start().await;
    let client = mock.client();
    let welcome = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let invoice = create_template(&client, "Invoice", "<p>{{amount}}</p>").await;
    let (single, single_doc) = generate(&client, &welcome, seed_params("Ada")).await;
    mock.advance(Duration::from_secs(10));
    let batch = client
        .post(
            "/v1/batch",
            &json!({"template_id": invoice, "renders": [{"merge_parameters": {"amount": "1"}},
                                                                        {"merge_parameters": {"amount": "2"}}]}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let count = |path: String| {
        let client = client.clone();
        async move {
            let reply = client.get(&path).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text());
            reply.json()["metadata"]["pagination"]["total_count"].as_u64().unwrap()
        }
    };

    // act + assert
    assert_eq!(item_ids(&client.get(&format!("/v1/render?template_id={welcome}")).await.json()), [single.as_str()]);
    assert_eq!(
        item_ids(&client.get(&format!("/v1/document?template_id={welcome}")).await.json()),
        [single_doc.as_str()]
    );
    assert_eq!(count(format!("/v1/render?template_id={invoice}")).await, 2);
    assert_eq!(count(format!("/v1/render?batch_id={batch}")).await, 2);
    assert_eq!(count(format!("/v1/document?batch_id={batch}")).await, 2);
    assert_eq!(count("/v1/render?from=2026-11-27T09:00:05Z".into()).await, 2);
    assert_eq!(count("/v1/render?to=2026-11-27T09:00:05Z".into()).await, 1);
    assert_eq!(count("/v1/document?status=in_progress".into()).await, 2);
    assert_api_error(&client.get("/v1/render?from=last%20week").await, 422, Some("from"));
}
