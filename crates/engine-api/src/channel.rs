//! What the engine API asks of the webhook channel when one is wired in (by the pipeline): check a
//! campaign's content before it is saved, create webhooks with CleverTap's test request, and render or send
//! a campaign for one profile (Preview and Test). Served alone (`tapink engine`), the API has no channel:
//! webhooks are names, and content is checked when a pipeline first sends it.

use std::future::Future;
use std::pin::Pin;

use campaign_engine::campaign::Campaign;
use serde_json::{Map, Value};

/// A future the channel returns, boxed so the trait can be used as `dyn Channel`.
pub type ChannelFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChannelError>> + Send + 'a>>;

/// Why the channel refused, with the field at fault when there is one (`url`, `content.body`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ChannelError {
    pub message: String,
    /// HTTP status for the API's answer: 400 for bad input, 502 when the webhook's endpoint failed.
    pub status: u16,
}

impl ChannelError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        ChannelError { message: message.into(), status: 400 }
    }

    pub fn endpoint(message: impl Into<String>) -> Self {
        ChannelError { message: message.into(), status: 502 }
    }
}

/// One user as Preview and Test use them: their CleverTap ID, identity and profile properties, and the
/// event properties to personalise with (live campaigns).
#[derive(Debug, Clone, Default)]
pub struct SampleUser {
    pub object_id: String,
    pub identity: Option<String>,
    pub profile: Map<String, Value>,
    pub event: Option<Map<String, Value>>,
}

pub trait Channel: Send + Sync {
    /// Checks (and keeps) a campaign's content before it is saved: a body that does not compile is refused
    /// with its line and column.
    fn check_campaign(&self, campaign: &Campaign) -> Result<(), ChannelError>;

    /// Creates a webhook from its JSON (name, method, url, content_type, headers, auth); unless `skip_check`,
    /// CleverTap's test request is sent first and the webhook is saved only on HTTP 200. Returns its name.
    fn create_webhook(&self, spec: Value, skip_check: bool) -> ChannelFuture<'_, String>;

    /// The request the campaign would send for this user: `{"method","url","headers","body"}`.
    fn preview(&self, campaign: &Campaign, user: &SampleUser) -> Result<Value, ChannelError>;

    /// Sends the campaign once for this user (CleverTap's "Send Test"): `{"status", "body", "latency_ms"}` of
    /// the endpoint's answer.
    fn send_test<'a>(&'a self, campaign: &'a Campaign, user: &'a SampleUser) -> ChannelFuture<'a, Value>;

    /// Told after every request that may have changed the engine (any method but GET), so deliveries it made
    /// due at once (a live trigger with no delay, a campaign sent now) are handed over without waiting for
    /// the channel's next look.
    fn engine_changed(&self) {}
}
