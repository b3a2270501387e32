//! The `tapink` command: runs the CleverTap → webhook → Inkit pipeline and its parts on one machine.
//!
//! Parsing and validation live here; the work is done by the library crates. `main` returns an exit code
//! and prints errors with their causes.

mod commands;
mod number_format;
mod progress;
mod seed;
mod shutdown;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Simulate CleverTap sending personalised direct mail through Inkit, on one machine.
#[derive(Debug, Parser)]
#[command(name = "tapink", version, about, long_about = None)]
struct Cli {
    /// Log format for stderr: pretty or json. Verbosity comes from RUST_LOG (default: info).
    #[arg(long, global = true, default_value = "pretty", value_parser = ["pretty", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Bench(commands::bench::BenchArgs),
    Demo(commands::demo::DemoArgs),
    Engine(commands::engine::EngineArgs),
    Inkit(commands::inkit::InkitArgs),
    Preview(commands::preview::PreviewArgs),
    Run(commands::run::RunArgs),
    TestSend(commands::test_send::TestSendArgs),
    Dlq(commands::dlq::DlqArgs),
    Trace(commands::trace::TraceArgs),
    Up(commands::up::UpArgs),
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Bench(args) => commands::bench::run(args).await,
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Engine(args) => commands::engine::run(args).await,
            Command::Inkit(args) => commands::inkit::run(args).await,
            Command::Preview(args) => commands::preview::run(args),
            Command::Run(args) => commands::run::run(args).await,
            Command::TestSend(args) => commands::test_send::run(args).await,
            Command::Dlq(args) => commands::dlq::run(args),
            Command::Trace(args) => commands::trace::run(args),
            Command::Up(args) => commands::up::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal; logs piped to a file stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
