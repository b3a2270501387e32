//! Bad requests: each is refused with the right status and a JSON error naming the field, and none leaves
//! anything in History.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::Method;
use inkit_mock::MockConfig;
use integration_tests::{
    Client, MockServer, Reply, SEED_TEMPLATE_HTML, assert_api_error, create_template, seed_params,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A mock with one template; returns the mock, a client and the template id.
async fn mock_with_template() -> (MockServer, Client, String) {
    let mock = MockServer::start().await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    (mock, client, template)
}

async fn post_raw(client: &Client, path: &str, body: &[u8]) -> Reply {
    client.send(Method::POST, path, Bytes::copy_from_slice(body), &[("content-type", "application/json")]).await
}

/// Asserts the error shape and that History is as empty as before, through the API and the admin view.
async fn assert_refused(mock: &MockServer, reply: &Reply, status: u16, field: Option<&str>) -> Value {
    let body = assert_api_error(reply, status, field);
    assert_eq!(mock.inkit.entry_count(), 0, "a refused request left a History entry");
    let history = mock.client().get("/__admin/history").await.json();
    assert_eq!(history["metadata"]["pagination"]["total_count"], 0, "{history}");
    body
}

#[tokio::test]
async fn malformed_json_is_400_naming_line_and_column() {
    // arrange
    let (mock, client, _) = mock_with_template().await;

    // act
    let reply =
        post_raw(&client, "/v1/generate", b"{\n  \"template_id\": \"tmpl_x\",\n  merge_parameters: {}\n}").await;

    // assert
    let body = assert_refused(&mock, &reply, 400, None).await;
    assert_eq!(body["type"], "malformed_body");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("line 3 column 3"), "{message}");
}

#[tokio::test]
async fn an_empty_body_is_400() {
    // arrange
    let (mock, client, _) = mock_with_template().await;

    // act
    let empty = post_raw(&client, "/v1/generate", b"").await;
    let blank = post_raw(&client, "/v1/generate", b"  \n ").await;

    // assert
    let body = assert_refused(&mock, &empty, 400, None).await;
    assert_eq!(body["type"], "malformed_body");
    assert!(body["error"].as_str().unwrap().contains("empty"), "{body}");
    assert_refused(&mock, &blank, 400, None).await;
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_400() {
    // arrange
    let (mock, client, template) = mock_with_template().await;
    let mut body = format!("{{\"template_id\":\"{template}\",\"merge_parameters\":{{\"Name\":\"").into_bytes();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"\"}}");

    // act
    let reply = post_raw(&client, "/v1/generate", &body).await;

    // assert
    let err = assert_refused(&mock, &reply, 400, None).await;
    assert_eq!(err["type"], "malformed_body");
    assert!(err["error"].as_str().unwrap().contains("UTF-8"), "{err}");
}

#[tokio::test]
async fn a_json_array_body_is_422() {
    // arrange
    let (mock, client, template) = mock_with_template().await;
    let body = json!([{"template_id": template, "merge_parameters": seed_params("Ada")}]);

    // act
    let reply = client.post("/v1/generate", &body).await;

    // assert
    let err = assert_refused(&mock, &reply, 422, Some("body")).await;
    assert_eq!(err["type"], "validation_failed");
}

#[tokio::test]
async fn template_id_missing_empty_or_not_a_string_is_422_on_template_id() {
    // arrange
    let (mock, client, _) = mock_with_template().await;
    let cases = [
        json!({"merge_parameters": seed_params("Ada")}),
        json!({"template_id": null, "merge_parameters": seed_params("Ada")}),
        json!({"template_id": "", "merge_parameters": seed_params("Ada")}),
        json!({"template_id": 42, "merge_parameters": seed_params("Ada")}),
        json!({"template_id": ["tmpl_x"], "merge_parameters": seed_params("Ada")}),
    ];

    for body in cases {
        // act
        let reply = client.post("/v1/generate", &body).await;

        // assert
        let err = assert_refused(&mock, &reply, 422, Some("template_id")).await;
        assert_eq!(err["type"], "validation_failed", "{body}");
    }
}

#[tokio::test]
async fn merge_parameters_missing_or_not_an_object_is_422_on_merge_parameters() {
    // arrange
    let (mock, client, template) = mock_with_template().await;
    let cases = [
        json!({"template_id": template}),
        json!({"template_id": template, "merge_parameters": "Name=Ada"}),
        json!({"template_id": template, "merge_parameters": ["Ada"]}),
        json!({"template_id": template, "merge_parameters": null}),
    ];

    for body in cases {
        // act
        let reply = client.post("/v1/generate", &body).await;

        // assert
        assert_refused(&mock, &reply, 422, Some("merge_parameters")).await;
    }
}

