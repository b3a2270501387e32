//! The dashboard as a person sees it: headless Chromium loads the page, runs its scripts against a live
//! mock, and the tests read the DOM it leaves (or a screenshot).

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use inkit_mock::MockConfig;
use integration_tests::{
    Client, External, MockServer, SEED_TEMPLATE_HTML, attribute_values, chromium_dump_dom, chromium_screenshot,
    create_template, element_by_id, element_with, require_external, seed_params, temp_file, text_content,
};
use serde_json::{Value, json};

/// Chromium, or `None` when the test should stop here (the harness has said why).
fn chromium() -> Option<PathBuf> {
    require_external(External::Chromium)
}

/// A mock whose renders complete at once, so the dashboard shows them `completed`.
async fn instant_mock() -> MockServer {
    MockServer::start_with(MockConfig { processing_delay: Duration::ZERO, ..MockConfig::default() }).await
}

/// `POST /v1/generate` with extra request headers; returns the History id.
async fn generate_with(client: &Client, body: Value, headers: &[(&str, &str)]) -> String {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let reply = client.send(Method::POST, "/v1/generate", Bytes::from(body.to_string()), &all).await;
    assert_eq!(reply.status, 200, "generate: {}", reply.text());
    reply.json()["id"].as_str().expect("id").to_owned()
}

/// The element with `id`, which must be in the DOM.
fn by_id<'a>(dom: &'a str, id: &str) -> &'a str {
    element_by_id(dom, id).unwrap_or_else(|| panic!("no #{id} in the dashboard DOM:\n{dom}"))
}

/// The row `<tr data-id="…">` inside `table`, which must be there.
fn row<'a>(table: &'a str, id: &str) -> &'a str {
    element_with(table, "data-id", id).unwrap_or_else(|| panic!("no row for {id} in:\n{table}"))
}

#[tokio::test]
async fn dashboard_lists_templates_and_history_newest_first_with_warnings() {
    let Some(chromium) = chromium() else { return };
    // arrange
    let mock = instant_mock().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome letter", SEED_TEMPLATE_HTML).await;
    let older =
        generate_with(&client, json!({"template_id": template, "merge_parameters": seed_params("Ada")}), &[]).await;
    mock.advance(Duration::from_secs(60));
    let newer = generate_with(
        &client,
        json!({"template_id": template, "merge_parameters": {"Name": "Grace", "email": "grace@example.com"}}),
        &[],
    )
    .await;

    // act
    let dom = chromium_dump_dom(&chromium, &format!("{}/", mock.url)).await;

    // assert
    let templates = by_id(&dom, "templates");
    assert_eq!(attribute_values(templates, "data-id"), [template.as_str()], "template rows");
    let template_row = text_content(row(templates, &template));
    for expected in ["Welcome letter", "Name", "email", "phone number"] {
        assert!(template_row.contains(expected), "template row lacks {expected:?}: {template_row}");
    }
    let history = by_id(&dom, "history");
    assert_eq!(attribute_values(history, "data-id"), [newer.as_str(), older.as_str()], "History rows, newest first");
    let newer_row = text_content(row(history, &newer));
    assert!(newer_row.contains("Grace") && newer_row.contains("1 warning"), "newer row: {newer_row}");
    assert!(newer_row.contains("completed"), "newer row status: {newer_row}");
    let older_row = text_content(row(history, &older));
    assert!(older_row.contains("Ada") && !older_row.contains("warning"), "older row: {older_row}");
    assert_eq!(text_content(by_id(&dom, "history-count")), "2 entries");
    assert_eq!(text_content(by_id(&dom, "count-templates")), "1");
}

