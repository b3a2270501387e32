//! The fast path for `POST /generate` and `POST /render` answers exactly as the router does: the same
//! bytes on the wire (ids and the Date header aside), the same History entries, the same journal. Two
//! mocks on the same clock, one with the fast path and one without, get the same requests.

use std::time::Duration;

use inkit_mock::MockConfig;
use integration_tests::MockServer;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TEMPLATE: &str = "tmpl_SeedLetter000000000001";
const TOKEN: &str = inkit_mock::DEFAULT_TOKEN;

/// The mock with the seed's template from `fixtures/` (the same id in both), with or without the fast path.
async fn mock(fast_generate: bool) -> MockServer {
    MockServer::start_with(MockConfig {
        templates_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/templates").into()),
        body_limit: 4096,
        fast_generate,
        ..MockConfig::default()
    })
    .await
}

/// Sends one request on its own connection and returns the raw answer without its Date header.
async fn raw(mock: &MockServer, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let addr = mock.url.trim_start_matches("http://");
    let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8(answer).unwrap();
    answer.split("\r\n").filter(|line| !line.starts_with("date: ")).collect::<Vec<_>>().join("\r\n")
}

/// Replaces the 22 random characters of every `rend_`, `doc_` and `test_` id with `X`s.
fn mask_ids(text: &str) -> String {
    let mut out = text.to_owned();
    for prefix in ["rend_", "doc_", "test_"] {
        let mut from = 0;
        while let Some(at) = out[from..].find(prefix).map(|i| from + i + prefix.len()) {
            let end = at + 22;
            if out.get(at..end).is_some_and(|id| id.bytes().all(|b| b.is_ascii_alphanumeric())) {
                out.replace_range(at..end, &"X".repeat(22));
            }
            from = at;
        }
    }
    out
}

/// What an admin route shows, ids masked.
async fn admin(mock: &MockServer, path: &str) -> Value {
    let reply = mock.client().get(path).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    serde_json::from_str(&mask_ids(&reply.text())).unwrap()
}

/// The journal without what differs between the two mocks: timings and the port in `Host`.
async fn journal(mock: &MockServer) -> Value {
    let mut journal = admin(mock, "/__admin/requests?limit=1000").await;
    for item in journal["items"].as_array_mut().unwrap() {
        item["duration_ms"] = Value::Null;
        item["headers"]["host"] = Value::Null;
    }
    journal
}

/// Method, path, headers, body.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, String);

