//! `POST /1/counts/profiles.json` and `POST /1/counts/events.json`: how many users or events a CQL query
//! matches, answered at once as `{"status":"success","count":N}`. CleverTap's real counts API is asynchronous
//! (it answers a `req_id` to poll); the engine counts in memory, so it answers synchronously.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use campaign_engine::query::Query;
use serde_json::json;

use super::{success, warnings};
use crate::error::ApiError;
use crate::json_body;
use crate::state::ApiState;

pub async fn profiles(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let query = Query::parse(&json_body::parse(&body)?)?;
    let engine = state.engine();
    let count = query.count_profiles(engine.store(), engine.now());
    Ok(success(json!({ "count": count }), &warnings(&query)))
}

pub async fn events(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let query = Query::parse(&json_body::parse(&body)?)?;
    query.require_events()?;
    let engine = state.engine();
    let count = query.count_events(engine.store(), engine.now());
    Ok(success(json!({ "count": count }), &warnings(&query)))
}
