//! `GET /document`, `GET /document/{id}`, `DELETE /document/{id}` and `GET /download/{id}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::Value;

use super::renders::{list_live, no_content, pdf_response};
use crate::error::ApiError;
use crate::history::HistoryEntry;
use crate::state::{Caller, Inkit};

/// Lists documents. `data-id` takes render ids, as Inkit documents it.
pub async fn list(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    // Documents sort and show by their own name, which may be the Inkit Storage name rather than the render's.
    list_live(&inkit, raw, HistoryEntry::document_name, HistoryEntry::document_json)
}

pub async fn get(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(inkit.live_document(&id)?.document_json(inkit.now())))
}

pub async fn delete(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = inkit.live_document(&id)?;
    inkit.delete(&entry).await?;
    Ok(no_content())
}

pub async fn download(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = inkit.live_document(&id)?;
    pdf_response(&inkit, &entry, None)
}
