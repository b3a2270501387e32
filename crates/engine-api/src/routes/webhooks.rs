//! Our webhook API, under `/tapink/v1` (CleverTap manages webhooks in its dashboard only): `POST
//! /tapink/v1/webhooks` with the webhook's JSON (`name`, `method`, `url`, `content_type`, `headers`, `auth`, and
//! `skip_check: true` to save without CleverTap's test request) and `GET /tapink/v1/webhooks` for their names.
//! With the pipeline's channel the webhook is validated and tested; served alone, the API keeps its name only.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::campaigns::channel_error;
use super::success;
use crate::error::ApiError;
use crate::json_body;
use crate::state::ApiState;

pub async fn list(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let names: Vec<String> = state.engine().webhooks().map(str::to_owned).collect();
    Ok(success(json!({ "webhooks": names }), &[]))
}

pub async fn create(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let mut json = json_body::parse(&body)?;
    let Value::Object(fields) = &mut json else {
        return Err(ApiError::bad_request("body: must be a webhook object with name, method and url"));
    };
    let skip_check = match fields.remove("skip_check") {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(ApiError::field("skip_check", format!("must be true or false, not {other}"))),
    };
    // What is kept (and read again to set the dispatcher up after a restart) is the webhook alone: `skip_check`
    // belongs to this request, and the webhook's own JSON refuses unknown fields.
    let definition = json;
    let name = match &state.channel {
        Some(channel) => channel.create_webhook(definition.clone(), skip_check).await.map_err(channel_error)?,
        None => match definition.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
            _ => return Err(ApiError::field("name", "is required: the webhook's nickname")),
        },
    };
    state.engine().add_webhook(&name, &definition)?;
    Ok(success(json!({ "name": name }), &[]))
}
