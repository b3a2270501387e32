//! The whole CleverTap → webhook → Inkit flow in one process: the campaign engine decides who gets a
//! mailer, the webhook dispatcher renders and sends it, the mock Inkit server stores it in History, and
//! the outcomes go back to the engine's reports. This is the only crate that knows all three.
//!
//! - `config`: what to start, where, with which clock and storage.
//! - `bridge`: the engine's deliveries handed to the dispatcher, and its outcomes handed back.
//! - `pipeline`: the running services, stepped through simulated time or left to run in real time.
//! - `channel`: the webhook channel the engine API uses: content checks, webhooks, Preview and Test.
//! - `setup`: webhooks and campaigns created as in the dashboard (test request, body compiled at save).
//! - `synthetic`: deterministic synthetic users for the demo and benchmarks.
//! - `trace`: one delivery followed from its trigger through every attempt to its History entries.
//! - `scenario`: scenario files (TOML) loaded, run in simulated time and checked against their expectations.

pub mod bridge;
pub mod channel;
pub mod config;
pub mod pipeline;
pub mod scenario;
pub mod setup;
pub mod synthetic;
pub mod trace;

pub use config::{PipelineConfig, Storage, TimeMode};
pub use pipeline::{Pipeline, PipelineError};
