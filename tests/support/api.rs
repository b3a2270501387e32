//! Small helpers for tests of the Inkit API: making renders, reading PDFs, checking error bodies.

use serde_json::Value;

use crate::{Client, Reply};

/// Merge parameters that fill every field of `SEED_TEMPLATE_HTML`.
pub fn seed_params(name: &str) -> Value {
    serde_json::json!({"Name": name, "email": format!("{}@example.com", name.to_lowercase()), "phone number": "+1 555 0100"})
}

/// `POST /v1/generate` that must succeed; returns the render id and the document id.
pub async fn generate(client: &Client, template_id: &str, merge_parameters: Value) -> (String, String) {
    let reply = client
        .post("/v1/generate", &serde_json::json!({"template_id": template_id, "merge_parameters": merge_parameters}))
        .await;
    assert_eq!(reply.status, 200, "generate: {}", reply.text());
    let body = reply.json();
    (body["id"].as_str().expect("render id").to_owned(), body["document_id"].as_str().expect("document id").to_owned())
}

/// The text of every page of a PDF, as lopdf extracts it. Panics when the bytes are not a readable PDF.
pub fn pdf_text(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF: {:?}", String::from_utf8_lossy(&bytes[..bytes.len().min(40)]));
    let doc = lopdf::Document::load_mem(bytes).expect("lopdf reads the PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("text extracts from the PDF")
}

/// The number of pages lopdf finds in a PDF.
pub fn pdf_page_count(bytes: &[u8]) -> usize {
    lopdf::Document::load_mem(bytes).expect("lopdf reads the PDF").get_pages().len()
}

/// Asserts that `reply` is an error in the mock's JSON shape (`{"error","code","type","field"}`, exactly
/// `application/json`) with this status and field; returns the body.
pub fn assert_api_error(reply: &Reply, status: u16, field: Option<&str>) -> Value {
    assert_eq!(reply.status, status, "status; body: {}", reply.text());
    assert_eq!(reply.content_type(), "application/json", "content type of a {status}");
    let body = reply.json();
    let obj = body.as_object().unwrap_or_else(|| panic!("error body is not an object: {body}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "error", "field", "type"], "error body keys: {body}");
    assert_eq!(body["code"], status, "code in body: {body}");
    assert!(body["error"].as_str().is_some_and(|m| !m.is_empty()), "error message: {body}");
    assert!(body["type"].as_str().is_some_and(|t| !t.is_empty()), "error type: {body}");
    assert_eq!(body["field"].as_str(), field, "field: {body}");
    body
}

/// `GET /__admin/history?{query}`, which must succeed; returns the list envelope.
pub async fn admin_history(client: &Client, query: &str) -> Value {
    let path = if query.is_empty() { "/__admin/history".to_owned() } else { format!("/__admin/history?{query}") };
    let reply = client.get(&path).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

/// The `id`s of a list envelope's items, in order.
pub fn item_ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items array in {list}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_else(|| panic!("item without id: {i}")).to_owned())
        .collect()
}
