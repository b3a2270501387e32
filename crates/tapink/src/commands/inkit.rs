//! `tapink inkit`: the mock Inkit API alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use inkit_mock::{ApiToken, DiskSync, FaultPlan, Inkit, MockConfig, Storage};

/// Serve the mock Inkit API, its History and dashboard.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tapink inkit
      serve on 127.0.0.1:8025 with History in ./.tapink; token tapink-inkit-token
  tapink inkit --addr 127.0.0.1:0 --in-memory --token clevertap=secret --token qa=other
  tapink inkit --templates fixtures/templates --faults fixtures/faults/flaky.toml

Then: curl -H 'X-Inkit-API-Token: tapink-inkit-token' http://127.0.0.1:8025/v1/template
and open http://127.0.0.1:8025/ for the dashboard.")]
pub struct InkitArgs {
    /// Address to listen on; port 0 picks a free port (the line printed at start says which).
    #[arg(long, default_value = "127.0.0.1:8025")]
    addr: SocketAddr,
    /// An API token as NAME=TOKEN; repeat for several. NAME shows as created_by in History.
    /// Default: default=tapink-inkit-token.
    #[arg(long = "token", value_name = "NAME=TOKEN")]
    tokens: Vec<ApiToken>,
    /// Directory for History (history.sqlite3 and its commit log, history-log/); created if missing.
    #[arg(long, default_value = ".tapink", conflicts_with = "in_memory")]
    data_dir: PathBuf,
    /// Keep History in memory only; it is gone when the process ends.
    #[arg(long)]
    in_memory: bool,
    /// How far History is on the disk. off: an answered request survives a crash of tapink, and nothing
    /// waits for the disk. normal: it also survives a power cut, bar the last few milliseconds.
    #[arg(long, value_enum, default_value_t = HistorySync::Off)]
    history_sync: HistorySync,
    /// A fault plan (TOML) to apply from the start; see docs/inkit-mock.md.
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,
    /// Load every *.html in DIR as a template (ids from NAME.toml or derived from the file name).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// How long a render stays in_progress before its PDF can be downloaded.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    processing_delay_ms: u64,
    /// Largest request body accepted; larger ones get 413.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    body_limit: usize,
    /// How many requests the journal keeps (/__admin/requests); counts cover all.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    journal_capacity: usize,
}

/// `--history-sync`: whether History waits for the disk (off the request path) or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HistorySync {
    Off,
    Normal,
}

impl From<HistorySync> for DiskSync {
    fn from(sync: HistorySync) -> Self {
        match sync {
            HistorySync::Off => DiskSync::Off,
            HistorySync::Normal => DiskSync::Normal,
        }
    }
}

pub async fn run(args: InkitArgs) -> anyhow::Result<()> {
    let mut config = MockConfig {
        storage: if args.in_memory { Storage::Memory } else { Storage::DataDir(args.data_dir.clone()) },
        history_sync: args.history_sync.into(),
        processing_delay: Duration::from_millis(args.processing_delay_ms),
        body_limit: args.body_limit,
        journal_capacity: args.journal_capacity,
        templates_dir: args.templates.clone(),
        ..MockConfig::default()
    };
    if !args.tokens.is_empty() {
        config.tokens = args.tokens.clone();
    }
    if config.body_limit == 0 {
        bail!("--body-limit must be at least 1 byte");
    }
    if let Some(path) = &args.faults {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the fault plan {}", path.display()))?;
        config.faults =
            FaultPlan::from_toml(&text).with_context(|| format!("invalid fault plan {}", path.display()))?;
    }
    let inkit = Inkit::open(config, clock::system()).context("cannot start inkit-mock")?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}: is another process using that port?", args.addr))?;
    let addr = listener.local_addr()?;
    let shutdown = crate::shutdown::signal();
    println!("inkit-mock listening on http://{addr}");
    tracing::info!(
        tokens = ?inkit.config.tokens.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        storage = ?inkit.config.storage,
        dashboard = %format!("http://{addr}/"),
        "ready"
    );
    inkit_mock::serve(listener, inkit, shutdown).await.context("server failed")?;
    Ok(())
}
