//! `tapink trace`: one user's mailer from its trigger through every attempt to its History entries, read
//! from a data directory.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use inkit_mock::{Inkit, MockConfig, Storage};
use pipeline::trace::trace;

/// Follow a delivery from its trigger to Inkit's History.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tapink trace rend_AHGyG0SNNhQ1ARzF66AwVc     a History entry: which delivery, campaign, run and user made it
  tapink trace 1795772815-r0-__tapink00000007  a delivery: its trigger, every attempt, every History entry

Reads outbox.sqlite3 and history.sqlite3 in the data directory; stop the tapink process that uses them first.")]
pub struct TraceArgs {
    /// A History entry id (rend_…) or a delivery id (<campaign>-<run>-<user>).
    id: String,
    /// The data directory the pipeline ran with.
    #[arg(long, default_value = ".tapink")]
    data_dir: PathBuf,
}

pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    let history = args.data_dir.join("history.sqlite3");
    anyhow::ensure!(
        history.exists(),
        "no History at {}: has a pipeline run with this data directory?",
        history.display()
    );
    let outbox = super::dlq::open(&args.data_dir)?;
    let config = MockConfig { storage: Storage::DataDir(args.data_dir.clone()), ..MockConfig::default() };
    let inkit = Inkit::open(config, clock::system())
        .with_context(|| format!("cannot open {} (is a tapink process using it?)", history.display()))?;
    let chain = trace(&args.id, &outbox, &inkit)?;
    print!("{chain}");
    Ok(())
}
