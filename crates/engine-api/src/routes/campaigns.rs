//! Our campaign API, under `/tapink/v1`, for what CleverTap's targets API cannot express: live triggers,
//! control groups, limits, DND and throttles in the same JSON (see docs/engine-api.md), drafts published
//! later, each campaign with its status, definition and report, and Preview and Test for one user.
//!
//! - `GET /tapink/v1/campaigns`, `POST /tapink/v1/campaigns` (the campaign JSON; `draft: true` saves without
//!   publishing), `GET /tapink/v1/campaigns/{id}`, `PATCH /tapink/v1/campaigns/{id}` (the fields to change, as
//!   a JSON merge patch of the campaign's JSON, under CleverTap's edit rules), `POST …/{id}/publish`,
//!   `POST …/{id}/stop`;
//! - `POST …/{id}/preview` and `POST …/{id}/test` with `{"identity"|"email"|"objectId": …}` (a stored user) or
//!   `{"profile": {…}}` (properties given here), and optionally `"event": {…}`: the request as it would be
//!   sent, or the endpoint's answer to one real send. Both need the webhook channel (`tapink up`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use campaign_engine::campaign::Campaign;
use campaign_engine::profile::IdentityKind;
use http::StatusCode;
use serde_json::{Value, json};

use super::success;
use crate::campaign_view::{Saved, campaign_error, detail, save, summary};
use crate::channel::{Channel, ChannelError, SampleUser};
use crate::error::ApiError;
use crate::json_body;
use crate::state::ApiState;

pub async fn list(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let engine = state.engine();
    let campaigns: Vec<Value> = engine.campaigns().map(|c| summary(&engine, c)).collect();
    Ok(success(json!({ "campaigns": campaigns }), &[]))
}

pub async fn create(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let json = json_body::parse(&body)?;
    match save(&state, &json)? {
        Saved::Estimate(reach) => Ok(success(json!({"estimate": {"qualified": reach, "reachable": reach}}), &[])),
        Saved::Campaign(id) => show(&state, id),
    }
}

pub async fn get_one(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    show(&state, parse_id(&id)?)
}

/// An edit: the body is a JSON merge patch of the campaign's JSON as saved (`{"name": "New"}`, `{"content":
/// {"body": …}}`, a field set to `null` removed). The engine refuses a field the campaign's status does not
/// let change (409, naming the field); the channel checks the edited content before it is kept.
pub async fn edit(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let changes = json_body::parse(&body)?;
    {
        let mut engine = state.engine();
        let before = engine.campaign(id).cloned();
        let edited = engine.read_edit(id, &changes).map_err(campaign_error)?;
        if let Some(channel) = &state.channel {
            channel.check_campaign(&edited).map_err(|e| ApiError::field("content", e.message))?;
        }
        if let Err(e) = engine.edit_campaign(id, &changes) {
            // Not kept (the journal refused it): the channel goes back to the content as it was.
            if let (Some(channel), Some(before)) = (&state.channel, before) {
                let _ = channel.check_campaign(&before);
            }
            return Err(campaign_error(e));
        }
    }
    show(&state, id)
}

pub async fn publish(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    state.engine().publish(id).map_err(campaign_error)?;
    show(&state, id)
}

pub async fn stop(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    state.engine().stop(id).map_err(campaign_error)?;
    show(&state, id)
}

pub async fn preview(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (channel, campaign, user) = sample(&state, &id, &body)?;
    let request = channel.preview(&campaign, &user).map_err(channel_error)?;
    Ok(success(json!({ "request": request }), &[]))
}

pub async fn test(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (channel, campaign, user) = sample(&state, &id, &body)?;
    let answer = channel.send_test(&campaign, &user).await.map_err(channel_error)?;
    Ok(success(json!({ "answer": answer }), &[]))
}

fn show(state: &ApiState, id: u64) -> Result<Response, ApiError> {
    let engine = state.engine();
    let campaign =
        engine.campaign(id).ok_or_else(|| campaign_error(campaign_engine::engine::CampaignError::NotFound(id)))?;
    Ok(success(json!({ "campaign": detail(&engine, campaign) }), &[]))
}

fn parse_id(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::field("id", format!("must be a positive integer campaign id, not {text:?}")))
}

pub(super) fn channel_error(error: ChannelError) -> ApiError {
    ApiError::new(StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY), error.message)
}

pub(super) fn channel(state: &ApiState) -> Result<Arc<dyn Channel>, ApiError> {
    state.channel.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "This needs the webhook dispatcher, which `tapink engine` does not run: use `tapink up`",
        )
    })
}

/// The channel, the campaign and the user a Preview or Test is for.
fn sample(state: &ApiState, id: &str, body: &[u8]) -> Result<(Arc<dyn Channel>, Campaign, SampleUser), ApiError> {
    let id = parse_id(id)?;
    let json = json_body::parse(body)?;
    let Value::Object(fields) = &json else {
        return Err(ApiError::bad_request("body: must be an object with identity, email, objectId or profile"));
    };
    let channel = channel(state)?;
    let engine = state.engine();
    let campaign = engine
        .campaign(id)
        .cloned()
        .ok_or_else(|| campaign_error(campaign_engine::engine::CampaignError::NotFound(id)))?;
    let event = match fields.get("event") {
        None | Some(Value::Null) => None,
        Some(Value::Object(e)) => Some(e.clone()),
        Some(other) => {
            return Err(ApiError::field("event", format!("must be an object of event properties, not {other}")));
        }
    };
    let store = engine.store();
    let found = ["identity", "email", "objectId"].into_iter().find_map(|key| {
        let value = fields.get(key)?;
        let text = value.as_str();
        let profile = match key {
            "identity" => text.and_then(|s| store.find(IdentityKind::Identity, s)),
            "email" => text.and_then(|s| store.find_by_email(s)),
            _ => text.and_then(|s| store.find(IdentityKind::ObjectId, s)),
        };
        Some((key, value, profile))
    });
    let user = match (found, fields.get("profile")) {
        (Some((key, value, None)), _) => {
            return Err(ApiError::not_found(format!("{key}: no user profile with {key} {value}")));
        }
        (Some((_, _, Some(p))), _) => SampleUser {
            object_id: p.object_id.clone(),
            identity: p.identity.clone(),
            profile: p.properties.to_map(),
            event,
        },
        (None, Some(Value::Object(profile))) => SampleUser {
            object_id: "__preview".into(),
            identity: profile.get("Identity").and_then(Value::as_str).map(str::to_owned),
            profile: profile.clone(),
            event,
        },
        (None, Some(other)) => {
            return Err(ApiError::field("profile", format!("must be an object of profile properties, not {other}")));
        }
        (None, None) => {
            return Err(ApiError::bad_request("body: give identity, email or objectId of a user, or a profile"));
        }
    };
    Ok((channel, campaign, user))
}
