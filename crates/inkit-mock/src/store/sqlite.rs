//! The SQLite backend: one file, `history.sqlite3` in the data directory, in WAL mode.
//!
//! The table is an append-only log: each commit of the writer is one row holding that commit's records,
//! one per line (`kind TAB id TAB json`). A change to an entry (a delete) appends a newer copy, and
//! loading keeps the last copy of each id. One row per commit, appended in rowid order, is what lets a
//! single writer keep up with tens of thousands of requests a second; JSON records mean the schema does
//! not change when a field is added.
//!
//! Every committed transaction survives a crash of the process (what "an answered request is in History"
//! needs) whatever the [`DiskSync`]; by default (`Off`) SQLite never waits for the disk, so a power cut can
//! lose more or damage the file (docs/decisions.md says why that is the default). The file is opened in
//! exclusive locking mode: only this process uses it, and skipping the per-transaction file locks is a large
//! part of a small commit's cost.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;
use sqlite_file::DiskSync;

use super::{Backend, Record, Snapshot, StoreError};

/// The layout this code writes; a file with another is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

pub struct SqliteBackend {
    conn: Connection,
}

impl SqliteBackend {
    pub fn open(path: &Path, sync: DiskSync) -> Result<Self, StoreError> {
        let conn = sqlite_file::open_with(
            path,
            "CREATE TABLE IF NOT EXISTS history_log (seq INTEGER PRIMARY KEY, records TEXT NOT NULL);",
            SCHEMA_VERSION,
            sync,
        )
        .map_err(|message| StoreError::Open { path: path.display().to_string(), message })?;
        Ok(Self { conn })
    }
}

impl Backend for SqliteBackend {
    fn is_durable(&self) -> bool {
        true
    }

    fn load(&mut self) -> Result<Snapshot, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Read(e.to_string());
        let mut stmt = self.conn.prepare("SELECT seq, records FROM history_log ORDER BY seq").map_err(read)?;
        let mut rows = stmt.query([]).map_err(read)?;
        // Position of each (kind, id) in `latest`, so a later copy replaces the earlier one in place and
        // the order of first appearance is kept.
        let mut position: HashMap<(String, String), usize> = HashMap::new();
        let mut latest: Vec<(String, String, String)> = Vec::new();
        while let Some(row) = rows.next().map_err(read)? {
            let seq: i64 = row.get(0).map_err(read)?;
            let text: String = row.get(1).map_err(read)?;
            for line in text.lines() {
                let mut parts = line.splitn(3, '\t');
                let (Some(kind), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
                    return Err(StoreError::Read(format!("commit {seq} holds a line that is not a record")));
                };
                match position.get(&(kind.to_owned(), id.to_owned())) {
                    Some(&i) => latest[i].2 = body.to_owned(),
                    None => {
                        position.insert((kind.to_owned(), id.to_owned()), latest.len());
                        latest.push((kind.to_owned(), id.to_owned(), body.to_owned()));
                    }
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
        let mut text = String::with_capacity(records.iter().map(|r| r.id.len() + r.body.len() + 16).sum());
        for r in records {
            // Compact JSON has no raw line breaks or tabs, and ids are letters and digits.
            text.push_str(r.kind.as_str());
            text.push('\t');
            text.push_str(&r.id);
            text.push('\t');
            text.push_str(&r.body);
            text.push('\n');
        }
        self.conn
            .prepare_cached("INSERT INTO history_log (records) VALUES (?1)")
            .and_then(|mut stmt| stmt.execute([text]))
            .map(|_| ())
            .map_err(|e| StoreError::Write(e.to_string()))
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM history_log", []).map(|_| ()).map_err(|e| StoreError::Write(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordKind;

    fn record(kind: RecordKind, id: &str, body: &str) -> Record {
        Record { kind, id: id.into(), body: body.into() }
    }

    #[test]
    fn a_file_from_another_layout_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite3");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE other (x); PRAGMA user_version = 7;").unwrap();
        let Err(e) = SqliteBackend::open(&path, DiskSync::default()) else { panic!("opened a foreign file") };
        assert!(e.to_string().contains("another version of tapink"), "{e}");
    }

    #[test]
    fn a_commit_whose_row_is_damaged_names_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite3");
        let mut db = SqliteBackend::open(&path, DiskSync::default()).unwrap();
        db.write(&[record(RecordKind::Batch, "rb_1", "{}")]).unwrap();
        db.conn.execute("INSERT INTO history_log (records) VALUES ('garbage')", []).unwrap();
        let e = db.load().unwrap_err();
        assert!(e.to_string().contains("commit 2"), "{e}");
    }
}
