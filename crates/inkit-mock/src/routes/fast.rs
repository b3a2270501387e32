//! The fast path for `POST /generate` and `POST /render` (with or without `/v1`): the requests a campaign
//! sends by the thousand, answered without the router.
//!
//! It answers exactly as the general path (`renders::create` behind the router) does, byte for byte: the
//! same token check, the same validation and error bodies (anything unusual is handed to the general
//! path's code), the same History entry, stored before the answer. A test sends the same requests to a
//! mock with and without it and compares the answers.
//!
//! What it saves (docs/benchmarks.md): the router's matching, nesting and boxed futures; parsing the
//! whole body into a `serde_json::Value`; building a `Value` for the answer.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, header};
use hyper::body::Body as _;
use serde::Serialize;

use crate::routes::renders;
use crate::state::{Caller, Inkit};

/// Whether the fast path serves `method path`: only the exact paths, so that anything else (a trailing
/// slash, another method) gets the router's answer.
pub fn serves(method: &Method, path: &str) -> bool {
    method == Method::POST && matches!(path, "/generate" | "/v1/generate" | "/render" | "/v1/render")
}

/// Creates one render, as `renders::create` does.
pub async fn create(inkit: &Arc<Inkit>, parts: Parts, body: Bytes) -> Response {
    with_content_length(answer(inkit, parts, body).await)
}

async fn answer(inkit: &Arc<Inkit>, parts: Parts, body: Bytes) -> Response {
    let caller = match Caller::identify(inkit, &parts.method, parts.uri.path(), &parts.headers) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    // The request's path, headers and body are slices of hyper's read buffer for the connection: let go
    // of them before waiting for the commit, so the buffer can be freed and reused meanwhile.
    drop(parts);
    let Some(render) = renders::parse_render_fast(&body) else {
        return match renders::create_general(inkit, &caller, &body).await {
            Ok(json) => json.into_response(),
            Err(e) => e.into_response(),
        };
    };
    drop(body);
    match inkit.accept_renders(vec![render], None, &caller).await {
        Ok((entries, _)) => created(&entries[0].id, entries[0].document_id.as_deref()),
        Err(e) => e.into_response(),
    }
}

/// What the router does to every answer (axum's `Route` sets `Content-Length` itself), so that the
/// headers go out in the same order: hyper would add it after a `Connection: close` it inserts.
fn with_content_length(mut response: Response) -> Response {
    if !response.headers().contains_key(header::CONTENT_LENGTH)
        && let Some(n) = response.body().size_hint().exact()
    {
        response.headers_mut().insert(header::CONTENT_LENGTH, content_length(n));
    }
    response
}

/// A `Content-Length` value. `HeaderValue::from(n)` allocates twice; the values of small answers (every answer
/// of this path) are made once and shared.
fn content_length(n: u64) -> HeaderValue {
    static SMALL: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    let small = SMALL.get_or_init(|| {
        (0..1024u64).map(|n| HeaderValue::from_static(Box::leak(n.to_string().into_boxed_str()))).collect()
    });
    usize::try_from(n).ok().and_then(|i| small.get(i)).cloned().unwrap_or_else(|| HeaderValue::from(n))
}

/// The general path's `{"id", "document_id"}`, which serde_json writes with its keys sorted.
#[derive(Serialize)]
struct Created<'a> {
    document_id: Option<&'a str>,
    id: &'a str,
}

/// What `Json(json!({"id": id, "document_id": document_id}))` answers, without building a `Value`.
fn created(id: &str, document_id: Option<&str>) -> Response {
    // Our ids are letters, digits and `_`, which JSON writes as they are.
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let body = match document_id {
        Some(doc) if plain(id) && plain(doc) => {
            let mut body = Vec::with_capacity(32 + id.len() + doc.len());
            body.extend_from_slice(b"{\"document_id\":\"");
            body.extend_from_slice(doc.as_bytes());
            body.extend_from_slice(b"\",\"id\":\"");
            body.extend_from_slice(id.as_bytes());
            body.extend_from_slice(b"\"}");
            body
        }
        _ => serde_json::to_vec(&Created { document_id, id }).expect("two strings serialise"),
    };
    let mut response = Response::new(Body::from(Bytes::from(body)));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn only_the_exact_create_routes_are_served() {
        for path in ["/generate", "/v1/generate", "/render", "/v1/render"] {
            assert!(serves(&Method::POST, path), "{path}");
            assert!(!serves(&Method::GET, path), "GET {path}");
        }
        for path in ["/generate/", "/v1//generate", "/v2/generate", "/renders", "/v1/batch", "/"] {
            assert!(!serves(&Method::POST, path), "{path}");
        }
    }

    #[test]
    fn content_length_values_are_the_decimal_length_whatever_their_size() {
        for n in [0, 7, 81, 1023, 1024, 65_536, u64::MAX] {
            assert_eq!(content_length(n), HeaderValue::from(n), "{n}");
        }
    }

    #[tokio::test]
    async fn the_answer_is_what_the_general_path_serialises() {
        let bytes = |r: Response| async { r.into_body().collect().await.unwrap().to_bytes() };
        let cases = [
            ("rend_21XvBWhhn9Tl9qQSztqzMe", Some("doc_5VVwNSVFgsscbxJj9N38iL")),
            ("rend_x", None),
            ("rend_\"quoted\"", Some("doc_é\n")),
        ];
        for (id, doc) in cases {
            let general = axum::Json(serde_json::json!({"id": id, "document_id": doc})).into_response();
            let fast = created(id, doc);
            assert_eq!(fast.status(), general.status());
            assert_eq!(fast.headers(), general.headers());
            assert_eq!(bytes(fast).await, bytes(general).await, "{id} {doc:?}");
        }
    }
}
