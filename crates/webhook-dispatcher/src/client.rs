//! One HTTP attempt of a delivery: a pooled keep-alive client on hyper, a per-attempt timeout (CleverTap
//! waits 3 s), and the answer as the dispatcher needs it: status, the headers that matter, an excerpt of
//! the body, and how long it took.
//!
//! The client speaks plain HTTP: tapink delivers to services on this machine. An `https` URL is answered
//! as a connection failure that says so.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// CleverTap's wait for a webhook answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// How much of an answer's body the delivery log keeps ([`excerpt`]).
pub const RESPONSE_EXCERPT_BYTES: usize = 1024;

/// The largest answer body read; a longer one is cut off (and the answer counts as a connection failure).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The start of an answer's body, at most `RESPONSE_EXCERPT_BYTES`, cut at a character boundary.
pub fn excerpt(body: &str) -> &str {
    let mut end = body.len().min(RESPONSE_EXCERPT_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    pub method: Method,
    pub url: String,
    /// Header names and values, already validated.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// How an attempt ended, in HTTP terms. Whether that counts as delivered is the caller's rule (200 only,
/// or any 2xx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Response {
        status: u16,
        /// `Retry-After`, as sent.
        retry_after: Option<String>,
        content_type: Option<String>,
        /// The whole body (up to `MAX_RESPONSE_BYTES`), as text; the delivery log keeps an [`excerpt`].
        body: String,
    },
    /// No complete answer within the timeout.
    TimedOut,
    /// Refused, reset, closed without an answer, or a URL the client cannot use.
    ConnectionFailed { error: String },
}

/// One attempt: its answer and how long it took.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub answer: Answer,
    pub latency: Duration,
}

/// A pooled client: connections to a webhook's host are kept alive and reused across deliveries.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build(connector);
        Self { client }
    }

    /// Sends `request` and waits at most `timeout` for the whole answer (status, headers and body).
    pub async fn send(&self, request: OutgoingRequest, timeout: Duration) -> AttemptReport {
        let started = Instant::now();
        let answer = match tokio::time::timeout(timeout, self.exchange(request)).await {
            Ok(answer) => answer,
            Err(_) => Answer::TimedOut,
        };
        AttemptReport { answer, latency: started.elapsed() }
    }

    async fn exchange(&self, request: OutgoingRequest) -> Answer {
        if request.url.starts_with("https://") {
            return Answer::ConnectionFailed {
                error: "https is not supported: tapink delivers to local services over plain HTTP".into(),
            };
        }
        let req = match build(request) {
            Ok(req) => req,
            Err(e) => return Answer::ConnectionFailed { error: format!("cannot build the request: {e}") },
        };
        let response = match self.client.request(req).await {
            Ok(r) => r,
            Err(e) => return Answer::ConnectionFailed { error: describe(&e) },
        };
        let status = response.status().as_u16();
        let header = |name: http::HeaderName| {
            response.headers().get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let retry_after = header(http::header::RETRY_AFTER);
        let content_type = header(http::header::CONTENT_TYPE);
        // Read the whole body (it also frees the connection for reuse); a huge answer is cut off.
        let body = match Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return Answer::ConnectionFailed { error: format!("the answer's body was cut off: {e}") },
        };
        let body = String::from_utf8_lossy(&body).into_owned();
        Answer::Response { status, retry_after, content_type, body }
    }
}

/// The hyper request for `request`. Built part by part rather than with `Request::builder()`, whose every
/// `header` call moves the whole request head and grows the header map: with a dozen headers that was a
/// few microseconds of each delivery. Header values keep the strings' own buffers.
fn build(request: OutgoingRequest) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    for (name, value) in request.headers {
        let name = HeaderName::from_bytes(name.as_bytes())?;
        headers.append(name, HeaderValue::from_maybe_shared(Bytes::from(value))?);
    }
    let mut req = Request::new(Full::new(request.body));
    *req.method_mut() = request.method;
    *req.uri_mut() = request.url.parse()?;
    *req.headers_mut() = headers;
    Ok(req)
}

/// A connection error in a sentence, with its causes (hyper's own message is often just "client error").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on loopback that answers every connection with `answer` after `delay`.
    async fn server(answer: &'static str, delay: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let _ = stream.read(&mut buf).await;
                    tokio::time::sleep(delay).await;
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        url
    }

    fn post(url: &str) -> OutgoingRequest {
        OutgoingRequest {
            method: Method::POST,
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from_static(b"{}"),
        }
    }

    #[tokio::test]
    async fn an_answer_reports_status_retry_after_and_an_excerpt() {
        let url = server(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"e\":\"slow\"}",
            Duration::ZERO,
        )
        .await;
        let report = HttpClient::new().send(post(&url), DEFAULT_TIMEOUT).await;
        assert_eq!(
            report.answer,
            Answer::Response {
                status: 429,
                retry_after: Some("7".into()),
                content_type: Some("application/json".into()),
                body: "{\"e\":\"slow\"}".into(),
            }
        );
    }

    #[test]
    fn an_excerpt_is_cut_at_a_character_boundary() {
        let long = format!("{}é and more", "a".repeat(RESPONSE_EXCERPT_BYTES - 1));
        assert_eq!(excerpt(&long).len(), RESPONSE_EXCERPT_BYTES - 1);
        assert_eq!(excerpt("short"), "short");
    }

    #[tokio::test]
    async fn an_answer_slower_than_the_timeout_is_a_timeout() {
        let url = server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Duration::from_millis(500)).await;
        let report = HttpClient::new().send(post(&url), Duration::from_millis(100)).await;
        assert_eq!(report.answer, Answer::TimedOut);
        assert!(report.latency < Duration::from_millis(450), "{:?}", report.latency);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connection_failure_that_says_why() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        drop(listener);
        let report = HttpClient::new().send(post(&url), DEFAULT_TIMEOUT).await;
        match report.answer {
            Answer::ConnectionFailed { error } => assert!(error.to_lowercase().contains("refused"), "{error}"),
            other => panic!("expected a connection failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_is_a_connection_failure() {
        let url = server("", Duration::ZERO).await;
        let report = HttpClient::new().send(post(&url), DEFAULT_TIMEOUT).await;
        assert!(matches!(report.answer, Answer::ConnectionFailed { .. }), "{:?}", report.answer);
    }

    #[tokio::test]
    async fn https_urls_are_refused_with_a_clear_reason() {
        let report = HttpClient::new().send(post("https://example.com/hook"), DEFAULT_TIMEOUT).await;
        assert!(
            matches!(&report.answer, Answer::ConnectionFailed { error } if error.contains("plain HTTP")),
            "{:?}",
            report.answer
        );
    }
}
