//! Setting the pipeline up as a person does in CleverTap's dashboard: create a webhook (its test request
//! must be answered HTTP 200), then save a campaign that names it (its body compiled now, so a Liquid error
//! is reported at save time with its line and column, as CleverTap does on "Done").

use campaign_engine::FieldError;
use campaign_engine::campaign::spec::CampaignSpec;
use campaign_engine::engine::CampaignError;
use webhook_dispatcher::dispatcher::{DispatchError, Dispatcher, WebhookSettings};
use webhook_dispatcher::webhook::{Webhook, WebhookError, WebhookSpec};

use crate::bridge::lock;
use crate::pipeline::Pipeline;

/// Why a webhook was not created.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    #[error("{0}")]
    Invalid(#[from] WebhookError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// CleverTap saves a webhook only when its test request is answered HTTP 200; the message names the answer
    /// (a status, a timeout, a connection failure).
    #[error("{0}")]
    TestFailed(String),
    #[error("the webhook could not be stored: {0}")]
    NotStored(String),
}

/// Why a campaign was not saved.
#[derive(Debug, thiserror::Error)]
pub enum CampaignSetupError {
    #[error("{0}")]
    Spec(#[from] FieldError),
    #[error("{0}")]
    Campaign(#[from] CampaignError),
    #[error("{0}")]
    Content(#[from] DispatchError),
}

impl Pipeline {
    /// Creates a webhook. With `check`, CleverTap's test request is sent first and the webhook is saved only
    /// if it is answered HTTP 200; without, it is saved as it is.
    pub async fn create_webhook(&self, spec: WebhookSpec, check: bool) -> Result<(), WebhookSetupError> {
        self.create_webhook_with(spec, check, |_| {}).await
    }

    /// [`Pipeline::create_webhook`] with the dispatcher's settings for the webhook adjusted by `tune` (retry
    /// policy, throttle, concurrency), as a scenario file may give them.
    pub async fn create_webhook_with(
        &self,
        spec: WebhookSpec,
        check: bool,
        tune: impl FnOnce(&mut WebhookSettings),
    ) -> Result<(), WebhookSetupError> {
        let definition = spec.to_json();
        let name = create_webhook_tuned(&self.dispatcher, spec, check, tune).await?;
        lock(&self.engine).add_webhook(&name, &definition).map_err(|e| WebhookSetupError::NotStored(e.to_string()))?;
        Ok(())
    }

    /// Reads a campaign in the targets API's JSON (with our additions), compiles its content and saves it;
    /// unless it is a draft it is published now. With `estimate_only` nothing is saved. Returns the spec read,
    /// with the campaign's id.
    pub fn save_campaign(&self, json: &serde_json::Value) -> Result<CampaignSpec, CampaignSetupError> {
        let mut engine = lock(&self.engine);
        let spec = engine.read_campaign(json)?;
        if spec.estimate_only {
            return Ok(spec);
        }
        if !engine.webhooks().any(|w| w == spec.campaign.webhook) {
            return Err(CampaignError::UnknownWebhook(spec.campaign.webhook.clone()).into());
        }
        self.bridge.register(&spec.campaign)?;
        engine.save_campaign(json, &spec)?;
        Ok(spec)
    }
}

/// Creates a webhook in the dispatcher (with CleverTap's test request when `check`); returns its name.
pub async fn create_webhook(
    dispatcher: &Dispatcher,
    spec: WebhookSpec,
    check: bool,
) -> Result<String, WebhookSetupError> {
    create_webhook_tuned(dispatcher, spec, check, |_| {}).await
}

/// [`create_webhook`] with CleverTap's default settings for it adjusted by `tune` first.
pub async fn create_webhook_tuned(
    dispatcher: &Dispatcher,
    spec: WebhookSpec,
    check: bool,
    tune: impl FnOnce(&mut WebhookSettings),
) -> Result<String, WebhookSetupError> {
    let webhook = Webhook::from_spec(spec)?;
    let name = webhook.name().to_owned();
    let mut settings = WebhookSettings::new(webhook);
    tune(&mut settings);
    if !check {
        dispatcher.add_webhook(settings)?;
        return Ok(name);
    }
    // The dispatcher saves the webhook on HTTP 200 only, and otherwise refuses it naming the answer: that is the
    // endpoint's failure (the engine API answers 502), not bad input.
    match dispatcher.create_webhook(settings).await {
        Ok(_) => Ok(name),
        Err(refused @ DispatchError::TestRequestRefused { .. }) => {
            Err(WebhookSetupError::TestFailed(refused.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}
