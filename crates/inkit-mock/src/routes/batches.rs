//! `POST /batch`, `GET /batch`, `GET /batch/{id}`: many renders of one template in one request.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use bytes::Bytes;
use serde_json::{Value, json};

use super::renders::parse_render;
use crate::error::ApiError;
use crate::json_body::{Fields, parse_object, wrong_type};
use crate::listing::{ListQuery, MAX_PAGE_SIZE, SortValue};
use crate::state::{Caller, Inkit};

/// Most renders in one batch; a bigger one is refused whole.
pub const MAX_BATCH_RENDERS: usize = 1000;

/// Creates the batch's renders all or none: one bad item refuses the whole batch, naming the item.
pub async fn create(State(inkit): State<Arc<Inkit>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let mut body = parse_object(&body)?;
    let f = Fields::new(&body);
    let template_id = f.str("template_id")?.to_owned();
    let name = f.opt_str("name")?.map(str::to_owned);
    f.array("renders")?;
    let Some(Value::Array(items)) = body.remove("renders") else { unreachable!("checked to be an array") };
    if items.is_empty() || items.len() > MAX_BATCH_RENDERS {
        return Err(ApiError::invalid(
            "renders",
            format!("renders must hold from 1 to {MAX_BATCH_RENDERS} items, not {}", items.len()),
        ));
    }
    let mut renders = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("renders[{i}]");
        let Value::Object(item) = item else { return Err(wrong_type(&at, "an object", &item)) };
        let mut render = parse_render(item, false).map_err(|e| e.within(&at))?;
        render.template_id.clone_from(&template_id);
        renders.push(render);
    }
    let (_, batch) = inkit.accept_renders(renders, Some(name), &caller).await?;
    let batch = batch.ok_or_else(|| ApiError::internal("batch was not created"))?;
    Ok(Json(json!({"id": batch.id})))
}

pub async fn list(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let q = ListQuery::parse(raw, &["created_at", "name", "id"], MAX_PAGE_SIZE)?;
    let mut batches = inkit.batches();
    if let Some(needle) = &q.search {
        batches
            .retain(|b| b.id.to_lowercase().contains(needle) || crate::listing::contains_ci(b.name.as_deref(), needle));
    }
    q.sort(&mut batches, |b, key| match key {
        "name" => SortValue::text(b.name.as_deref()),
        "id" => SortValue::Text(&b.id),
        _ => SortValue::Num(i128::from(b.seq)),
    });
    let mut shown: Vec<Value> = batches.iter().map(|b| inkit.batch_json(b)).collect();
    // Filters on destination state apply to the counts, so they come before paging.
    if let Some(status) = q.param("destination_status") {
        if !["in_progress", "completed", "failed", "deleted"].contains(&status) {
            return Err(ApiError::invalid(
                "destination_status",
                format!("destination_status must be one of in_progress, completed, failed, deleted, not {status:?}"),
            ));
        }
        shown.retain(|b| b["destinations"]["inkit_storage"][status].as_u64().unwrap_or(0) > 0);
    }
    let page = q.page(&shown, Value::clone);
    Ok(Json(page))
}

pub async fn get(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let batch = inkit.batch(&id).ok_or_else(|| ApiError::unknown("batch", &id))?;
    Ok(Json(inkit.batch_json(&batch)))
}
