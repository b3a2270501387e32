//! A webhook's settings (Settings › Channels › Webhooks), validated once from the shape people write in scenario
//! files and JSON APIs, and what a campaign sends through it.
//!
//! Its parts live in submodules, re-exported here: `url` (URLs, URL templates, percent-encoding), `headers`
//! (custom headers) and `auth` (authentication and OAuth 2.0 token requests).
//!
//! ```
//! use webhook_dispatcher::webhook::{Method, Webhook, WebhookSpec};
//! let spec: WebhookSpec = serde_json::from_str(r#"{
//!     "name": "Inkit", "method": "POST", "url": "http://127.0.0.1:8025/v1/generate",
//!     "content_type": "json", "headers": {"X-Inkit-API-Token": "tok_123"}, "auth": {"type": "none"}
//! }"#)?;
//! let webhook = Webhook::from_spec(spec)?;
//! assert_eq!(webhook.method(), Method::Post);
//! assert!(!format!("{webhook:?}").contains("tok_123"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod headers;
#[cfg(test)]
mod tests;
mod url;

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

pub use self::auth::{Auth, AuthProblem, AuthSpec, Secret, SendCredentials, TokenRequest};
pub use self::headers::{HeaderName, HeaderProblem, HeaderValue, RESERVED_HEADERS};
pub use self::url::{HttpUrl, INVALID_WEBHOOK_URL, Scheme, UrlError, UrlRenderError, UrlTemplate};

use self::auth::auth_from_spec;
use self::headers::{HeaderNames, headers_from_spec};
use self::url::RedactedUrl;
use crate::body::{ContentFormat, RenderInput};
use crate::payload::ProfileFields;

// ---------------------------------------------------------------------------------------------------------------
// The unvalidated spec
// ---------------------------------------------------------------------------------------------------------------

/// A webhook as written in scenario files and JSON APIs, not yet validated: see [`Webhook::from_spec`].
///
/// ```json
/// { "name": "Inkit", "method": "POST", "url": "http://127.0.0.1:8025/v1/generate", "content_type": "json",
///   "headers": {"X-Inkit-API-Token": "…"}, "auth": {"type": "none"} }
/// ```
///
/// `content_type` (`json`, `text`, `application/json` or `text/plain`) defaults to `json`; `headers` (an object,
/// order kept) to none; `auth` to `{"type": "none"}`. `Debug` shows no secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// The webhook's nickname, as campaigns refer to it.
    pub name: String,
    /// `POST`, `GET`, `PUT` or `DELETE` (any case).
    pub method: String,
    /// The destination URL; may hold Liquid outputs (`{{ … }}`).
    pub url: String,
    /// `json` or `text`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Custom request headers, in order.
    #[serde(default, deserialize_with = "ordered_pairs")]
    pub headers: Vec<(String, String)>,
    /// How requests authenticate.
    #[serde(default)]
    pub auth: AuthSpec,
}

impl WebhookSpec {
    /// The spec as the JSON it is read from (secrets included: this is for storing it, not for showing it).
    /// Headers come out as an object, so their order is the JSON library's.
    pub fn to_json(&self) -> serde_json::Value {
        let headers: serde_json::Map<String, serde_json::Value> =
            self.headers.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        serde_json::json!({
            "name": self.name,
            "method": self.method,
            "url": self.url,
            "content_type": self.content_type,
            "headers": headers,
            "auth": serde_json::to_value(&self.auth).unwrap_or(serde_json::Value::Null),
        })
    }
}

impl fmt::Debug for WebhookSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSpec")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("url", &RedactedUrl(&self.url))
            .field("content_type", &self.content_type)
            .field("headers", &HeaderNames(self.headers.iter().map(|(name, _)| name.as_str())))
            .field("auth", &self.auth)
            .finish()
    }
}

/// A JSON object read as ordered pairs (a map would sort them and drop repeats before we could refuse them).
fn ordered_pairs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, String)>, D::Error> {
    struct Pairs;
    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of header names to string values")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(pair) = map.next_entry::<String, String>()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }
    deserializer.deserialize_map(Pairs)
}

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/// Why a [`WebhookSpec`] is refused. Every message starts with the field at fault (`url: …`, `headers.Host: …`,
/// `auth.password: …`); [`WebhookError::field`] gives it alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The name is empty or blank.
    #[error("name: must not be empty")]
    EmptyName,
    /// Not one of the four methods CleverTap offers.
    #[error("method: {0:?} is not one of POST, GET, PUT, DELETE")]
    Method(String),
    /// The URL is malformed, or its Liquid does not compile.
    #[error("url: {0}")]
    Url(UrlError),
    /// Not `json` or `text`.
    #[error("content_type: {0:?} is not json or text (application/json or text/plain)")]
    ContentType(String),
    /// A custom header is refused.
    #[error("headers.{}: {problem}", .name.escape_debug())]
    Header {
        /// The header's name, as written.
        name: String,
        /// What is wrong with it.
        problem: HeaderProblem,
    },
    /// An `auth` field is missing or wrong.
    #[error("auth.{field}: {problem}")]
    Auth {
        /// The field within `auth`: `type`, `user`, `password`, `token`, `token_url`, …
        field: &'static str,
        /// What is wrong with it.
        problem: AuthProblem,
    },
}

