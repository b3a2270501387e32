//! The journal in memory: the log kept in a list, for `--in-memory` engines and tests. Clones share the
//! list, so a test can open a second engine from the same log, as a restart would.

use std::sync::{Arc, Mutex, PoisonError};

use clock::Timestamp;
use serde_json::Value;

use super::{Journal, JournalError};

/// A journal that keeps its entries in RAM; gone with the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryJournal {
    entries: Arc<Mutex<Vec<(String, Timestamp, Value)>>>,
}

impl MemoryJournal {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries the journal holds.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Journal for MemoryJournal {
    fn append(&mut self, kind: &str, at: Timestamp, body: &Value) -> Result<(), JournalError> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).push((kind.to_owned(), at, body.clone()));
        Ok(())
    }

    fn replay(
        &mut self,
        apply: &mut dyn FnMut(&str, Timestamp, Value) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        // A copy, so that `apply` runs without the lock held.
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for (kind, at, body) in entries {
            apply(&kind, at, body)?;
        }
        Ok(())
    }
}
