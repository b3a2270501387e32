//! `tapink dlq list|replay`: the dispatcher's dead letters, read from the outbox in the data directory.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use webhook_dispatcher::delivery::DeliveryState;
use webhook_dispatcher::outbox::{Outbox, SqliteOutbox};

/// List or replay the deliveries the dispatcher gave up on.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tapink dlq list
  tapink dlq list --webhook Inkit --json
  tapink dlq replay 1700000001:1:user-42

Dead letters live in DATA_DIR/outbox.sqlite3. A replayed delivery is due at once and gets a fresh set of
retries the next time the dispatcher runs on that data directory. While a tapink process is using the data
directory the file is locked: stop it first.")]
pub struct DlqArgs {
    /// The data directory whose outbox to read.
    #[arg(long, default_value = ".tapink", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// List dead letters, newest first.
    List {
        /// Only this webhook's.
        #[arg(long)]
        webhook: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line (the whole outbox entry) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Move dead letters back to the queue, due now.
    Replay {
        /// Delivery ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

pub(crate) fn open(data_dir: &std::path::Path) -> anyhow::Result<SqliteOutbox> {
    let path = data_dir.join("outbox.sqlite3");
    anyhow::ensure!(
        path.exists(),
        "no outbox at {}: nothing has been dispatched with this data directory",
        path.display()
    );
    SqliteOutbox::open(&path)
        .with_context(|| format!("cannot open the outbox {} (is a tapink process using it?)", path.display()))
}

pub fn run(args: DlqArgs) -> anyhow::Result<()> {
    let outbox = open(&args.data_dir)?;
    match args.command {
        DlqCommand::List { webhook, limit, json } => {
            let dead = outbox.dead_letters(webhook.as_deref(), limit)?;
            if json {
                for entry in &dead {
                    println!("{}", serde_json::to_string(entry)?);
                }
                return Ok(());
            }
            if dead.is_empty() {
                println!("no dead letters");
                return Ok(());
            }
            println!("{:<40} {:<16} {:>8}  {:<24}  reason", "delivery", "webhook", "attempts", "at");
            for entry in &dead {
                let (at, reason) = match &entry.state {
                    DeliveryState::DeadLetter { at, reason } => (clock::rfc3339(*at), reason.as_str()),
                    _ => continue,
                };
                println!(
                    "{:<40} {:<16} {:>8}  {:<24}  {reason}",
                    entry.delivery.id,
                    entry.delivery.webhook,
                    entry.attempts.len(),
                    at
                );
            }
            Ok(())
        }
        DlqCommand::Replay { ids } => {
            let now = clock::Timestamp::now();
            for id in &ids {
                outbox.replay(id, now).with_context(|| format!("cannot replay {id}"))?;
                println!("replayed {id}: due now");
            }
            Ok(())
        }
    }
}
