//! Saved segments and reach, under `/tapink/v1` (the dashboard's segment model, which CleverTap's API does
//! not expose): `POST /tapink/v1/segments` `{"id", "name", "segment": {…}}` saves one (campaigns and other
//! segments can then `include_segment` / `exclude_segment` it), `GET /tapink/v1/segments` lists them with their
//! reach now, and `POST /tapink/v1/segments/estimate` `{"segment": {…}}` answers the estimated reach of any
//! segment without saving it.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;

use campaign_engine::segment::Segment;
use serde_json::{Value, json};

use super::success;
use crate::campaign_view::campaign_error;
use crate::error::ApiError;
use crate::json_body;
use crate::state::ApiState;

pub async fn list(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let engine = state.engine();
    let saved = engine.saved_segments();
    let segments: Vec<Value> = saved
        .iter()
        .map(|(id, s)| {
            let reach = s.segment.estimate_reach(engine.store(), saved, engine.now());
            json!({"id": id, "name": s.name, "segment": s.segment.to_json(), "reach": reach})
        })
        .collect();
    Ok(success(json!({ "segments": segments }), &[]))
}

pub async fn save(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let json = json_body::parse(&body)?;
    let text = |key: &str| match json.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(ApiError::field(key, "is required: a non-empty string")),
    };
    let (id, name) = (text("id")?, text("name")?);
    let segment = json.get("segment").ok_or_else(|| ApiError::field("segment", "is required: a segment object"))?;
    let mut engine = state.engine();
    engine.save_segment(&id, &name, segment).map_err(|e| prefixed(campaign_error(e)))?;
    let reach = engine
        .saved_segments()
        .get(&id)
        .map_or(0, |s| s.segment.estimate_reach(engine.store(), engine.saved_segments(), engine.now()));
    Ok(success(json!({"id": id, "reach": reach}), &[]))
}

pub async fn estimate(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let json = json_body::parse(&body)?;
    let given = json.get("segment").ok_or_else(|| ApiError::field("segment", "is required: a segment object"))?;
    let engine = state.engine();
    let segment = Segment::parse(given, engine.saved_segments()).map_err(|e| prefixed(e.into()))?;
    let reach = segment.estimate_reach(engine.store(), engine.saved_segments(), engine.now());
    Ok(success(json!({ "estimate": reach }), &[]))
}

/// A segment's error, with its path put under `segment.` (the body's field).
fn prefixed(error: ApiError) -> ApiError {
    if error.status == 400 && !error.message.starts_with("id:") && !error.message.starts_with("segment") {
        return ApiError::bad_request(format!("segment.{}", error.message));
    }
    error
}
