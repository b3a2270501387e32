//! Scenario files: every scenario in `fixtures/scenarios/` runs and passes, and `tapink run` reports a failing
//! expectation with its diff, a malformed file with its file, line and field, and writes JUnit XML for CI.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use integration_tests::run_tapink;
use pipeline::scenario::report::{self, Ran};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios")
}

/// The scenarios the issue asks for, by file or folder name: each must be here (and pass).
const REQUIRED: &[&str] = &[
    "seed-walkthrough",
    "send-now.toml",
    "send-later.toml",
    "multiple-dates.toml",
    "recurring-weekly.toml",
    "live-action-delay.toml",
    "inaction.toml",
    "date-property.toml",
    "frequency-cap.toml",
    "dnd.toml",
    "throttle.toml",
    "control-group",
    "inkit-failing-then-recovering.toml",
    "timeout-duplicate.toml",
    "retry-after-429.toml",
    "liquid-error.toml",
    "json-escaping.toml",
];

#[tokio::test]
async fn every_fixture_scenario_passes() {
    // arrange
    let dir = fixtures();
    for name in REQUIRED {
        assert!(dir.join(name).exists(), "fixtures/scenarios/{name} is missing");
    }

    // act
    let started = Instant::now();
    let all = pipeline::scenario::run_path(&dir).await;
    let took = started.elapsed();

    // assert: every failure at once, as `tapink run` prints it
    let failures: Vec<String> = all
        .iter()
        .filter(|r| !r.passed())
        .map(|r| match r {
            Ran::Outcome(o) => report::text(o, true),
            Ran::Error { name, origin, message } => report::error_text(name, origin, message),
        })
        .collect();
    assert!(failures.is_empty(), "{} scenario(s) failed:\n{}", failures.len(), failures.join("\n"));
    let totals = report::totals(&all);
    assert!(totals.scenarios >= REQUIRED.len(), "{totals:?}");
    assert!(totals.checks >= 60, "the scenarios check something: {totals:?}");
    assert!(took < Duration::from_secs(60), "the scenario suite took {took:?}");
}

#[tokio::test]
async fn the_full_example_in_docs_scenarios_md_runs_and_passes() {
    // arrange: the example as a folder scenario two levels down, beside the files it names
    let doc = std::fs::read_to_string(fixtures().join("../../docs/scenarios.md")).expect("docs/scenarios.md");
    let example = doc
        .split("## A full example")
        .nth(1)
        .and_then(|rest| rest.split("```toml\n").nth(1))
        .and_then(|block| block.split("\n```").next())
        .expect("a ```toml block under \"A full example\"");
    let root = tempfile::tempdir().expect("a temporary directory");
    let folder = root.path().join("scenarios").join("welcome");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::create_dir_all(root.path().join("templates")).unwrap();
    std::fs::create_dir_all(root.path().join("bodies")).unwrap();
    let fixtures_root = fixtures().join("..");
    std::fs::copy(fixtures_root.join("templates/seed-letter.html"), root.path().join("templates/seed-letter.html"))
        .unwrap();
    std::fs::copy(fixtures_root.join("bodies/seed.json"), root.path().join("bodies/seed.json")).unwrap();
    std::fs::copy(fixtures().join("seed-walkthrough/users.json"), folder.join("users.json")).unwrap();
    std::fs::write(folder.join("scenario.toml"), example).unwrap();

    // act
    let all = pipeline::scenario::run_path(&folder).await;

    // assert
    match all.as_slice() {
        [Ran::Outcome(o)] => assert!(o.passed(), "{}", report::text(o, true)),
        [Ran::Error { message, .. }] => panic!("the example does not load: {message}"),
        other => panic!("one scenario expected, got {}", other.len()),
    }
}

/// A scenario folder in a temporary directory, with these files.
fn scenario_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("writing a scenario file");
    }
    dir
}

const PASSING: &str = r#"name = "Passing"
start = 2026-12-01T09:00:00Z
end = "+1m"

[[upload]]
d = [{ type = "profile", identity = "ada", profileData = { Name = "Ada" } }]

[[template]]
id = "tmpl_Letter0000000000000001"
html = "<p>{{Name}}</p>"

[[webhook]]
name = "Inkit"
method = "POST"
url = "{{inkit}}/v1/generate"
headers = { "X-Inkit-API-Token" = "tapink-inkit-token" }

