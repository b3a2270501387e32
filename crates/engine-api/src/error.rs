//! The one error type of the engine API, and its answer in CleverTap's shape:
//! `{"status":"fail","error":"<message>","code":<HTTP status>}` with `Content-Type: application/json`.
//! Every route, the authentication check, the body limit and the router's 404 and 405 answer through here.
//!
//! Messages name what was wrong and where: a field as `batch_size: …` or `event_properties[1].operator: …`,
//! a JSON syntax error by line and column.

use axum::response::{IntoResponse, Response};
use campaign_engine::FieldError;
use campaign_engine::journal::JournalError;
use campaign_engine::upload::UploadError;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// A request the API refuses, or could not carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 400: the request is not one the route can read.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 naming `field`.
    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("{field}: {message}"))
    }

    /// 401: credentials missing or wrong.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 405, naming the methods the path does take.
    pub fn method_not_allowed(method: &str, path: &str, allowed: &str) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, format!("Method {method} is not allowed on {path}; use {allowed}"))
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, format!("Request body is larger than the limit of {limit} bytes"))
    }

    /// 500: the server could not do what was asked; nothing was changed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<FieldError> for ApiError {
    /// A query or body that names its bad field: 400 with `path: message`.
    fn from(error: FieldError) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<UploadError> for ApiError {
    /// CleverTap's answers to an unusable upload: 400, or 500 when the engine could not store it.
    fn from(error: UploadError) -> Self {
        let status = StatusCode::from_u16(error.code()).unwrap_or(StatusCode::BAD_REQUEST);
        Self::new(status, error.to_string())
    }
}

impl From<JournalError> for ApiError {
    /// The engine could not store a change, so it did not make it.
    fn from(error: JournalError) -> Self {
        Self::internal(format!("The change could not be stored, nothing was changed; try again. {error}"))
    }
}

/// CleverTap's error envelope, fields in its order.
#[derive(Serialize)]
struct Envelope<'a> {
    status: &'static str,
    error: &'a str,
    code: u16,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Envelope { status: "fail", error: &self.message, code: self.status.as_u16() })
            .unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn errors_answer_in_clevertaps_envelope_with_json_content_type() {
        let response = ApiError::unauthorized("Account ID is not valid").into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"status":"fail","error":"Account ID is not valid","code":401}"#);
    }

    #[test]
    fn upload_errors_keep_their_code() {
        assert_eq!(ApiError::from(UploadError::TooManyRecords(1001)).status, 400);
        let not_stored = UploadError::NotStored(JournalError::Write("disk full".into()));
        assert_eq!(ApiError::from(not_stored).status, 500);
    }
}
