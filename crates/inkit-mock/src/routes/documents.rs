//! `GET /document`, `GET /document/{id}`, `DELETE /document/{id}` and `GET /download/{id}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::Value;

use super::renders::{ENTRY_SORT_KEYS, entry_filter, entry_sort_value, no_content, pdf_response};
use crate::error::ApiError;
use crate::listing::{ListQuery, MAX_PAGE_SIZE, SortValue};
use crate::state::{Caller, Inkit};

/// Lists documents. `data-id` takes render ids, as Inkit documents it.
pub async fn list(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let q = ListQuery::parse(raw, ENTRY_SORT_KEYS, MAX_PAGE_SIZE)?;
    let keep = entry_filter(&q, &inkit)?;
    let now = inkit.now();
    let mut items = inkit.entries_where(|e| e.is_live_render() && keep(e));
    // Documents sort by the name they show, which may be the Inkit Storage name rather than the render's.
    q.sort(&mut items, |e, k| match k {
        "name" => SortValue::text(e.document_name()),
        _ => entry_sort_value(e, k, now),
    });
    Ok(Json(q.page(&items, |e| e.document_json(now))))
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
