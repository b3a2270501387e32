//! The engine as one value: the store of profiles and events, the clock it reads, the journal it appends every
//! accepted change to, and (as the engine grows) saved segments and campaigns. The engine API and the pipeline
//! hold one `Engine` behind a lock.
//!
//! Every change goes the same way: validate, append to the journal, then apply in memory. A change the journal
//! refuses is not applied, and [`Engine::open`] rebuilds the same engine by applying the journal again.

use std::sync::Arc;

use clock::{Clock, Timestamp};
use serde_json::Value;

use crate::delete::ProfileDeletion;
use crate::ingest::{apply_records, ingest};
use crate::journal::{Journal, JournalError, MemoryJournal};
use crate::store::MemoryStore;
use crate::upload::{UploadError, UploadOutcome, validate_upload};

/// Journal kind of an upload: the `/1/upload` body as sent.
const UPLOAD: &str = "upload";
/// Journal kind of a deletion: a [`ProfileDeletion`] as JSON.
const DELETE: &str = "delete";

pub struct Engine {
    clock: Arc<dyn Clock>,
    store: MemoryStore,
    /// Where each accepted change is appended before it is applied, so [`Engine::open`] can rebuild the engine.
    journal: Box<dyn Journal>,
}

impl Engine {
    /// An engine whose journal is in memory: nothing outlives the process.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Engine { clock, store: MemoryStore::new(), journal: Box::new(MemoryJournal::new()) }
    }

    /// The engine `journal` describes: every entry applied again, in order, at the `now` it was accepted at. The
    /// engine then appends each change it accepts to `journal`. An entry that cannot be applied is an error
    /// rather than skipped, so nothing accepted is silently lost.
    pub fn open(clock: Arc<dyn Clock>, mut journal: Box<dyn Journal>) -> Result<Self, JournalError> {
        let mut engine = Engine::new(clock);
        let mut seq = 0;
        journal.replay(&mut |kind, at, body| {
            seq += 1;
            engine.apply(seq, kind, at, &body)
        })?;
        engine.journal = journal;
        Ok(engine)
    }

    /// The engine's present, from its clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Applies a `/1/upload` body (`{"d": [...]}`) at the clock's now, as CleverTap answers it. An upload with at
    /// least one valid record is journaled first; when that fails, nothing is applied
    /// ([`UploadError::NotStored`]).
    pub fn upload(&mut self, body: &Value) -> Result<UploadOutcome, UploadError> {
        let now = self.now();
        let validated = validate_upload(body, now)?;
        if validated.outcome.processed > 0 {
            self.journal_mut().append(UPLOAD, now, body).map_err(UploadError::NotStored)?;
        }
        apply_records(&mut self.store, validated.records, now);
        Ok(validated.outcome)
    }

    /// Deletes the users `deletion` names, with their events; returns how many were found and deleted. Journaled
    /// first (when it finds anyone), so a restart keeps them deleted.
    pub fn delete_profiles(&mut self, deletion: &ProfileDeletion) -> Result<usize, JournalError> {
        let found = deletion.object_ids(&self.store);
        if found.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        self.journal_mut().append(DELETE, now, &deletion.to_json())?;
        Ok(self.store.delete_profiles(&found))
    }

    /// Profiles and events, for queries.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// The journal, for other kinds of change to append to before they apply themselves (and to be replayed
    /// by [`Engine::apply`]).
    pub(crate) fn journal_mut(&mut self) -> &mut dyn Journal {
        self.journal.as_mut()
    }

    /// Applies journal entry `seq` again, while opening.
    fn apply(&mut self, seq: u64, kind: &str, at: Timestamp, body: &Value) -> Result<(), JournalError> {
        let corrupt = |message: String| JournalError::Corrupt { seq, message };
        match kind {
            UPLOAD => {
                ingest(&mut self.store, body, at).map_err(|e| corrupt(e.to_string()))?;
            }
            DELETE => {
                let deletion = ProfileDeletion::parse(body).map_err(|e| corrupt(e.to_string()))?;
                let found = deletion.object_ids(&self.store);
                self.store.delete_profiles(&found);
            }
            other => return Err(corrupt(format!("unknown kind {other:?}"))),
        }
        Ok(())
    }
}
