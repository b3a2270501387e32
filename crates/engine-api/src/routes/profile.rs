//! `GET /1/profile.json?email=…|identity=…|objectId=…`: one user's profile, `{"status":"success","record":{…}}`.
//!
//! The first of `email`, `identity`, `objectId` that is given is used (the Node library's order). Values may
//! come URL-encoded or not (the Node library does not encode them): `%XX` escapes are decoded and `+` is kept;
//! when the decoded value finds nobody, the value exactly as sent is tried. An unknown user is HTTP 404
//! `{"status":"fail","error":"No user profile with email …","code":404}`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use campaign_engine::profile::IdentityKind;
use serde_json::json;

use super::success;
use crate::error::ApiError;
use crate::params::Params;
use crate::records::profile_record;
use crate::state::ApiState;

/// The parameters that name a user, in the order they are tried.
const KEYS: [&str; 3] = ["email", "identity", "objectId"];

pub async fn profile(State(state): State<Arc<ApiState>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let mut given = None;
    for key in KEYS {
        if let Some((decoded, raw)) = params.literal(key)?
            && !decoded.trim().is_empty()
        {
            given = Some((key, decoded, raw));
            break;
        }
    }
    let Some((key, decoded, raw)) = given else {
        return Err(ApiError::bad_request(
            "Some mandatory parameter was missing. Give one of email, identity or objectId.",
        ));
    };
    let engine = state.engine();
    let store = engine.store();
    let find = |value: &str| match key {
        "email" => store.find_by_email(value),
        "identity" => store.find(IdentityKind::Identity, value),
        _ => store.find(IdentityKind::ObjectId, value),
    };
    let profile = find(&decoded)
        .or_else(|| if raw != decoded { find(&raw) } else { None })
        .ok_or_else(|| ApiError::not_found(format!("No user profile with {key} {decoded}")))?;
    let record = profile_record(profile, store.events_of(&profile.object_id));
    Ok(success(json!({ "record": record }), &[]))
}
