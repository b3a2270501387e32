//! Starting the engine API for a test: in-process on a loopback port, over an in-memory engine with a clock
//! the test controls, and a client that speaks CleverTap's Server API with one method per call.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use campaign_engine::Engine;
use clock::{Clock, ManualClock, Timestamp};
use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE, EngineApiConfig};
use http::Method;
use serde_json::{Value, json};

use crate::server_task::ServerTask;
use crate::{Client, Reply};

/// A running engine API. Dropping it stops the server without waiting; `stop` waits for a clean shutdown.
pub struct EngineServer {
    pub url: String,
    pub engine: Arc<Mutex<Engine>>,
    /// The engine's clock: uploads without `ts` take its now; advancing it expires cursors.
    pub clock: Arc<ManualClock>,
    server: ServerTask,
}

impl EngineServer {
    /// In memory, default account, clock at 2026-11-27 09:00 UTC.
    pub async fn start() -> Self {
        Self::start_with(EngineApiConfig::default()).await
    }

    pub async fn start_with(config: EngineApiConfig) -> Self {
        let start: Timestamp = "2026-11-27T09:00:00Z".parse().expect("valid time");
        let clock = Arc::new(ManualClock::new(start));
        let engine = Engine::new(clock.clone() as Arc<dyn Clock>);
        Self::serve(engine, clock, config).await
    }

    /// Serves `engine` (whose clock must be `clock`).
    pub async fn serve(engine: Engine, clock: Arc<ManualClock>, config: EngineApiConfig) -> Self {
        let engine = Arc::new(Mutex::new(engine));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let served = engine.clone();
        let server = ServerTask::spawn(move |stop| {
            engine_api::serve(listener, served, config, async move {
                let _ = stop.await;
            })
        });
        Self { url, engine, clock, server }
    }

    /// A client with the default account's credentials.
    pub fn client(&self) -> EngineClient {
        EngineClient::new(&self.url, Some((DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE)))
    }

    /// The engine, locked (do not hold it across an `.await`).
    pub fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything the engine stores, as JSON: compare it before and after a refused request.
    pub fn stored(&self) -> Value {
        stored_users(&self.engine())
    }

    /// Moves the engine's clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.clock.advance(by);
    }

    /// Stops accepting, waits for requests in flight, and returns once the server has finished.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Every user the engine stores, profile and events, as JSON: compare it before and after a refused request.
pub fn stored_users(engine: &Engine) -> Value {
    let users: Vec<Value> =
        engine.store().profiles_with_events().map(|(p, events)| json!({"profile": p, "events": events})).collect();
    Value::Array(users)
}

/// Which export to walk: `/1/profiles.json` or `/1/events.json` (the engine API's own names for them).
pub use engine_api::Export;

/// A walk through an export: every page's answer, and all records in order.
#[derive(Debug)]
pub struct Walk {
    pub pages: Vec<Value>,
    pub records: Vec<Value>,
}

/// A client of the engine API sending CleverTap's account headers.
#[derive(Clone)]
pub struct EngineClient {
    http: Client,
    account: Option<(String, String)>,
}

impl EngineClient {
    pub fn new(base: &str, account: Option<(&str, &str)>) -> Self {
        Self { http: Client::new(base, None), account: account.map(|(a, p)| (a.to_owned(), p.to_owned())) }
    }

    /// The same client with other credentials (`None`: no account headers at all).
    pub fn with_account(&self, account: Option<(&str, &str)>) -> Self {
        Self { http: self.http.clone(), account: account.map(|(a, p)| (a.to_owned(), p.to_owned())) }
    }

