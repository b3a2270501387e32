//! Starting inkit-mock for a test: in-process on a loopback port, with a clock the test controls.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use clock::{Clock, ManualClock, Timestamp};
use inkit_mock::{Inkit, MockConfig};

use crate::Client;
use crate::server_task::ServerTask;

/// The template body of the seed's walkthrough: the three merge fields its webhook sends.
pub const SEED_TEMPLATE_HTML: &str = "<html><body><h1>Hello {{Name}}</h1><p>Email: {{email}}</p>\
<p>Phone: {{phone number}}</p></body></html>";

/// A running mock. Dropping it stops the server without waiting; `stop` waits for a clean shutdown.
pub struct MockServer {
    pub url: String,
    pub inkit: Arc<Inkit>,
    /// The mock's clock: advance it to complete renders (processing delay) without sleeping.
    pub clock: Arc<ManualClock>,
    server: ServerTask,
}

impl MockServer {
    /// In memory, default token `tapink-inkit-token`, 1 s processing delay on the test's clock.
    pub async fn start() -> Self {
        Self::start_with(MockConfig { processing_delay: std::time::Duration::from_secs(1), ..MockConfig::default() })
            .await
    }

    /// In memory with the repository's seed templates: an Inkit outside a pipeline, whose address outlives
    /// the pipeline's restarts.
    pub async fn with_seed_templates() -> Self {
        Self::start_with(MockConfig {
            templates_dir: Some(crate::fixtures().join("templates")),
            ..MockConfig::default()
        })
        .await
    }

    pub async fn start_with(config: MockConfig) -> Self {
        let start: Timestamp = "2026-11-27T09:00:00Z".parse().expect("valid time");
        let clock = Arc::new(ManualClock::new(start));
        let inkit = Inkit::open(config, clock.clone() as Arc<dyn Clock>).expect("inkit-mock starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let served = inkit.clone();
        let server = ServerTask::spawn(move |stop| {
            inkit_mock::serve(listener, served, async move {
                let _ = stop.await;
            })
        });
        Self { url, inkit, clock, server }
    }

    /// A client with the default token.
    pub fn client(&self) -> Client {
        Client::new(&self.url, Some(inkit_mock::DEFAULT_TOKEN))
    }

    /// Moves the mock's clock forward, e.g. past the processing delay.
    pub fn advance(&self, by: std::time::Duration) {
        self.clock.advance(by);
    }

    /// Stops accepting, waits for in-flight requests, and returns once the server has finished.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// The `tapink` binary, built once per test run if needed (`cargo test` builds test targets, not always
/// the binary itself).
pub fn tapink_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "--quiet", "-p", "tapink", "--bin", "tapink"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("running cargo build for the tapink binary");
            assert!(status.success(), "cargo build -p tapink failed");
            // tests/ is a member of the workspace, so the binary lands in the workspace's target directory.
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
            target.join("debug").join(format!("tapink{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

/// Creates an HTML template through the API (as the SDKs do: `file` base64-encoded) and returns its id.
pub async fn create_template(client: &Client, name: &str, html: &str) -> String {
    use base64::Engine;
    let file = base64::engine::general_purpose::STANDARD.encode(html);
    let reply = client
        .post(
            "/v1/template",
            &serde_json::json!({"name": name, "source": "html", "file": file,
                                "data": {"width": 8.5, "height": 11, "unit": "in"}}),
        )
        .await;
    assert_eq!(reply.status, 200, "creating template: {}", reply.text());
    reply.json()["id"].as_str().expect("template id").to_owned()
}
