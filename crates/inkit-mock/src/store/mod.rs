//! Durable storage of templates, History entries and batches: a backend trait with a memory and a SQLite
//! implementation, and a writer that commits many requests' records at once on each server thread.
//!
//! Queries never go to the backend: the whole History is indexed in memory (`crate::state`), and the
//! backend's job is to make every answered request survive a restart. It is written before the client gets
//! its 2xx, and read once at start-up.

mod commit_log;
mod entry_json;
mod ingest;
mod memory;
mod sqlite;
#[cfg(test)]
pub(crate) mod test_backend;
pub(crate) mod time;
mod writer;

pub(crate) use entry_json::string as write_json_string;
pub use memory::MemoryBackend;
pub use sqlite::SqliteBackend;
pub use writer::{AfterCommit, Writer};

use std::sync::Arc;

use serde::Serialize;

use crate::batch::Batch;
use crate::history::HistoryEntry;
use crate::template::Template;

/// One stored thing, already serialised.
/// A later record with the same kind and id replaces an earlier one.
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: RecordKind,
    pub id: Arc<str>,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Template,
    Entry,
    Batch,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Template => "template",
            RecordKind::Entry => "entry",
            RecordKind::Batch => "batch",
        }
    }
}

impl Record {
    fn new(kind: RecordKind, id: &str, value: &impl Serialize) -> Self {
        // Our types always serialise: every map key is a string and no custom Serialize can fail.
        let body = serde_json::to_string(value).expect("records serialise to JSON");
        Record { kind, id: id.into(), body }
    }

    pub fn template(t: &Template) -> Self {
        Self::new(RecordKind::Template, &t.id, t)
    }

    pub fn entry(e: &HistoryEntry) -> Self {
        // Written by hand: the same bytes as `Self::new`, for the record every request stores.
        let mut body = String::with_capacity(512);
        entry_json::write(e, &mut body);
        Record { kind: RecordKind::Entry, id: e.id.clone(), body }
    }

    pub fn batch(b: &Batch) -> Self {
        Self::new(RecordKind::Batch, &b.id, b)
    }
}

/// Everything a backend holds, each in the order it was first written.
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
pub trait Backend: Send + Sync + 'static {
    /// Whether records survive the process; the memory backend's do not, so it needs no writer and no
    /// serialised records.
    fn is_durable(&self) -> bool;
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// A writer for one thread's commits; writers do not wait for each other.
    fn appender(&self) -> Result<Box<dyn Appender>, StoreError>;
    /// Gets ready to forget everything (the admin reset), waiting for whatever it must wait for, and returns
    /// the forgetting itself: the caller runs it while no appender writes, so it should be quick.
    fn clear(&self) -> Result<ClearNow<'_>, StoreError>;
}

/// The moment of a reset, made ready by [`Backend::clear`].
pub type ClearNow<'a> = Box<dyn FnOnce() -> Result<(), StoreError> + 'a>;

/// One thread's way into a backend.
pub trait Appender: Send {
    /// Writes all records atomically: all are stored or none is. Once it returns, they survive a crash of
    /// the process.
    fn write(&mut self, records: &[Record]) -> Result<(), StoreError>;
}
