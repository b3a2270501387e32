//! OAuth 2.0 client-credentials tokens for webhooks: fetched from the token URL, cached per webhook until
//! shortly before they expire, one fetch at a time per webhook, and dropped when the webhook answers 401.
//!
//! Time comes from the caller (the dispatcher's `Clock`), so a simulated clock expires tokens too. A token is
//! reused while `now < fetched_at + expires_in - 30 s` ([`EXPIRY_MARGIN`]); an answer without `expires_in` is
//! reused for 5 minutes ([`DEFAULT_LIFETIME`]). Errors name the token URL's host (and port), never its path,
//! the client secret or a token.
//!
//! The answer must be JSON with a non-empty `access_token`; `token_type` is compared without case and must be
//! `bearer` (a missing one is taken as bearer); `expires_in` may be a number or a string of digits. The HTTP
//! client keeps only the first 1 KiB of an answer ([`RESPONSE_EXCERPT_BYTES`]), so a longer token answer (a
//! large JWT) fails as "not JSON" with an error that says so.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use clock::Timestamp;
use jiff::SignedDuration;
use serde_json::Value;

use crate::client::{Answer, HttpClient, OutgoingRequest, RESPONSE_EXCERPT_BYTES};
use crate::webhook::{Auth, HttpUrl, Secret, TokenRequest, Webhook};

/// How long before its `expires_in` a token stops being reused, so that it does not expire in flight.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// How long a token is reused when the token endpoint does not say (`expires_in` missing). No margin is taken off.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// How much of a refused token answer's body an error quotes.
const ERROR_EXCERPT_CHARS: usize = 200;

const USER_AGENT: &str = "tapink-dispatcher (CleverTap webhook simulation)";

/// Why no access token could be had. Says what failed with the token URL's host only; never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The webhook does not authenticate with OAuth 2.0 client credentials.
    #[error("webhook {0:?} does not use OAuth 2.0 client credentials")]
    NotOAuth(String),
    /// The token endpoint answered with a status other than 2xx.
    #[error("the token endpoint at {host} answered HTTP {status}: {excerpt}")]
    Status { host: String, status: u16, excerpt: String },
    /// No complete answer within the timeout.
    #[error("the token endpoint at {host} did not answer within {timeout_ms} ms")]
    TimedOut { host: String, timeout_ms: u128 },
    /// Refused, reset, closed, or a URL the client cannot use.
    #[error("cannot reach the token endpoint at {host}: {error}")]
    Connection { host: String, error: String },
    /// The answer's body is not a JSON object.
    #[error("the token endpoint at {host} answered with something that is not a JSON object: {error}")]
    NotJson { host: String, error: String },
    /// The JSON answer has no (non-empty, string) `access_token`.
    #[error("the token endpoint at {host} answered without an access_token")]
    MissingAccessToken { host: String },
    /// The `access_token` holds a character an `Authorization` header cannot carry (RFC 6750: visible ASCII).
    #[error("the token endpoint at {host} issued an access_token with characters a header cannot carry")]
    InvalidAccessToken { host: String },
    /// `token_type` is there and is not `bearer` (in any case).
    #[error("the token endpoint at {host} issued a {token_type:?} token; only bearer tokens are supported")]
    NotBearer { host: String, token_type: String },
}

/// Access tokens per webhook name. One fetch at a time per webhook: callers that arrive while a fetch is in
/// flight wait for it and share its token, or its error.
#[derive(Debug)]
pub struct TokenCache {
    timeout: Duration,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

#[derive(Debug, Default)]
struct Entry {
    /// Held across a fetch: the "one fetch at a time".
    slot: tokio::sync::Mutex<Slot>,
    /// Fetches finished (changed only with `slot` held): a caller that waited through one shares its result.
    fetches: AtomicU64,
    /// Bumped by [`TokenCache::invalidate`]; a token fetched in an older epoch is not reused.
    epoch: AtomicU64,
}

#[derive(Debug, Default)]
struct Slot {
    token: Option<Cached>,
    /// The last fetch's error, shared with the callers that waited for it.
    last_error: Option<TokenError>,
}

#[derive(Debug)]
struct Cached {
    access_token: String,
    /// Reused while `now < reuse_until`.
    reuse_until: Timestamp,
    epoch: u64,
    /// The request it was fetched with: a webhook replaced with other credentials fetches again.
    request: TokenRequest,
}

impl TokenCache {
    /// A cache whose fetches wait at most `timeout` for the token endpoint.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout, entries: Mutex::new(HashMap::new()) }
    }

