//! The official Inkit Python SDK (`inkit==1.0.5`) against `tapink inkit`: tests/python/inkit_sdk_check.py
//! drives every SDK resource and must pass every check.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use integration_tests::{External, TapinkProcess, require_external};

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
    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .env("INKIT_BASE_URL", &tapink.url)
        .env("INKIT_TOKEN", "secret-token")
        .env("INKIT_TOKEN_NAME", "py")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the SDK check script");
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the SDK check did not finish within {SCRIPT_TIMEOUT:?}"))
        .expect("waiting for the SDK check");

    // assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!(
        "{} exited {}\n--- stdout\n{stdout}--- stderr\n{}--- mock stderr\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr),
        tapink.stderr()
    );
    assert!(output.status.success(), "{report}");
    let last = stdout.lines().last().unwrap_or_default();
    let passed = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("last line {last:?} is not `N passed, 0 failed`\n{report}"));
    assert!(passed >= 20, "only {passed} checks ran\n{report}");
}
