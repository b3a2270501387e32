//! `POST /1/upload`: profiles and events in CleverTap's upload format, answered as CleverTap answers
//! (`{"status","processed","unprocessed"}`, HTTP 200 even when every record fails). `?dryRun=1` checks the
//! records and answers the same way without storing anything.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use campaign_engine::upload::validate_upload;

use crate::error::ApiError;
use crate::json_body;
use crate::params::Params;
use crate::state::ApiState;

pub async fn upload(
    State(state): State<Arc<ApiState>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let dry_run = Params::parse(query.as_deref()).flag("dryRun")?;
    let body = json_body::parse(&body)?;
    let outcome = if dry_run { validate_upload(&body, state.now())?.outcome } else { state.engine().upload(&body)? };
    tracing::debug!(processed = outcome.processed, unprocessed = outcome.unprocessed.len(), dry_run, "upload");
    Ok(Json(outcome).into_response())
}
