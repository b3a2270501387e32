//! `/1/profiles.json` and `/1/events.json`: the users or events a CQL query matches, a page at a time.
//!
//! - `POST …json?batch_size=N` with the query as the body (CleverTap's documented form) answers
//!   `{"status":"success","cursor":"…"}`; nothing is read yet.
//! - `GET …json?cursor=C` answers a page, `{"status":"success","records":[…],"next_cursor":"…"}`; the last page
//!   has no `next_cursor`. `batch_size` given with a cursor sets that page's size.
//! - `GET …json?batch_size=N&query=<URL-encoded query>` (the Node library's form) answers the first page at once.
//!
//! `batch_size` is 1 to 5,000, 10 when not given (the Node library's default). Queries that give filter groups
//! the engine accepts but does not evaluate answer with `"warnings"`. See `cursors.rs` for how long cursors
//! last and what a page shows when users change meanwhile.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use bytes::Bytes;
use campaign_engine::query::Query;
use serde_json::{Value, json};

use super::{success, warnings};
use crate::cursors::{Export, Snapshot};
use crate::error::ApiError;
use crate::json_body;
use crate::params::Params;
use crate::records::{event_record, profile_record};
use crate::state::ApiState;

/// Largest `batch_size` (CleverTap's).
pub const MAX_BATCH_SIZE: usize = 5000;
/// `batch_size` when none is given (the Node library's default).
pub const DEFAULT_BATCH_SIZE: usize = 10;

pub async fn profiles_get(State(state): State<Arc<ApiState>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    read(&state, Export::Profiles, query.as_deref())
}

pub async fn profiles_post(
    State(state): State<Arc<ApiState>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    ask(&state, Export::Profiles, query.as_deref(), &body)
}

pub async fn events_get(State(state): State<Arc<ApiState>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    read(&state, Export::Events, query.as_deref())
}

pub async fn events_post(
    State(state): State<Arc<ApiState>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    ask(&state, Export::Events, query.as_deref(), &body)
}

/// `POST`: runs the query, answers its cursor.
fn ask(state: &ApiState, export: Export, raw_query: Option<&str>, body: &[u8]) -> Result<Response, ApiError> {
    let params = Params::parse(raw_query);
    let batch_size = batch_size(&params)?.unwrap_or(DEFAULT_BATCH_SIZE);
    let query = json_body::parse(body)?;
    let (cursor, warnings) = open(state, export, &query, batch_size)?;
    Ok(success(json!({ "cursor": cursor }), &warnings))
}

/// `GET`: a page of an earlier query, or the first page of a query given in the URL.
fn read(state: &ApiState, export: Export, raw_query: Option<&str>) -> Result<Response, ApiError> {
    let params = Params::parse(raw_query);
    let batch_size = batch_size(&params)?;
    match (params.text("cursor")?, params.text("query")?) {
        (Some(_), Some(_)) => Err(ApiError::field("cursor", "give either cursor or query, not both")),
        (Some(cursor), None) => page(state, export, &cursor, batch_size),
        (None, Some(text)) => {
            let query: Value = serde_json::from_str(&text)
                .map_err(|e| ApiError::field("query", format!("malformed JSON: {}", json_body::describe(&e))))?;
            let (cursor, _) = open(state, export, &query, batch_size.unwrap_or(DEFAULT_BATCH_SIZE))?;
            page(state, export, &cursor, None)
        }
        (None, None) => Err(ApiError::bad_request(format!(
            "Some mandatory parameter was missing. Give query (a URL-encoded CQL query) with batch_size, or the \
             cursor of an earlier answer; or POST the query to {}",
            export.path()
        ))),
    }
}

/// Runs `query` and keeps its result; returns the cursor of the first page and the query's warnings.
fn open(state: &ApiState, export: Export, query: &Value, batch_size: usize) -> Result<(String, Vec<String>), ApiError> {
    let query = Query::parse(query)?;
    if export == Export::Events {
        query.require_events()?;
    }
    let snapshot = {
        let engine = state.engine();
        let (store, now) = (engine.store(), engine.now());
        match export {
            Export::Profiles => {
                Snapshot::Profiles(query.profiles(store, now).iter().map(|p| p.object_id.clone()).collect())
            }
            Export::Events => Snapshot::of_events(store, &query.events(store, now)),
        }
    };
    let warnings = warnings(&query);
    let cursor = state.cursors().open(export, snapshot, batch_size, warnings.clone(), state.now());
    Ok((cursor, warnings))
}

/// The page `cursor` points at.
fn page(state: &ApiState, export: Export, cursor: &str, batch_size: Option<usize>) -> Result<Response, ApiError> {
    let now = state.now();
    let (id, open, offset) = state.cursors().resolve(cursor, export, now).map_err(|e| ApiError::field("cursor", e))?;
    let end = offset.saturating_add(batch_size.unwrap_or(open.batch_size)).min(open.snapshot.len());
    let records: Vec<Value> = {
        let engine = state.engine();
        let store = engine.store();
        match export {
            Export::Profiles => open
                .snapshot
                .profiles_in(store, offset..end)
                .into_iter()
                .map(|p| profile_record(p, store.events_of(&p.object_id)))
                .collect(),
            Export::Events => {
                open.snapshot.events_in(store, offset..end).into_iter().map(|(user, e)| event_record(user, e)).collect()
            }
        }
    };
    let mut fields = json!({ "records": records });
    if end < open.snapshot.len() {
        fields["next_cursor"] = Value::from(state.cursors().cursor(id, end));
    }
    Ok(success(fields, &open.warnings))
}

/// `batch_size`, when given: 1 to 5,000.
fn batch_size(params: &Params) -> Result<Option<usize>, ApiError> {
    let Some(text) = params.text("batch_size")? else { return Ok(None) };
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_BATCH_SIZE).contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::field("batch_size", format!("must be an integer from 1 to {MAX_BATCH_SIZE}, got {text:?}"))),
    }
}
