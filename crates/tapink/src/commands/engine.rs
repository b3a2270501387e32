//! `tapink engine`: the campaign engine behind CleverTap's Server API (`engine-api`), with its data kept in a
//! data directory, and fixture files loaded before it listens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use campaign_engine::upload_file::UploadFile;
use campaign_engine::{Engine, SqliteJournal};
use clap::Args;
use engine_api::{Account, EngineApiConfig};

/// Serve the campaign engine through CleverTap's Server API (upload, profile, profiles, events, counts, delete).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tapink engine
      serve on 127.0.0.1:8020 with data in ./.tapink; account TAPINK-ACCOUNT, passcode tapink-passcode
  tapink engine --in-memory --addr 127.0.0.1:0 --load fixtures/profiles/seed-users.json
  tapink engine --account ACME=s3cret --account QA=other --data-dir /tmp/engine

Then: curl -H 'X-CleverTap-Account-Id: TAPINK-ACCOUNT' -H 'X-CleverTap-Passcode: tapink-passcode' \\
        'http://127.0.0.1:8020/1/profile.json?email=ada@example.com'
With CleverTap's Node library: const ct = clevertap.init(ID, PASSCODE, 'eu1');
ct.api.apiEndpoint = 'http://127.0.0.1:8020/1'. See docs/engine-api.md.")]
pub struct EngineArgs {
    /// Address to listen on; port 0 picks a free port (the line printed at start says which).
    #[arg(long, default_value = "127.0.0.1:8020")]
    addr: SocketAddr,
    /// Credentials as ID=PASSCODE (X-CleverTap-Account-Id, X-CleverTap-Passcode); repeat for several.
    /// Default: TAPINK-ACCOUNT=tapink-passcode. Every account sees the same data.
    #[arg(long = "account", value_name = "ID=PASSCODE")]
    accounts: Vec<Account>,
    /// Directory for the engine's data (engine.sqlite3); created if missing. Data accepted there survives
    /// restarts.
    #[arg(long, default_value = ".tapink", conflicts_with = "in_memory")]
    data_dir: PathBuf,
    /// Keep the data in memory only; it is gone when the process ends.
    #[arg(long)]
    in_memory: bool,
    /// Load profiles and events from FILE before listening: CleverTap's upload format, a JSON object with
    /// "d" or one record per line. Repeatable. Added to what the data directory already holds (events
    /// loaded twice are there twice).
    #[arg(long = "load", value_name = "FILE")]
    load: Vec<PathBuf>,
    /// Largest request body accepted; larger ones get 413.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    body_limit: usize,
}

pub async fn run(args: EngineArgs) -> anyhow::Result<()> {
    let mut config = EngineApiConfig { body_limit: args.body_limit, ..EngineApiConfig::default() };
    if !args.accounts.is_empty() {
        config.accounts = args.accounts.clone();
    }
    config.validate().context("invalid settings")?;
    let clock = clock::system();
    let mut engine = if args.in_memory {
        Engine::new(clock)
    } else {
        let journal = SqliteJournal::open_in(&args.data_dir)
            .with_context(|| format!("cannot use the data directory {}", args.data_dir.display()))?;
        Engine::open(clock, Box::new(journal))
            .with_context(|| format!("cannot read the engine's data in {}", args.data_dir.display()))?
    };
    for path in &args.load {
        load(&mut engine, path)?;
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}: is another process using that port?", args.addr))?;
    let addr = listener.local_addr()?;
    let shutdown = crate::shutdown::signal();
    println!("engine-api listening on http://{addr}");
    tracing::info!(
        accounts = ?config.accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        profiles = engine.store().profile_count(),
        events = engine.store().event_count(),
        storage = %if args.in_memory { "memory".to_owned() } else { args.data_dir.display().to_string() },
        "ready"
    );
    let engine = Arc::new(Mutex::new(engine));
    engine_api::serve(listener, engine, config, shutdown).await.context("server failed")?;
    Ok(())
}

/// Loads one file, printing what it did; a file that cannot be read fails the command, naming it.
pub(crate) fn load(engine: &mut Engine, path: &std::path::Path) -> anyhow::Result<()> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
    let file = UploadFile::parse(&text).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let loaded = file.load_into(engine).with_context(|| format!("cannot load {shown}"))?;
    println!("loaded {shown}: {} processed, {} unprocessed", loaded.processed, loaded.unprocessed.len());
    for refused in &loaded.unprocessed {
        println!("  line {}: {} (code {})", refused.line, refused.message, refused.code);
    }
    Ok(())
}
