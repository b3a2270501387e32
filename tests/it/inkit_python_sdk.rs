//! The official Inkit Python SDK (`inkit==1.0.5`) against `tapink inkit`: tests/python/inkit_sdk_check.py
//! drives every SDK resource and must pass every check.

use std::path::PathBuf;
use std::time::Duration;

use integration_tests::{External, TapinkProcess, require_external, run_to_completion};

/// The SDK retries a PDF still in progress for up to 15 × 2 s; the whole script takes seconds when the
/// mock behaves.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test]
async fn official_python_sdk_passes_every_check_against_the_binary() {
    let Some(python) = require_external(External::InkitPythonSdk) else { return };
    // arrange
    let tapink = TapinkProcess::start([
        "--addr",
        "127.0.0.1:0",
        "--in-memory",
        "--token",
        "py=secret-token",
        "--processing-delay-ms",
        "300",
    ])
    .await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python").join("inkit_sdk_check.py");

    // act
    let mut command = tokio::process::Command::new(&python);
    command
        .arg(&script)
        .env("INKIT_BASE_URL", &tapink.url)
        .env("INKIT_TOKEN", "secret-token")
        .env("INKIT_TOKEN_NAME", "py")
        .env("PYTHONUNBUFFERED", "1");
    let (status, stdout, stderr) = run_to_completion(command, SCRIPT_TIMEOUT).await;

    // assert
    let report = format!(
        "{} exited {status}\n--- stdout\n{stdout}--- stderr\n{stderr}--- mock stderr\n{}",
        script.display(),
        tapink.stderr()
    );
    assert!(status.success(), "{report}");
    let last = stdout.lines().last().unwrap_or_default();
    let passed = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("last line {last:?} is not `N passed, 0 failed`\n{report}"));
    assert!(passed >= 20, "only {passed} checks ran\n{report}");
}
