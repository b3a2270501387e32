//! CleverTap's webhook channel as the pipeline's dispatcher: webhooks (Settings > Channels > Webhook), the
//! bodies of webhook campaigns in CleverTap's Liquid dialect, and their delivery.
//!
//! It knows webhooks, Liquid and HTTP, not segments or schedules: given a delivery and a webhook, it renders,
//! sends, retries and reports. Today it holds the body renderer (`body`); delivery comes next.

pub mod body;
