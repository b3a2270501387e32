//! What a phase hands back: rows for the printed table (figure, value, how it compares with its target),
//! the same figures as JSON, and any check that failed (which makes the command exit non-zero).

use serde_json::{Map, Value};

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub figure: String,
    pub value: String,
    /// The target and whether it is met, or empty.
    pub target: String,
}

/// A phase's results.
#[derive(Debug, Default)]
pub struct Outcome {
    pub rows: Vec<Row>,
    pub json: Map<String, Value>,
    /// Checks that did not hold, in words.
    pub failures: Vec<String>,
    /// The phase's target for its peak resident memory, in bytes, and in words.
    pub memory_target: Option<(u64, String)>,
}

impl Outcome {
    /// Adds a row without a target.
    pub fn row(&mut self, figure: impl Into<String>, value: impl Into<String>) {
        self.row_against(figure, value, "");
    }

    /// Adds a row with its target and verdict.
    pub fn row_against(&mut self, figure: impl Into<String>, value: impl Into<String>, target: impl Into<String>) {
        self.rows.push(Row { figure: figure.into(), value: value.into(), target: target.into() });
    }

    /// Sets a JSON figure.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.json.insert(key.to_owned(), value.into());
    }

    /// Records a check: a failed one is reported and makes the run fail.
    pub fn check(&mut self, holds: bool, what: impl Into<String>) {
        if !holds {
            self.failures.push(what.into());
        }
    }
}

/// "met" or "NOT met", after the target's words.
pub fn verdict(target: &str, met: bool) -> String {
    format!("{target}: {}", if met { "met" } else { "NOT met" })
}

/// Prints rows under a phase's name, aligned in columns.
pub fn print_rows(phase: &str, rows: &[Row]) {
    for (i, row) in rows.iter().enumerate() {
        let name = if i == 0 { phase } else { "" };
        let line = format!("{name:<11} {:<40} {:>22}   {}", row.figure, row.value, row.target);
        println!("{}", line.trim_end());
    }
}
