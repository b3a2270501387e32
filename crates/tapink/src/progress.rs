//! A progress bar on stderr for long steps (`tapink demo`'s deliveries, each phase of `tapink bench`): at a
//! terminal it redraws in place as often as it is told; in a log (stderr piped) it prints one line every few
//! seconds and one at the end, so a CI log shows the run moving without filling up.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::number_format::group;

/// How often a line is printed when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// How often the bar is redrawn at a terminal, at most.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
const WIDTH: u64 = 30;

/// One bar: `label [####------] done/total unit  elapsed  rate`.
pub struct Progress {
    label: String,
    total: u64,
    unit: &'static str,
    started: Instant,
    in_place: bool,
    last_drawn: Option<Instant>,
    /// The count the last line showed.
    last_done: Option<u64>,
    finished: bool,
}

impl Progress {
    /// A bar counting `total` of `unit` (e.g. "settled"), started now.
    pub fn new(label: impl Into<String>, total: u64, unit: &'static str) -> Self {
        Self::with_output(label, total, unit, std::io::IsTerminal::is_terminal(&std::io::stderr()))
    }

    fn with_output(label: impl Into<String>, total: u64, unit: &'static str, in_place: bool) -> Self {
        Progress {
            label: label.into(),
            total,
            unit,
            started: Instant::now(),
            in_place,
            last_drawn: None,
            last_done: None,
            finished: false,
        }
    }

    /// Time since the bar was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Shows `done`, with the rate since the start, if a redraw (or a log line) is due.
    pub fn update(&mut self, done: u64) {
        let rate = done as f64 / self.elapsed().as_secs_f64().max(1e-3);
        self.update_with(done, &format!("{} /s", group(rate as u64)));
    }

    /// Shows `done` followed by `detail` (instead of the rate), if a redraw (or a log line) is due.
    pub fn update_with(&mut self, done: u64, detail: &str) {
        let every = if self.in_place { REDRAW_EVERY } else { LOG_EVERY };
        if self.last_drawn.is_none_or(|at| at.elapsed() >= every) {
            self.draw(done, detail);
        }
    }

    /// Shows the final count (unless a log line just showed it) and ends the bar's line.
    pub fn finish(&mut self, done: u64) {
        let rate = done as f64 / self.elapsed().as_secs_f64().max(1e-3);
        self.finish_with(done, &format!("{} /s", group(rate as u64)));
    }

    /// [`Progress::finish`] with `detail` instead of the rate.
    pub fn finish_with(&mut self, done: u64, detail: &str) {
        if self.finished {
            return;
        }
        if self.in_place || self.last_done != Some(done) {
            self.draw(done, detail);
        }
        if self.in_place {
            eprintln!();
        }
        self.finished = true;
    }

    fn draw(&mut self, done: u64, detail: &str) {
        eprint!("{}", self.line(done, detail));
        let _ = std::io::stderr().flush();
        self.last_drawn = Some(Instant::now());
        self.last_done = Some(done);
    }

    fn line(&self, done: u64, detail: &str) -> String {
        let filled = (done.min(self.total) * WIDTH).checked_div(self.total).unwrap_or(WIDTH) as usize;
        let (start, end) = if self.in_place { ("\r", "") } else { ("", "\n") };
        format!(
            "{start}  {} [{}{}] {}/{} {}  {:.1} s  {detail}   {end}",
            self.label,
            "#".repeat(filled),
            "-".repeat(WIDTH as usize - filled),
            group(done),
            group(self.total),
            self.unit,
            self.elapsed().as_secs_f64(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_shows_the_share_done_and_ends_with_a_newline() {
        let bar = Progress::with_output("deliveries", 1_000, "settled", false);
        let line = bar.line(250, "10 /s");
        assert!(line.starts_with("  deliveries [#######-----------------------] 250/1,000 settled"), "{line}");
        assert!(line.ends_with("10 /s   \n"), "{line:?}");
    }

    #[test]
    fn at_a_terminal_the_line_redraws_in_place_and_never_overfills() {
        let bar = Progress::with_output("x", 10, "done", true);
        let line = bar.line(25, "");
        assert!(line.starts_with("\r  x [##############################] 25/10 done"), "{line:?}");
        assert!(!line.ends_with('\n'));
    }

    #[test]
    fn a_bar_with_nothing_to_count_shows_full() {
        let bar = Progress::with_output("x", 0, "done", false);
        assert!(bar.line(0, "").contains(&"#".repeat(30)));
    }
}
