//! `POST /1/delete/profiles.json` `{"identity":[…],"guid":[…]}`: deletes those users and their events
//! (journaled, so they stay deleted after a restart). Answers `{"status":"success"}` whether or not every
//! named user existed, as deleting someone already gone leaves the same result.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use campaign_engine::delete::ProfileDeletion;
use serde_json::json;

use super::success;
use crate::error::ApiError;
use crate::json_body;
use crate::state::ApiState;

pub async fn profiles(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let deletion = ProfileDeletion::parse(&json_body::parse(&body)?)?;
    let deleted = state.engine().delete_profiles(&deletion)?;
    tracing::debug!(deleted, "profiles deleted");
    Ok(success(json!({}), &[]))
}
