//! `tapink inkit` as users run it: the real binary in a child process, its start-up line, its errors,
//! SIGTERM while requests are in flight, History kept in `--data-dir`, and `--templates`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use inkit_mock::DEFAULT_TOKEN;
use integration_tests::{
    Reply, SEED_TEMPLATE_HTML, TapinkProcess, admin_history, create_template, generate, run_tapink, seed_params,
};
use serde_json::json;

/// How long a command that should fail at start-up may take.
const QUICK_EXIT: Duration = Duration::from_secs(10);

fn path_arg(path: &std::path::Path) -> String {
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}

/// `metadata.pagination.total_count` of `GET /__admin/history`.
async fn history_total(tapink: &TapinkProcess) -> u64 {
    let list = admin_history(&tapink.client(None), "page_size=100").await;
    list["metadata"]["pagination"]["total_count"].as_u64().unwrap_or_else(|| panic!("no total_count in {list}"))
}

#[tokio::test]
async fn prints_one_listening_line_and_serves_until_sigterm() {
    // arrange
    let mut tapink = TapinkProcess::start(["--addr", "127.0.0.1:0", "--in-memory"]).await;

    // act
    let health = tapink.client(None).get("/__admin/health").await;
    let status = tapink.terminate().await;

    // assert
    let port = tapink
        .first_line
        .strip_prefix("inkit-mock listening on http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix('\n'))
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("first stdout line: {:?}", tapink.first_line));
    assert_ne!(port, 0, "the printed port is the one picked, not 0");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
    assert!(status.success(), "exit after SIGTERM: {status}; stderr:\n{}", tapink.stderr());
    assert_eq!(tapink.rest_of_stdout().await, "", "stdout has exactly one line");
}

#[tokio::test]
async fn port_in_use_fails_fast_naming_the_address() {
    // arrange
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = taken.local_addr().unwrap().to_string();
    let started = Instant::now();

    // act
    let (status, stdout, stderr) = run_tapink(["inkit", "--addr", &addr, "--in-memory"], QUICK_EXIT).await;

    // assert
    assert!(!status.success(), "tapink started on a taken port; stdout: {stdout}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?} to fail", started.elapsed());
    assert!(stderr.contains(&addr), "stderr names {addr}: {stderr}");
    let lower = stderr.to_lowercase();
    assert!(lower.contains("in use") || lower.contains("using that port"), "stderr says why: {stderr}");
    assert_eq!(stdout, "", "no listening line when not listening");
}

#[tokio::test]
async fn fault_file_with_unknown_kind_is_refused_naming_file_and_field() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("explode.toml");
    std::fs::write(&file, "[[fault]]\nroute = \"POST /generate\"\nkind = \"explode\"\n").unwrap();

    // act
    let (status, _, stderr) =
        run_tapink(["inkit", "--addr", "127.0.0.1:0", "--in-memory", "--faults", &path_arg(&file)], QUICK_EXIT).await;

    // assert
    assert!(!status.success(), "a bad fault plan must stop start-up");
    assert!(stderr.contains(&path_arg(&file)), "stderr names the file: {stderr}");
    assert!(stderr.contains("fault[0].kind"), "stderr names the field: {stderr}");
    assert!(stderr.contains("explode"), "stderr quotes the bad kind: {stderr}");
}

#[tokio::test]
async fn fault_file_with_toml_syntax_error_is_refused_naming_the_line() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, "seed = 1\n[[fault]]\nroute = \"POST /generate\nkind = \"latency\"\nms = 300\n").unwrap();

    // act
    let (status, _, stderr) =
        run_tapink(["inkit", "--addr", "127.0.0.1:0", "--in-memory", "--faults", &path_arg(&file)], QUICK_EXIT).await;

    // assert
    assert!(!status.success(), "a broken fault file must stop start-up");
    assert!(stderr.contains(&path_arg(&file)), "stderr names the file: {stderr}");
    assert!(stderr.contains("line 3"), "stderr names the line of the unterminated string: {stderr}");
}

#[tokio::test]
async fn token_without_equals_is_a_usage_error_naming_the_format() {
    // act
    let (status, stdout, stderr) =
        run_tapink(["inkit", "--addr", "127.0.0.1:0", "--in-memory", "--token", "badformat"], QUICK_EXIT).await;

    // assert
    assert_eq!(status.code(), Some(2), "clap's usage-error status; stderr: {stderr}");
    assert!(stderr.contains("NAME=TOKEN"), "stderr names the format: {stderr}");
    assert!(stderr.contains("--token") && stderr.contains("badformat"), "stderr names the argument: {stderr}");
    assert_eq!(stdout, "", "no listening line");
}

