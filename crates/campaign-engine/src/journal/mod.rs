//! The engine's journal: an append-only log of every change the engine accepted (an upload, a deletion, …),
//! written before the change is applied and answered, and replayed in order to rebuild the engine when it
//! opens. Two backends, each in a file named for it: `memory.rs` (the log in RAM, for `--in-memory` and
//! tests) and `sqlite.rs` (`engine.sqlite3` in the data directory).
//!
//! An entry is `(kind, at, body)`: `kind` names the operation (`"upload"`, `"delete"`), `at` is the engine's
//! `now` when it was accepted (replay applies it with that same `now`, so defaults taken from the clock come
//! out identical), and `body` is the operation's input as JSON.

mod memory;
mod sqlite;

use clock::Timestamp;
use serde_json::Value;

pub use memory::MemoryJournal;
pub use sqlite::{FILE_NAME, SqliteJournal};

/// Where the engine's accepted changes are kept, in the order they were accepted.
pub trait Journal: Send {
    /// Appends one entry. When this returns `Ok`, the entry is kept (for the SQLite backend: committed, so it
    /// survives a crash of the process); when it returns an error, nothing was kept.
    fn append(&mut self, kind: &str, at: Timestamp, body: &Value) -> Result<(), JournalError>;

    /// Calls `apply` with every entry, oldest first. Stops at the first error, from reading or from `apply`.
    fn replay(
        &mut self,
        apply: &mut dyn FnMut(&str, Timestamp, Value) -> Result<(), JournalError>,
    ) -> Result<(), JournalError>;
}

/// Why the journal could not keep or give back an entry, named for what the caller can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// The journal's file cannot be opened: a permission, a full disk, another process holding it, or a file of
    /// another layout. Nothing was read; fix the cause or choose another data directory.
    #[error("cannot open the engine journal {path}: {message}")]
    Open { path: String, message: String },
    /// An entry could not be written; nothing of it was kept, so the change was not applied. Retry later.
    #[error("cannot write to the engine journal: {0}")]
    Write(String),
    /// The journal could not be read back.
    #[error("cannot read the engine journal: {0}")]
    Read(String),
    /// Entry `seq` (1-based, in append order) is not one the engine can apply: written by another version,
    /// or damaged. The engine does not open rather than silently lose it.
    #[error("engine journal entry {seq} cannot be replayed: {message}")]
    Corrupt { seq: u64, message: String },
}

#[cfg(test)]
mod restart_tests;
#[cfg(test)]
mod tests;
