//! The routes of CleverTap's Server API that the engine serves, one file per resource. Adding a resource is
//! one file and one `.route` line here. Under `/tapink/v1` is our own API for what CleverTap's cannot express.

mod campaigns;
mod counts;
mod delete;
mod export;
mod profile;
mod segments;
mod targets;
mod upload;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{Method, Uri};
use serde_json::{Value, json};

use crate::auth::require_account;
use crate::error::ApiError;
use crate::state::ApiState;

/// Every route as `METHOD PATH`: what the router serves (a test checks) and what docs/engine-api.md lists.
pub const ROUTES: &[&str] = &[
    "POST /1/upload",
    "GET /1/profile.json",
    "GET /1/profiles.json",
    "POST /1/profiles.json",
    "GET /1/events.json",
    "POST /1/events.json",
    "POST /1/counts/profiles.json",
    "POST /1/counts/events.json",
    "POST /1/delete/profiles.json",
    "POST /1/targets/create.json",
    "POST /1/targets/list.json",
    "POST /1/targets/result.json",
    "POST /1/targets/stop.json",
    "GET /tapink/v1/webhooks",
    "POST /tapink/v1/webhooks",
    "GET /tapink/v1/campaigns",
    "POST /tapink/v1/campaigns",
    "GET /tapink/v1/campaigns/{id}",
    "PATCH /tapink/v1/campaigns/{id}",
    "POST /tapink/v1/campaigns/{id}/publish",
    "POST /tapink/v1/campaigns/{id}/stop",
    "POST /tapink/v1/campaigns/{id}/preview",
    "POST /tapink/v1/campaigns/{id}/test",
    "GET /tapink/v1/segments",
    "POST /tapink/v1/segments",
    "POST /tapink/v1/segments/estimate",
];

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/1/upload", post(upload::upload))
        .route("/1/profile.json", get(profile::profile))
        .route("/1/profiles.json", get(export::profiles_get).post(export::profiles_post))
        .route("/1/events.json", get(export::events_get).post(export::events_post))
        .route("/1/counts/profiles.json", post(counts::profiles))
        .route("/1/counts/events.json", post(counts::events))
        .route("/1/delete/profiles.json", post(delete::profiles))
        .route("/1/targets/create.json", post(targets::create))
        .route("/1/targets/list.json", post(targets::list))
        .route("/1/targets/result.json", post(targets::result))
        .route("/1/targets/stop.json", post(targets::stop))
        .route("/tapink/v1/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/tapink/v1/campaigns", get(campaigns::list).post(campaigns::create))
        .route("/tapink/v1/campaigns/{id}", get(campaigns::get_one).patch(campaigns::edit))
        .route("/tapink/v1/campaigns/{id}/publish", post(campaigns::publish))
        .route("/tapink/v1/campaigns/{id}/stop", post(campaigns::stop))
        .route("/tapink/v1/campaigns/{id}/preview", post(campaigns::preview))
        .route("/tapink/v1/campaigns/{id}/test", post(campaigns::test))
        .route("/tapink/v1/segments", get(segments::list).post(segments::save))
        .route("/tapink/v1/segments/estimate", post(segments::estimate))
        // Only matched routes need an account: a wrong URL or method says so whatever the credentials.
        .route_layer(from_fn_with_state(state.clone(), require_account))
        .route_layer(from_fn_with_state(state.clone(), tell_channel_after_changes))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // The server reads bodies under its own limit (413 in CleverTap's shape) before routing.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Tells the channel, if one is wired in, after a request that may have changed the engine (`Channel::
/// engine_changed`).
async fn tell_channel_after_changes(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let changes = request.method() != Method::GET;
    let response = next.run(request).await;
    if changes && let Some(channel) = &state.channel {
        channel.engine_changed();
    }
    response
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("No such API: {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    let path = uri.path();
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter_map(|route| route.split_once(' '))
        .filter(|(_, template)| matches_template(template, path))
        .map(|(m, _)| m)
        .collect();
    ApiError::method_not_allowed(method.as_str(), path, &allowed.join(" or "))
}

/// Whether `path` is an instance of `template` (`/tapink/v1/campaigns/{id}` matches `/tapink/v1/campaigns/7`).
fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

/// A success answer: `{"status":"success", …fields}` with the query's warnings, if any.
fn success(fields: Value, warnings: &[String]) -> Response {
    let mut body = json!({"status": "success"});
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
        if !warnings.is_empty() {
            body.insert("warnings".into(), json!(warnings));
        }
    }
    axum::Json(body).into_response()
}

/// Warnings for the filter groups a query gave that are accepted but not evaluated.
fn warnings(query: &campaign_engine::query::Query) -> Vec<String> {
    query
        .unsupported_filters()
        .iter()
        .map(|path| format!("{path} is accepted but not evaluated yet: it does not narrow the result"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tower::ServiceExt;

    #[tokio::test]
    async fn every_listed_route_is_served_and_asks_for_an_account() {
        let engine = Arc::new(Mutex::new(campaign_engine::Engine::new(clock::system())));
        let app = router(Arc::new(ApiState::new(engine, crate::EngineApiConfig::default())));
        for route in ROUTES {
            let (method, path) = route.split_once(' ').unwrap();
            let path = path.replace("{id}", "7");
            let req =
                http::Request::builder().method(method).uri(path.as_str()).body(axum::body::Body::empty()).unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), 401, "{route}");
        }
    }
}
