//! A scenario run's outcome written out: as text for a person (each expectation with what was expected and
//! what happened, a diff when they differ) and as JUnit XML for CI (one testsuite per scenario, one testcase
//! per expectation), the XML written by hand with its escaping, and as JSON for scripts.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use super::expect::Check;
use super::run::ScenarioOutcome;

/// How one scenario ended: run (passing or not), or not run at all with the reason (a load or set-up error).
#[derive(Debug, Clone)]
pub enum Ran {
    Outcome(ScenarioOutcome),
    Error { name: String, origin: PathBuf, message: String },
}

impl Ran {
    pub fn passed(&self) -> bool {
        matches!(self, Ran::Outcome(o) if o.passed())
    }
}

/// Figures over many scenarios, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub scenarios: usize,
    pub scenarios_failed: usize,
    pub errors: usize,
    pub checks: usize,
    pub checks_failed: usize,
}

pub fn totals(all: &[Ran]) -> Totals {
    let mut t = Totals { scenarios: all.len(), ..Totals::default() };
    for ran in all {
        match ran {
            Ran::Outcome(o) => {
                t.checks += o.checks.len();
                let failed = o.failures().count();
                t.checks_failed += failed;
                if failed > 0 {
                    t.scenarios_failed += 1;
                }
            }
            Ran::Error { .. } => {
                t.errors += 1;
                t.scenarios_failed += 1;
            }
        }
    }
    t
}

/// Every scenario as JSON for scripts: `{"passed", "totals", "scenarios": [{"name", "origin", "passed",
/// "elapsed_ms", "error"?, "checks": [{"name", "location", "passed", "expected", "actual", "diff"}]}]}`.
pub fn json(all: &[Ran]) -> Value {
    let t = totals(all);
    let scenarios: Vec<Value> = all
        .iter()
        .map(|ran| match ran {
            Ran::Outcome(o) => serde_json::json!({
                "name": o.name, "origin": o.origin, "passed": o.passed(),
                "elapsed_ms": o.elapsed.as_secs_f64() * 1000.0,
                "checks": o.checks.iter().map(|c| serde_json::json!({
                    "name": c.name, "location": c.location, "passed": c.passed,
                    "expected": c.expected, "actual": c.actual, "diff": c.diff,
                })).collect::<Vec<_>>(),
            }),
            Ran::Error { name, origin, message } => {
                serde_json::json!({"name": name, "origin": origin, "passed": false, "error": message, "checks": []})
            }
        })
        .collect();
    serde_json::json!({
        "passed": t.scenarios_failed == 0,
        "totals": {"scenarios": t.scenarios, "scenarios_failed": t.scenarios_failed, "errors": t.errors,
                   "checks": t.checks, "checks_failed": t.checks_failed},
        "scenarios": scenarios,
    })
}

