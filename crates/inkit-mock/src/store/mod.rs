//! Durable storage of templates, History entries and batches: a backend trait with a memory and a SQLite
//! implementation, and a writer that commits many requests' records in one transaction.
//!
//! Queries never go to the backend: the whole History is indexed in memory (`crate::state`), and the
//! backend's job is to make every answered request survive a restart. It is written before the client gets
//! its 2xx, and read once at start-up.

mod memory;
mod sqlite;
mod writer;

pub use memory::MemoryBackend;
pub use sqlite::SqliteBackend;
pub use writer::Writer;

use serde::{Deserialize, Serialize};

use crate::batch::Batch;
use crate::history::HistoryEntry;
use crate::template::Template;

/// One stored thing. Writing a record with an id that exists replaces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    Template(Template),
    Entry(HistoryEntry),
    Batch(Batch),
}

impl Record {
    fn key(&self) -> (&'static str, &str, u64) {
        match self {
            Record::Template(t) => ("template", &t.id, 0),
            Record::Entry(e) => ("entry", &e.id, e.seq),
            Record::Batch(b) => ("batch", &b.id, b.seq),
        }
    }
}

/// Everything a backend holds, in the order it was first written.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub templates: Vec<Template>,
    pub entries: Vec<HistoryEntry>,
    pub batches: Vec<Batch>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the History database {path}: {message}")]
    Open { path: String, message: String },
    #[error("cannot write to the History database: {0}")]
    Write(String),
    #[error("cannot read the History database: {0}")]
    Read(String),
    #[error("the History writer has stopped")]
    WriterStopped,
}

/// Where records are kept.
pub trait Backend: Send + 'static {
    /// Whether records survive the process; the memory backend's do not, so it needs no writer thread.
    fn is_durable(&self) -> bool;
    fn load(&mut self) -> Result<Snapshot, StoreError>;
    /// Writes all records atomically: all are stored or none is.
    fn write(&mut self, records: &[Record]) -> Result<(), StoreError>;
    /// Forgets everything (the admin reset).
    fn clear(&mut self) -> Result<(), StoreError>;
}
