//! Phase `mock`: how fast inkit-mock writes History under load. A real inkit-mock with its History in
//! SQLite (a temporary data directory) takes `POST /v1/generate` with the seed's body rendered for synthetic
//! users over 32 keep-alive loopback connections; before it, the machine's ceiling (`inkit_mock::ceiling`, a
//! bare hyper server that only parses the JSON) takes the same load in the same run. Reported: requests/s of
//! both and their ratio (target: 0.7), server CPU per request of both (which moves far less with load), and
//! whether every request answered 2xx is in History.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http::{HeaderName, HeaderValue, header};
use inkit_mock::{Inkit, MockConfig, Storage};
use webhook_dispatcher::client::HttpClient;

use super::BenchArgs;
use super::cpu::ThreadCpu;
use super::http_load::{Load, Target, drive};
use super::outcome::{Outcome, verdict};
use super::synthetic_bodies::rendered;
use crate::number_format::group;

/// Connections kept busy, as `bench/inkit-generate.sh` has wrk keep them.
pub const CONNECTIONS: usize = 32;
/// The target, from the mock's issue: at least this share of the ceiling's requests/s.
pub const TARGET_SHARE: f64 = 0.7;
/// Distinct bodies sent in turn.
const BODIES: u64 = 1_000;

/// The server threads commit History themselves (`inkit_mock::store::writer`), so their CPU is the mock's.
const THREADS: [(&str, &str); 2] = [("ceiling", "ceiling"), ("inkit-mock-", "inkit-mock server")];

pub async fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir().context("a temporary data directory")?;
    let config = MockConfig { storage: Storage::DataDir(dir.path().join("inkit")), ..MockConfig::default() };
    let server_threads = config.server_threads;
    let inkit = Inkit::open(config, clock::system()).context("starting inkit-mock")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mock_addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(inkit_mock::serve(listener, inkit.clone(), async move {
        let _ = stopped.await;
    }));
    let template_id =
        crate::seed::create_template(&HttpClient::new(), &format!("http://{mock_addr}"), inkit_mock::DEFAULT_TOKEN)
            .await?;
    let bodies = Arc::new(rendered(BODIES, args.seed, &template_id)?);
    let duration = Duration::from_secs(args.seconds);

    let ceiling_addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let ceiling = Ceiling::start(ceiling_addr, server_threads)?;
    let target = |addr| Target {
        addr,
        path: "/v1/generate",
        headers: vec![
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (HeaderName::from_static("x-inkit-api-token"), HeaderValue::from_static(inkit_mock::DEFAULT_TOKEN)),
        ],
        bodies: bodies.clone(),
    };
    let before = ThreadCpu::read(&THREADS);
    let bare = drive(&target(ceiling.addr), CONNECTIONS, duration, "ceiling").await;
    let after = ThreadCpu::read(&THREADS);
    let ceiling_cpu = after.since(&before, "ceiling");
    ceiling.stop();

    let before = ThreadCpu::read(&THREADS);
    let mock = drive(&target(mock_addr), CONNECTIONS, duration, "inkit-mock").await;
    let after = ThreadCpu::read(&THREADS);
    let mock_cpu = after.since(&before, "inkit-mock server");
    let stored = inkit.entry_count() as u64;
    let _ = stop.send(());
    let _ = server.await;

    let mut out = Outcome::default();
    let share = mock.per_second() / bare.per_second().max(1e-9);
    let per_request = |cpu: f64, load: &Load| cpu * 1e6 / (load.ok + load.not_ok).max(1) as f64;
    out.row("inkit-mock, SQLite History", format!("{} req/s", group(mock.per_second() as u64)));
    out.row("bare hyper ceiling, same run", format!("{} req/s", group(bare.per_second() as u64)));
    out.row_against(
        "mock / ceiling",
        format!("{share:.2}"),
        verdict(&format!("≥ {TARGET_SHARE} of the ceiling"), share >= TARGET_SHARE),
    );
    out.row(
        "server CPU per request: mock / ceiling",
        format!("{:.1} / {:.1} µs", per_request(mock_cpu, &mock), per_request(ceiling_cpu, &bare)),
    );
    out.row_against(
        "every 2xx in History",
        format!("{} ({} of {})", if stored == mock.ok { "yes" } else { "NO" }, group(stored), group(mock.ok)),
        "",
    );
    out.check(stored == mock.ok, format!("mock: {} requests answered 2xx but History holds {stored}", mock.ok));
    out.check(mock.not_ok == 0, format!("mock: {} requests not answered 2xx", mock.not_ok));
    for (name, load) in [("ceiling", &bare), ("mock", &mock)] {
        out.check(
            load.errors == 0,
            format!("{name}: {} connections failed: {}", load.errors, load.first_error.clone().unwrap_or_default()),
        );
    }
    out.set("connections", CONNECTIONS);
    out.set("seconds", args.seconds);
    out.set("requests_per_s", mock.per_second());
    out.set("ceiling_requests_per_s", bare.per_second());
    out.set("share_of_ceiling", share);
    out.set("target_share_of_ceiling", TARGET_SHARE);
    out.set("server_cpu_us_per_request", per_request(mock_cpu, &mock));
    out.set("ceiling_cpu_us_per_request", per_request(ceiling_cpu, &bare));
    out.set("answered_2xx", mock.ok);
    out.set("answered_other", mock.not_ok);
    out.set("history_entries", stored);
    out.set("every_2xx_in_history", stored == mock.ok);
    Ok(out)
}

/// The ceiling server on its own runtime, with as many threads as the mock serves on (threads named
/// `ceiling`, so their CPU time can be told apart).
struct Ceiling {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Ceiling {
    fn start(addr: std::net::SocketAddr, threads: usize) -> anyhow::Result<Ceiling> {
        let listener = std::net::TcpListener::bind(addr).context("the ceiling's listener")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("ceiling")
            .enable_all()
            .build()
            .context("the ceiling's runtime")?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("ceiling".into()).spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        let shutdown = async move {
                            let _ = stopped.await;
                        };
                        if let Err(e) = inkit_mock::ceiling::serve_ceiling(listener, shutdown).await {
                            tracing::error!(error = %e, "the ceiling server stopped");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "the ceiling's listener"),
                }
            });
        })?;
        Ok(Ceiling { addr, stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}
