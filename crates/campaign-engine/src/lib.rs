//! The CleverTap side of tapink: who gets a mailer and when. It keeps profiles and events (ingested in
//! CleverTap's upload format), and, as it grows, segments, campaigns, schedules and live triggers. It does
//! no network I/O and reads time only from a `Clock`; the engine API (`engine-api`) is its HTTP surface.
//!
//! - `profile`, `event`: what CleverTap knows about a user and what the user did; `properties` theirs, compactly,
//!   keyed by interned `name`s.
//! - `upload`: CleverTap's `/1/upload` records, validated with CleverTap's per-record errors.
//! - `upload_file`: files in the upload format, loaded in chunks, each record named by its line.
//! - `store`: profiles and events, indexed by every identity.
//! - `ingest`: an upload applied to the store, answered as CleverTap answers.
//! - `delete`: CleverTap's profile deletion, by identity and CleverTap ID.
//! - `journal`: the append-only log of accepted changes that makes the engine durable (memory or SQLite).
//! - `query`: segments in CleverTap's query format, evaluated against the store.
//! - `schedule`: when a campaign runs (now, later, dates, recurring), in which zone, under DND, cut-off and delay.
//! - `campaign`: webhook campaigns: who, what, when, how often, and their lifecycle; `spec` reads them from JSON.
//! - `runner`: campaigns run: scheduled runs and live triggers become deliveries, checked against caps, DND and
//!   throttles; outcomes fill the reports (`report`). `delivery`: what the runner hands on.
//! - `segment`: the dashboard's richer segments (did / did not, counts and sums, AND / OR, saved segments).
//! - `engine`: all of it as one value, reading one clock.
//! - `synthetic`: deterministic profiles and events for benchmarks (`segment_bench`, `tapink bench`).

pub mod campaign;
pub mod delete;
pub mod delivery;
pub mod engine;
pub mod event;
pub mod field_error;
pub mod ingest;
pub mod journal;
pub mod name;
pub mod profile;
pub mod properties;
pub mod query;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod segment;
mod stable_hash;
pub mod store;
pub mod synthetic;
pub mod upload;
pub mod upload_file;

pub use engine::Engine;
pub use field_error::FieldError;
pub use journal::{Journal, JournalError, MemoryJournal, SqliteJournal};