    /// The access token to send as `Authorization: Bearer <token>` for `webhook` at `now`: the cached one while
    /// it is fresh, else a new one from the token URL (POSTed with `client`, cached).
    pub async fn bearer(&self, webhook: &Webhook, client: &HttpClient, now: Timestamp) -> Result<String, TokenError> {
        let (Some(request), Auth::OAuth2ClientCredentials { client_secret, .. }) =
            (webhook.auth().token_request(), webhook.auth())
        else {
            return Err(TokenError::NotOAuth(webhook.name().to_owned()));
        };
        let entry = self.entry(webhook.name());
        let fetches_before = entry.fetches.load(Ordering::Acquire);
        let mut slot = entry.slot.lock().await;
        let epoch = entry.epoch.load(Ordering::Acquire);
        if let Some(cached) = &slot.token
            && cached.epoch == epoch
            && cached.request == request
            && now < cached.reuse_until
        {
            return Ok(cached.access_token.clone());
        }
        if entry.fetches.load(Ordering::Acquire) != fetches_before
            && let Some(error) = &slot.last_error
        {
            // A fetch failed while this caller waited for it: share the failure rather than hammer the endpoint.
            return Err(error.clone());
        }
        let result = self.fetch(&request, client_secret, client, now).await;
        entry.fetches.fetch_add(1, Ordering::AcqRel);
        match result {
            Ok((access_token, reuse_until)) => {
                slot.token = Some(Cached { access_token: access_token.clone(), reuse_until, epoch, request });
                slot.last_error = None;
                Ok(access_token)
            }
            Err(error) => {
                slot.token = None;
                slot.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Forgets the token of `webhook_name` (the webhook answered 401): the next [`TokenCache::bearer`] fetches.
    pub fn invalidate(&self, webhook_name: &str) {
        if let Some(entry) = self.entries.lock().unwrap_or_else(|p| p.into_inner()).get(webhook_name) {
            entry.epoch.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn entry(&self, name: &str) -> Arc<Entry> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).entry(name.to_owned()).or_default().clone()
    }

    /// POSTs the token request; the token and until when to reuse it.
    async fn fetch(
        &self,
        request: &TokenRequest,
        client_secret: &Secret,
        client: &HttpClient,
        now: Timestamp,
    ) -> Result<(String, Timestamp), TokenError> {
        let host = host_of(&request.url);
        let mut headers = vec![
            ("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
            ("user-agent".to_owned(), USER_AGENT.to_owned()),
        ];
        if let Some(authorization) = &request.authorization {
            headers.push(("authorization".to_owned(), authorization.expose().to_owned()));
        }
        let outgoing = OutgoingRequest {
            method: http::Method::POST,
            url: request.url.clone(),
            headers,
            body: Bytes::from(request.body.expose().to_owned()),
        };
        let report = client.send(outgoing, self.timeout).await;
        let body = match report.answer {
            Answer::Response { status, body, .. } if (200..300).contains(&status) => body,
            Answer::Response { status, body, .. } => {
                let excerpt = scrub(crate::client::excerpt(&body), request, client_secret);
                return Err(TokenError::Status { host, status, excerpt });
            }
            Answer::TimedOut => return Err(TokenError::TimedOut { host, timeout_ms: self.timeout.as_millis() }),
            Answer::ConnectionFailed { error } => return Err(TokenError::Connection { host, error }),
        };
        let json: Value = serde_json::from_str(&body).map_err(|e| {
            let error = if body.len() >= RESPONSE_EXCERPT_BYTES && e.is_eof() {
                format!("the answer is longer than the {RESPONSE_EXCERPT_BYTES} bytes the client keeps")
            } else {
                e.to_string()
            };
            TokenError::NotJson { host: host.clone(), error }
        })?;
        let Value::Object(answer) = json else {
            return Err(TokenError::NotJson { host, error: "not an object".to_owned() });
        };
        let access_token = match answer.get("access_token") {
            Some(Value::String(token)) if !token.is_empty() => token.clone(),
            _ => return Err(TokenError::MissingAccessToken { host }),
        };
        if !access_token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::InvalidAccessToken { host });
        }
        match answer.get("token_type") {
            None => {}
            Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
            Some(other) => {
                let token_type = other.as_str().map_or_else(|| other.to_string(), str::to_owned);
                return Err(TokenError::NotBearer { host, token_type });
            }
        }
        let reuse_for = match expires_in(answer.get("expires_in")) {
            Some(secs) => secs.saturating_sub(EXPIRY_MARGIN.as_secs() as i64),
            None => DEFAULT_LIFETIME.as_secs() as i64,
        };
        Ok((access_token, add(now, SignedDuration::from_secs(reuse_for))))
    }
}

/// `expires_in` in seconds: a number, or a string of digits (some servers send one); anything else is ignored.
fn expires_in(value: Option<&Value>) -> Option<i64> {
    match value? {
        // `as` saturates: a huge lifetime is "for ever", a negative one "already expired".
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn add(t: Timestamp, by: SignedDuration) -> Timestamp {
    t.checked_add(by).unwrap_or(if by.is_negative() { Timestamp::MIN } else { Timestamp::MAX })
}

/// `host[:port]` of the token URL, for messages (the path and query may carry secrets).
fn host_of(url: &str) -> String {
    match HttpUrl::parse(url) {
        Ok(u) => match u.port {
            Some(port) => format!("{}:{port}", u.host),
            None => u.host.to_owned(),
        },
        Err(_) => "<invalid token URL>".to_owned(),
    }
}

/// The first characters of a refused answer, with anything the request sent that could be secret cut out
/// (an endpoint that echoes its input must not leak the client secret into a delivery log).
fn scrub(body: &str, request: &TokenRequest, client_secret: &Secret) -> String {
    let mut text: String = body.chars().take(ERROR_EXCERPT_CHARS).collect();
    if body.chars().nth(ERROR_EXCERPT_CHARS).is_some() {
        text.push('…');
    }
    let mut secrets: Vec<&str> = vec![client_secret.expose()];
    if let Some(authorization) = &request.authorization {
        secrets.push(authorization.expose());
        secrets.extend(authorization.expose().strip_prefix("Basic "));
    }
    for field in request.body.expose().split('&') {
        if let Some(value) = field.strip_prefix("client_secret=") {
            secrets.push(value);
        }
    }
    for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "<redacted>");
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::webhook::WebhookSpec;

    const SECRET: &str = "s3cr3t";

    /// A token endpoint on loopback: answers every request with `status` and `body` after `delay`, one request
    /// per connection, and keeps each request as text.
    struct TokenServer {
        url: String,
        hits: Arc<AtomicUsize>,
        requests: Arc<Mutex<Vec<String>>>,
    }

    impl TokenServer {
        async fn start(status: u16, body: &str, delay: Duration) -> TokenServer {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
            let url = format!("http://{}/oauth/token", listener.local_addr().expect("local addr"));
            let hits = Arc::new(AtomicUsize::new(0));
            let requests = Arc::new(Mutex::new(Vec::new()));
            let answer = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let (hits_, requests_) = (hits.clone(), requests.clone());
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let (hits, requests, answer) = (hits_.clone(), requests_.clone(), answer.clone());
                    tokio::spawn(async move {
                        let Some(request) = read_request(&mut stream).await else { return };
                        hits.fetch_add(1, Ordering::SeqCst);
                        requests.lock().expect("not poisoned").push(request);
                        tokio::time::sleep(delay).await;
                        let _ = stream.write_all(answer.as_bytes()).await;
                    });
                }
            });
            TokenServer { url, hits, requests }
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }

        fn request(&self, n: usize) -> String {
            self.requests.lock().expect("not poisoned")[n].clone()
        }
    }