[[campaign]]
ref = "letter"
name = "Letter <&> \"quoted\""
webhook_endpoint_name = "Inkit"
where = {}
when = "now"
content = { body = '{"template_id": "tmpl_Letter0000000000000001", "merge_parameters": {"Name": "{{ Profile.Name }}"}}' }

[[expect]]
history = { count = 1, merge_parameters = { Name = "Ada" } }
"#;

async fn tapink_run(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let (status, stdout, stderr) = run_tapink(all, Duration::from_secs(120)).await;
    (status.code().unwrap_or(-1), stdout, stderr)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[tokio::test]
async fn a_failing_expectation_exits_non_zero_and_prints_expected_actual_and_the_diff() {
    // arrange: the passing scenario with two wrong expectations
    let failing = PASSING.replace(
        "history = { count = 1, merge_parameters = { Name = \"Ada\" } }",
        "name = \"letters\"\nhistory = { count = 2, merge_parameters = { Name = \"Ada Lovelace\" } }",
    );
    let dir = scenario_dir(&[("failing.toml", &failing)]);

    // act
    let (code, stdout, stderr) = tapink_run(&[path(&dir.path().join("failing.toml"))]).await;

    // assert
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("FAIL Passing"), "{stdout}");
    assert!(stdout.contains("  FAIL  letters  ("), "{stdout}");
    assert!(stdout.contains("failing.toml:26: expect[0])"), "the expectation's file and line: {stdout}");
    assert!(stdout.contains(r#"expected: {"count":2,"merge_parameters":{"Name":"Ada Lovelace"}}"#), "{stdout}");
    assert!(stdout.contains(r#"actual:   {"count":1,"merge_parameters":{"Name":"Ada"}}"#), "{stdout}");
    assert!(stdout.contains("- count: expected 2, got 1"), "{stdout}");
    assert!(stdout.contains(r#"- merge_parameters.Name: expected "Ada Lovelace", got "Ada""#), "{stdout}");
    assert!(
        stdout.contains("1 scenario: 0 passed, 1 failed (0 could not run); 1 expectation: 0 passed, 1 failed"),
        "{stdout}"
    );
    assert!(stderr.contains("error: 1 of 1 scenarios failed"), "{stderr}");
}

#[tokio::test]
async fn a_passing_scenario_exits_0_and_says_what_it_checked() {
    let dir = scenario_dir(&[("passing.toml", PASSING)]);
    let (code, stdout, stderr) = tapink_run(&[path(&dir.path().join("passing.toml"))]).await;
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(r#"  ok    History (render entries): {"count":1,"merge_parameters":{"Name":"Ada"}}"#),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_malformed_scenario_names_the_file_the_line_and_the_field() {
    // arrange: an unknown key in a campaign, a bad value the engine refuses, and broken TOML
    let unknown = PASSING.replace("when = \"now\"\n", "when = \"now\"\ncolour = \"blue\"\n");
    let bad_when = PASSING.replace("when = \"now\"", "when = { type = \"later\", delivery_date_time = \"tomorrow\" }");
    let broken = PASSING.replace("end = \"+1m\"", "end = ");
    let dir = scenario_dir(&[("unknown.toml", &unknown), ("bad-when.toml", &bad_when), ("broken.toml", &broken)]);

    // act
    let (code, stdout, stderr) = tapink_run(&[path(dir.path())]).await;

    // assert
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let unknown = dir.path().join("unknown.toml");
    assert!(
        stdout.contains(&format!("{}:24: campaign[0].colour: unknown field; the fields are", unknown.display())),
        "{stdout}"
    );
    let bad_when = dir.path().join("bad-when.toml");
    assert!(
        stdout.contains(&format!(
            "{}:23: campaign[0].when.delivery_date_time: \"tomorrow\" is not a date and time \"YYYYMMDD HH:MM\"",
            bad_when.display()
        )),
        "{stdout}"
    );
    let broken = dir.path().join("broken.toml");
    assert!(stdout.contains(&format!("{}:3: not valid TOML", broken.display())), "{stdout}");
    assert!(stdout.contains("3 scenarios: 0 passed, 3 failed (3 could not run)"), "{stdout}");
}

#[tokio::test]
async fn junit_has_a_testsuite_per_scenario_a_testcase_per_expectation_and_valid_xml() {
    // arrange: a passing scenario, a failing one and one that does not load
    let failing = PASSING.replace("count = 1", "count = 3");
    let unknown = PASSING.replace("end = \"+1m\"", "end = \"+1m\"\ncolour = 1");
    let dir = scenario_dir(&[("a-passing.toml", PASSING), ("b-failing.toml", &failing), ("c-broken.toml", &unknown)]);
    let xml_path = dir.path().join("out").join("junit.xml");
    std::fs::create_dir(dir.path().join("out")).unwrap();

    // act
    let (code, stdout, stderr) = tapink_run(&[path(dir.path()), "--junit", path(&xml_path), "--quiet"]).await;

    // assert
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stdout.contains("  ok  "), "--quiet leaves passing expectations out: {stdout}");
    let xml = std::fs::read_to_string(&xml_path).expect("the JUnit file was written");
    well_formed(&xml).unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{xml}"));
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "), "{xml}");
    assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{xml}");
    assert_eq!(xml.matches("<testsuite ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<error ").count(), 1, "{xml}");
    assert!(xml.contains("<failure message=\"count: expected 3, got 1\""), "{xml}");
    assert!(xml.contains("c-broken.toml:4: colour: unknown field"), "{xml}");
}

/// A small well-formedness check: one root, tags nested and closed in order, attributes quoted, and `&` only in
/// the five predefined entities (what a JUnit reader needs; no DTDs, comments or CDATA are written).
fn well_formed(xml: &str) -> Result<(), String> {
    let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").ok_or("no XML declaration")?;
    let mut open: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt])?;
        let gt = rest[lt..].find('>').ok_or("a tag is not closed")? + lt;
        let tag = &rest[lt + 1..gt];
        if let Some(name) = tag.strip_prefix('/') {
            let top = open.pop().ok_or_else(|| format!("</{name}> closes nothing"))?;
            if top != name {
                return Err(format!("</{name}> closes <{top}>"));
            }
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name: String = tag.chars().take_while(|c| !c.is_whitespace()).collect();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("bad tag name in <{tag}>"));
            }
            check_attributes(&tag[name.len()..])?;
            if open.is_empty() {
                roots += 1;
            }
            if !self_closing {
                open.push(name);
            }
        }
        rest = &rest[gt + 1..];
    }
    check_text(rest)?;
    match (open.is_empty(), roots) {
        (true, 1) => Ok(()),
        (false, _) => Err(format!("unclosed: {open:?}")),
        (_, n) => Err(format!("{n} root elements")),
    }
}

fn check_text(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        let entity = &rest[amp..];
        if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].iter().any(|e| entity.starts_with(e)) {
            return Err(format!("a bare & in {text:?}"));
        }
        rest = &rest[amp + 1..];
    }
    if text.chars().any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(format!("a control character in {text:?}"));
    }
    if text.contains('>') && !text.trim().is_empty() {
        // `>` is allowed in text, but we escape it; its presence means something was not escaped.
        return Err(format!("an unescaped > in {text:?}"));
    }
    Ok(())
}

