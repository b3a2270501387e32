//! The campaign engine's HTTP surface: the parts of CleverTap's Server API that put users in and get them out
//! — `POST /1/upload`, `GET /1/profile.json`, `/1/profiles.json` and `/1/events.json` with cursors, the counts,
//! `POST /1/delete/profiles.json` and the Campaign API `/1/targets/*.json` — so CleverTap's own clients (the
//! Node library `clevertap`) work against it with only the endpoint changed; and our own webhook and campaign
//! API under `/tapink/v1`. `docs/engine-api.md` is the reference.
//!
//! # Using it
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::{Arc, Mutex};
//! use campaign_engine::Engine;
//! use engine_api::EngineApiConfig;
//!
//! let engine = Arc::new(Mutex::new(Engine::new(clock::system())));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("engine-api listening on http://{}", listener.local_addr()?);
//! engine_api::serve(listener, engine, EngineApiConfig::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! Then call it as CleverTap: `X-CleverTap-Account-Id: TAPINK-ACCOUNT`, `X-CleverTap-Passcode: tapink-passcode`.
//!
//! # Where things are
//!
//! - `server.rs`: connections, body limit, JSON content type, graceful shutdown.
//! - `routes/`: one file per resource; `routes/mod.rs` is the router.
//! - `auth.rs`: the account check. `error.rs`: every error, in CleverTap's envelope.
//! - `cursors.rs`: query snapshots and their cursors. `records.rs`: how profiles and events are shown.
//! - `params.rs`, `json_body.rs`: reading query strings and bodies. `config.rs`, `state.rs`: the rest.
//! - `channel.rs`: what the API asks of the webhook channel when the pipeline wires one in.

mod auth;
mod campaign_view;
pub mod channel;
mod config;
mod cursors;
mod error;
mod json_body;
mod params;
mod records;
mod routes;
mod server;
mod state;

pub use config::{Account, ConfigError, DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE, EngineApiConfig};
pub use cursors::Export;
pub use error::ApiError;
pub use routes::ROUTES;
pub use server::{serve, serve_with_channel};
