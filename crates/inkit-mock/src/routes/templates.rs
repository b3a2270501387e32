//! `POST /template`, `GET /template`, `GET /template/{id}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use bytes::Bytes;
use serde_json::Value;

use crate::error::ApiError;
use crate::json_body::parse_object;
use crate::listing::{ListQuery, MAX_PAGE_SIZE, SortValue};
use crate::state::{Caller, Inkit};
use crate::template::{NewTemplate, Template};

pub async fn create(State(inkit): State<Arc<Inkit>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let fields = NewTemplate::from_request(&parse_object(&body)?)?;
    let template = inkit.create_template(fields, &caller).await?;
    Ok(Json(template.to_json()))
}

/// Lists templates; shared with the admin API, which allows bigger pages.
pub fn list_json(inkit: &Inkit, raw: HashMap<String, String>, max_page_size: usize) -> Result<Value, ApiError> {
    let q = ListQuery::parse(raw, &["created_at", "name", "id"], max_page_size)?;
    let mut templates: Vec<Arc<Template>> = inkit.templates();
    let source = q.param("source");
    if source.is_some_and(|s| s != "html") {
        templates.clear();
    }
    if let Some(needle) = &q.search {
        templates.retain(|t| {
            t.id.to_lowercase().contains(needle)
                || t.name.to_lowercase().contains(needle)
                || crate::listing::contains_ci(t.description.as_deref(), needle)
        });
    }
    q.sort(&mut templates, |t, key| match key {
        "name" => SortValue::Text(&t.name),
        "id" => SortValue::Text(&t.id),
        _ => SortValue::Num(t.created_at.as_nanosecond()),
    });
    Ok(q.page(&templates, |t| t.to_json()))
}

pub async fn list(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(list_json(&inkit, raw, MAX_PAGE_SIZE)?))
}

pub async fn get(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(inkit.template(&id).ok_or_else(|| ApiError::unknown("template", &id))?.to_json()))
}