#[tokio::test]
async fn sigterm_answers_requests_in_flight_and_keeps_every_answered_render() {
    // arrange
    let data = tempfile::tempdir().unwrap();
    let faults = data.path().join("slow.toml");
    std::fs::write(&faults, "[[fault]]\nroute = \"POST /generate\"\nkind = \"latency\"\nms = 300\n").unwrap();
    let data_dir = path_arg(&data.path().join("history"));
    let mut tapink =
        TapinkProcess::start(["--addr", "127.0.0.1:0", "--data-dir", &data_dir, "--faults", &path_arg(&faults)]).await;
    let client = tapink.client(Some(DEFAULT_TOKEN));
    let template = create_template(&client, "Welcome", SEED_TEMPLATE_HTML).await;
    let body = Bytes::from(json!({"template_id": template, "merge_parameters": seed_params("Ada")}).to_string());
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let (client, body) = (client.clone(), body.clone());
            tokio::spawn(async move {
                let outcome =
                    client.try_send(Method::POST, "/v1/generate", body, &[("content-type", "application/json")]).await;
                (outcome, Instant::now())
            })
        })
        .collect();
    // Every request is now waiting out its 300 ms of injected latency.
    tokio::time::sleep(Duration::from_millis(150)).await;

    // act
    tapink.send_sigterm();
    let signalled = Instant::now();
    let mut outcomes: Vec<Result<Reply, String>> = Vec::new();
    let mut answered_after_signal = 0;
    for request in requests {
        let (outcome, ended) = tokio::time::timeout(Duration::from_secs(20), request)
            .await
            .expect("every request ends (answered or refused) after SIGTERM")
            .expect("request task");
        answered_after_signal += usize::from(outcome.is_ok() && ended > signalled);
        outcomes.push(outcome);
    }
    let status = tapink.wait_for_exit().await;
    let stderr = tapink.stderr();
    drop(tapink);
    let restarted = TapinkProcess::start(["--addr", "127.0.0.1:0", "--data-dir", &data_dir]).await;
    let kept = history_total(&restarted).await;

    // assert
    let answered_2xx = outcomes.iter().filter(|o| o.as_ref().is_ok_and(|r| (200..300).contains(&r.status))).count();
    let summary: Vec<String> =
        outcomes.iter().map(|o| o.as_ref().map_or_else(|e| format!("error {e}"), |r| r.status.to_string())).collect();
    assert!(status.success(), "exit after SIGTERM: {status}; stderr:\n{stderr}");
    assert!(answered_2xx > 0, "no request in flight was answered: {summary:?}");
    assert!(answered_after_signal > 0, "no answer came after SIGTERM, so nothing was in flight: {summary:?}");
    assert_eq!(kept, answered_2xx as u64, "History after restart vs 2xx answers: {summary:?}");
}

#[tokio::test]
async fn data_dir_keeps_templates_and_history_across_restarts() {
    // arrange
    let data = tempfile::tempdir().unwrap();
    let data_dir = path_arg(data.path());
    let mut first = TapinkProcess::start(["--addr", "127.0.0.1:0", "--data-dir", &data_dir]).await;
    let client = first.client(Some(DEFAULT_TOKEN));
    let template = create_template(&client, "Kept letter", SEED_TEMPLATE_HTML).await;
    let mut renders = Vec::new();
    for name in ["Ada", "Grace", "Edsger"] {
        renders.push(generate(&client, &template, seed_params(name)).await.0);
    }
    let status = first.terminate().await;
    assert!(status.success(), "exit after SIGTERM: {status}; stderr:\n{}", first.stderr());

    // act
    let second = TapinkProcess::start(["--addr", "127.0.0.1:0", "--data-dir", &data_dir]).await;

    // assert
    let list = admin_history(&second.client(None), "page_size=100").await;
    assert_eq!(list["metadata"]["pagination"]["total_count"], 3, "{list}");
    let mut kept = integration_tests::item_ids(&list);
    kept.sort();
    renders.sort();
    assert_eq!(kept, renders, "the same History entries");
    let got = second.client(Some(DEFAULT_TOKEN)).get(&format!("/v1/template/{template}")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["name"], "Kept letter");
    assert_eq!(got.json()["html"], SEED_TEMPLATE_HTML);
}