#[tokio::test]
async fn a_merge_parameter_whose_value_is_an_object_or_array_is_422_naming_the_key() {
    // arrange
    let (mock, client, template) = mock_with_template().await;

    // act
    let object = client
        .post(
            "/v1/generate",
            &json!({"template_id": template, "merge_parameters": {"Name": "Ada", "address": {"city": "Oslo"}}}),
        )
        .await;
    let array = client
        .post("/v1/generate", &json!({"template_id": template, "merge_parameters": {"phone number": ["1", "2"]}}))
        .await;

    // assert
    let err = assert_refused(&mock, &object, 422, Some("merge_parameters.address")).await;
    assert!(err["error"].as_str().unwrap().contains("merge_parameters.address"), "{err}");
    assert_refused(&mock, &array, 422, Some("merge_parameters.phone number")).await;
}

#[tokio::test]
async fn destinations_must_be_an_object_with_a_valid_inkit_storage() {
    // arrange
    let (mock, client, template) = mock_with_template().await;
    let with = |destinations: Value| json!({"template_id": template, "merge_parameters": seed_params("Ada"), "destinations": destinations});
    let cases = [
        (with(json!("inkit_storage")), "destinations"),
        (with(json!([{"inkit_storage": {}}])), "destinations"),
        (with(json!({"inkit_storage": "yes"})), "destinations.inkit_storage"),
        (
            with(json!({"inkit_storage": {"expire_after_n_views": 0}})),
            "destinations.inkit_storage.expire_after_n_views",
        ),
        (
            with(json!({"inkit_storage": {"expire_after_n_views": 1.5}})),
            "destinations.inkit_storage.expire_after_n_views",
        ),
        (
            with(json!({"inkit_storage": {"expire_after_n_views": "2"}})),
            "destinations.inkit_storage.expire_after_n_views",
        ),
        (with(json!({"inkit_storage": {"folder_id": 7}})), "destinations.inkit_storage.folder_id"),
    ];

    for (body, field) in cases {
        // act
        let reply = client.post("/v1/generate", &body).await;

        // assert
        assert_refused(&mock, &reply, 422, Some(field)).await;
    }
}

#[tokio::test]
async fn an_unknown_template_is_404_on_template_id() {
    // arrange
    let (mock, client, _) = mock_with_template().await;

    // act
    let reply = client
        .post("/v1/generate", &json!({"template_id": "tmpl_doesnotexist", "merge_parameters": seed_params("Ada")}))
        .await;

    // assert
    let err = assert_refused(&mock, &reply, 404, Some("template_id")).await;
    assert_eq!(err["type"], "not_found");
    assert!(err["error"].as_str().unwrap().contains("tmpl_doesnotexist"), "{err}");
}

