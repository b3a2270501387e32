//! Who is calling: the `X-Inkit-API-Token` check (401 when missing or unknown) and the request headers
//! that History keeps.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use axum::extract::{FromRequestParts, OriginalUri};
use http::request::Parts;
use http::{HeaderMap, HeaderName, Method};

use crate::error::ApiError;
use crate::state::{Caller, Inkit};

/// Parsed once: looking a header up by `&str` parses the name on every call.
pub const TOKEN_HEADER: HeaderName = HeaderName::from_static("x-inkit-api-token");

/// Headers worth keeping on a History entry: the ones that tell retries apart and follow a trace.
const KEPT_HEADERS: &[&str] = &[
    "idempotency-key",
    "x-request-id",
    "x-trace-id",
    "traceparent",
    "tracestate",
    "x-tapink-delivery-id",
    "x-tapink-trace-id",
    "x-tapink-attempt",
    "user-agent",
];

/// The headers of interest, lower-cased, values as text; the first value of a repeated header.
pub fn caller_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    // One pass over the request's few headers, rather than a lookup for each name we keep.
    let mut kept = BTreeMap::new();
    for (name, value) in headers {
        if KEPT_HEADERS.contains(&name.as_str()) && !kept.contains_key(name.as_str()) {
            kept.insert(name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
    }
    kept
}

/// The routes the fast path serves, made once and shared by their History entries.
static CREATE_ROUTES: LazyLock<[Arc<str>; 4]> =
    LazyLock::new(|| ["POST /generate", "POST /v1/generate", "POST /render", "POST /v1/render"].map(Arc::from));

/// `METHOD path`, shared when it is one of the routes most requests call.
fn route_name(method: &Method, path: &str) -> Arc<str> {
    if method == Method::POST
        && let Some(route) = CREATE_ROUTES.iter().find(|r| &r["POST ".len()..] == path)
    {
        return route.clone();
    }
    format!("{method} {path}").into()
}

impl Caller {
    /// Who is calling `method path` (the path as called, `/v1` included), or 401 when the token is missing
    /// or unknown. The router's extractor and the server's fast path both use this.
    pub fn identify(inkit: &Inkit, method: &Method, path: &str, headers: &HeaderMap) -> Result<Self, ApiError> {
        let token =
            headers.get(&TOKEN_HEADER).ok_or_else(|| ApiError::unauthorized("missing X-Inkit-API-Token header"))?;
        let token_name = token
            .to_str()
            .ok()
            .and_then(|t| inkit.token_name(t.trim()))
            .ok_or_else(|| ApiError::unauthorized("the API key in the request was not authorized"))?;
        Ok(Caller { token_name: token_name.clone(), route: route_name(method, path), headers: caller_headers(headers) })
    }
}

impl FromRequestParts<Arc<Inkit>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, inkit: &Arc<Inkit>) -> Result<Self, ApiError> {
        let path = parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.path(), |u| u.0.path());
        Caller::identify(inkit, &parts.method, path, &parts.headers)
    }
}
