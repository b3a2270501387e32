//! `tapink up`: the whole pipeline in real time, until Ctrl-C: the mock Inkit (API and dashboard), the
//! engine's CleverTap-compatible API with our campaign and webhook API, and the dispatcher between them,
//! with their data in one directory.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use engine_api::{Account, DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE, EngineApiConfig};
use inkit_mock::{ApiToken, MockConfig};
use pipeline::bridge::lock;
use pipeline::{Pipeline, PipelineConfig, PipelineError, Storage, TimeMode};

use crate::number_format::group;

/// Run every service in real time until Ctrl-C: Inkit, the engine API and the webhook dispatcher.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tapink up
      Inkit on 127.0.0.1:8025 (dashboard /), engine API on 127.0.0.1:8020, data in ./.tapink
  tapink up --in-memory --templates fixtures/templates --load fixtures/profiles/seed-users.json

Then create a webhook and a campaign through the engine API (docs/engine-api.md):
  curl -H 'X-CleverTap-Account-Id: TAPINK-ACCOUNT' -H 'X-CleverTap-Passcode: tapink-passcode' \\
       -d '{\"name\":\"Inkit\",\"method\":\"POST\",\"url\":\"http://127.0.0.1:8025/v1/generate\",
            \"headers\":{\"X-Inkit-API-Token\":\"tapink-inkit-token\"}}' http://127.0.0.1:8020/tapink/v1/webhooks")]
pub struct UpArgs {
    /// Where inkit-mock (API and dashboard) listens; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8025")]
    inkit_addr: SocketAddr,
    /// Where the engine API listens; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8020")]
    engine_addr: SocketAddr,
    /// Directory for all data: history.sqlite3, outbox.sqlite3, engine.sqlite3. Created if missing; a restart
    /// on the same directory carries on where it stopped.
    #[arg(long, default_value = ".tapink", conflicts_with = "in_memory")]
    data_dir: PathBuf,
    /// Keep everything in memory; it is gone when the process ends.
    #[arg(long)]
    in_memory: bool,
    /// Load every *.html in DIR as an Inkit template.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// An Inkit API token as NAME=TOKEN; repeat for several. Default: default=tapink-inkit-token.
    #[arg(long = "token", value_name = "NAME=TOKEN")]
    tokens: Vec<ApiToken>,
    /// CleverTap credentials as ID=PASSCODE; repeat for several. Default: TAPINK-ACCOUNT=tapink-passcode.
    #[arg(long = "account", value_name = "ID=PASSCODE")]
    accounts: Vec<Account>,
    /// Load profiles and events from FILE (CleverTap's upload format) before serving. Repeatable.
    #[arg(long = "load", value_name = "FILE")]
    load: Vec<PathBuf>,
}

/// Whether `dir` exists and holds any file (a run to restore).
fn holds_data(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let mut api = EngineApiConfig::default();
    if !args.accounts.is_empty() {
        api.accounts = args.accounts.clone();
    }
    api.validate().context("invalid settings")?;
    let mut inkit = MockConfig { templates_dir: args.templates.clone(), ..MockConfig::default() };
    if !args.tokens.is_empty() {
        inkit.tokens = args.tokens.clone();
    }
    let storage = if args.in_memory { Storage::Memory } else { Storage::DataDir(args.data_dir.clone()) };
    let config = PipelineConfig {
        time: TimeMode::Real,
        storage,
        inkit_addr: args.inkit_addr,
        inkit,
        engine_api: Some((args.engine_addr, api.clone())),
        ..PipelineConfig::default()
    };
    // Restoring a data dir that holds a large run takes seconds (History, the outbox and the engine's journal
    // are read back and replayed): say so, and then what was restored.
    let restoring = match &config.storage {
        Storage::DataDir(dir) if holds_data(dir) => {
            eprintln!("restoring {} (History, outbox, engine journal)…", dir.display());
            Some(std::time::Instant::now())
        }
        _ => None,
    };
    let pipeline = match Pipeline::start(config).await {
        Ok(p) => p,
        Err(PipelineError::Listen { addr, source }) => {
            anyhow::bail!("cannot listen on {addr} ({source}); is another tapink running? Choose another port")
        }
        Err(e) => return Err(e).context("cannot start"),
    };
    if let Some(started) = restoring {
        let (profiles, events) = {
            let engine = lock(&pipeline.engine);
            (engine.store().profile_count(), engine.store().event_count())
        };
        let outbox = pipeline.dispatcher.outbox().counts();
        eprintln!(
            "restored in {:.1} s: {} profiles, {} events, {} History entries, {} deliveries to send",
            started.elapsed().as_secs_f64(),
            group(profiles as u64),
            group(events as u64),
            group(pipeline.inkit.entry_count() as u64),
            group((outbox.pending + outbox.taken) as u64),
        );
    }
    for path in &args.load {
        super::engine::load(&mut lock(&pipeline.engine), path)?;
    }
    let shutdown = crate::shutdown::signal();
    let inkit_url = pipeline.inkit_url();
    let engine_url = pipeline.engine_url().unwrap_or_default();
    // The built-in defaults are printed to get started; credentials given on the command line are secrets, and
    // only their names are shown.
    let token = if args.tokens.is_empty() {
        format!("token {}", inkit_mock::DEFAULT_TOKEN)
    } else {
        format!("tokens {}", args.tokens.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "))
    };
    let account = if args.accounts.is_empty() {
        format!("account {DEFAULT_ACCOUNT_ID} / {DEFAULT_PASSCODE}")
    } else {
        format!("accounts {}", args.accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>().join(", "))
    };
    println!("inkit-mock listening on {inkit_url}   dashboard {inkit_url}/   {token}");
    println!("engine-api listening on {engine_url}   {account}");
    match &pipeline.config.storage {
        Storage::Memory => println!("data in memory (gone at exit)"),
        Storage::DataDir(dir) => println!("data in {}", dir.display()),
    }
    println!("Ctrl-C to stop.");
    shutdown.await;
    pipeline.shutdown().await;
    Ok(())
}
