//! What every request shares: the engine behind its lock, the settings, the clock, and the open cursors.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use campaign_engine::Engine;
use clock::{Clock, Timestamp};

use crate::channel::Channel;
use crate::config::EngineApiConfig;
use crate::cursors::Cursors;

pub struct ApiState {
    /// The engine. Held only to read or change it in memory (and append to its journal), never across an
    /// `.await`.
    engine: Arc<Mutex<Engine>>,
    pub config: EngineApiConfig,
    /// The engine's clock, read without its lock: cursor expiry and dry runs.
    clock: Arc<dyn Clock>,
    /// Open query snapshots. Never locked while the engine is: take what is needed from one, then the other.
    cursors: Mutex<Cursors>,
    /// The webhook channel, when the pipeline wires one in.
    pub channel: Option<Arc<dyn Channel>>,
}

impl ApiState {
    pub fn new(engine: Arc<Mutex<Engine>>, config: EngineApiConfig) -> Self {
        let clock = lock(&engine).clock().clone();
        let cursors = Mutex::new(Cursors::new(config.cursor_ttl, config.max_cursors));
        Self { engine, config, clock, cursors, channel: None }
    }

    pub fn with_channel(mut self, channel: Option<Arc<dyn Channel>>) -> Self {
        self.channel = channel;
        self
    }

    /// The engine, locked. A panic elsewhere while it was held does not take the API down: the engine's
    /// changes are validated before they start, so what it holds is still whole.
    pub fn engine(&self) -> MutexGuard<'_, Engine> {
        lock(&self.engine)
    }

    pub fn cursors(&self) -> MutexGuard<'_, Cursors> {
        lock(&self.cursors)
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
