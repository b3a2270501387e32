//! `tapink run`: run scenario files (campaign integration tests written as TOML) on the whole pipeline in
//! simulated time, print each expectation's result, and exit non-zero when any fails.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use pipeline::scenario::report::{self, Ran};

/// Run scenario files: set up Inkit, webhooks and campaigns, walk the timeline in simulated time, check the
/// expectations.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tapink run fixtures/scenarios                    every scenario in the folder
  tapink run fixtures/scenarios/send-now.toml      one scenario file
  tapink run fixtures/scenarios/seed-walkthrough   a folder scenario (its scenario.toml and the files it names)
  tapink run fixtures/scenarios --junit report.xml JUnit XML for CI as well
  tapink run fixtures/scenarios --json             one JSON document with every expectation, for scripts

A path is a scenario file (.toml), a folder holding scenario.toml, or a folder of those. The format is in
docs/scenarios.md. The exit status is 0 when every expectation passed, 1 when any failed or a scenario could
not be loaded (the error names the file, line and field).")]
pub struct RunArgs {
    /// Scenario files or folders.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also write the results as JUnit XML to FILE (one testsuite per scenario, one testcase per expectation).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print only failures and the summary.
    #[arg(long, conflicts_with = "json")]
    quiet: bool,
    /// Print the results as one JSON document on stdout instead of text (see docs/scenarios.md).
    #[arg(long)]
    json: bool,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut all: Vec<Ran> = Vec::new();
    for path in &args.paths {
        for ran in pipeline::scenario::run_path(path).await {
            match &ran {
                _ if args.json => {}
                Ran::Outcome(outcome) => print!("{}", report::text(outcome, args.quiet)),
                Ran::Error { name, origin, message } => print!("{}", report::error_text(name, origin, message)),
            }
            all.push(ran);
        }
    }
    let totals = report::totals(&all);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&all))?);
    } else {
        println!();
        println!("{} in {:.2} s", report::summary(&totals), started.elapsed().as_secs_f64());
    }
    if let Some(file) = &args.junit {
        std::fs::write(file, report::junit(&all))
            .with_context(|| format!("cannot write the JUnit report to {}", file.display()))?;
    }
    if totals.scenarios_failed > 0 {
        bail!("{} of {} scenarios failed", totals.scenarios_failed, totals.scenarios);
    }
    Ok(())
}
