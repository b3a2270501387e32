//! `tapink preview`: a webhook body rendered for a profile by the real binary, and its errors.

use std::time::Duration;

use integration_tests::run_tapink;
use serde_json::{Value, json};

const SEED_BODY: &str = "../fixtures/bodies/seed.json";

async fn preview(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["preview"];
    all.extend_from_slice(args);
    let (status, stdout, stderr) = run_tapink(all, Duration::from_secs(30)).await;
    (status.code().unwrap_or(-1), stdout, stderr)
}

#[tokio::test]
async fn the_seed_body_renders_for_a_profile_with_defaults_and_escaping() {
    // act
    let profile = r#"{"Name": "Ada \"The Countess\" Lovelace", "Email": "ada@example.com"}"#;
    let (code, stdout, stderr) = preview(&["--body", SEED_BODY, "--profile", profile]).await;

    // assert
    assert_eq!(code, 0, "{stderr}");
    let body: Value = serde_json::from_str(&stdout).expect("stdout is the JSON body");
    assert_eq!(
        body["merge_parameters"],
        json!({"Name": "Ada \"The Countess\" Lovelace", "email": "ada@example.com", "phone number": "-"})
    );
}

#[tokio::test]
async fn a_liquid_syntax_error_exits_1_naming_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("bad.json");
    std::fs::write(&body, "{\n  \"a\": \"{{ Profile.name | }}\"\n}").unwrap();
    let (code, stdout, stderr) = preview(&["--body", body.to_str().unwrap(), "--profile", "{}"]).await;
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "nothing rendered: {stdout}");
    assert!(stderr.contains("bad.json") && stderr.contains("line 2 column"), "{stderr}");
}

#[tokio::test]
async fn a_body_that_renders_to_invalid_json_exits_1_with_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("age.json");
    std::fs::write(&body, "{\n  \"age\": {{ Profile.Age }}\n}").unwrap();
    let (code, _, stderr) = preview(&["--body", body.to_str().unwrap(), "--profile", r#"{"Age": "two words"}"#]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("not valid JSON at line 2"), "{stderr}");
}

#[tokio::test]
async fn abort_exits_1_as_liquid_logic_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("abort.json");
    std::fs::write(&body, r#"{% if Profile.Email == blank %}{% abort %}{% endif %}{"e": "{{ Profile.Email }}"}"#)
        .unwrap();
    let (code, _, stderr) = preview(&["--body", body.to_str().unwrap(), "--profile", "{}"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("LiquidLogicAborted"), "{stderr}");
}

#[tokio::test]
async fn event_campaign_and_profile_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("live.txt");
    std::fs::write(
        &body,
        r#"{{ Profile.name }} bought {{ Event["Product name"] }} in campaign {{ Campaign.campaignId }}"#,
    )
    .unwrap();
    let profile = dir.path().join("profile.json");
    std::fs::write(&profile, r#"{"Name": "Ada"}"#).unwrap();
    let (code, stdout, stderr) = preview(&[
        "--body",
        body.to_str().unwrap(),
        "--content-type",
        "text",
        "--profile",
        &format!("@{}", profile.display()),
        "--event",
        r#"{"Product name": "Lamp"}"#,
        "--campaign",
        r#"{"campaignId": 1700000001}"#,
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "Ada bought Lamp in campaign 1700000001\n");
}

#[tokio::test]
async fn a_profile_that_is_not_json_is_refused_naming_the_option_and_position() {
    let (code, _, stderr) = preview(&["--body", SEED_BODY, "--profile", r#"{"Name": "#]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("--profile: invalid JSON at line 1 column 9"), "{stderr}");
    let (code, _, stderr) = preview(&["--body", SEED_BODY, "--profile", "[1]"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("expected a JSON object"), "{stderr}");
}
