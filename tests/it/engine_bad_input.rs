//! Bad requests to the engine API that the corpus (`fixtures/bad-requests/engine.toml`, run by
//! `bad_request_corpus.rs`) cannot express: more than 1,000 records, cursors this server issued used wrongly,
//! the limits of batch_size, a configured body limit and a chunked body, an upload whose every record fails (200),
//! and a journal that cannot write (500). Each refusal is in CleverTap's error shape and changes nothing stored.

use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE, EngineApiConfig};
use integration_tests::{EngineClient, EngineServer, Reply, assert_clevertap_error, url_encode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server with two users and their events, and a client with the default account.
async fn seeded() -> (EngineServer, EngineClient) {
    seeded_with(EngineApiConfig::default()).await
}

async fn seeded_with(config: EngineApiConfig) -> (EngineServer, EngineClient) {
    let server = EngineServer::start_with(config).await;
    let client = server.client();
    client
        .upload_ok(json!([
            {"type": "profile", "identity": "ada", "profileData": {"Name": "Ada", "Email": "ada@example.com"}},
            {"type": "profile", "identity": "grace", "profileData": {"Name": "Grace"}},
            {"type": "event", "identity": "ada", "ts": 1_793_610_000, "evtName": "Charged", "evtData": {"Amount": 5}},
        ]))
        .await;
    (server, client)
}

/// Asserts the refusal (status, exact message) and that the stored data is what it was.
fn assert_refused(server: &EngineServer, before: &Value, reply: &Reply, status: u16, message: &str) {
    assert_eq!(assert_clevertap_error(reply, status), message);
    assert_eq!(&server.stored(), before, "a refused request changed the stored data");
}

#[tokio::test]
async fn an_upload_of_more_than_1000_records_is_refused_whole() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let record = json!({"type": "profile", "identity": "new", "profileData": {}});
    let reply = client.post("/1/upload", &json!({"d": vec![record; 1001]})).await;
    assert_refused(
        &server,
        &before,
        &reply,
        400,
        "Too many records. At most 1000 records can be uploaded at once, got 1001.",
    );
}

#[tokio::test]
async fn an_upload_whose_every_record_fails_is_200_with_status_fail_and_stores_nothing() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let reply =
        client.upload(json!([{"type": "event", "identity": "ada", "evtName": "Charged"}, {"identity": "x"}])).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!((body["status"].clone(), body["processed"].clone()), (json!("fail"), json!(0)));
    assert_eq!(body["unprocessed"].as_array().map(Vec::len), Some(2));
    assert_eq!(server.stored(), before);
}

#[tokio::test]
async fn batch_size_1_and_5000_are_the_limits_accepted() {
    let (_server, client) = seeded().await;
    let query = url_encode("{}");
    for size in ["1", "5000"] {
        let reply = client.get(&format!("/1/profiles.json?batch_size={size}&query={query}")).await;
        assert_eq!(reply.status, 200, "batch_size {size}: {}", reply.text());
    }
}

#[tokio::test]
async fn a_forged_cursor_and_one_issued_for_another_export_are_400_naming_cursor() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let profiles_cursor =
        client.post("/1/profiles.json?batch_size=1", &json!({})).await.json()["cursor"].as_str().unwrap().to_owned();
    let forged = format!("{}{:016x}", &profiles_cursor[..32], 99);
    let cases = [
        (
            format!("/1/profiles.json?cursor={forged}"),
            "cursor: unknown cursor: it was not issued by this server, or it expired (cursors last 240 minutes)",
        ),
        (format!("/1/events.json?cursor={profiles_cursor}"), "cursor: this cursor belongs to /1/profiles.json"),
    ];
    for (path, message) in cases {
        let reply = client.get(&path).await;
        assert_refused(&server, &before, &reply, 400, message);
    }
}

#[tokio::test]
async fn the_body_limit_is_configurable_and_holds_without_content_length() {
    // arrange
    let (server, client) = seeded_with(EngineApiConfig { body_limit: 1000, ..EngineApiConfig::default() }).await;
    let before = server.stored();
    let small = json!({"d": []});
    let big = json!({"d": [{"type": "profile", "identity": "x", "profileData": {"Bio": "y".repeat(1000)}}]});

    // act
    let accepted = client.post("/1/upload", &small).await;
    let refused = client.post("/1/upload", &big).await;
    let chunked = send_chunked(&server.url, "/1/upload", big.to_string().as_bytes()).await;

    // assert
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    assert_refused(&server, &before, &refused, 413, "Request body is larger than the limit of 1000 bytes");
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(chunked.to_ascii_lowercase().contains("content-type: application/json"), "{chunked}");
    assert!(chunked.contains("\"error\":\"Request body is larger than the limit of 1000 bytes\""), "{chunked}");
    assert_eq!(server.stored(), before);
}

/// Sends `body` with `Transfer-Encoding: chunked` (no Content-Length) over a raw connection; returns the
/// answer as text.
async fn send_chunked(url: &str, path: &str, body: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nX-CleverTap-Account-Id: {DEFAULT_ACCOUNT_ID}\r\n\
         X-CleverTap-Passcode: {DEFAULT_PASSCODE}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    for chunk in body.chunks(64) {
        let _ = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await;
        let _ = stream.write_all(chunk).await;
        let _ = stream.write_all(b"\r\n").await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// A journal that refuses every append, as a full disk would.
struct FullDisk;

impl campaign_engine::Journal for FullDisk {
    fn append(&mut self, _: &str, _: clock::Timestamp, _: &Value) -> Result<(), campaign_engine::JournalError> {
        Err(campaign_engine::JournalError::Write("disk full".into()))
    }

    fn replay(
        &mut self,
        _: &mut dyn FnMut(&str, clock::Timestamp, Value) -> Result<(), campaign_engine::JournalError>,
    ) -> Result<(), campaign_engine::JournalError> {
        Ok(())
    }
}

#[tokio::test]
async fn when_the_journal_cannot_write_changes_answer_500_and_nothing_changes() {
    // arrange
    let clock = std::sync::Arc::new(clock::ManualClock::new("2026-11-27T09:00:00Z".parse().unwrap()));
    let engine = campaign_engine::Engine::open(clock.clone(), Box::new(FullDisk)).unwrap();
    let server = EngineServer::serve(engine, clock, EngineApiConfig::default()).await;
    let client = server.client();
    let before = server.stored();

    // act
    let upload = client.upload(json!([{"type": "profile", "identity": "ada", "profileData": {}}])).await;
    let dry_run = client
        .post("/1/upload?dryRun=1", &json!({"d": [{"type": "profile", "identity": "ada", "profileData": {}}]}))
        .await;

    // assert
    assert_refused(
        &server,
        &before,
        &upload,
        500,
        "The upload could not be stored, nothing was applied; try again. cannot write to the engine journal: disk full",
    );
    assert_eq!(dry_run.status, 200, "a dry run stores nothing, so it still answers: {}", dry_run.text());
    assert_eq!(client.profile("identity=ada").await.status, 404);
}
