//! Bad requests to the engine API: each is refused with its status and a message naming what was wrong
//! (field, line and column), in CleverTap's error shape with `Content-Type: application/json`, and none
//! changes what the engine stores.

use bytes::Bytes;
use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE, EngineApiConfig, ROUTES};
use http::Method;
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

const POST_ROUTES: [&str; 6] = [
    "/1/upload",
    "/1/profiles.json",
    "/1/events.json",
    "/1/counts/profiles.json",
    "/1/counts/events.json",
    "/1/delete/profiles.json",
];

#[tokio::test]
async fn malformed_json_is_400_naming_line_and_column_on_every_route() {
    let (server, client) = seeded().await;
    let before = server.stored();
    for path in POST_ROUTES {
        let reply = client.post_raw(path, "{\n  \"d\": [],\n  oops\n}").await;
        assert_refused(&server, &before, &reply, 400, "Malformed JSON: line 3 column 3: key must be a string");
    }
    for path in ["/1/profiles.json", "/1/events.json"] {
        let reply = client.get(&format!("{path}?batch_size=5&query={}", url_encode("{\"event_name\": }"))).await;
        assert_refused(&server, &before, &reply, 400, "query: malformed JSON: line 1 column 16: expected value");
    }
}

#[tokio::test]
async fn empty_and_non_utf8_bodies_are_400() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let mut not_utf8 = b"{\"d\": [{\"type\": \"profile\", \"identity\": \"".to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe]);
    not_utf8.extend_from_slice(b"\", \"profileData\": {}}]}");
    for path in POST_ROUTES {
        let reply = client.post_raw(path, "").await;
        assert_refused(&server, &before, &reply, 400, "Request body is empty; expected JSON");
        let reply = client.post_raw(path, Bytes::from(not_utf8.clone())).await;
        assert_refused(&server, &before, &reply, 400, "Request body is not valid UTF-8 (invalid byte at offset 40)");
    }
}

#[tokio::test]
async fn uploads_that_are_not_uploads_are_refused_whole() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let record = json!({"type": "profile", "identity": "new", "profileData": {}});
    let cases = [
        (
            json!({"records": [record.clone()]}),
            "Some mandatory parameter was missing. The records need to be in \"d\".",
        ),
        (json!({"d": {"0": record.clone()}}), "Request body is incorrect. \"d\" needs to be an array of records."),
        (json!([record.clone()]), "Request body is incorrect. It needs to be a JSON object with the records in \"d\"."),
        (
            json!({"d": vec![record.clone(); 1001]}),
            "Too many records. At most 1000 records can be uploaded at once, got 1001.",
        ),
    ];
    for (body, message) in cases {
        let reply = client.post("/1/upload", &body).await;
        assert_refused(&server, &before, &reply, 400, message);
    }
    let reply = client.post("/1/upload?dryRun=maybe", &json!({"d": [record]})).await;
    assert_refused(&server, &before, &reply, 400, "dryRun: must be 1 or 0 (or true or false), got \"maybe\"");
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
async fn bad_queries_are_400_naming_the_field() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let bad_operator = json!({"event_name": "Charged", "from": 20261101, "to": 20261130,
        "event_properties": [{"name": "Amount", "operator": "greater_than", "value": 1},
                             {"name": "Amount", "operator": "like", "value": 1}]});
    let cases = [
        ("/1/profiles.json", json!([1]), "query: must be a JSON object, not a list"),
        (
            "/1/counts/profiles.json",
            json!({"colour": "red"}),
            "colour: unknown field; the fields are event_name, from, to, event_properties (or props), common_profile_properties (or common_profile_prop), session_properties, demographics, geo_fields",
        ),
        (
            "/1/counts/profiles.json",
            json!({"event_name": "Charged", "from": 20261101}),
            "to: required with event_name, as YYYYMMDD (e.g. 20240131)",
        ),
        ("/1/events.json", json!({}), "event_name: required to export events (with from and to)"),
        (
            "/1/counts/events.json",
            json!({"common_profile_properties": {"profile_fields": []}}),
            "event_name: required to export events (with from and to)",
        ),
        (
            "/1/profiles.json",
            json!({"event_name": 5, "from": 20261101, "to": 20261130}),
            "event_name: must be a non-empty string, not a number",
        ),
    ];
    for (path, query, message) in cases {
        let reply = client.post(path, &query).await;
        assert_refused(&server, &before, &reply, 400, message);
    }
    let reply = client.post("/1/events.json", &bad_operator).await;
    let message = assert_clevertap_error(&reply, 400);
    assert!(message.starts_with("event_properties[1].operator: unknown operator \"like\"; use equals"), "{message}");
    let reply = client.get(&format!("/1/profiles.json?query={}", url_encode(&bad_operator.to_string()))).await;
    assert_eq!(assert_clevertap_error(&reply, 400), message);
    assert_eq!(server.stored(), before);
}

#[tokio::test]
async fn batch_size_outside_1_to_5000_is_400_naming_it() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let query = url_encode("{}");
    for size in ["0", "5001", "-1", "ten", ""] {
        let message = format!("batch_size: must be an integer from 1 to 5000, got {size:?}");
        let reply = client.get(&format!("/1/profiles.json?batch_size={size}&query={query}")).await;
        assert_refused(&server, &before, &reply, 400, &message);
        let reply = client.post(&format!("/1/profiles.json?batch_size={size}"), &json!({})).await;
        assert_refused(&server, &before, &reply, 400, &message);
    }
    for size in ["1", "5000"] {
        let reply = client.get(&format!("/1/profiles.json?batch_size={size}&query={query}")).await;
        assert_eq!(reply.status, 200, "batch_size {size}: {}", reply.text());
    }
}

