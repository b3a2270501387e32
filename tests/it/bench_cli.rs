//! `tapink bench` as a person runs it, with tiny sizes: every phase reports plausible figures in its table
//! and its JSON, every user's and every event's document reaches History, a short soak prints its rows and
//! its verdicts, and bad options are refused before anything is measured, naming the option.

use std::time::Duration;

use integration_tests::run_tapink;
use serde_json::Value;

fn figure(json: &Value, phase: &str, key: &str) -> f64 {
    json["phases"][phase][key].as_f64().unwrap_or_else(|| panic!("phases.{phase}.{key} in {json:#}"))
}

#[tokio::test]
async fn every_phase_reports_plausible_figures_and_every_document_reaches_history() {
    // arrange
    let dir = tempfile::tempdir().expect("tempdir");
    let json_path = dir.path().join("bench.json");

    // act
    let (status, stdout, stderr) = run_tapink(
        [
            "bench",
            "--users",
            "200",
            "--profiles",
            "1000",
            "--events",
            "5000",
            "--seconds",
            "1",
            "--rate",
            "200",
            "--json",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([json_path.display().to_string()]),
        Duration::from_secs(300),
    )
    .await;

    // assert
    assert!(status.success(), "exit {status}; stderr:\n{stderr}\nstdout:\n{stdout}");
    assert!(stderr.contains("debug build") && stderr.contains("meaningless"), "the test binary is a debug build");
    for phase in ["mock", "render", "latency", "segment", "deliveries"] {
        assert!(stdout.lines().any(|l| l.starts_with(phase)), "{phase} in the table:\n{stdout}");
        assert!(stderr.contains(&format!("{phase}:")), "{phase} has a progress bar:\n{stderr}");
    }
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).expect("the JSON file")).expect("JSON");
    assert_eq!(json["build"], "debug");
    assert_eq!(json["failures"], serde_json::json!([]));

    assert!(figure(&json, "mock", "requests_per_s") > 10.0, "{json:#}");
    assert!(figure(&json, "mock", "ceiling_requests_per_s") > 10.0);
    assert_eq!(json["phases"]["mock"]["every_2xx_in_history"], true);
    assert_eq!(figure(&json, "mock", "history_entries"), figure(&json, "mock", "answered_2xx"));

    assert!(figure(&json, "render", "renders_per_s") > 1_000.0);

    assert_eq!(figure(&json, "deliveries", "users"), 200.0);
    assert_eq!(figure(&json, "deliveries", "users_in_history"), 200.0, "every user's document: {json:#}");
    assert_eq!(figure(&json, "deliveries", "delivered"), 200.0);
    assert_eq!(json["phases"]["deliveries"]["every_user_in_history"], true);
    assert!(figure(&json, "deliveries", "deliveries_per_s") > 1.0);

    assert_eq!(figure(&json, "segment", "profiles"), 1000.0);
    assert_eq!(figure(&json, "segment", "events"), 5000.0);
    let median = figure(&json, "segment", "evaluation_seconds_median");
    assert!(median > 0.0 && median < 10.0 && figure(&json, "segment", "evaluation_seconds_min") <= median);

    assert_eq!(figure(&json, "latency", "events"), 200.0, "--rate 200 for --seconds 1");
    assert_eq!(figure(&json, "latency", "in_history"), 200.0);
    let (p50, p99, max) =
        (figure(&json, "latency", "p50_ms"), figure(&json, "latency", "p99_ms"), figure(&json, "latency", "max_ms"));
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max && max < 30_000.0, "{p50} {p99} {max}");

    for phase in ["mock", "render", "latency", "segment", "deliveries"] {
        let peak = &json["phases"][phase]["peak_rss_bytes"];
        match peak.as_f64() {
            Some(bytes) => assert!(bytes > 1e6 && bytes < 64e9, "{phase} peak {bytes}"),
            None => assert!(json["phases"][phase]["peak_rss_unavailable"].is_string(), "{phase}: says why"),
        }
    }
}

#[tokio::test]
async fn a_short_soak_prints_a_row_per_interval_and_exits_by_its_verdicts() {
    // act
    let dir = tempfile::tempdir().expect("tempdir");
    let json_path = dir.path().join("soak.json");
    let json_arg = json_path.display().to_string();
    let (status, stdout, stderr) = run_tapink(
        ["bench", "--soak", "0.1", "--sample-seconds", "1", "--rate", "100", "--json", json_arg.as_str()],
        Duration::from_secs(180),
    )
    .await;

    // assert
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).expect("the JSON file")).expect("JSON");
    assert_eq!(json["phases"], serde_json::json!({}), "--soak alone runs only the soak");
    let soak = &json["soak"];
    let samples = soak["samples"].as_array().expect("samples");
    assert!((5..=7).contains(&samples.len()), "a row a second for 6 s: {soak:#}");
    let rows = stdout
        .lines()
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            fields.len() == 8 && fields[0].parse::<f64>().is_ok() && fields[7] == "MiB"
        })
        .count();
    assert_eq!(rows, samples.len(), "a row per sample:\n{stdout}");
    let posted: Vec<f64> = samples.iter().map(|s| s["posted"].as_f64().expect("posted")).collect();
    assert!(posted.windows(2).all(|w| w[0] <= w[1]) && posted[posted.len() - 1] >= 300.0, "{posted:?}");
    assert!(samples.iter().all(|s| s["rss_bytes"].as_f64().is_some_and(|b| b > 1e6)), "{soak:#}");
    assert_eq!(soak["in_history"], soak["events"], "every event's document in History: {soak:#}");
    let held = soak["latency_held"].as_bool().expect("latency verdict");
    let flat = soak["memory_flat"].as_bool().expect("memory verdict");
    assert_eq!(status.success(), held && flat, "exit {status} against the verdicts; stderr:\n{stderr}\n{stdout}");
    if !status.success() {
        assert!(stderr.contains("check(s) failed: soak:"), "the failed verdict is named:\n{stderr}");
    }
}

#[tokio::test]
async fn bad_options_are_refused_naming_the_option_before_anything_is_measured() {
    let cases: [(&[&str], &str); 6] = [
        (&["--users", "0"], "--users"),
        (&["--events", "many"], "--events"),
        (&["--only", "render,warp"], "--only"),
        (&["--soak", "-2"], "--soak"),
        (&["--soak", "0.01"], "--soak"),
        (&["--json", "/nonexistent-dir/bench.json"], "--json"),
    ];
    for (args, option) in cases {
        let (status, stdout, stderr) =
            run_tapink(std::iter::once("bench").chain(args.iter().copied()), Duration::from_secs(60)).await;
        assert!(!status.success(), "{args:?} accepted");
        assert!(stderr.contains(option), "{args:?}: the error names {option}:\n{stderr}");
        assert!(!stdout.contains("peak resident memory"), "{args:?}: nothing measured:\n{stdout}");
    }
}