    /// Any request: raw body bytes, the account headers and `extra` headers.
    pub async fn send(&self, method: Method, path: &str, body: impl Into<Bytes>, extra: &[(&str, &str)]) -> Reply {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some((id, passcode)) = &self.account {
            headers.push(("X-CleverTap-Account-Id", id));
            headers.push(("X-CleverTap-Passcode", passcode));
        }
        headers.extend_from_slice(extra);
        self.http.send(method, path, body.into(), &headers).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Bytes::new(), &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, body.to_string()).await
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<Bytes>) -> Reply {
        self.send(Method::POST, path, body, &[("content-type", "application/json")]).await
    }

    /// `POST /1/upload` of `records` (a JSON array).
    pub async fn upload(&self, records: Value) -> Reply {
        self.post("/1/upload", &json!({ "d": records })).await
    }

    /// `POST /1/upload` that must process every record.
    pub async fn upload_ok(&self, records: Value) -> Value {
        let count = records.as_array().map_or(0, Vec::len);
        let reply = self.upload(records).await;
        assert_eq!(reply.status, 200, "upload: {}", reply.text());
        let body = reply.json();
        assert_eq!(body, json!({"status": "success", "processed": count, "unprocessed": []}), "upload");
        body
    }

    /// `POST /tapink/v1/webhooks` with a webhook's JSON.
    pub async fn create_webhook(&self, webhook: &Value) -> Reply {
        self.post("/tapink/v1/webhooks", webhook).await
    }

    /// `POST /1/targets/{action}.json` (`create`, `list`, `result`, `stop`).
    pub async fn targets(&self, action: &str, body: &Value) -> Reply {
        self.post(&format!("/1/targets/{action}.json"), body).await
    }

    /// `POST /1/targets/create.json` that must save the campaign; returns its id.
    pub async fn create_target_ok(&self, campaign: &Value) -> u64 {
        let reply = self.targets("create", campaign).await;
        assert_eq!(reply.status, 200, "targets/create: {}", reply.text());
        let body = reply.json();
        let id = body["id"].as_u64().unwrap_or_else(|| panic!("no id: {body}"));
        assert_eq!(body, json!({"status": "success", "id": id}), "CleverTap's answer, nothing more");
        id
    }

    /// `GET /tapink/v1/campaigns/{id}` that must succeed; returns the campaign.
    pub async fn campaign(&self, id: u64) -> Value {
        let reply = self.get(&format!("/tapink/v1/campaigns/{id}")).await;
        assert_eq!(reply.status, 200, "GET campaign {id}: {}", reply.text());
        reply.json()["campaign"].clone()
    }

    /// `GET /1/profile.json?<query>` (the query as written, not encoded here).
    pub async fn profile(&self, query: &str) -> Reply {
        self.get(&format!("/1/profile.json?{query}")).await
    }

    /// Walks an export with the Node library's form: `GET ?batch_size&query=`, then `GET ?cursor=` until the
    /// answer has no `next_cursor`. Every page must succeed.
    pub async fn walk_get(&self, export: Export, query: &Value, batch_size: usize) -> Walk {
        let first = format!("{}?batch_size={batch_size}&query={}", export.path(), url_encode(&query.to_string()));
        self.walk_from(export, self.get(&first).await).await
    }

    /// Walks an export with the documented form: `POST ?batch_size` with the query, then `GET ?cursor=`.
    pub async fn walk_post(&self, export: Export, query: &Value, batch_size: usize) -> Walk {
        let reply = self.post(&format!("{}?batch_size={batch_size}", export.path()), query).await;
        assert_eq!(reply.status, 200, "POST {}: {}", export.path(), reply.text());
        let body = reply.json();
        let cursor = body["cursor"].as_str().unwrap_or_else(|| panic!("no cursor in {body}")).to_owned();
        assert!(body.get("records").is_none(), "the POST answers only a cursor: {body}");
        let page = self.get(&format!("{}?cursor={cursor}", export.path())).await;
        self.walk_from(export, page).await
    }

    async fn walk_from(&self, export: Export, mut reply: Reply) -> Walk {
        let (mut pages, mut records) = (Vec::new(), Vec::new());
        loop {
            assert_eq!(reply.status, 200, "page {} of {}: {}", pages.len() + 1, export.path(), reply.text());
            assert_eq!(reply.content_type(), "application/json");
            let page = reply.json();
            assert_eq!(page["status"], "success", "{page}");
            records.extend(page["records"].as_array().unwrap_or_else(|| panic!("no records in {page}")).clone());
            let next = page.get("next_cursor").and_then(Value::as_str).map(str::to_owned);
            pages.push(page);
            let Some(cursor) = next else { break };
            assert!(pages.len() < 10_000, "the walk does not end");
            reply = self.get(&format!("{}?cursor={cursor}", export.path())).await;
        }
        Walk { pages, records }
    }

    /// `POST /1/counts/{profiles|events}.json` that must succeed; returns the count.
    pub async fn count(&self, export: Export, query: &Value) -> u64 {
        let path = match export {
            Export::Profiles => "/1/counts/profiles.json",
            Export::Events => "/1/counts/events.json",
        };
        let reply = self.post(path, query).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        reply.json()["count"].as_u64().unwrap_or_else(|| panic!("no count: {}", reply.text()))
    }
}

/// Percent-encodes everything but unreserved characters, as `encodeURIComponent` does.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Asserts a CleverTap error answer: `status`, JSON content type, `{"status":"fail","error":…,"code":status}`
/// with exactly those keys; returns the message.
pub fn assert_clevertap_error(reply: &Reply, status: u16) -> String {
    assert_eq!(reply.status, status, "status of {}", reply.text());
    assert_eq!(reply.content_type(), "application/json", "content type of {}", reply.text());
    let body = reply.json();
    let object = body.as_object().unwrap_or_else(|| panic!("not an object: {body}"));
    assert_eq!(object.len(), 3, "only status, error, code: {body}");
    assert_eq!(body["status"], "fail", "{body}");
    assert_eq!(body["code"], status, "{body}");
    body["error"].as_str().unwrap_or_else(|| panic!("no error message: {body}")).to_owned()
}