    /// Reads one request: the head and a `Content-Length` body.
    async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<String> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let head = &text[..end];
                let length = head
                    .to_lowercase()
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    return Some(format!("{head}\r\n\r\n{}", &text[end + 4..]));
                }
            }
        }
    }

    fn webhook(token_url: &str, overrides: Value) -> Webhook {
        let mut auth = json!({"type": "oauth2_client_credentials", "token_url": token_url, "client_id": "tapink",
                              "client_secret": SECRET, "scopes": ["mail:write"]});
        if let (Some(auth), Value::Object(overrides)) = (auth.as_object_mut(), overrides) {
            auth.extend(overrides);
        }
        let spec: WebhookSpec = serde_json::from_value(json!({
            "name": "Inkit", "method": "POST", "url": "http://127.0.0.1:9/v1/generate", "content_type": "json",
            "auth": auth
        }))
        .expect("spec reads");
        Webhook::from_spec(spec).expect("valid webhook")
    }

    fn t0() -> Timestamp {
        "2026-11-27T09:00:00Z".parse().expect("valid time")
    }

    fn at(secs: i64) -> Timestamp {
        t0().checked_add(SignedDuration::from_secs(secs)).expect("in range")
    }

    fn cache() -> TokenCache {
        TokenCache::new(Duration::from_secs(3))
    }

    const TOKEN: &str = r#"{"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}"#;

    async fn error_for(status: u16, body: &str) -> TokenError {
        let server = TokenServer::start(status, body, Duration::ZERO).await;
        let err = cache().bearer(&webhook(&server.url, json!({})), &HttpClient::new(), t0()).await.expect_err("fails");
        let text = err.to_string();
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
        assert!(!text.contains("/oauth/token"), "only the host is named: {text}");
        assert!(text.contains(server.url.trim_start_matches("http://").trim_end_matches("/oauth/token")), "{text}");
        err
    }

    #[tokio::test]
    async fn a_long_token_such_as_a_large_jwt_is_read_whole() {
        let long = "j".repeat(4000);
        let body = format!(r#"{{"access_token": "{long}", "token_type": "Bearer", "expires_in": 3600}}"#);
        let server = TokenServer::start(200, &body, Duration::ZERO).await;
        let token = cache().bearer(&webhook(&server.url, json!({})), &HttpClient::new(), t0()).await.expect("a token");
        assert_eq!(token.len(), 4000);
    }

    #[tokio::test]
    async fn a_token_is_reused_until_expires_in_minus_the_margin_then_fetched_again() {
        let server = TokenServer::start(200, TOKEN, Duration::ZERO).await;
        let (cache, client, hook) = (cache(), HttpClient::new(), webhook(&server.url, json!({})));

        let first = cache.bearer(&hook, &client, t0()).await.expect("a token");
        let just_before = cache.bearer(&hook, &client, at(3600 - 30 - 1)).await.expect("a token");
        let hits_before = server.hits();
        let at_margin = cache.bearer(&hook, &client, at(3600 - 30)).await.expect("a token");
        let after_refetch = cache.bearer(&hook, &client, at(3600)).await.expect("a token");

        assert_eq!((first.as_str(), just_before.as_str(), at_margin.as_str()), ("tok-1", "tok-1", "tok-1"));
        assert_eq!(after_refetch, "tok-1");
        assert_eq!(hits_before, 1, "reused until 30 s before expiry");
        assert_eq!(server.hits(), 2, "fetched again at expiry minus 30 s, then reused");
    }

    #[tokio::test]
    async fn a_token_without_expires_in_is_reused_for_five_minutes() {
        let server = TokenServer::start(200, r#"{"access_token": "tok-1"}"#, Duration::ZERO).await;
        let (cache, client, hook) = (cache(), HttpClient::new(), webhook(&server.url, json!({})));

        cache.bearer(&hook, &client, t0()).await.expect("a token");
        cache.bearer(&hook, &client, at(299)).await.expect("a token");
        let hits_before = server.hits();
        cache.bearer(&hook, &client, at(300)).await.expect("a token");

        assert_eq!((hits_before, server.hits()), (1, 2));
    }

    #[tokio::test]
    async fn credentials_go_in_a_basic_header_by_default() {
        let server = TokenServer::start(200, TOKEN, Duration::ZERO).await;

        let token = cache().bearer(&webhook(&server.url, json!({})), &HttpClient::new(), t0()).await;

        assert_eq!(token.as_deref(), Ok("tok-1"));
        let request = server.request(0);
        assert!(request.starts_with("POST /oauth/token HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("\r\ncontent-type: application/x-www-form-urlencoded\r\n"), "{request}");
        // base64("tapink:s3cr3t")
        assert!(request.contains("\r\nauthorization: Basic dGFwaW5rOnMzY3IzdA==\r\n"), "{request}");
        assert!(request.ends_with("\r\n\r\ngrant_type=client_credentials&scope=mail%3Awrite"), "{request}");
    }

    #[tokio::test]
    async fn credentials_go_in_the_form_body_when_configured() {
        let server = TokenServer::start(200, TOKEN, Duration::ZERO).await;
        let hook = webhook(&server.url, json!({"send_credentials": "body"}));

        let token = cache().bearer(&hook, &HttpClient::new(), t0()).await;

        assert_eq!(token.as_deref(), Ok("tok-1"));
        let request = server.request(0);
        assert!(!request.contains("\r\nauthorization:"), "{request}");
        assert!(
            request.ends_with(
                "\r\n\r\ngrant_type=client_credentials&scope=mail%3Awrite&client_id=tapink&client_secret=s3cr3t"
            ),
            "{request}"
        );
    }

    #[tokio::test]
    async fn token_type_is_read_in_any_case() {
        let server =
            TokenServer::start(200, r#"{"access_token": "tok-1", "token_type": "BEARER"}"#, Duration::ZERO).await;
        let token = cache().bearer(&webhook(&server.url, json!({})), &HttpClient::new(), t0()).await;
        assert_eq!(token.as_deref(), Ok("tok-1"));
    }

    #[tokio::test]
    async fn a_refused_token_request_is_an_error_with_the_status_and_an_excerpt_without_the_secret() {
        let err = error_for(400, r#"{"error": "invalid_client", "got": "s3cr3t"}"#).await;
        assert!(matches!(&err, TokenError::Status { status: 400, .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("HTTP 400") && text.contains("invalid_client"), "{text}");
        assert!(text.contains("<redacted>"), "the echoed secret is cut out: {text}");
    }

    #[tokio::test]
    async fn an_answer_that_is_not_json_is_an_error() {
        let err = error_for(200, "<html>login</html>").await;
        assert!(matches!(err, TokenError::NotJson { .. }), "{err:?}");
        assert!(err.to_string().contains("not a JSON object"), "{err}");
    }

    #[tokio::test]
    async fn an_answer_without_an_access_token_is_an_error() {
        let err = error_for(200, r#"{"token_type": "bearer", "expires_in": 60}"#).await;
        assert!(matches!(err, TokenError::MissingAccessToken { .. }), "{err:?}");
        assert!(err.to_string().contains("without an access_token"), "{err}");
    }

    #[tokio::test]
    async fn a_token_that_is_not_a_bearer_token_is_an_error() {
        let err = error_for(200, r#"{"access_token": "tok-1", "token_type": "mac"}"#).await;
        assert!(err.to_string().contains(r#"issued a "mac" token"#), "{err}");
        assert!(matches!(err, TokenError::NotBearer { ref token_type, .. } if token_type == "mac"), "{err:?}");
    }

    #[tokio::test]
    async fn a_slow_or_absent_token_endpoint_is_a_timeout_or_a_connection_failure() {
        let slow = TokenServer::start(200, TOKEN, Duration::from_millis(500)).await;
        let cache = TokenCache::new(Duration::from_millis(100));
        let timed_out = cache.bearer(&webhook(&slow.url, json!({})), &HttpClient::new(), t0()).await;
        let absent = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            format!("http://{}/oauth/token", listener.local_addr().expect("local addr"))
        };
        let refused = cache.bearer(&webhook(&absent, json!({})), &HttpClient::new(), t0()).await;

        assert!(matches!(timed_out, Err(TokenError::TimedOut { timeout_ms: 100, .. })), "{timed_out:?}");
        assert!(matches!(refused, Err(TokenError::Connection { .. })), "{refused:?}");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let server = TokenServer::start(200, TOKEN, Duration::from_millis(100)).await;
        let (cache, client, hook) = (Arc::new(cache()), HttpClient::new(), webhook(&server.url, json!({})));

        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (cache, client, hook) = (cache.clone(), client.clone(), hook.clone());
            callers.spawn(async move { cache.bearer(&hook, &client, t0()).await });
        }
        let tokens: Vec<_> = callers.join_all().await;

        assert_eq!(server.hits(), 1);
        assert!(tokens.iter().all(|t| t.as_deref() == Ok("tok-1")), "{tokens:?}");
    }

    #[tokio::test]
    async fn callers_waiting_on_a_failed_fetch_share_its_error() {
        let server = TokenServer::start(503, "down", Duration::from_millis(100)).await;
        let (cache, client, hook) = (Arc::new(cache()), HttpClient::new(), webhook(&server.url, json!({})));

        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (cache, client, hook) = (cache.clone(), client.clone(), hook.clone());
            callers.spawn(async move { cache.bearer(&hook, &client, t0()).await });
        }
        let results: Vec<_> = callers.join_all().await;
        let later = cache.bearer(&hook, &client, t0()).await;

        assert!(results.iter().all(|r| matches!(r, Err(TokenError::Status { status: 503, .. }))), "{results:?}");
        assert!(later.is_err());
        assert_eq!(server.hits(), 2, "one fetch for the waiters, a new one for a later caller");
    }

    #[tokio::test]
    async fn invalidate_forces_a_new_fetch() {
        let server = TokenServer::start(200, TOKEN, Duration::ZERO).await;
        let (cache, client, hook) = (cache(), HttpClient::new(), webhook(&server.url, json!({})));

        cache.bearer(&hook, &client, t0()).await.expect("a token");
        cache.bearer(&hook, &client, t0()).await.expect("a token");
        cache.invalidate("Inkit");
        cache.invalidate("no such webhook");
        cache.bearer(&hook, &client, t0()).await.expect("a token");
        cache.bearer(&hook, &client, t0()).await.expect("a token");

        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn a_webhook_replaced_with_other_credentials_fetches_again() {
        let server = TokenServer::start(200, TOKEN, Duration::ZERO).await;
        let (cache, client) = (cache(), HttpClient::new());

        cache.bearer(&webhook(&server.url, json!({})), &client, t0()).await.expect("a token");
        cache.bearer(&webhook(&server.url, json!({"client_secret": "other"})), &client, t0()).await.expect("a token");

        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn a_webhook_without_oauth_has_no_token() {
        let spec: WebhookSpec =
            serde_json::from_value(json!({"name": "Plain", "method": "POST", "url": "http://127.0.0.1:9/x"}))
                .expect("spec reads");
        let hook = Webhook::from_spec(spec).expect("valid");
        let result = cache().bearer(&hook, &HttpClient::new(), t0()).await;
        assert_eq!(result, Err(TokenError::NotOAuth("Plain".to_owned())));
    }
}