/// `12 scenarios: 11 passed, 1 failed (0 could not run); 80 expectations: 79 passed, 1 failed`
pub fn summary(t: &Totals) -> String {
    format!(
        "{} scenario{}: {} passed, {} failed ({} could not run); {} expectation{}: {} passed, {} failed",
        t.scenarios,
        plural(t.scenarios),
        t.scenarios - t.scenarios_failed,
        t.scenarios_failed,
        t.errors,
        t.checks,
        plural(t.checks),
        t.checks - t.checks_failed,
        t.checks_failed
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One value on one line, shortened when long.
fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 160 { format!("{}…", text.chars().take(160).collect::<String>()) } else { text }
}

/// A scenario's outcome as text. With `quiet`, passing expectations are left out.
pub fn text(outcome: &ScenarioOutcome, quiet: bool) -> String {
    let mut out = String::new();
    let verdict = if outcome.passed() { "PASS" } else { "FAIL" };
    let _ = writeln!(
        out,
        "{verdict} {} ({})  {:.2} s",
        outcome.name,
        outcome.origin.display(),
        outcome.elapsed.as_secs_f64()
    );
    for check in &outcome.checks {
        if check.passed && quiet {
            continue;
        }
        check_text(&mut out, check);
    }
    out
}

fn check_text(out: &mut String, check: &Check) {
    if check.passed {
        let _ = writeln!(out, "  ok    {}: {}", check.name, compact(&check.expected));
        return;
    }
    let _ = writeln!(out, "  FAIL  {}  ({})", check.name, check.location);
    let _ = writeln!(out, "          expected: {}", compact(&check.expected));
    let _ = writeln!(out, "          actual:   {}", compact(&check.actual));
    for line in &check.diff {
        let _ = writeln!(out, "          - {line}");
    }
}

/// A scenario that could not run, as text.
pub fn error_text(name: &str, origin: &std::path::Path, message: &str) -> String {
    format!("ERROR {name} ({})\n  {message}\n", origin.display())
}

/// Every scenario as JUnit XML: a testsuite per scenario, a testcase per expectation (failures carry the
/// expected and actual values and the diff); a scenario that could not run is a testsuite with one errored
/// testcase.
pub fn junit(all: &[Ran]) -> String {
    let t = totals(all);
    let time: f64 = all.iter().map(|r| if let Ran::Outcome(o) = r { o.elapsed.as_secs_f64() } else { 0.0 }).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"tapink scenarios\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{time:.3}\">",
        t.checks + t.errors,
        t.checks_failed,
        t.errors
    );
    for ran in all {
        match ran {
            Ran::Outcome(o) => {
                let failures = o.failures().count();
                let _ = writeln!(
                    x,
                    "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\" file=\"{}\">",
                    escape(&o.name),
                    o.checks.len(),
                    o.elapsed.as_secs_f64(),
                    escape(&o.origin.display().to_string())
                );
                for check in &o.checks {
                    let _ = write!(
                        x,
                        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\"",
                        escape(&o.name),
                        escape(&check.name),
                        escape(&check.location)
                    );
                    if check.passed {
                        x.push_str("/>\n");
                        continue;
                    }
                    let message = check.diff.first().cloned().unwrap_or_else(|| "expectation not met".into());
                    let mut body = format!("expected: {}\nactual:   {}\n", check.expected, check.actual);
                    for line in &check.diff {
                        body.push_str(&format!("- {line}\n"));
                    }
                    let _ = write!(
                        x,
                        ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>\n",
                        escape(&message),
                        escape(&body)
                    );
                }
                x.push_str("  </testsuite>\n");
            }
            Ran::Error { name, origin, message } => {
                let _ = writeln!(
                    x,
                    "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" errors=\"1\" time=\"0.000\" file=\"{}\">",
                    escape(name),
                    escape(&origin.display().to_string())
                );
                let _ = writeln!(
                    x,
                    "    <testcase classname=\"{}\" name=\"load and set up\">\n      <error message=\"{}\" type=\"scenario\">{}</error>\n    </testcase>",
                    escape(name),
                    escape(message),
                    escape(message)
                );
                x.push_str("  </testsuite>\n");
            }
        }
    }
    x.push_str("</testsuites>\n");
    x
}

/// Text as XML character data or an attribute value: the five special characters escaped, and characters
/// XML 1.0 cannot hold (control characters other than tab and line breaks) written as `\u{…}`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn check(name: &str, passed: bool) -> Check {
        Check {
            name: name.into(),
            location: "s.toml:3: expect[0]".into(),
            expected: json!({"count": 1}),
            actual: json!({"count": if passed { 1 } else { 2 }}),
            passed,
            diff: if passed { vec![] } else { vec!["count: expected 1, got 2".into()] },
        }
    }

    fn outcome(checks: Vec<Check>) -> ScenarioOutcome {
        ScenarioOutcome {
            name: "A <b> & \"c\"".into(),
            origin: "s.toml".into(),
            checks,
            elapsed: Duration::from_millis(5),
        }
    }

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}\n"), "a&lt;b&gt;&amp;&quot;&apos;\\u{1}\n");
    }

    #[test]
    fn junit_counts_tests_failures_and_errors() {
        let all = vec![
            Ran::Outcome(outcome(vec![check("first", true), check("second <x>", false)])),
            Ran::Error {
                name: "broken".into(),
                origin: "b.toml".into(),
                message: "b.toml:2: colour: unknown field".into(),
            },
        ];
        let xml = junit(&all);
        assert!(xml.contains("<testsuites name=\"tapink scenarios\" tests=\"3\" failures=\"1\" errors=\"1\""), "{xml}");
        assert!(
            xml.contains("<testsuite name=\"A &lt;b&gt; &amp; &quot;c&quot;\" tests=\"2\" failures=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"second &lt;x&gt;\""), "{xml}");
        assert!(xml.contains("<failure message=\"count: expected 1, got 2\""), "{xml}");
        assert!(xml.contains("<error message=\"b.toml:2: colour: unknown field\""), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert_eq!(
            summary(&totals(&all)),
            "2 scenarios: 0 passed, 2 failed (1 could not run); 2 expectations: 1 passed, 1 failed"
        );
    }

    #[test]
    fn text_shows_expected_actual_and_the_diff_of_a_failure() {
        let text = text(&outcome(vec![check("first", true), check("second", false)]), false);
        assert!(text.starts_with("FAIL A <b> & \"c\" (s.toml)"), "{text}");
        assert!(text.contains("  ok    first: {\"count\":1}\n"), "{text}");
        assert!(text.contains("  FAIL  second  (s.toml:3: expect[0])\n          expected: {\"count\":1}\n          actual:   {\"count\":2}\n          - count: expected 1, got 2\n"), "{text}");
    }
}
