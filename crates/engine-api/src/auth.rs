//! Authentication of every `/1/*` route: `X-CleverTap-Account-Id` and `X-CleverTap-Passcode` must name a
//! configured account. A missing or unknown account ID gets CleverTap's recorded answer, HTTP 401
//! `{"status":"fail","error":"Account ID is not valid","code":401}`; a known ID with a missing or wrong passcode
//! gets a 401 that says so.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use crate::error::ApiError;
use crate::state::ApiState;

pub const ACCOUNT_HEADER: &str = "x-clevertap-account-id";
pub const PASSCODE_HEADER: &str = "x-clevertap-passcode";

/// Runs before each route's handler (not before the 404 and 405 answers, which need no account).
pub async fn require_account(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    match check(&state, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let account = header(ACCOUNT_HEADER)
        .and_then(|id| state.config.accounts.iter().find(|a| a.id == id))
        .ok_or_else(|| ApiError::unauthorized("Account ID is not valid"))?;
    match header(PASSCODE_HEADER) {
        None | Some("") => Err(ApiError::unauthorized("Passcode is missing: send it in X-CleverTap-Passcode")),
        Some(passcode) if passcode == account.passcode => Ok(()),
        Some(_) => Err(ApiError::unauthorized("Passcode is not valid for this Account ID")),
    }
}