#[tokio::test]
async fn unknown_ids_are_404_at_once_so_sdk_retries_end_quickly() {
    // arrange
    let (mock, client, _) = mock_with_template().await;
    let paths = [
        (Method::GET, "/v1/render/rend_0000000000000000000000"),
        (Method::GET, "/v1/render/rend_0000000000000000000000/pdf"),
        (Method::DELETE, "/v1/render/rend_0000000000000000000000"),
        (Method::GET, "/v1/document/doc_0000000000000000000000"),
        (Method::DELETE, "/v1/document/doc_0000000000000000000000"),
        (Method::GET, "/v1/download/doc_0000000000000000000000"),
        (Method::GET, "/download/doc_0000000000000000000000"),
        (Method::GET, "/v1/batch/rb_0000000000000000000000"),
        (Method::GET, "/v1/template/tmpl_0000000000000000000000"),
    ];

    for (method, path) in paths {
        // act: the SDK retries 404s on PDF paths for ~30 s; a slow 404 would multiply that
        let reply = tokio::time::timeout(Duration::from_secs(5), client.send(method.clone(), path, Bytes::new(), &[]))
            .await
            .unwrap_or_else(|_| panic!("{method} {path} did not answer at once"));

        // assert
        let err = assert_refused(&mock, &reply, 404, None).await;
        assert_eq!(err["type"], "not_found", "{method} {path}");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_in_the_json_error_shape() {
    // arrange
    let (mock, client, template) = mock_with_template().await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});

    // act
    let put = client.put("/v1/generate", &body).await;
    let delete = client.delete("/v1/template").await;
    let delete_unprefixed = client.delete("/template").await;
    let post_pdf = client.post("/v1/render/rend_x/pdf", &body).await;

    // assert
    for reply in [&put, &delete, &delete_unprefixed, &post_pdf] {
        let err = assert_refused(&mock, reply, 405, None).await;
        assert_eq!(err["type"], "method_not_allowed");
    }
    assert!(put.json()["error"].as_str().unwrap().contains("PUT"), "{}", put.text());
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    // arrange
    let (mock, client, _) = mock_with_template().await;

    // act
    let replies = [
        client.get("/v1/no-such-thing").await,
        client.get("/v2/render").await,
        client.post("/v1/generate/extra", &json!({})).await,
        client.get("/__admin/nope").await,
    ];

    // assert
    for reply in &replies {
        let err = assert_refused(&mock, reply, 404, None).await;
        assert_eq!(err["type"], "not_found");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_the_next_valid_request_still_works() {
    // arrange
    let mock = MockServer::start_with(MockConfig { body_limit: 1024, ..MockConfig::default() }).await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let big = json!({"template_id": template, "merge_parameters": {"Name": "x".repeat(2000)}});

    // act
    let too_large = client.post("/v1/generate", &big).await;
    let next =
        client.post("/v1/generate", &json!({"template_id": template, "merge_parameters": seed_params("Ada")})).await;

    // assert
    let err = assert_api_error(&too_large, 413, None);
    assert_eq!(err["type"], "payload_too_large");
    assert!(err["error"].as_str().unwrap().contains("1024"), "{err}");
    assert_eq!(next.status, 200, "{}", next.text());
    assert_eq!(mock.inkit.entry_count(), 1);
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
async fn a_missing_or_unknown_token_is_401_with_a_json_body() {
    // arrange
    let (mock, client, template) = mock_with_template().await;
    let body = json!({"template_id": template, "merge_parameters": seed_params("Ada")});

    // act
    let missing = client.with_token(None).post("/v1/generate", &body).await;
    let unknown = client.with_token(Some("not-a-real-token")).post("/v1/generate", &body).await;
    let unknown_get = client.with_token(Some("not-a-real-token")).get("/v1/template").await;
    let empty = client.with_token(Some("")).post("/v1/generate", &body).await;

    // assert
    for reply in [&missing, &unknown, &unknown_get, &empty] {
        let err = assert_refused(&mock, reply, 401, None).await;
        assert_eq!(err["type"], "unauthorized");
    }
    assert!(missing.json()["error"].as_str().unwrap().contains("X-Inkit-API-Token"), "{}", missing.text());
    assert!(!unknown.text().contains("not-a-real-token"), "the error must not echo the token: {}", unknown.text());
}

#[tokio::test]
async fn a_batch_with_one_bad_item_is_refused_whole_naming_the_item() {
    // arrange
    let (mock, client, template) = mock_with_template().await;
    let batch = |renders: Value| json!({"template_id": template, "renders": renders});
    let good = json!({"merge_parameters": seed_params("Ada")});
    let cases = [
        (batch(json!([good, {"name": "no params"}, good])), "renders[1].merge_parameters"),
        (
            batch(json!([good, good, {"merge_parameters": {"Name": {"first": "Ada"}}}])),
            "renders[2].merge_parameters.Name",
        ),
        (batch(json!([good, "not an object"])), "renders[1]"),
        (
            batch(
                json!([good, {"merge_parameters": {}, "destinations": {"inkit_storage": {"expire_after_n_views": 0}}}]),
            ),
            "renders[1].destinations.inkit_storage.expire_after_n_views",
        ),
        (batch(json!([])), "renders"),
        (batch(json!("all of them")), "renders"),
        (json!({"renders": [good]}), "template_id"),
    ];

    for (body, field) in cases {
        // act
        let reply = client.post("/v1/batch", &body).await;

        // assert
        assert_refused(&mock, &reply, 422, Some(field)).await;
        let batches = client.get("/v1/batch").await.json();
        assert_eq!(batches["metadata"]["pagination"]["total_count"], 0, "{field}: {batches}");
    }
    let unknown = client.post("/v1/batch", &json!({"template_id": "tmpl_nope", "renders": [good, good]})).await;
    assert_refused(&mock, &unknown, 404, Some("template_id")).await;
    assert_eq!(client.get("/v1/render").await.json()["metadata"]["pagination"]["total_count"], 0);
}

#[tokio::test]
async fn bad_list_parameters_are_422_naming_the_parameter() {
    // arrange
    let (mock, client, _) = mock_with_template().await;
    let lists = ["/v1/render", "/v1/renders", "/v1/document", "/v1/template", "/v1/batch", "/v1/folder"];
    let cases = [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=ten", "page_size"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("sort=-nosuchfield", "sort"),
        ("sort=nosuchfield", "sort"),
    ];

    for list in lists {
        for (query, field) in cases {
            // act
            let reply = client.get(&format!("{list}?{query}")).await;

            // assert
            let err = assert_refused(&mock, &reply, 422, Some(field)).await;
            assert!(err["error"].as_str().unwrap().contains(field), "{list}?{query}: {err}");
        }
    }
    let bad_status = client.get("/v1/render?destination_status=exploded").await;
    assert_refused(&mock, &bad_status, 422, Some("destination_status")).await;
    assert_eq!(client.get("/v1/render?page_size=100").await.status, 200, "100 is the largest page allowed");
}

#[tokio::test]
async fn bad_template_uploads_are_422_naming_the_field() {
    // arrange
    let mock = MockServer::start().await;
    let client = mock.client();
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let html = b64(b"<p>{{Name}}</p>");
    let cases = [
        (json!({"name": "T", "source": "html", "file": "%%% not base64 %%%"}), "file"),
        (json!({"name": "T", "source": "html", "file": b64(&[0xff, 0xfe, 0x00])}), "file"),
        (json!({"name": "T", "source": "html"}), "file"),
        (json!({"name": "T", "source": "docx", "file": html}), "source"),
        (json!({"name": "T", "source": "pdf", "file": html}), "source"),
        (json!({"name": "T", "source": "markdown", "file": html}), "source"),
        (json!({"name": "T", "file": html}), "source"),
        (json!({"source": "html", "file": html}), "name"),
        (json!({"name": "T", "source": "html", "file": html, "data": {"unit": "px"}}), "data.unit"),
        (json!({"name": "T", "source": "html", "file": html, "data": {"width": -1}}), "data.width"),
        (json!({"name": "T", "source": "html", "file": html, "data": {"height": "11in"}}), "data.height"),
        (json!({"name": "T", "source": "html", "file": html, "destinations": "inkit_storage"}), "destinations"),
    ];

    for (body, field) in cases {
        // act
        let reply = client.post("/v1/template", &body).await;

        // assert
        assert_api_error(&reply, 422, Some(field));
    }
    assert_eq!(client.get("/v1/template").await.json()["metadata"]["pagination"]["total_count"], 0);
}

#[tokio::test]
async fn after_every_kind_of_bad_request_the_server_still_answers_a_good_one() {
    // arrange
    let mock = MockServer::start_with(MockConfig { body_limit: 1024, ..MockConfig::default() }).await;
    let client = mock.client();
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let big = vec![b'{'; 5000];
    let bad: Vec<(Method, &str, &[u8], u16)> = vec![
        (Method::POST, "/v1/generate", b"{oops", 400),
        (Method::POST, "/v1/generate", b"", 400),
        (Method::POST, "/v1/generate", b"\xff\xff", 400),
        (Method::POST, "/v1/generate", b"[]", 422),
        (Method::POST, "/v1/generate", b"{}", 422),
        (Method::POST, "/v1/generate", &big, 413),
        (Method::PUT, "/v1/generate", b"{}", 405),
        (Method::GET, "/v1/nothing", b"", 404),
        (Method::GET, "/v1/render?page_size=0", b"", 422),
        (Method::POST, "/v1/batch", b"{\"renders\":5}", 422),
        (Method::POST, "/v1/template", b"{\"name\":\"x\",\"source\":\"docx\",\"file\":\"\"}", 422),
        (Method::POST, "/v1/generate", &big, 413),
        (Method::POST, "/v1/generate", b"{\"template_id\":", 400),
    ];

    // act
    for (method, path, body, status) in bad {
        let reply = client.send(method.clone(), path, Bytes::copy_from_slice(body), &[]).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.text());
    }
    let unauthorized = client.with_token(Some("wrong")).get("/v1/render").await;
    let good =
        client.post("/v1/generate", &json!({"template_id": template, "merge_parameters": seed_params("Ada")})).await;

    // assert
    assert_eq!(unauthorized.status, 401);
    assert_eq!(good.status, 200, "{}", good.text());
    assert_eq!(mock.inkit.entry_count(), 1);
    mock.advance(Duration::from_secs(5));
    let pdf = client.get(&format!("/v1/render/{}/pdf", good.json()["id"].as_str().unwrap())).await;
    assert_eq!((pdf.status, pdf.content_type()), (200, "application/pdf"));
}