#[tokio::test]
async fn history_detail_link_shows_warning_parameters_request_id_and_pdf_link() {
    let Some(chromium) = chromium() else { return };
    // arrange
    let mock = instant_mock().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome letter", SEED_TEMPLATE_HTML).await;
    let id = generate_with(
        &client,
        json!({"template_id": template, "merge_parameters": {"Name": "Ada Lovelace", "email": "ada@example.com"}}),
        &[("x-request-id", "req-dashboard-7f3a")],
    )
    .await;
    let entry = client.get(&format!("/__admin/history/{id}")).await.json();
    let warning = entry["warnings"][0]["message"].as_str().expect("the render has a warning").to_owned();
    assert!(warning.contains("phone number"), "warning names the missing field: {warning}");

    // act
    let dom = chromium_dump_dom(&chromium, &format!("{}/#/history/{id}", mock.url)).await;

    // assert
    let body_tag = &dom[dom.find("<body").expect("a body")..];
    assert!(body_tag[..body_tag.find('>').unwrap()].contains("has-detail"), "the detail panel is open");
    let detail = by_id(&dom, "detail");
    let text = text_content(detail);
    assert!(text.contains(&id), "detail names the entry: {text}");
    assert!(text.contains(&warning), "detail shows the warning {warning:?}: {text}");
    assert!(text.contains("Name Ada Lovelace") && text.contains("email ada@example.com"), "merge values: {text}");
    assert!(text.contains("x-request-id req-dashboard-7f3a"), "the X-Request-Id sent: {text}");
    let pdf_href = format!("/__admin/history/{id}/pdf");
    let pdf_link = element_with(detail, "href", &pdf_href).unwrap_or_else(|| panic!("no PDF link in: {detail}"));
    assert_eq!(text_content(pdf_link), "Open PDF");
    let pdf = client.get(&pdf_href).await;
    assert_eq!(pdf.status, 200, "the link serves the PDF: {}", pdf.text());
    assert!(pdf.body.starts_with(b"%PDF-"), "the link serves a PDF");
}

#[tokio::test]
async fn retried_request_with_same_idempotency_key_shows_duplicate_of_first() {
    let Some(chromium) = chromium() else { return };
    // arrange
    let mock = instant_mock().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome letter", SEED_TEMPLATE_HTML).await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});
    let key = [("idempotency-key", "delivery-42")];
    let first = generate_with(&client, body.clone(), &key).await;
    let retry = generate_with(&client, body, &key).await;

    // act
    let dom = chromium_dump_dom(&chromium, &format!("{}/", mock.url)).await;

    // assert
    let history = by_id(&dom, "history");
    let retry_row = text_content(row(history, &retry));
    assert!(retry_row.contains(&format!("duplicate of {first}")), "retry row: {retry_row}");
    let first_row = text_content(row(history, &first));
    assert!(!first_row.contains("duplicate of"), "the first request is no duplicate: {first_row}");
}

#[tokio::test]
async fn clevertap_webhook_test_request_shows_as_test_row() {
    let Some(chromium) = chromium() else { return };
    // arrange
    let mock = instant_mock().await;
    let client = mock.client();
    let test_id =
        generate_with(&client, json!({"is_test": true, "profile": {"Name": "Test user", "email": "t@x"}}), &[]).await;

    // act
    let dom = chromium_dump_dom(&chromium, &format!("{}/", mock.url)).await;

    // assert
    let history = by_id(&dom, "history");
    let test_row = row(history, &test_id);
    assert!(test_row.contains("status-test"), "the row has the test badge: {test_row}");
    let text = text_content(test_row);
    assert!(text.contains("test") && text.contains("CleverTap webhook test request"), "test row: {text}");
}

#[tokio::test]
async fn dashboard_screenshot_is_a_rendered_page_of_the_window_size() {
    let Some(chromium) = chromium() else { return };
    // arrange
    let mock = instant_mock().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome letter", SEED_TEMPLATE_HTML).await;
    generate_with(&client, json!({"template_id": template, "merge_parameters": seed_params("Ada")}), &[]).await;
    let (_dir, png) = temp_file("dash.png");

    // act
    chromium_screenshot(&chromium, &format!("{}/", mock.url), &png, 1400, 900).await;

    // assert
    let bytes = std::fs::read(&png).expect("Chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 8 * 1024, "a {}-byte PNG is too small to be a rendered dashboard", bytes.len());
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1400, 900), "screenshot size");
}

