//! Setting the pipeline up as a person does in CleverTap's dashboard: create a webhook (its test request
//! must be answered HTTP 200), then save a campaign that names it (its body compiled now, so a Liquid error
//! is reported at save time with its line and column, as CleverTap does on "Done").

use campaign_engine::FieldError;
use campaign_engine::campaign::spec::{CampaignSpec, parse_campaign};
use campaign_engine::engine::CampaignError;
use webhook_dispatcher::client::Answer;
use webhook_dispatcher::dispatcher::{DispatchError, WebhookSettings};
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
    /// CleverTap saves a webhook only when its test request is answered HTTP 200.
    #[error("the webhook's test request was not answered HTTP 200: {0}")]
    TestFailed(String),
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
        let webhook = Webhook::from_spec(spec)?;
        self.create_webhook_with(WebhookSettings::new(webhook), check).await
    }

    /// [`Pipeline::create_webhook`] with the dispatcher's settings for it (retry policy, throttle, concurrency).
    pub async fn create_webhook_with(&self, settings: WebhookSettings, check: bool) -> Result<(), WebhookSetupError> {
        let name = settings.webhook.name().to_owned();
        if check {
            match self.dispatcher.create_webhook(settings).await? {
                Answer::Response { status: 200, .. } => {}
                Answer::Response { status, body, .. } => {
                    return Err(WebhookSetupError::TestFailed(format!("HTTP {status}: {body}")));
                }
                Answer::TimedOut => return Err(WebhookSetupError::TestFailed("no answer in time".into())),
                Answer::ConnectionFailed { error } => return Err(WebhookSetupError::TestFailed(error)),
            }
        } else {
            self.dispatcher.add_webhook(settings)?;
        }
        lock(&self.engine).add_webhook(&name);
        Ok(())
    }

    /// Reads a campaign in the targets API's JSON (with our additions), compiles its content and saves it;
    /// unless it is a draft it is published now. With `estimate_only` nothing is saved. Returns the spec read,
    /// with the campaign's id.
    pub fn save_campaign(&self, json: &serde_json::Value) -> Result<CampaignSpec, CampaignSetupError> {
        let mut engine = lock(&self.engine);
        let zone = engine.account().time_zone.clone();
        let id = engine.next_campaign_id();
        let spec = parse_campaign(json, id, engine.now(), &zone)?;
        if spec.estimate_only {
            return Ok(spec);
        }
        if !engine.webhooks().any(|w| w == spec.campaign.webhook) {
            return Err(CampaignError::UnknownWebhook(spec.campaign.webhook.clone()).into());
        }
        self.bridge.register(&spec.campaign)?;
        engine.add_campaign(spec.campaign.clone())?;
        Ok(spec)
    }
}
