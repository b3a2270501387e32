//! The CleverTap side of tapink: who gets a mailer and when. It keeps profiles and events (ingested in
//! CleverTap's upload format), and, as it grows, segments, campaigns, schedules and live triggers. It does
//! no network I/O and reads time only from a `Clock`; the engine API (`engine-api`) is its HTTP surface.
//!
//! - `profile`, `event`: what CleverTap knows about a user and what the user did.
//! - `upload`: CleverTap's `/1/upload` records, validated with CleverTap's per-record errors.
//! - `store`: profiles and events, indexed by every identity.
//! - `ingest`: an upload applied to the store, answered as CleverTap answers.
//! - `query`: segments in CleverTap's query format, evaluated against the store.
//! - `segment`: the dashboard's richer segments (did / did not, counts and sums, AND / OR, saved segments).
//! - `engine`: all of it as one value, reading one clock.

pub mod engine;
pub mod event;
pub mod field_error;
pub mod ingest;
pub mod profile;
pub mod query;
pub mod segment;
pub mod store;
pub mod upload;

pub use engine::Engine;
pub use field_error::FieldError;