#[tokio::test]
async fn unknown_foreign_and_doubled_cursors_are_400_naming_cursor() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let profiles_cursor =
        client.post("/1/profiles.json?batch_size=1", &json!({})).await.json()["cursor"].as_str().unwrap().to_owned();
    let unknown = "cursor: unknown cursor: it was not issued by this server, or it expired (cursors last 240 minutes)";
    let forged = format!("{}{:016x}", &profiles_cursor[..32], 99);
    let cases = [
        ("/1/profiles.json?cursor=AbCdEf".to_owned(), unknown.to_owned()),
        (format!("/1/profiles.json?cursor={forged}"), unknown.to_owned()),
        ("/1/events.json?cursor=".to_owned(), unknown.to_owned()),
        (
            format!("/1/events.json?cursor={profiles_cursor}"),
            "cursor: this cursor belongs to /1/profiles.json".to_owned(),
        ),
        (
            format!("/1/profiles.json?cursor={profiles_cursor}&query=%7B%7D"),
            "cursor: give either cursor or query, not both".to_owned(),
        ),
        (
            "/1/profiles.json?query=%FF".to_owned(),
            "query: is not valid UTF-8 once its %-escapes are decoded".to_owned(),
        ),
    ];
    for (path, message) in cases {
        let reply = client.get(&path).await;
        assert_refused(&server, &before, &reply, 400, &message);
    }
    let reply = client.get("/1/events.json").await;
    let message = assert_clevertap_error(&reply, 400);
    assert!(message.starts_with("Some mandatory parameter was missing. Give query"), "{message}");
}

#[tokio::test]
async fn profile_lookups_need_one_of_email_identity_object_id() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let message = "Some mandatory parameter was missing. Give one of email, identity or objectId.";
    for query in ["", "?name=Ada", "?email=", "?identity=%20"] {
        let reply = client.get(&format!("/1/profile.json{query}")).await;
        assert_refused(&server, &before, &reply, 400, message);
    }
}

#[tokio::test]
async fn bad_deletions_are_400_naming_the_field_and_delete_nobody() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let cases = [
        (json!({}), "identity: required: give identity or guid, a list of the users' identities or CleverTap IDs"),
        (json!({"identity": [{}]}), "identity[0]: must be a non-empty string or an integer"),
        (json!({"identity": ["ada"], "guid": [true]}), "guid[0]: must be a non-empty string or an integer"),
        (json!({"email": ["ada@example.com"]}), "email: unknown field; a deletion has identity and guid"),
        (json!("ada"), "body: must be a JSON object with identity and/or guid"),
    ];
    for (body, message) in cases {
        let reply = client.post("/1/delete/profiles.json", &body).await;
        assert_refused(&server, &before, &reply, 400, message);
    }
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_401_on_every_route() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let upload = json!({"d": [{"type": "profile", "identity": "intruder", "profileData": {}}]}).to_string();
    let cases = [
        (None, "Account ID is not valid"),
        (Some(("NOT-AN-ACCOUNT", DEFAULT_PASSCODE)), "Account ID is not valid"),
        (Some((DEFAULT_ACCOUNT_ID, "wrong")), "Passcode is not valid for this Account ID"),
        (Some((DEFAULT_ACCOUNT_ID, "")), "Passcode is missing: send it in X-CleverTap-Passcode"),
    ];
    for (account, message) in cases {
        let client = client.with_account(account);
        for route in ROUTES {
            let (method, path) = route.split_once(' ').unwrap();
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let reply = client.send(method, path, upload.clone(), &[("content-type", "application/json")]).await;
            assert_refused(&server, &before, &reply, 401, message);
        }
    }
    let only_id = client.with_account(None);
    let reply =
        only_id.send(Method::POST, "/1/upload", upload, &[("X-CleverTap-Account-Id", DEFAULT_ACCOUNT_ID)]).await;
    assert_refused(&server, &before, &reply, 401, "Passcode is missing: send it in X-CleverTap-Passcode");
}

#[tokio::test]
async fn wrong_methods_are_405_and_unknown_routes_404() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let cases = [
        (Method::GET, "/1/upload", 405, "Method GET is not allowed on /1/upload; use POST"),
        (Method::PUT, "/1/profiles.json", 405, "Method PUT is not allowed on /1/profiles.json; use GET or POST"),
        (Method::DELETE, "/1/profile.json", 405, "Method DELETE is not allowed on /1/profile.json; use GET"),
        (Method::GET, "/1/delete/profiles.json", 405, "Method GET is not allowed on /1/delete/profiles.json; use POST"),
        (Method::GET, "/1/targets/list.json", 405, "Method GET is not allowed on /1/targets/list.json; use POST"),
        (Method::POST, "/1/uploads", 404, "No such API: POST /1/uploads"),
        (Method::GET, "/", 404, "No such API: GET /"),
    ];
    for (method, path, status, message) in cases {
        let reply = client.send(method, path, "{}", &[]).await;
        assert_refused(&server, &before, &reply, status, message);
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_the_next_request_still_works() {
    let (server, client) = seeded().await;
    let before = server.stored();
    let records: Vec<Value> = (0..1000)
        .map(|i| json!({"type": "profile", "identity": format!("u{i}"), "profileData": {"Bio": "x".repeat(1100)}}))
        .collect();
    let reply = client.upload(Value::Array(records)).await;
    assert_refused(&server, &before, &reply, 413, "Request body is larger than the limit of 1048576 bytes");
    let reply = client.post("/1/counts/profiles.json", &json!({})).await;
    assert_eq!(reply.json()["count"], 2);
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