impl WebhookError {
    /// The field at fault: `name`, `method`, `url`, `content_type`, `headers.<Name>` or `auth.<field>`.
    pub fn field(&self) -> String {
        match self {
            WebhookError::EmptyName => "name".to_owned(),
            WebhookError::Method(_) => "method".to_owned(),
            WebhookError::Url(_) => "url".to_owned(),
            WebhookError::ContentType(_) => "content_type".to_owned(),
            WebhookError::Header { name, .. } => format!("headers.{name}"),
            WebhookError::Auth { field, .. } => format!("auth.{field}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The validated webhook
// ---------------------------------------------------------------------------------------------------------------

/// A webhook's HTTP method: the four CleverTap offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Post,
    Get,
    Put,
    Delete,
}

impl Method {
    /// The method as sent: `POST`, `GET`, `PUT`, `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// Reads a method in any case; `None` if it is not one of the four.
    pub fn parse(text: &str) -> Option<Method> {
        [Method::Post, Method::Get, Method::Put, Method::Delete]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated webhook. Built by [`Webhook::from_spec`]; `Debug` shows no secret (no header value, no auth secret,
/// no URL path or query, which some services use as the secret).
#[derive(Clone)]
pub struct Webhook {
    name: String,
    method: Method,
    url: UrlTemplate,
    content_type: ContentFormat,
    headers: Vec<(HeaderName, HeaderValue)>,
    auth: Auth,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("headers", &HeaderNames(self.headers.iter().map(|(name, _)| name.as_str())))
            .field("auth", &self.auth)
            .finish()
    }
}

impl Webhook {
    /// Validates `spec`. The error names the first field at fault.
    pub fn from_spec(spec: WebhookSpec) -> Result<Webhook, WebhookError> {
        let name = spec.name.trim();
        if name.is_empty() {
            return Err(WebhookError::EmptyName);
        }
        let method = Method::parse(&spec.method).ok_or_else(|| WebhookError::Method(spec.method.clone()))?;
        let url = UrlTemplate::parse(&spec.url).map_err(WebhookError::Url)?;
        let content_type = match spec.content_type.as_deref().map(str::trim) {
            None => ContentFormat::Json,
            Some(t) if t.eq_ignore_ascii_case("json") || t.eq_ignore_ascii_case("application/json") => {
                ContentFormat::Json
            }
            Some(t) if t.eq_ignore_ascii_case("text") || t.eq_ignore_ascii_case("text/plain") => ContentFormat::Text,
            Some(t) => return Err(WebhookError::ContentType(t.to_owned())),
        };
        let auth = auth_from_spec(spec.auth)?;
        let headers = headers_from_spec(spec.headers, &auth)?;
        Ok(Webhook { name: name.to_owned(), method, url, content_type, headers, auth })
    }

    /// The webhook's nickname.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The destination URL, as a template.
    pub fn url(&self) -> &UrlTemplate {
        &self.url
    }

    /// The format of bodies sent through this webhook (its `Content-Type`).
    pub fn content_type(&self) -> ContentFormat {
        self.content_type
    }

    /// The custom headers, in order.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The destination URL for one user: Liquid values percent-encoded. A URL that no longer parses fails the
    /// delivery as CleverTap's "Invalid Webhook URL" ([`UrlRenderError::InvalidUrl`]).
    pub fn render_url(&self, input: &RenderInput<'_>) -> Result<String, UrlRenderError> {
        self.url.render(input)
    }

    /// Whether a campaign sending `content` through this webhook is a *broadcast* (reference §3.2): one request
    /// carries a batch of users. All four must hold: the content format is JSON; the body is "profile variables &
    /// key-value pairs"; the URL has no personalization; the key-value pairs hold no Liquid (`@` personalization
    /// does not count).
    pub fn is_broadcast(&self, content: &Content) -> bool {
        match content {
            Content::KeyValues { key_values, .. } => {
                self.content_type == ContentFormat::Json
                    && !self.url.is_personalized()
                    && !key_values.iter().any(|(key, value)| has_liquid(key) || has_liquid(value))
            }
            Content::CustomBody { .. } => false,
        }
    }
}

/// What a campaign sends through a webhook: CleverTap's two body modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// "Custom Body": a Liquid template (see [`crate::body::BodyTemplate`]).
    CustomBody {
        /// The template's source.
        source: String,
        /// JSON or plain text.
        format: ContentFormat,
    },
    /// "Profile variables & custom key value pairs": CleverTap's payload (see [`crate::payload`]).
    KeyValues {
        /// The campaign's pairs, in order; values (and keys) may hold Liquid.
        key_values: Vec<(String, String)>,
        /// Which per-user fields to send.
        fields: ProfileFields,
    },
}

fn has_liquid(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

// ---------------------------------------------------------------------------------------------------------------
// Debug helpers
// ---------------------------------------------------------------------------------------------------------------

/// What `Debug` shows in place of a secret, here and in the submodules.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
