//! Scenario files: campaign integration tests written as TOML (the format is in `docs/scenarios.md`), run on
//! the whole pipeline in simulated time with storage in memory, and checked against their expectations.
//!
//! - `source`: TOML read into JSON values with the line of every field, and the errors that name them.
//! - `format`: what a scenario holds: set-up, timeline, expectations.
//! - `parse`: the TOML vocabulary read and validated into a [`Scenario`].
//! - `run`: setting the pipeline up and walking the timeline.
//! - `expect`: each expectation compared with what happened, with a readable diff of JSON values.
//! - `report`: the outcome as text for a person and as JUnit XML for CI.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let scenario = pipeline::scenario::load(std::path::Path::new("fixtures/scenarios/send-now.toml"))?;
//! let outcome = pipeline::scenario::run(&scenario).await?;
//! assert!(outcome.passed(), "{}", pipeline::scenario::report::text(&outcome, false));
//! # Ok(()) }
//! ```

pub mod expect;
pub mod format;
pub mod parse;
pub mod report;
pub mod run;
pub mod source;

pub use expect::Check;
pub use format::Scenario;
pub use parse::{discover, load};
pub use run::{RunError, ScenarioOutcome, run};
pub use source::LoadError;

use std::path::Path;

use report::Ran;

/// Every scenario `path` names (a scenario file or folder, or a folder of them), loaded and run one after the
/// other. A scenario that cannot be loaded or set up is reported as such, and the others still run.
pub async fn run_path(path: &Path) -> Vec<Ran> {
    let found = match discover(path) {
        Ok(found) => found,
        Err(e) => {
            return vec![Ran::Error {
                name: path.display().to_string(),
                origin: path.to_owned(),
                message: e.to_string(),
            }];
        }
    };
    let mut all = Vec::with_capacity(found.len());
    for origin in found {
        let name =
            origin.file_stem().map_or_else(|| origin.display().to_string(), |s| s.to_string_lossy().into_owned());
        let ran = match load(&origin) {
            Err(e) => Ran::Error { name, origin, message: e.to_string() },
            Ok(scenario) => match run(&scenario).await {
                Ok(outcome) => Ran::Outcome(outcome),
                Err(e) => Ran::Error { name: scenario.name.clone(), origin, message: e.to_string() },
            },
        };
        all.push(ran);
    }
    all
}
