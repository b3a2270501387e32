//! The mock's settings, validated once at start-up.

use std::path::PathBuf;
use std::time::Duration;

use crate::DiskSync;
use crate::faults::FaultPlan;

/// An API token and the name it shows as (`created_by.name`) in History.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub name: String,
    pub token: String,
}

impl std::fmt::Debug for ApiToken {
    /// Tokens are secrets: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiToken {{ name: {:?}, token: \"…\" }}", self.name)
    }
}

impl std::str::FromStr for ApiToken {
    type Err = String;

    /// Parses `NAME=TOKEN`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, token) = s.split_once('=').ok_or_else(|| format!("expected NAME=TOKEN, got {s:?}"))?;
        let (name, token) = (name.trim(), token.trim());
        if name.is_empty() || token.is_empty() {
            return Err(format!("expected NAME=TOKEN with both parts non-empty, got {s:?}"));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("a token must be printable ASCII without spaces (it travels in an HTTP header)".into());
        }
        Ok(ApiToken { name: name.into(), token: token.into() })
    }
}

/// The token the mock accepts when none is configured, so a first run needs no flags.
pub const DEFAULT_TOKEN: &str = "tapink-inkit-token";

/// Where History lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    Memory,
    /// `history.sqlite3` and the commit log `history-log/` inside this directory, which is created if
    /// missing.
    DataDir(PathBuf),
}

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub tokens: Vec<ApiToken>,
    pub storage: Storage,
    /// How far History is on the disk with `Storage::DataDir`. Default `Off`: an answered request survives
    /// a crash of the process, and nothing waits for the disk (docs/decisions.md).
    pub history_sync: DiskSync,
    /// How long a render stays `in_progress`.
    pub processing_delay: Duration,
    /// Largest accepted request body; larger ones get 413.
    pub body_limit: usize,
    /// How many requests the journal keeps (counts are kept for all).
    pub journal_capacity: usize,
    pub faults: FaultPlan,
    /// Directory of `*.html` templates to load at start-up.
    pub templates_dir: Option<PathBuf>,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
    /// Threads serving connections (each with its own runtime); default: one per core.
    pub server_threads: usize,
    /// Answer ordinary `POST /generate` and `POST /render` requests without the router (the default). The
    /// answers are the same either way; tests turn it off to compare the two paths.
    pub fast_generate: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            tokens: vec![ApiToken { name: "default".into(), token: DEFAULT_TOKEN.into() }],
            storage: Storage::Memory,
            history_sync: DiskSync::Off,
            processing_delay: Duration::from_millis(200),
            body_limit: 1024 * 1024,
            journal_capacity: 10_000,
            faults: FaultPlan::default(),
            templates_dir: None,
            drain_timeout: Duration::from_secs(10),
            server_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            fast_generate: true,
        }
    }
}
