//! The SQLite backend: one file, `history.sqlite3` in the data directory, in WAL mode.
//!
//! Each record is a JSON document keyed by kind and id, so the schema does not change when a field is
//! added. `synchronous = NORMAL` in WAL mode keeps every committed transaction through a crash of the
//! process (what "an answered request is in History" needs); only a power cut can lose the last commits.

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
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS records (
                 kind TEXT NOT NULL,
                 id   TEXT NOT NULL,
                 seq  INTEGER NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (kind, id)
             ) WITHOUT ROWID;",
        )
        .map_err(open_err)?;
        Ok(Self { conn })
    }

    fn load_kind<T: serde::de::DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Read(e.to_string());
        let mut stmt =
            self.conn.prepare("SELECT id, body FROM records WHERE kind = ?1 ORDER BY seq, id").map_err(read)?;
        let rows =
            stmt.query_map([kind], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))).map_err(read)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(read)?;
            let value = serde_json::from_str(&body)
                .map_err(|e| StoreError::Read(format!("{kind} {id} is not readable: {e}")))?;
            out.push(value);
        }
        Ok(out)
    }
}

impl Backend for SqliteBackend {
    fn is_durable(&self) -> bool {
        true
    }

    fn load(&mut self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot {
            templates: self.load_kind("template")?,
            entries: self.load_kind("entry")?,
            batches: self.load_kind("batch")?,
        })
    }

    fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let write = |e: rusqlite::Error| StoreError::Write(e.to_string());
        let tx = self.conn.transaction().map_err(write)?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT OR REPLACE INTO records (kind, id, seq, body) VALUES (?1, ?2, ?3, ?4)")
                .map_err(write)?;
            for record in records {
                let body = match record {
                    Record::Template(t) => serde_json::to_string(t),
                    Record::Entry(e) => serde_json::to_string(e),
                    Record::Batch(b) => serde_json::to_string(b),
                }
                .map_err(|e| StoreError::Write(e.to_string()))?;
                let (kind, id, seq) = record.key();
                stmt.execute(params![kind, id, seq as i64, body]).map_err(write)?;
            }
        }
        tx.commit().map_err(write)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM records", []).map(|_| ()).map_err(|e| StoreError::Write(e.to_string()))
    }
}
