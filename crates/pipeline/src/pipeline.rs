//! The running pipeline: inkit-mock serving on loopback, the engine, the dispatcher and the bridge between
//! them. In real time a background loop moves deliveries along as they fall due; in simulated time nothing
//! moves until [`Pipeline::run_until`] steps the clock from one due instant to the next, running what is due
//! at each (real HTTP over loopback included), so the same scenario gives the same result every time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use campaign_engine::Engine;
use campaign_engine::journal::SqliteJournal;
use clock::{Clock, ManualClock, Timestamp};
use inkit_mock::{Inkit, Storage as InkitStorage};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webhook_dispatcher::client::HttpClient;
use webhook_dispatcher::dispatcher::{DispatchError, Dispatcher, StepReport};
use webhook_dispatcher::outbox::{MemoryOutbox, Outbox, SqliteOutbox};

use crate::bridge::{Bridge, EngineSink, SharedEngine, lock, settled_outcomes};
use crate::channel::PipelineChannel;
use crate::config::{PipelineConfig, Storage, TimeMode};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot start inkit-mock: {0}")]
    Inkit(#[from] inkit_mock::StartError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot open the outbox: {0}")]
    Outbox(#[from] webhook_dispatcher::outbox::OutboxError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error("cannot open the engine's journal: {0}")]
    Journal(#[from] campaign_engine::journal::JournalError),
    #[error("cannot set up again what the data directory holds: {0}")]
    Restore(String),
    #[error("the simulation did not settle: still due at {0} after {1} steps")]
    Runaway(Timestamp, usize),
}

/// The parts, running.
pub struct Pipeline {
    pub config: PipelineConfig,
    clock: Arc<dyn Clock>,
    /// Set in simulated time.
    manual: Option<Arc<ManualClock>>,
    pub engine: SharedEngine,
    pub dispatcher: Arc<Dispatcher>,
    pub bridge: Arc<Bridge>,
    /// Outcomes as they settle, with their figures ([`EngineSink::settled`]).
    pub sink: Arc<EngineSink>,
    pub inkit: Arc<Inkit>,
    inkit_addr: SocketAddr,
    engine_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The most steps [`Pipeline::run_until`] takes before it calls the simulation a runaway.
const MAX_STEPS: usize = 1_000_000;

impl Pipeline {
    /// Starts every part on loopback. In real time the dispatcher and the bridge run in the background.
    pub async fn start(config: PipelineConfig) -> Result<Pipeline, PipelineError> {
        let (clock, manual): (Arc<dyn Clock>, Option<Arc<ManualClock>>) = match config.time {
            TimeMode::Real => (clock::system(), None),
            TimeMode::Simulated { start } => {
                let manual = Arc::new(ManualClock::new(start));
                (manual.clone(), Some(manual))
            }
        };
        let mut inkit_config = config.inkit.clone();
        let outbox: Arc<dyn Outbox> = match &config.storage {
            Storage::Memory => {
                inkit_config.storage = InkitStorage::Memory;
                Arc::new(MemoryOutbox::new())
            }
            Storage::DataDir(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|source| PipelineError::DataDir { path: dir.display().to_string(), source })?;
                inkit_config.storage = InkitStorage::DataDir(dir.clone());
                Arc::new(SqliteOutbox::open(dir.join("outbox.sqlite3"))?)
            }
        };
        let inkit = Inkit::open(inkit_config, clock.clone())?;
        let listener = tokio::net::TcpListener::bind(config.inkit_addr)
            .await
            .map_err(|source| PipelineError::Listen { addr: config.inkit_addr, source })?;
        let inkit_addr =
            listener.local_addr().map_err(|source| PipelineError::Listen { addr: config.inkit_addr, source })?;
        let (stop, _) = watch::channel(false);
        let mut tasks = Vec::new();
        let served = inkit.clone();
        let mut until = stop.subscribe();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = until.wait_for(|s| *s).await;
            };
            if let Err(e) = inkit_mock::serve(listener, served, shutdown).await {
                tracing::error!(error = %e, "inkit-mock stopped");
            }
        }));

        let engine = match &config.storage {
            Storage::Memory => Engine::with_account(clock.clone(), config.account.clone()),
            Storage::DataDir(dir) => {
                let journal = SqliteJournal::open_in(dir)?;
                // Outcomes settled before a restart are in the outbox, not the journal: the engine settles
                // them again as it replays, so its reports are those it had (docs/decisions.md).
                let settled = settled_outcomes(outbox.as_ref())?;
                Engine::open_with_account(clock.clone(), config.account.clone(), Box::new(journal), settled)?
            }
        };
        let engine: SharedEngine = Arc::new(std::sync::Mutex::new(engine));
        let sink = Arc::new(EngineSink::new(engine.clone(), clock.clone()));
        let dispatcher = Arc::new(Dispatcher::new(config.dispatcher.clone(), clock.clone(), outbox, sink.clone()));
        let bridge = Arc::new(Bridge::new(engine.clone(), dispatcher.clone()));
        restore_webhooks(&engine, &dispatcher).await?;
        let mut engine_addr = None;
        if let Some((addr, api_config)) = config.engine_api.clone() {
            let listener =
                tokio::net::TcpListener::bind(addr).await.map_err(|source| PipelineError::Listen { addr, source })?;
            engine_addr = Some(listener.local_addr().map_err(|source| PipelineError::Listen { addr, source })?);
            let channel = Arc::new(PipelineChannel {
                clock: clock.clone(),
                dispatcher: dispatcher.clone(),
                bridge: bridge.clone(),
                client: HttpClient::new(),
            });
            let engine = engine.clone();
            let mut until = stop.subscribe();
            tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = until.wait_for(|s| *s).await;
                };
                if let Err(e) =
                    engine_api::serve_with_channel(listener, engine, api_config, Some(channel), shutdown).await
                {
                    tracing::error!(error = %e, "engine-api stopped");
                }
            }));
        }
        let mut pipeline = Pipeline {
            config,
            clock,
            manual,
            engine,
            dispatcher,
            bridge,
            sink,
            inkit,
            inkit_addr,
            engine_addr,
            stop,
            tasks,
        };
        if pipeline.manual.is_none() {
            pipeline.start_background();
        }
        Ok(pipeline)
    }

    /// Real time: the dispatcher's own loop, and a loop that hands the engine's deliveries over as they fall due.
    fn start_background(&mut self) {
        let mut until = self.stop.subscribe();
        let dispatcher = self.dispatcher.clone();
        self.tasks.push(tokio::spawn(async move {
            dispatcher
                .run(async move {
                    let _ = until.wait_for(|s| *s).await;
                })
                .await;
        }));
        let mut until = self.stop.subscribe();
        let bridge = self.bridge.clone();
        let engine = self.engine.clone();
        let clock = self.clock.clone();
        self.tasks.push(tokio::spawn(async move {
            loop {
                if let Err(e) = bridge.pump() {
                    tracing::error!(error = %e, "handing deliveries to the dispatcher failed");
                }
                // Sleep until the engine's next due instant, at most 50 ms (changes made through the library
                // rather than the engine API are seen then), at least 1 ms; the engine API wakes it at once.
                let next = lock(&engine).next_due();
                let wait = next.map(|t| t.duration_since(clock.now()).as_secs_f64().clamp(0.001, 0.05)).unwrap_or(0.05);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
                    () = bridge.changed() => {}
                    _ = until.wait_for(|s| *s) => break,
                }
            }
        }));
    }

    /// The mock Inkit's base URL (`http://127.0.0.1:PORT`).
    pub fn inkit_url(&self) -> String {
        format!("http://{}", self.inkit_addr)
    }

    /// The engine API's base URL, when it is served.
    pub fn engine_url(&self) -> Option<String> {
        self.engine_addr.map(|addr| format!("http://{addr}"))
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Whether time is simulated.
    pub fn is_simulated(&self) -> bool {
        self.manual.is_some()
    }

    /// Simulated time: runs everything due now, then steps the clock to the next due instant (the engine's or
    /// the dispatcher's) and runs that, until nothing is due at or before `until`; the clock ends at `until`.
    /// In real time it only hands over what is due now. Returns the dispatcher's figures for the steps taken.
    pub async fn run_until(&self, until: Timestamp) -> Result<StepReport, PipelineError> {
        let mut total = StepReport::default();
        let Some(manual) = &self.manual else {
            self.bridge.pump()?;
            return Ok(total);
        };
        for _ in 0..MAX_STEPS {
            self.bridge.pump()?;
            let report = self.dispatcher.run_due().await?;
            add(&mut total, &report);
            // Outcomes can make new deliveries (live campaigns on `Webhook Delivered`).
            self.bridge.pump()?;
            let now = self.clock.now();
            let next = [lock(&self.engine).next_due(), self.dispatcher.next_due()].into_iter().flatten().min();
            match next {
                Some(t) if t <= now => continue,
                Some(t) if t <= until => manual.set(t),
                _ => {
                    if until > now {
                        manual.set(until);
                    }
                    return Ok(total);
                }
            }
        }
        Err(PipelineError::Runaway(self.clock.now(), MAX_STEPS))
    }

    /// Stops every part: inkit-mock drains its in-flight requests, the dispatcher stops taking new work.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // Requests still in flight finish and every outcome is in the outbox before the process may end.
        self.dispatcher.close().await;
    }
}

/// Sets the dispatcher up again with the webhooks the engine's journal holds (after a restart), without
/// their test requests.
async fn restore_webhooks(engine: &SharedEngine, dispatcher: &Dispatcher) -> Result<(), PipelineError> {
    let definitions: Vec<(String, serde_json::Value)> = {
        let engine = lock(engine);
        engine
            .webhooks()
            .filter_map(|name| {
                engine.webhook_definition(name).filter(|d| !d.is_null()).map(|d| (name.to_owned(), d.clone()))
            })
            .collect()
    };
    for (name, definition) in definitions {
        let spec =
            serde_json::from_value(definition).map_err(|e| PipelineError::Restore(format!("webhook {name:?}: {e}")))?;
        crate::setup::create_webhook(dispatcher, spec, false)
            .await
            .map_err(|e| PipelineError::Restore(format!("webhook {name:?}: {e}")))?;
    }
    Ok(())
}

fn add(total: &mut StepReport, step: &StepReport) {
    total.sent += step.sent;
    total.delivered += step.delivered;
    total.retrying += step.retrying;
    total.dead_letters += step.dead_letters;
    total.not_sent += step.not_sent;
    total.throttled += step.throttled;
}
