//! The routes: the Inkit API under `/v1` and without it (the Python SDK 1.0.5 drops the prefix), and the
//! admin API and dashboard under `/__admin`.

mod admin;
mod batches;
pub(crate) mod caller;
mod documents;
pub(crate) mod fast;
mod folders;
mod renders;
mod templates;

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::routing::post;
use http::{Method, Uri};

use crate::error::ApiError;
use crate::state::Inkit;

pub use admin::ADMIN_ROUTES;

/// The Inkit API's routes as the journal and fault plans name them. `router` serves exactly these (a test
/// checks), so a fault rule can be checked against them.
pub const API_ROUTES: &[&str] = &[
    "POST /generate",
    "POST /render",
    "GET /render",
    "GET /renders",
    "GET /render/{id}",
    "DELETE /render/{id}",
    "GET /render/{id}/pdf",
    "POST /batch",
    "GET /batch",
    "GET /batch/{id}",
    "GET /document",
    "GET /document/{id}",
    "DELETE /document/{id}",
    "GET /download/{id}",
    "GET /folder",
    "POST /template",
    "GET /template",
    "GET /template/{id}",
];

pub fn router(inkit: Arc<Inkit>) -> Router {
    let api = Router::new()
        .route("/generate", post(renders::create))
        .route("/render", post(renders::create).get(renders::list))
        .route("/renders", get(renders::list))
        .route("/render/{id}", get(renders::get).delete(renders::delete))
        .route("/render/{id}/pdf", get(renders::pdf))
        .route("/batch", post(batches::create).get(batches::list))
        .route("/batch/{id}", get(batches::get))
        .route("/document", get(documents::list))
        .route("/document/{id}", get(documents::get).delete(documents::delete))
        .route("/download/{id}", get(documents::download))
        .route("/folder", get(folders::list))
        .route("/template", post(templates::create).get(templates::list))
        .route("/template/{id}", get(templates::get));
    Router::new()
        .merge(api.clone())
        .nest("/v1", api)
        .merge(admin::router())
        .fallback(not_found)
        // The server reads bodies under its own limit (413 in our error shape) before routing.
        .layer(DefaultBodyLimit::disable())
        .with_state(inkit)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}", uri.path()))
}

/// The route a request is for, as the journal, counts and fault plans name it: without `/v1`, with ids
/// as `{id}`, e.g. `GET /render/{id}/pdf`. A route without an id is one of `API_ROUTES`, borrowed rather
/// than built: every request needs its route.
pub fn route_key(method: &Method, path: &str) -> Cow<'static, str> {
    let path = path.strip_prefix("/v1").filter(|p| p.is_empty() || p.starts_with('/')).unwrap_or(path);
    if let Some(known) = API_ROUTES.iter().find(|r| r.split_once(' ') == Some((method.as_str(), path))) {
        return Cow::Borrowed(known);
    }
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let id_at = if segments.first() == Some(&"__admin") { 2 } else { 1 };
    if segments.len() > id_at && !(id_at == 2 && segments[1] != "history" && segments[1] != "templates") {
        segments[id_at] = "{id}";
    }
    Cow::Owned(format!("{method} /{}", segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_listed_api_route_is_served_under_both_prefixes() {
        use tower::ServiceExt;
        let inkit = Inkit::open(crate::MockConfig::default(), clock::system()).unwrap();
        let app = router(inkit);
        for route in API_ROUTES {
            let (method, path) = route.split_once(' ').unwrap();
            for prefix in ["", "/v1"] {
                let uri = format!("{prefix}{}", path.replace("{id}", "x"));
                let req = http::Request::builder().method(method).uri(&uri).body(axum::body::Body::empty()).unwrap();
                let res = app.clone().oneshot(req).await.unwrap();
                // Without a token a served route answers 401; an unserved one 404 or 405.
                assert_eq!(res.status(), 401, "{method} {uri}");
            }
        }
    }

    #[tokio::test]
    async fn every_listed_admin_route_is_served() {
        use tower::ServiceExt;
        let inkit = Inkit::open(crate::MockConfig::default(), clock::system()).unwrap();
        let app = router(inkit);
        for route in ADMIN_ROUTES {
            let (method, path) = route.split_once(' ').unwrap();
            let uri = path.replace("{id}", "x");
            let req = http::Request::builder().method(method).uri(&uri).body(axum::body::Body::empty()).unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            // An unknown id answers 404 in the error shape; an unserved route would be 404 "no route" or 405.
            let status = res.status();
            let body = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
            let text = String::from_utf8_lossy(&body);
            assert!(status != 405 && !text.contains("no route"), "{route}: {status} {text}");
        }
    }

    #[test]
    fn route_keys_drop_the_prefix_and_ids() {
        assert_eq!(route_key(&Method::POST, "/v1/generate"), "POST /generate");
        assert_eq!(route_key(&Method::GET, "/render/rend_abc/pdf"), "GET /render/{id}/pdf");
        assert_eq!(route_key(&Method::GET, "/v1/download/doc_1"), "GET /download/{id}");
        assert_eq!(route_key(&Method::GET, "/__admin/history/rend_1/html"), "GET /__admin/history/{id}/html");
        assert_eq!(route_key(&Method::GET, "/__admin/requests"), "GET /__admin/requests");
        assert_eq!(route_key(&Method::GET, "/v1x"), "GET /v1x");
        assert_eq!(route_key(&Method::POST, "//generate/"), "POST /generate");
        assert!(matches!(route_key(&Method::POST, "/v1/generate"), Cow::Borrowed(_)));
    }
}
