//! The one error type of the Inkit API and its JSON shape, used by every route.
//!
//! Inkit does not document its error body. We answer `{"error": message, "code": status, "type": kind,
//! "field": field-or-null}`: `error` and `code` match the only published guess, `type` lets a program branch
//! without parsing prose, and `field` names the input that was wrong (see `docs/decisions.md`).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// What went wrong, named for what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub message: String,
    /// The request field (`merge_parameters`, `renders[2].template_id`, `page_size`) the error is about.
    pub field: Option<String>,
    /// Seconds to wait before retrying, sent as `Retry-After` (429 and 503 only).
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The body is not JSON, or not UTF-8.
    MalformedBody,
    /// A field is missing or has the wrong type or value.
    ValidationFailed,
    /// The token is missing or unknown.
    Unauthorized,
    /// No such route, template, render, document or batch.
    NotFound,
    /// The route exists but not with that method.
    MethodNotAllowed,
    /// The body is over the configured limit.
    PayloadTooLarge,
    /// A rate limit or an injected 429.
    RateLimited,
    /// A fault injected on purpose through the fault plan.
    InjectedFault,
    /// Storage failed; nothing was stored and the request can be retried.
    Internal,
}

impl ApiError {
    fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into(), field: None, retry_after: None }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorKind::MalformedBody, message)
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorKind::ValidationFailed, message);
        e.field = Some(field.into());
        e
    }

    pub fn missing(field: &str) -> Self {
        Self::invalid(field, format!("{field} is required"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorKind::Unauthorized, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, message)
    }

    /// A 404 for an id, naming the field it came from when it came from the body.
    pub fn unknown(what: &str, id: &str) -> Self {
        Self::not_found(format!("{what} {id} not found"))
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::MethodNotAllowed,
            format!("method {method} is not allowed on {path}"),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::PayloadTooLarge,
            format!("request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::RateLimited, message);
        e.retry_after = Some(retry_after);
        e
    }

    pub fn injected(status: StatusCode, retry_after: Option<u64>) -> Self {
        let mut e = Self::new(
            status,
            ErrorKind::InjectedFault,
            format!("injected fault: {}", status.canonical_reason().unwrap_or("error")),
        );
        e.retry_after = retry_after;
        e
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Internal, message)
    }

    /// Prefixes the field with its parent, e.g. `merge_parameters` inside `renders[2]`.
    pub fn within(mut self, parent: &str) -> Self {
        if let Some(field) = self.field.take() {
            self.message = format!("{parent}.{}", self.message);
            self.field = Some(format!("{parent}.{field}"));
        }
        self
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: u16,
    #[serde(rename = "type")]
    kind: ErrorKind,
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            error: &self.message,
            code: self.status.as_u16(),
            kind: self.kind,
            field: self.field.as_deref(),
        })
        .unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
