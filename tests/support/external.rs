//! Optional external tools. Tests that need one run it when it is here; when it is not, they say so and
//! pass, unless `TAPINK_REQUIRE_EXTERNAL=1` (set by `.ci/run`, which installs them), where a missing tool is
//! a failure. So the README's test command works on a machine with only Rust, and CI runs everything.

use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Clone, Copy)]
pub enum External {
    /// Headless Chromium (Debian package `chromium`), or `TAPINK_CHROMIUM`.
    Chromium,
    /// A Python with `inkit==1.0.5` importable: `TAPINK_PYTHON`, else `python3`.
    InkitPythonSdk,
    /// Node (`TAPINK_NODE`, else `node`) and CleverTap's Node library installed in `tests/node/node_modules`
    /// (`npm ci --prefix tests/node`).
    NodeClevertap,
}

/// The tool's executable, or `None` (after printing why) when the test should be skipped. Panics when
/// the tool is missing and `TAPINK_REQUIRE_EXTERNAL=1`.
pub fn require_external(tool: External) -> Option<PathBuf> {
    let found = match tool {
        External::Chromium => std::env::var_os("TAPINK_CHROMIUM").map(PathBuf::from).or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists())
        }),
        External::InkitPythonSdk => {
            let python = std::env::var_os("TAPINK_PYTHON").map(PathBuf::from).unwrap_or_else(|| "python3".into());
            let ok = Command::new(&python).args(["-c", "import inkit"]).output().is_ok_and(|o| o.status.success());
            ok.then_some(python)
        }
        External::NodeClevertap => {
            let node = std::env::var_os("TAPINK_NODE").map(PathBuf::from).unwrap_or_else(|| "node".into());
            let library = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node/node_modules/clevertap/package.json");
            let ok =
                library.exists() && Command::new(&node).arg("--version").output().is_ok_and(|o| o.status.success());
            ok.then_some(node)
        }
    };
    if found.is_none() {
        let what = match tool {
            External::Chromium => "Chromium (apt-get install chromium, or set TAPINK_CHROMIUM)",
            External::InkitPythonSdk => {
                "Python with inkit==1.0.5 (pip install -r tests/python/requirements.txt, or set TAPINK_PYTHON)"
            }
            External::NodeClevertap => {
                "Node with clevertap@1.3.0 (npm ci --prefix tests/node; set TAPINK_NODE for another node)"
            }
        };
        if std::env::var("TAPINK_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1") {
            panic!("TAPINK_REQUIRE_EXTERNAL=1 but {what} is not available");
        }
        eprintln!("NOT RUN: this test needs {what}; .ci/run installs it");
    }
    found
}
