//! The SQLite backend: one file, `history.sqlite3` in the data directory, in WAL mode.
//!
//! The table is an append-only log of JSON records: a change to an entry (a delete) appends a newer copy,
//! and loading keeps the last copy of each id. Appending in rowid order keeps inserts at the end of the
//! B-tree, which is what lets the writer keep up with tens of thousands of requests a second; the schema
//! does not change when a field is added. `synchronous = NORMAL` in WAL mode keeps every committed
//! transaction through a crash of the process (what "an answered request is in History" needs); only a
//! power cut can lose the last commits. The file is opened in exclusive locking mode: only this process
//! uses it, and skipping the per-transaction file locks is a large part of a small commit's cost.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, params};

use super::{Backend, Record, Snapshot, StoreError};

pub struct SqliteBackend {
    conn: Connection,
}

impl SqliteBackend {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err =
            |e: rusqlite::Error| StoreError::Open { path: path.display().to_string(), message: e.to_string() };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS record_log (
                 seq  INTEGER PRIMARY KEY,
                 kind TEXT NOT NULL,
                 id   TEXT NOT NULL,
                 body TEXT NOT NULL
             );",
        )
        .map_err(open_err)?;
        Ok(Self { conn })
    }
}

impl Backend for SqliteBackend {
    fn is_durable(&self) -> bool {
        true
    }

    fn load(&mut self) -> Result<Snapshot, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Read(e.to_string());
        let mut stmt = self.conn.prepare("SELECT kind, id, body FROM record_log ORDER BY seq").map_err(read)?;
        let mut rows = stmt.query([]).map_err(read)?;
        // Position of each (kind, id) in `latest`, so a later copy replaces the earlier one in place and
        // the order of first appearance is kept.
        let mut position: HashMap<(String, String), usize> = HashMap::new();
        let mut latest: Vec<(String, String, String)> = Vec::new();
        while let Some(row) = rows.next().map_err(read)? {
            let (kind, id, body): (String, String, String) =
                (row.get(0).map_err(read)?, row.get(1).map_err(read)?, row.get(2).map_err(read)?);
            match position.get(&(kind.clone(), id.clone())) {
                Some(&i) => latest[i].2 = body,
                None => {
                    position.insert((kind.clone(), id.clone()), latest.len());
                    latest.push((kind, id, body));
                }
            }
        }
        let mut snapshot = Snapshot::default();
        for (kind, id, body) in latest {
            let bad = |e: serde_json::Error| StoreError::Read(format!("{kind} {id} is not readable: {e}"));
            match kind.as_str() {
                "template" => snapshot.templates.push(serde_json::from_str(&body).map_err(bad)?),
                "entry" => snapshot.entries.push(serde_json::from_str(&body).map_err(bad)?),
                "batch" => snapshot.batches.push(serde_json::from_str(&body).map_err(bad)?),
                other => return Err(StoreError::Read(format!("unknown record kind {other:?} for {id}"))),
            }
        }
        Ok(snapshot)
    }

    fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let write = |e: rusqlite::Error| StoreError::Write(e.to_string());
        let tx = self.conn.transaction().map_err(write)?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO record_log (kind, id, body) VALUES (?1, ?2, ?3)").map_err(write)?;
            for r in records {
                stmt.execute(params![r.kind.as_str(), r.id, r.body]).map_err(write)?;
            }
        }
        tx.commit().map_err(write)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM record_log", []).map(|_| ()).map_err(|e| StoreError::Write(e.to_string()))
    }
}
