//! The admin API and dashboard under `/__admin` (no token: it is a local tool's control panel): health,
//! the request journal and counts, History queries, faults, reset.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::header;
use serde_json::{Value, json};

use super::renders::{ENTRY_SORT_KEYS, entry_filter, entry_sort_value, merged_html, no_content, pdf_response};
use crate::error::ApiError;
use crate::faults::FaultPlan;
use crate::listing::{ListQuery, MAX_ADMIN_PAGE_SIZE};
use crate::state::Inkit;

const DASHBOARD: &str = include_str!("../dashboard.html");

/// The admin routes as `METHOD PATH`, as `router` serves them (a test checks); the bad-request corpus covers
/// each.
pub const ADMIN_ROUTES: &[&str] = &[
    "GET /",
    "GET /__admin/dashboard",
    "GET /__admin/health",
    "GET /__admin/requests",
    "DELETE /__admin/requests",
    "GET /__admin/counts",
    "POST /__admin/reset",
    "GET /__admin/history",
    "GET /__admin/history/{id}",
    "GET /__admin/history/{id}/html",
    "GET /__admin/history/{id}/pdf",
    "GET /__admin/templates",
    "GET /__admin/faults",
    "PUT /__admin/faults",
    "DELETE /__admin/faults",
];

pub fn router() -> Router<Arc<Inkit>> {
    Router::new()
        .route("/", get(dashboard))
        .route("/__admin/dashboard", get(dashboard))
        .route("/__admin/health", get(health))
        .route("/__admin/requests", get(requests).delete(reset_journal))
        .route("/__admin/counts", get(counts))
        .route("/__admin/reset", post(reset))
        .route("/__admin/history", get(history))
        .route("/__admin/history/{id}", get(history_entry))
        .route("/__admin/history/{id}/html", get(history_html))
        .route("/__admin/history/{id}/pdf", get(history_pdf))
        .route("/__admin/templates", get(templates))
        .route("/__admin/faults", get(faults).put(replace_faults).delete(clear_faults))
}

async fn dashboard() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(DASHBOARD)).into_response()
}

async fn health(State(inkit): State<Arc<Inkit>>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "time": clock::rfc3339(inkit.now()),
        "history_entries": inkit.entry_count(),
        "templates": inkit.templates().len(),
    }))
}

fn param<T: std::str::FromStr>(raw: &HashMap<String, String>, key: &str, what: &str) -> Result<Option<T>, ApiError> {
    raw.get(key)
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<T>().map_err(|_| ApiError::invalid(key, format!("{key} must be {what}, not {s:?}"))))
        .transpose()
}

/// The newest journal entries: `?limit=` (default 100), `?route=POST /generate`, `?status=500`.
async fn requests(
    State(inkit): State<Arc<Inkit>>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = param::<usize>(&raw, "limit", "a whole number")?.unwrap_or(100);
    let status = param::<u16>(&raw, "status", "an HTTP status")?;
    let route = raw.get("route").map(|s| s.trim()).filter(|s| !s.is_empty());
    let (items, received, dropped) = inkit.journal.recent(limit, route, status);
    Ok(Json(json!({"items": items, "total_received": received, "dropped_from_journal": dropped})))
}

async fn reset_journal(State(inkit): State<Arc<Inkit>>) -> Response {
    inkit.journal.reset();
    no_content()
}

async fn counts(State(inkit): State<Arc<Inkit>>) -> Json<Value> {
    let (total, routes) = inkit.journal.counts();
    Json(json!({"total": total, "routes": routes}))
}

/// Clears the journal and, unless `?keep_history=true`, History and batches; templates stay.
async fn reset(
    State(inkit): State<Arc<Inkit>>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let keep_history = param::<bool>(&raw, "keep_history", "true or false")?.unwrap_or(false);
    inkit.journal.reset();
    if !keep_history {
        inkit.clear_history().await?;
    }
    Ok(no_content())
}

/// History, newest first by default, with filters `template_id`, `status`, `from`, `to` (RFC 3339), `q`,
/// `batch_id`, `kind` (render | test) and `duplicates=true`.
async fn history(
    State(inkit): State<Arc<Inkit>>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let q = ListQuery::parse(raw, ENTRY_SORT_KEYS, MAX_ADMIN_PAGE_SIZE)?;
    let keep = entry_filter(&q, &inkit)?;
    let kind = match q.param("kind") {
        None => None,
        Some("render") => Some(crate::history::EntryKind::Render),
        Some("test") => Some(crate::history::EntryKind::Test),
        Some(other) => return Err(ApiError::invalid("kind", format!("kind must be render or test, not {other:?}"))),
    };
    let duplicates = param::<bool>(&q.params, "duplicates", "true or false")?;
    let now = inkit.now();
    let mut items = inkit.entries_where(|e| {
        keep(e) && kind.is_none_or(|k| e.kind == k) && duplicates.is_none_or(|d| e.duplicate_of.is_some() == d)
    });
    q.sort(&mut items, |e, k| entry_sort_value(e, k, now));
    Ok(Json(q.page(&items, |e| e.history_json(now))))
}

fn any_entry(inkit: &Inkit, id: &str) -> Result<Arc<crate::history::HistoryEntry>, ApiError> {
    inkit.entry(id).ok_or_else(|| ApiError::unknown("History entry", id))
}

async fn history_entry(State(inkit): State<Arc<Inkit>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(any_entry(&inkit, &id)?.history_json(inkit.now())))
}

async fn history_html(State(inkit): State<Arc<Inkit>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let entry = any_entry(&inkit, &id)?;
    Ok(Html(merged_html(&inkit, &entry)).into_response())
}

async fn history_pdf(State(inkit): State<Arc<Inkit>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    pdf_response(&inkit, &*any_entry(&inkit, &id)?, None)
}

async fn templates(
    State(inkit): State<Arc<Inkit>>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(super::templates::list_json(&inkit, raw, MAX_ADMIN_PAGE_SIZE)?))
}

async fn faults(State(inkit): State<Arc<Inkit>>) -> Json<FaultPlan> {
    Json(inkit.faults.plan())
}

/// Replaces the fault plan with the JSON body; a bad plan is refused and the old one stays.
async fn replace_faults(State(inkit): State<Arc<Inkit>>, body: Bytes) -> Result<Json<FaultPlan>, ApiError> {
    let map = crate::json_body::parse_object(&body)?;
    let plan: FaultPlan = serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::invalid("body", format!("invalid fault plan: {e}")))?;
    inkit.faults.replace(plan).map_err(|e| e.into_api_error())?;
    Ok(Json(inkit.faults.plan()))
}

async fn clear_faults(State(inkit): State<Arc<Inkit>>) -> Response {
    let _ = inkit.faults.replace(FaultPlan::default());
    no_content()
}