#[tokio::test]
async fn dashboard_refreshes_history_by_itself() {
    let Some(chromium) = chromium() else { return };
    // arrange
    let mock = instant_mock().await;

    // act
    let dom = chromium_dump_dom(&chromium, &format!("{}/", mock.url)).await;

    // assert
    let refreshed = text_content(by_id(&dom, "last-refresh"));
    assert!(!refreshed.is_empty() && refreshed != "never", "#last-refresh after loading: {refreshed:?}");
    let counts = mock.client().get("/__admin/counts").await.json();
    let polls = counts["routes"]["GET /__admin/history"]["total"].as_u64().unwrap_or(0);
    assert!(polls >= 2, "the page asked for History {polls} time(s) in 5 s; it should poll: {counts}");
    let history = by_id(&dom, "history");
    assert!(text_content(history).contains("No history yet"), "empty History says so: {history}");
}

#[tokio::test]
async fn render_still_in_progress_shows_pdf_not_ready_instead_of_a_link() {
    let Some(chromium) = chromium() else { return };
    // arrange: the default harness mock takes 1 s of its own (stopped) clock to process
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome letter", SEED_TEMPLATE_HTML).await;
    let id =
        generate_with(&client, json!({"template_id": template, "merge_parameters": seed_params("Ada")}), &[]).await;

    // act
    let dom = chromium_dump_dom(&chromium, &format!("{}/#/history/{id}", mock.url)).await;

    // assert
    let row_text = text_content(row(by_id(&dom, "history"), &id));
    assert!(row_text.contains("in_progress"), "row status: {row_text}");
    let detail = by_id(&dom, "detail");
    assert!(text_content(detail).contains("PDF not ready"), "detail: {}", text_content(detail));
    assert!(element_with(detail, "href", &format!("/__admin/history/{id}/pdf")).is_none(), "no PDF link yet: {detail}");
}

#[tokio::test]
async fn link_to_unknown_history_entry_says_it_was_not_found() {
    let Some(chromium) = chromium() else { return };
    // arrange
    let mock = instant_mock().await;
    let unknown = "rend_0000000000000000000000";

    // act
    let dom = chromium_dump_dom(&chromium, &format!("{}/#/history/{unknown}", mock.url)).await;

    // assert
    let text = text_content(by_id(&dom, "detail"));
    assert!(text.contains(unknown) && text.contains("not found"), "detail: {text}");
}

#[tokio::test]
async fn markup_in_names_and_merge_values_shows_as_text() {
    let Some(chromium) = chromium() else { return };
    // arrange
    let mock = instant_mock().await;
    let client = mock.client();
    let template = create_template(&client, "<b id=\"injected-name\">Bold</b>", SEED_TEMPLATE_HTML).await;
    let mut params = seed_params("Ada");
    params["Name"] = json!("<img id=\"injected-value\" src=\"x\">");
    let id = generate_with(&client, json!({"template_id": template, "merge_parameters": params}), &[]).await;

    // act
    let dom = chromium_dump_dom(&chromium, &format!("{}/#/history/{id}", mock.url)).await;

    // assert
    assert!(element_by_id(&dom, "injected-name").is_none(), "a template name became markup");
    assert!(!dom.contains("<img id=\"injected-value\""), "a merge value became markup");
    let template_row = text_content(row(by_id(&dom, "templates"), &template));
    assert!(template_row.contains("<b id=\"injected-name\">Bold</b>"), "the name as typed: {template_row}");
    let detail = text_content(by_id(&dom, "detail"));
    assert!(detail.contains("<img id=\"injected-value\" src=\"x\">"), "the value as sent: {detail}");
}
