//! A small HTTP client over hyper for tests: one method per verb, answers with status, headers and body.

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    base: String,
    /// Sent as `X-Inkit-API-Token` when set.
    pub token: Option<String>,
}

/// An answer, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    pub fn new(base: impl Into<String>, token: Option<&str>) -> Self {
        let http = HyperClient::builder(TokioExecutor::new()).build_http();
        Self { http, base: base.into(), token: token.map(str::to_owned) }
    }

    pub fn with_token(&self, token: Option<&str>) -> Self {
        Self { token: token.map(str::to_owned), ..self.clone() }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Bytes::new(), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, Bytes::new(), &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Bytes::from(body.to_string()), &[("content-type", "application/json")]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Bytes::from(body.to_string()), &[("content-type", "application/json")]).await
    }

    /// Any method, raw body bytes, extra headers.
    pub async fn send(&self, method: Method, path: &str, body: Bytes, headers: &[(&str, &str)]) -> Reply {
        self.try_send(method, path, body, headers).await.unwrap_or_else(|e| panic!("request to {path} failed: {e}"))
    }

    /// Like `send`, but a connection error is returned rather than a panic (for fault tests).
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let mut req = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.header("x-inkit-api-token", token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let res = self.http.request(req).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply { status: parts.status.as_u16(), headers: parts.headers, body })
    }
}
