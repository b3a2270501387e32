//! The engine as one value: the store of profiles and events, the clock it reads, and (as the engine grows)
//! saved segments and campaigns. The engine API and the pipeline hold one `Engine` behind a lock.

use std::sync::Arc;

use clock::{Clock, Timestamp};
use serde_json::Value;

use crate::ingest::ingest;
use crate::store::MemoryStore;
use crate::upload::{UploadError, UploadOutcome};

pub struct Engine {
    clock: Arc<dyn Clock>,
    store: MemoryStore,
}

impl Engine {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Engine { clock, store: MemoryStore::new() }
    }

    /// The engine's present, from its clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Applies a `/1/upload` body (`{"d": [...]}`) at the clock's now, as CleverTap answers it.
    pub fn upload(&mut self, body: &Value) -> Result<UploadOutcome, UploadError> {
        let now = self.now();
        ingest(&mut self.store, body, now)
    }

    /// Profiles and events, for queries.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }
}
