//! Bad requests to inkit-mock that the corpus (`fixtures/bad-requests/inkit.toml`, run by
//! `bad_request_corpus.rs`) cannot express: the body limit to the byte, a chunked body with no length, and
//! a refused token not echoed back. The corpus covers every route with the rest.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use inkit_mock::MockConfig;
use integration_tests::{
    Client, MockServer, Reply, SEED_TEMPLATE_HTML, assert_api_error, create_template, seed_params,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post_raw(client: &Client, path: &str, body: &[u8]) -> Reply {
    client.send(Method::POST, path, Bytes::copy_from_slice(body), &[("content-type", "application/json")]).await
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_accepted_and_one_byte_more_is_413() {
    // arrange
    let mock = MockServer::start_with(MockConfig { body_limit: 1024, ..MockConfig::default() }).await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let json = json!({"template_id": template, "merge_parameters": seed_params("Ada")}).to_string();
    let padded = |len: usize| format!("{json}{}", " ".repeat(len - json.len())).into_bytes();

    // act
    let at_limit = post_raw(&client, "/v1/generate", &padded(1024)).await;
    let over_limit = post_raw(&client, "/v1/generate", &padded(1025)).await;

    // assert
    assert_eq!(at_limit.status, 200, "{}", at_limit.text());
    assert_api_error(&over_limit, 413, None);
    assert_eq!(mock.inkit.entry_count(), 1);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_without_content_length_is_also_413() {
    // arrange
    let mock = MockServer::start_with(MockConfig { body_limit: 1024, ..MockConfig::default() }).await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let addr = mock.url.strip_prefix("http://").unwrap().to_owned();
    let chunk = format!("{{\"template_id\":\"{template}\",\"merge_parameters\":{{\"Name\":\"{}", "x".repeat(700));
    let rest = format!("{}\"}}}}", "y".repeat(700));
    let request = format!(
        "POST /v1/generate HTTP/1.1\r\nHost: {addr}\r\nX-Inkit-API-Token: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n",
        inkit_mock::DEFAULT_TOKEN,
        chunk.len(),
        rest.len()
    );

    // act
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);

    // assert
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("content-type: application/json"), "{answer}");
    assert!(answer.contains("\"type\":\"payload_too_large\""), "{answer}");
    assert_eq!(mock.inkit.entry_count(), 0);
    let next =
        client.post("/v1/generate", &json!({"template_id": template, "merge_parameters": seed_params("Ada")})).await;
    assert_eq!(next.status, 200, "{}", next.text());
}

#[tokio::test]
async fn an_unknown_token_is_refused_without_being_echoed_back() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});

    // act
    let unknown = client.with_token(Some("not-a-real-token")).post("/v1/generate", &body).await;

    // assert
    assert_api_error(&unknown, 401, None);
    assert!(!unknown.text().contains("not-a-real-token"), "the error must not echo the token: {}", unknown.text());
    assert_eq!(mock.inkit.entry_count(), 0);
}
