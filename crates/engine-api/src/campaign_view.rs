//! How campaigns are saved and shown by both campaign APIs (CleverTap's `/1/targets/*.json` and ours under
//! `/tapink/v1/campaigns`): one way to read and save a campaign's JSON, one shape to show it in.

use campaign_engine::campaign::Campaign;
use campaign_engine::campaign::spec::CampaignSpec;
use campaign_engine::engine::CampaignError;
use campaign_engine::report::RunReport;
use campaign_engine::{Engine, FieldError};
use http::StatusCode;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::ApiState;

/// What saving a campaign's JSON came to.
pub enum Saved {
    /// `estimate_only`: nothing saved; how many users the target has now.
    Estimate(usize),
    Campaign(u64),
}

/// Reads a campaign's JSON, checks its webhook and (with a channel) its content, and saves it.
pub fn save(state: &ApiState, json: &Value) -> Result<Saved, ApiError> {
    let mut engine = state.engine();
    let spec: CampaignSpec = engine.read_campaign(json)?;
    if spec.estimate_only {
        let reach = spec.campaign.target.reach(engine.store(), engine.saved_segments(), engine.now());
        return Ok(Saved::Estimate(reach));
    }
    let webhook = &spec.campaign.webhook;
    if !engine.webhooks().any(|w| w == webhook) {
        let known: Vec<&str> = engine.webhooks().collect();
        let known = if known.is_empty() { "none yet".to_owned() } else { known.join(", ") };
        return Err(FieldError::new(
            "webhook_endpoint_name",
            format!("no webhook named {webhook:?} (create it first: POST /tapink/v1/webhooks); known: {known}"),
        )
        .into());
    }
    if let Some(channel) = &state.channel {
        channel.check_campaign(&spec.campaign).map_err(|e| ApiError::field("content", e.message))?;
    }
    Ok(Saved::Campaign(engine.save_campaign(json, &spec).map_err(campaign_error)?))
}

/// A campaign error as the API answers it.
pub fn campaign_error(error: CampaignError) -> ApiError {
    match error {
        CampaignError::NotFound(id) => ApiError::not_found(format!("id: no campaign with id {id}")),
        CampaignError::NotEditable { .. } | CampaignError::AlreadyPublished(_) | CampaignError::StoppedForGood(_) => {
            ApiError::new(StatusCode::CONFLICT, error.to_string())
        }
        CampaignError::UnknownWebhook(_) | CampaignError::Invalid(_) => ApiError::bad_request(error.to_string()),
        CampaignError::NotStored(e) => e.into(),
    }
}

/// A campaign's id from a body `{"id": N}`, a positive integer.
pub fn id_of(body: &Value) -> Result<u64, ApiError> {
    match body.get("id") {
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
            Some(id) if id > 0 => Ok(id),
            _ => Err(ApiError::field("id", format!("must be a positive integer campaign id, not {v}"))),
        },
        None => Err(ApiError::field("id", "is required: the campaign id")),
    }
}

/// The figures of a report as the APIs show them.
pub fn figures(report: &RunReport) -> Value {
    json!({
        "qualified": report.qualified,
        "control_group": report.control_group,
        "dropped": report.dropped.iter().map(|(reason, n)| (reason.label().to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "sent": report.handed,
        "delivered": report.delivered,
        "failed": report.failed,
        "not_sent": report.not_sent,
        "in_flight": report.in_flight(),
        "conversions": report.conversions,
        "control_group_conversions": report.control_conversions,
    })
}

/// A campaign as the lists show it: `{id, name, status, scheduled_on}` (`scheduled_on` as `YYYYMMDD HH:MM` in the
/// account's zone, absent for a draft).
pub fn summary(engine: &Engine, campaign: &Campaign) -> Value {
    let zone = engine.account().time_zone.clone();
    let status = engine.status(campaign.id).map(|s| s.label()).unwrap_or("Unknown");
    let mut view = json!({"id": campaign.id, "name": campaign.name, "status": status, "webhook": campaign.webhook});
    if let Some(start) = campaign.scheduled_start(&zone) {
        view["scheduled_on"] = json!(start.to_zoned(zone).strftime("%Y%m%d %H:%M").to_string());
    }
    view
}

/// A campaign in full: its summary, its definition as saved, and its report (total and per run).
pub fn detail(engine: &Engine, campaign: &Campaign) -> Value {
    let mut view = summary(engine, campaign);
    view["definition"] = engine.campaign_source(campaign.id).cloned().unwrap_or(Value::Null);
    if let Ok(report) = engine.report(campaign.id) {
        view["result"] = figures(&report.total());
        view["runs"] = report.runs.iter().map(|(run, r)| (run.to_string(), figures(r))).collect();
    }
    view
}
