//! CleverTap's webhook channel as the pipeline's dispatcher: webhooks (Settings > Channels > Webhook), the
//! bodies of webhook campaigns in CleverTap's Liquid dialect, and their delivery.
//!
//! It knows webhooks, Liquid and HTTP, not segments or schedules: given a delivery and a webhook, it renders,
//! sends, retries and reports.
//!
//! - `body`: bodies in CleverTap's Liquid dialect, JSON-safe.
//! - `webhook`: a webhook's settings, validated.
//! - `payload`: the "profile variables & key-value pairs" payload.
//! - `retry`, `throttle`: when to try again and how fast to send, as pure functions of time.
//! - `client`: one HTTP attempt and its outcome.
//! - `lanes`: each webhook's queue of attempts and the few tasks that send them; `settler`: the thread
//!   that records their outcomes.
//! - `oauth`: OAuth 2.0 client-credentials access tokens, fetched and cached per webhook.
//! - `delivery`, `outbox`: deliveries and the durable outbox that keeps them until they are settled.

pub mod body;
pub mod client;
pub mod delivery;
pub mod dispatcher;
mod lanes;
pub mod oauth;
pub mod outbox;
pub mod payload;
pub mod retry;
mod settler;
pub mod synthetic;
pub mod throttle;
pub mod webhook;