#[tokio::test]
async fn history_answered_before_a_sigkill_is_there_after_a_restart_with_either_history_sync() {
    for sync in ["off", "normal"] {
        // arrange
        let data = tempfile::tempdir().unwrap();
        let data_dir = path_arg(data.path());
        let args = ["--addr", "127.0.0.1:0", "--data-dir", &data_dir, "--history-sync", sync];
        let mut first = TapinkProcess::start(args).await;
        let client = first.client(Some(DEFAULT_TOKEN));
        let template = create_template(&client, "Kept letter", SEED_TEMPLATE_HTML).await;
        let mut renders = Vec::new();
        for name in ["Ada", "Grace", "Edsger"] {
            renders.push(generate(&client, &template, seed_params(name)).await.0);
        }

        // act
        integration_tests::kill_hard(&mut first).await;
        let logs_left = log_files(data.path());
        let mut second = TapinkProcess::start(args).await;

        // assert
        let mut kept = integration_tests::item_ids(&admin_history(&second.client(None), "page_size=100").await);
        kept.sort();
        renders.sort();
        assert_eq!(kept, renders, "--history-sync {sync}: every answered request is in History after SIGKILL");
        assert!(!logs_left.is_empty(), "the killed process left its commit log: {logs_left:?}");
        assert!(
            second.stderr().contains("moving History's commit log"),
            "the restart says it moves the log: {}",
            second.stderr()
        );
        assert!(second.terminate().await.success());
        assert_eq!(log_files(data.path()), Vec::<String>::new(), "a clean stop leaves no commit log");
    }
}

/// The files in a data directory's History commit log.
fn log_files(data_dir: &std::path::Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(data_dir.join("history-log")) else { return Vec::new() };
    dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[tokio::test]
async fn history_sync_with_an_unknown_value_is_refused_naming_the_option_and_the_choices() {
    // act
    let (status, _, stderr) =
        run_tapink(["inkit", "--addr", "127.0.0.1:0", "--history-sync", "sometimes"], QUICK_EXIT).await;

    // assert
    assert!(!status.success(), "an unknown --history-sync must stop start-up");
    assert!(stderr.contains("--history-sync") && stderr.contains("sometimes"), "names option and value: {stderr}");
    assert!(stderr.contains("off") && stderr.contains("normal"), "lists the choices: {stderr}");
}

#[tokio::test]
async fn templates_dir_serves_each_html_file_with_the_id_from_its_toml() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let html = "<html><body><p>Dear {{Name}}, your code is {{code}}.</p></body></html>";
    std::fs::write(dir.path().join("cli-letter.html"), html).unwrap();
    std::fs::write(dir.path().join("cli-letter.toml"), "id = \"tmpl_clifixture1\"\n").unwrap();
    let tapink =
        TapinkProcess::start(["--addr", "127.0.0.1:0", "--in-memory", "--templates", &path_arg(dir.path())]).await;
    let client = tapink.client(Some(DEFAULT_TOKEN));

    // act
    let got = client.get("/v1/template/tmpl_clifixture1").await;
    let render = client
        .post(
            "/v1/generate",
            &json!({"template_id": "tmpl_clifixture1", "merge_parameters": {"Name": "Ada", "code": 7}}),
        )
        .await;

    // assert
    assert_eq!(got.status, 200, "{}", got.text());
    let template = got.json();
    assert_eq!(template["id"], "tmpl_clifixture1");
    assert_eq!(template["name"], "cli-letter", "the name defaults to the file name");
    assert_eq!(template["html"], html);
    assert_eq!(template["merge_variables"], json!(["Name", "code"]));
    assert_eq!(render.status, 200, "generating from the file template: {}", render.text());
}

#[tokio::test]
async fn help_shows_an_example_and_the_default_token() {
    // act
    let (status, stdout, stderr) = run_tapink(["inkit", "--help"], QUICK_EXIT).await;

    // assert
    assert!(status.success(), "--help: {status}; stderr: {stderr}");
    assert!(stdout.contains("Examples"), "help has examples: {stdout}");
    assert!(stdout.contains("tapink inkit --addr 127.0.0.1:0"), "help shows a command to copy: {stdout}");
    assert!(stdout.contains(DEFAULT_TOKEN), "help names the default token: {stdout}");
}

#[tokio::test]
async fn missing_templates_dir_is_refused_naming_it_and_the_cause_once() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let missing = path_arg(&dir.path().join("no-such-templates"));

    // act
    let (status, stdout, stderr) =
        run_tapink(["inkit", "--addr", "127.0.0.1:0", "--in-memory", "--templates", &missing], QUICK_EXIT).await;

    // assert
    assert!(!status.success(), "a missing templates directory must stop start-up");
    assert_eq!(stdout, "", "no listening line");
    assert!(stderr.contains(&missing), "stderr names the directory: {stderr}");
    let cause = "No such file or directory";
    assert_eq!(stderr.matches(cause).count(), 1, "the OS error is said once, not repeated as a cause: {stderr}");
}
