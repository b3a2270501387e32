//! What the pipeline starts: addresses, storage, the clock, and the settings of each part.

use std::net::SocketAddr;
use std::path::PathBuf;

use clock::Timestamp;
use inkit_mock::MockConfig;
use webhook_dispatcher::dispatcher::DispatcherConfig;

/// Which clock every part reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    /// The wall clock; the pipeline runs by itself (`tapink demo`, `tapink up`).
    Real,
    /// A simulated clock that starts at this instant and moves only when the pipeline steps to the next due
    /// instant (scenarios and tests): a month of recurring campaigns with retries runs in seconds.
    Simulated { start: Timestamp },
}

/// Where the parts keep their data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// In memory: gone when the process ends.
    Memory,
    /// SQLite files in this directory: `history.sqlite3` (Inkit), `outbox.sqlite3` (dispatcher),
    /// `engine.sqlite3` (the engine's journal).
    DataDir(PathBuf),
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub time: TimeMode,
    pub storage: Storage,
    /// Where inkit-mock listens; port 0 picks a free one.
    pub inkit_addr: SocketAddr,
    /// inkit-mock's settings; its storage is replaced by [`PipelineConfig::storage`].
    pub inkit: MockConfig,
    pub dispatcher: DispatcherConfig,
    /// The engine's account settings: time zone, global frequency cap, DND hours.
    pub account: campaign_engine::runner::Account,
    /// Where the engine's CleverTap-compatible API listens, if it is served (`tapink up`), and its settings.
    pub engine_api: Option<(SocketAddr, engine_api::EngineApiConfig)>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            time: TimeMode::Real,
            storage: Storage::Memory,
            inkit_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            inkit: MockConfig::default(),
            dispatcher: DispatcherConfig::default(),
            account: campaign_engine::runner::Account::default(),
            engine_api: None,
        }
    }
}
