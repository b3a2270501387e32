//! `tapink engine` as users run it: the real binary in a child process, fixture files loaded before it listens
//! (with each refused record named by its line), its one listening line, data kept in `--data-dir` across a
//! SIGTERM and a restart, and a bad `--load` file refused naming its line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE};
use integration_tests::{EngineClient, Export, TapinkProcess, assert_clevertap_error, run_tapink};
use serde_json::json;

/// How long a command that should fail at start-up may take.
const QUICK_EXIT: Duration = Duration::from_secs(10);

fn seed_users() -> String {
    path_arg(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/profiles/seed-users.json"))
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("paths are UTF-8").to_owned()
}

fn client(tapink: &TapinkProcess) -> EngineClient {
    EngineClient::new(&tapink.url, Some((DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE)))
}

#[tokio::test]
async fn loads_the_seed_users_prints_one_listening_line_and_serves_them() {
    // arrange
    let seed = seed_users();
    let mut tapink = TapinkProcess::start_engine(["--in-memory", "--addr", "127.0.0.1:0", "--load", &seed]).await;
    let client = client(&tapink);

    // act
    let ada = client.profile("email=ada@example.com").await;
    let charged =
        client.count(Export::Events, &json!({"event_name": "Charged", "from": 20261101, "to": 20261130})).await;
    let everyone = client.walk_get(Export::Profiles, &json!({}), 2).await;
    let status = tapink.terminate().await;

    // assert
    assert_eq!(tapink.preamble, [format!("loaded {seed}: 8 processed, 0 unprocessed")]);
    let port = tapink
        .first_line
        .strip_prefix("engine-api listening on http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix('\n'))
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("listening line: {:?}", tapink.first_line));
    assert_ne!(port, 0, "the printed port is the one picked");
    assert_eq!(ada.status, 200, "{}", ada.text());
    let record = &ada.json()["record"];
    assert_eq!((record["name"].as_str(), record["phone"].as_str()), (Some("Ada Lovelace"), Some("+14155550100")));
    assert_eq!(record["profileData"]["City"], "London");
    assert_eq!(record["events"]["Charged"]["count"], 1);
    assert_eq!(charged, 2);
    assert_eq!(everyone.records.len(), 5);
    assert!(status.success(), "exit after SIGTERM: {status}; stderr:\n{}", tapink.stderr());
    assert_eq!(tapink.rest_of_stdout().await, "", "nothing printed after the listening line");
}

#[tokio::test]
async fn refused_records_of_a_load_file_are_printed_with_their_line_and_the_rest_served() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    std::fs::write(
        &file,
        "# two users, one broken\n\
         {\"type\": \"profile\", \"identity\": \"u1\", \"profileData\": {\"Email\": \"u1@example.com\"}}\n\
         \n\
         {\"type\": \"profile\", \"identity\": \"u2\", \"profileData\": {\"Email\": \"broken\"}}\n",
    )
    .unwrap();
    let file = path_arg(&file);

    // act
    let tapink = TapinkProcess::start_engine(["--in-memory", "--addr", "127.0.0.1:0", "--load", &file]).await;
    let u1 = client(&tapink).profile("identity=u1").await;
    let u2 = client(&tapink).profile("identity=u2").await;

    // assert
    assert_eq!(
        tapink.preamble,
        [
            format!("loaded {file}: 1 processed, 1 unprocessed"),
            "  line 4: Profile data is incorrect. Email is not valid. (code 515)".to_owned(),
        ]
    );
    assert_eq!(u1.status, 200);
    assert_eq!(assert_clevertap_error(&u2, 404), "No user profile with identity u2");
}

#[tokio::test]
async fn data_in_the_data_dir_survives_sigterm_and_a_restart() {
    // arrange: load the seed, upload more, delete one user
    let dir = tempfile::tempdir().unwrap();
    let data = path_arg(&dir.path().join("data"));
    let seed = seed_users();
    let mut first = TapinkProcess::start_engine(["--data-dir", &data, "--addr", "127.0.0.1:0", "--load", &seed]).await;
    let client_one = client(&first);
    client_one
        .upload_ok(json!([{"type": "event", "identity": "grace-1906", "evtName": "Charged",
                           "evtData": {"Amount": 7, "Items": [{"Category": "books"}]}}]))
        .await;
    let deleted = client_one.post("/1/delete/profiles.json", &json!({"identity": ["edsger-1930"]})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let grace_before = client_one.profile("identity=grace-1906").await.json();

    // act
    let status = first.terminate().await;
    let second = TapinkProcess::start_engine(["--data-dir", &data, "--addr", "127.0.0.1:0"]).await;
    let client_two = client(&second);

    // assert
    assert!(status.success(), "exit after SIGTERM: {status}; stderr:\n{}", first.stderr());
    assert!(second.preamble.is_empty(), "{:?}", second.preamble);
    assert!(dir.path().join("data/engine.sqlite3").exists());
    assert_eq!(client_two.profile("identity=grace-1906").await.json(), grace_before, "the same profile, events too");
    assert_eq!(client_two.profile("identity=edsger-1930").await.status, 404, "still deleted");
    assert_eq!(client_two.count(Export::Profiles, &json!({})).await, 4);
    let charged = json!({"event_name": "Charged", "from": 20200101, "to": 20991231});
    assert_eq!(client_two.count(Export::Events, &charged).await, 3);
}

#[tokio::test]
async fn a_load_file_that_does_not_parse_fails_naming_the_file_and_line() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.jsonl");
    std::fs::write(
        &file,
        "{\"type\": \"profile\", \"identity\": \"u1\", \"profileData\": {}}\n\n{\"type\": \"event\",,}\n",
    )
    .unwrap();
    let file = path_arg(&file);

    // act
    let (status, stdout, stderr) =
        run_tapink(["engine", "--in-memory", "--addr", "127.0.0.1:0", "--load", &file], QUICK_EXIT).await;

    // assert
    assert!(!status.success(), "tapink started with a broken file; stdout: {stdout}");
    assert!(stderr.contains(&format!("{file}: line 3, column 18: key must be a string")), "stderr: {stderr}");
    assert!(!stdout.contains("listening"), "no listening line: {stdout}");
}

#[tokio::test]
async fn a_load_file_that_is_missing_fails_naming_it() {
    let (status, stdout, stderr) =
        run_tapink(["engine", "--in-memory", "--addr", "127.0.0.1:0", "--load", "/nonexistent/users.json"], QUICK_EXIT)
            .await;
    assert!(!status.success());
    assert!(stderr.contains("cannot read /nonexistent/users.json"), "stderr: {stderr}");
    assert_eq!(stdout, "");
}
