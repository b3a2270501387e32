//! `GET /folder`: the Inkit Storage folders, which are the default folder and every `folder_id` a render's
//! `destinations.inkit_storage` named (the mock creates a folder when it is first used).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::listing::{ListQuery, MAX_PAGE_SIZE, SortValue};
use crate::state::{Caller, Inkit};

pub async fn list(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let q = ListQuery::parse(raw, &["created_at", "name", "id"], MAX_PAGE_SIZE)?;
    let created = clock::rfc3339(inkit.now());
    let mut folders: Vec<(String, String, String)> = inkit
        .folder_ids()
        .into_iter()
        .map(|id| {
            let (name, description) = if id == inkit.default_folder() {
                ("Inkit Storage".to_owned(), "Default folder for generated documents".to_owned())
            } else {
                (id.clone(), "Created by the mock when a render first named it".to_owned())
            };
            (id, name, description)
        })
        .collect();
    let description = q.param("data-description").map(str::to_lowercase);
    folders.retain(|(id, name, desc)| {
        q.search.as_ref().is_none_or(|s| id.to_lowercase().contains(s) || name.to_lowercase().contains(s))
            && description.as_ref().is_none_or(|d| desc.to_lowercase().contains(d))
    });
    q.sort(&mut folders, |(id, name, _), key| match key {
        "name" => SortValue::Text(name),
        "id" => SortValue::Text(id),
        _ => SortValue::None,
    });
    Ok(Json(q.page(&folders, |(id, name, description)| {
        json!({
            "id": id, "name": name, "description": description,
            "created_at": created, "updated_at": created,
            "created_by": {"first_name": null, "last_name": null, "name": "inkit-mock"},
        })
    })))
}
