//! CleverTap's Campaign API for webhook campaigns: `POST /1/targets/create.json` (also with `estimate_only`),
//! `list.json`, `result.json` and `stop.json`. Campaign ids are positive integers (the clock's epoch seconds).
//!
//! Where CleverTap documents no shape, these are ours (docs/engine-api.md): the estimate answers
//! `{"status":"success","estimate":{"qualified":N,"reachable":N}}`; the list `{"status":"success","targets":[{id,
//! name, status, scheduled_on, webhook}]}`; the result of a completed or stopped campaign
//! `{"status":"success","result":{qualified, sent, delivered, failed, …}}`, and of one still running HTTP 409 naming
//! its status ("If the campaign has not completed, the API returns an error indicating its status").

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use campaign_engine::campaign::lifecycle::Status;
use http::StatusCode;
use serde_json::{Value, json};

use super::success;
use crate::campaign_view::{Saved, campaign_error, figures, id_of, save, summary};
use crate::error::ApiError;
use crate::json_body;
use crate::state::ApiState;

pub async fn create(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let json = json_body::parse(&body)?;
    match save(&state, &json)? {
        Saved::Estimate(reach) => Ok(success(json!({"estimate": {"qualified": reach, "reachable": reach}}), &[])),
        Saved::Campaign(id) => Ok(success(json!({ "id": id }), &[])),
    }
}

pub async fn list(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let json = if body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { json_body::parse(&body)? };
    let from = day(&json, "from")?;
    let to = day(&json, "to")?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::field("from", format!("{from} is after to ({to})")));
    }
    let engine = state.engine();
    let zone = engine.account().time_zone.clone();
    let targets: Vec<Value> = engine
        .campaigns()
        .filter(|c| {
            let Some(start) = c.scheduled_start(&zone) else { return from.is_none() && to.is_none() };
            let day: u32 = start.to_zoned(zone.clone()).strftime("%Y%m%d").to_string().parse().unwrap_or(0);
            from.is_none_or(|f| day >= f) && to.is_none_or(|t| day <= t)
        })
        .map(|c| summary(&engine, c))
        .collect();
    Ok(success(json!({ "targets": targets }), &[]))
}

/// `from` / `to` as `YYYYMMDD` (a number or a string of 8 digits), if given.
fn day(json: &Value, key: &str) -> Result<Option<u32>, ApiError> {
    let Some(value) = json.get(key) else { return Ok(None) };
    let parsed = value.as_u64().or_else(|| value.as_str().and_then(|s| s.parse().ok()));
    match parsed.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if (10_000_101..=99_991_231).contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::field(key, format!("must be a date YYYYMMDD, not {value}"))),
    }
}

pub async fn result(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let id = id_of(&json_body::parse(&body)?)?;
    let engine = state.engine();
    let status = engine.status(id).map_err(campaign_error)?;
    if !matches!(status, Status::Completed | Status::Stopped) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Campaign {id} is {}; its result is available once it has completed", status.label()),
        ));
    }
    let report = engine.report(id).map_err(campaign_error)?.total();
    Ok(success(json!({"id": id, "campaign_status": status.label(), "result": figures(&report)}), &[]))
}

pub async fn stop(State(state): State<Arc<ApiState>>, body: Bytes) -> Result<Response, ApiError> {
    let id = id_of(&json_body::parse(&body)?)?;
    state.engine().stop(id).map_err(campaign_error)?;
    Ok(success(json!({}), &[]))
}