fn check_attributes(mut attrs: &str) -> Result<(), String> {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return Ok(());
        }
        let eq = attrs.find('=').ok_or_else(|| format!("an attribute without a value in {attrs:?}"))?;
        let value = attrs[eq + 1..].strip_prefix('"').ok_or_else(|| format!("an unquoted attribute in {attrs:?}"))?;
        let end = value.find('"').ok_or("an attribute value is not closed")?;
        check_text(&value[..end])?;
        if value[..end].contains('<') {
            return Err(format!("a < in an attribute value: {:?}", &value[..end]));
        }
        attrs = &value[end + 1..];
    }
}

#[tokio::test]
async fn json_output_is_one_document_with_each_expectation_and_the_totals() {
    // arrange: a passing scenario and a failing one
    let failing = PASSING.replace(
        "history = { count = 1, merge_parameters = { Name = \"Ada\" } }",
        "history = { count = 1, merge_parameters = { Name = \"Grace\" } }",
    );
    let dir = scenario_dir(&[("passing.toml", PASSING), ("failing.toml", &failing)]);

    // act
    let (code, stdout, stderr) =
        tapink_run(&["--json", path(&dir.path().join("passing.toml")), path(&dir.path().join("failing.toml"))]).await;

    // assert
    assert_eq!(code, 1, "a failure still exits 1; stderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert_eq!(report["passed"], false);
    assert_eq!(report["totals"]["scenarios"], 2);
    assert_eq!(report["totals"]["checks_failed"], 1);
    let checks = &report["scenarios"][1]["checks"];
    assert_eq!(checks[0]["passed"], false, "{report}");
    assert_eq!(checks[0]["expected"]["merge_parameters"]["Name"], "Grace");
    assert_eq!(checks[0]["actual"]["merge_parameters"]["Name"], "Ada");
}