#[tokio::test]
async fn the_fast_path_answers_and_records_exactly_as_the_router_does() {
    // arrange
    let (fast, general) = (mock(true).await, mock(false).await);
    let json = [("content-type", "application/json"), ("x-inkit-api-token", TOKEN)];
    let seed = format!(
        r#"{{"merge_parameters": {{"Name": "Ada Lovelace", "email": "ada@example.com", "phone number": "+14155550100"}},
            "template_id": "{TEMPLATE}", "description": "test"}}"#
    );
    let with =
        |extra: &str| format!(r#"{{"template_id": "{TEMPLATE}", "merge_parameters": {{"Name": "Ada"}}{extra}}}"#);
    let huge = with(&format!(r#", "description": "{}""#, "x".repeat(5000)));
    let cases: Vec<Case<'_>> = vec![
        // good requests, on every path the fast path serves
        ("POST", "/v1/generate", json.to_vec(), seed.clone()),
        ("POST", "/generate", json.to_vec(), seed.clone()),
        ("POST", "/v1/render", json.to_vec(), seed.clone()),
        ("POST", "/render", json.to_vec(), seed.clone()),
        ("POST", "/v1/generate?x=1", json.to_vec(), seed.clone()),
        (
            "POST",
            "/v1/generate",
            json.to_vec(),
            with(
                r#", "name": "Letter", "destinations": {"inkit_storage": {"folder_id": "fold_1", "expire_after_n_views": 2}}"#,
            ),
        ),
        ("POST", "/v1/generate", json.to_vec(), with(r#", "unknown": [1, {"a": null}]"#)),
        ("POST", "/v1/generate", json.to_vec(), with(r#", "name": "a\"b\u00e9", "is_test": null"#)),
        (
            "POST",
            "/v1/generate",
            vec![json[1], ("idempotency-key", "k-1"), ("x-request-id", "r-1"), ("user-agent", "ua")],
            seed.clone(),
        ),
        ("POST", "/v1/generate", vec![json[1], ("idempotency-key", "k-1")], seed.clone()),
        ("POST", "/v1/generate", vec![json[1]], r#"{"is_test": true, "targetId": 1, "profiles": []}"#.to_owned()),
        // bad requests
        ("POST", "/v1/generate", json.to_vec(), "{\n  \"template_id\": \"x\",\n  merge_parameters: {}\n}".to_owned()),
        ("POST", "/v1/generate", json.to_vec(), String::new()),
        ("POST", "/v1/generate", json.to_vec(), format!(r#"["{TEMPLATE}", {{}}]"#)),
        ("POST", "/v1/generate", json.to_vec(), r#"{"merge_parameters": {"Name": "Ada"}}"#.to_owned()),
        ("POST", "/v1/generate", json.to_vec(), r#"{"template_id": "", "merge_parameters": {}}"#.to_owned()),
        ("POST", "/v1/generate", json.to_vec(), r#"{"template_id": 42, "merge_parameters": {}}"#.to_owned()),
        ("POST", "/v1/generate", json.to_vec(), r#"{"template_id": "tmpl_nope", "merge_parameters": {}}"#.to_owned()),
        ("POST", "/generate", json.to_vec(), with(r#", "template_id": "tmpl_nope""#)),
        (
            "POST",
            "/v1/generate",
            json.to_vec(),
            format!(r#"{{"template_id": "{TEMPLATE}", "merge_parameters": "Name=Ada"}}"#),
        ),
        (
            "POST",
            "/v1/generate",
            json.to_vec(),
            format!(r#"{{"template_id": "{TEMPLATE}", "merge_parameters": {{"a": {{"b": 1}}}}}}"#),
        ),
        ("POST", "/v1/generate", json.to_vec(), with(r#", "name": 5"#)),
        (
            "POST",
            "/v1/generate",
            json.to_vec(),
            with(r#", "destinations": {"inkit_storage": {"expire_after_n_views": 0}}"#),
        ),
        ("POST", "/v1/generate", json.to_vec(), with(r#", "x": 1e999"#)),
        ("POST", "/v1/generate", json.to_vec(), huge),
        ("POST", "/v1/generate", vec![json[0]], seed.clone()),
        ("POST", "/v1/generate", vec![json[0], ("x-inkit-api-token", "wrong")], seed.clone()),
        // not the fast path's: the router answers both
        ("POST", "/v1/generate/", json.to_vec(), seed.clone()),
        ("GET", "/v1/generate", json.to_vec(), String::new()),
        ("PUT", "/render", json.to_vec(), seed.clone()),
    ];

    for (method, path, headers, body) in &cases {
        // act
        let from_fast = raw(&fast, method, path, headers, body.as_bytes()).await;
        let from_general = raw(&general, method, path, headers, body.as_bytes()).await;

        // assert
        assert_eq!(mask_ids(&from_fast), mask_ids(&from_general), "{method} {path} {body}");
        assert!(from_fast.contains("\r\ncontent-type: application/json\r\n"), "{from_fast}");
    }
    let stored = fast.inkit.entry_count();
    assert_eq!(stored, 11, "every good request, the test request and the retry are in History");
    assert_eq!(stored, general.inkit.entry_count());
    assert_eq!(
        admin(&fast, "/__admin/history?page_size=100").await,
        admin(&general, "/__admin/history?page_size=100").await
    );
    assert_eq!(admin(&fast, "/v1/render?page_size=100").await, admin(&general, "/v1/render?page_size=100").await);
    assert_eq!(journal(&fast).await, journal(&general).await);
    assert_eq!(admin(&fast, "/__admin/counts").await, admin(&general, "/__admin/counts").await);
}

#[tokio::test]
async fn a_generate_answered_by_the_fast_path_is_stored_before_the_answer() {
    // arrange: History in SQLite
    let dir = tempfile::tempdir().unwrap();
    let mock = MockServer::start_with(MockConfig {
        storage: inkit_mock::Storage::DataDir(dir.path().to_owned()),
        templates_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/templates").into()),
        ..MockConfig::default()
    })
    .await;
    let client = mock.client();
    let body = serde_json::json!({"template_id": TEMPLATE, "merge_parameters": {"Name": "Ada"}});

    // act
    let reply = client.post("/v1/generate", &body).await;

    // assert: the entry is visible as soon as the answer is, and was written to the file
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert!(mock.inkit.entry(&id).is_some(), "{id} is not in History when its answer arrives");
    mock.stop().await;
    let reopened = MockServer::start_with(MockConfig {
        storage: inkit_mock::Storage::DataDir(dir.path().to_owned()),
        ..MockConfig::default()
    })
    .await;
    assert!(reopened.inkit.entry(&id).is_some(), "{id} did not survive a restart");
}
