//! A local Inkit API for tests and demos: templates, renders, documents, real PDFs, and a History of every
//! request that a person can browse, as in step 6 of CleverTap's Inkit guide ("check the Inkit dashboard
//! … under the History section").
//!
//! # Using it
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use inkit_mock::{Inkit, MockConfig};
//!
//! let inkit = Inkit::open(MockConfig::default(), clock::system())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("inkit-mock listening on http://{}", listener.local_addr()?);
//! inkit_mock::serve(listener, inkit, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! Point an Inkit client at the printed URL (with or without `/v1`), send the token
//! `X-Inkit-API-Token: tapink-inkit-token`, and open the URL in a browser to see the dashboard.
//!
//! # Where things are
//!
//! - `server.rs`: connections, body limit, faults, the journal, graceful shutdown.
//! - `routes/`: one file per Inkit resource, plus `admin.rs` for `/__admin`.
//! - `state.rs`: the operations on templates, History and batches; `store/`: memory and SQLite backends
//!   and the group-commit writer.
//! - `template.rs`, `merge.rs`, `merge_parameters.rs`, `pdf.rs`: templates, `{{key}}` merging and the
//!   parameters as kept, PDF output.
//! - `history.rs`, `batch.rs`: what a History entry and a batch are, and how the API shows them.
//! - `ceiling.rs`: a bare hyper server, the machine's speed ceiling that benchmarks compare the mock with.
//! - `faults.rs`, `journal.rs`, `listing.rs`, `error.rs`, `json_body.rs`, `ids.rs`: the rest.

mod batch;
pub mod ceiling;
mod config;
mod error;
mod faults;
mod growth;
mod history;
mod history_index;
mod ids;
mod journal;
mod json_body;
mod listing;
mod merge;
mod merge_parameters;
pub mod pdf;
mod placement;
mod routes;
mod server;
mod state;
mod store;
mod template;

pub use config::{ApiToken, DEFAULT_TOKEN, MockConfig, Storage};
pub use error::{ApiError, ErrorKind};
pub use faults::{FaultPlan, FaultRule, PlanError};
pub use history::{EntryKind, HistoryEntry};
pub use merge_parameters::MergeParameters;
pub use routes::{ADMIN_ROUTES, API_ROUTES};
pub use server::serve;
pub use sqlite_file::DiskSync;
pub use state::{Inkit, StartError};
