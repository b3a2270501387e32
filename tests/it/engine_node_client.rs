//! CleverTap's official Node library (`clevertap@1.3.0`) against the engine API: tests/node/clevertap_check.js
//! points the library at an in-process server (only the endpoint changed) and runs upload, profile, profiles
//! (several pages), events, getProfilesCount, getEventsCount, targets CREATE / ESTIMATE / LIST / RESULT / STOP
//! (after making the webhook with a plain POST to /tapink/v1/webhooks) and delete; every check must pass.

use std::path::PathBuf;
use std::time::Duration;

use engine_api::EngineApiConfig;
use integration_tests::{EngineServer, External, require_external, run_to_completion};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_official_node_library_passes_every_check() {
    let Some(node) = require_external(External::NodeClevertap) else { return };
    // arrange
    let config =
        EngineApiConfig { accounts: vec!["NODE-CHECK=node-secret".parse().unwrap()], ..EngineApiConfig::default() };
    let server = EngineServer::start_with(config).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node").join("clevertap_check.js");

    // act
    let mut command = tokio::process::Command::new(&node);
    command.arg(&script).args([&server.url, "NODE-CHECK", "node-secret"]);
    let (status, stdout, stderr) = run_to_completion(command, SCRIPT_TIMEOUT).await;

    // assert
    let report = format!("{} exited {status}\n--- stdout\n{stdout}--- stderr\n{stderr}", script.display());
    assert!(status.success(), "{report}");
    let last = stdout.lines().last().unwrap_or_default();
    let passed = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("last line {last:?} is not `N passed, 0 failed`\n{report}"));
    assert!(passed >= 21, "only {passed} checks ran\n{report}");
    let engine = server.engine();
    assert_eq!(engine.store().profile_count(), 3, "the script leaves 3 of its 4 users\n{report}");
    let campaigns: Vec<(String, &str)> =
        engine.campaigns().map(|c| (c.name.clone(), engine.status(c.id).map_or("?", |s| s.label()))).collect();
    assert_eq!(
        campaigns,
        [("Node letter".to_owned(), "Completed"), ("Node later".to_owned(), "Stopped")],
        "the estimate saved nothing\n{report}"
    );
}
