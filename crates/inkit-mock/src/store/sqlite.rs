//! The SQLite backend: `history.sqlite3` in the data directory, fed by the commit log in `history-log/`
//! beside it.
//!
//! The table is an append-only log: each commit is one row holding that commit's records, one per line
//! (`kind TAB id TAB json`), keyed by the commit's sequence number. A change to an entry (a delete) appends
//! a newer copy, and loading keeps the last copy of each id. JSON records mean the schema does not change
//! when a field is added.
//!
//! Server threads do not write to SQLite themselves: each appends its commits to a file of its own
//! (`super::commit_log`), and the ingest thread (`super::ingest`) moves them into SQLite in large
//! transactions. Opening moves whatever a previous run left in the log first, so loading reads SQLite only.
//!
//! Every answered request survives a crash of the process (its commit is in the operating system's cache
//! before the answer leaves), whatever the [`DiskSync`]. With `Off` (the default) nothing waits for the disk,
//! so a power cut can lose recent History or damage the file (docs/decisions.md says why that is the
//! default); with `Normal` the ingest thread has the log files written to disk before each of its
//! transactions, and SQLite syncs its journal and file at each. The ingest thread writes large
//! transactions nobody waits for, so the file has a rollback journal rather than WAL: each byte is written
//! once. The file is opened in exclusive locking mode: only this process uses the data directory.
//!
//! A reset records the number of the next commit in `history_cleared`, in one small transaction: rows and
//! frames numbered below it are left out from then on (the ingest thread deletes them later), so a crash
//! at any point after it cannot bring them back.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use sqlite_file::{DiskSync, Journal};

use super::commit_log::{CommitLog, LogAppender};
use super::ingest::{IngestThread, ingest_once};
use super::{Appender, Backend, ClearNow, Record, Snapshot, StoreError};

/// The layout this code writes; a file with another is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

pub struct SqliteBackend {
    conn: Arc<Mutex<Connection>>,
    log: Arc<CommitLog>,
    /// Stopped when the backend is dropped, after a last pass over the log.
    _ingest: IngestThread,
}

impl SqliteBackend {
    /// Opens `history.sqlite3` and `history-log/` in `dir`, moves what the log holds into SQLite and starts
    /// the ingest thread.
    pub fn open(dir: &Path, sync: DiskSync) -> Result<Self, StoreError> {
        let path = dir.join("history.sqlite3");
        let mut conn = sqlite_file::open_with(
            &path,
            "CREATE TABLE IF NOT EXISTS history_log (seq INTEGER PRIMARY KEY, records TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS history_cleared (below INTEGER NOT NULL);",
            SCHEMA_VERSION,
            sync,
            Journal::Rollback,
        )
        .map_err(|message| StoreError::Open { path: path.display().to_string(), message })?;
        let log = CommitLog::open(&dir.join("history-log"), 0)?;
        let cleared: i64 = conn
            .query_row("SELECT coalesce(max(below), 0) FROM history_cleared", [], |r| r.get(0))
            .map_err(|e| StoreError::Read(e.to_string()))?;
        log.clear_below(cleared as u64);
        let left: u64 = log.files().iter().filter_map(|f| f.file.metadata().ok()).map(|m| m.len()).sum();
        // Files are left only by a run that did not stop cleanly; a large log takes a moment, so say so.
        let started = std::time::Instant::now();
        if left > 0 {
            tracing::info!(
                bytes = left,
                "moving History's commit log, left by a run that did not stop cleanly, into SQLite"
            );
        }
        let (mut commits, mut bytes) = (0, Vec::new());
        loop {
            let moved = ingest_once(&log, &mut conn, sync, &mut bytes)?;
            commits += moved.frames;
            if !moved.more {
                break;
            }
        }
        if left > 0 {
            tracing::info!(
                commits,
                ms = started.elapsed().as_millis() as u64,
                "History's commit log moved into SQLite"
            );
        }
        let last: i64 = conn
            .query_row("SELECT coalesce(max(seq), 0) FROM history_log", [], |r| r.get(0))
            .map_err(|e| StoreError::Read(e.to_string()))?;
        log.seq_at_least((last as u64 + 1).max(cleared as u64));
        let conn = Arc::new(Mutex::new(conn));
        let ingest = IngestThread::start(log.clone(), conn.clone(), sync)
            .map_err(|e| StoreError::Open { path: path.display().to_string(), message: e.to_string() })?;
        Ok(Self { conn, log, _ingest: ingest })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Backend for SqliteBackend {
    fn is_durable(&self) -> bool {
        true
    }

    fn load(&self) -> Result<Snapshot, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Read(e.to_string());
        let conn = self.conn();
        // Rows a reset cleared may still be there until the ingest thread has deleted them.
        let mut stmt =
            conn.prepare("SELECT seq, records FROM history_log WHERE seq >= ?1 ORDER BY seq").map_err(read)?;
        let mut rows = stmt.query([self.log.cleared_below() as i64]).map_err(read)?;
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

    fn appender(&self) -> Result<Box<dyn Appender>, StoreError> {
        Ok(Box::new(self.log.appender()?))
    }

    fn clear(&self) -> Result<ClearNow<'_>, StoreError> {
        // The connection is taken first, outside the writers' gate: the ingest thread may hold it for a
        // pass, and commits need not wait for that.
        let mut conn = self.conn();
        Ok(Box::new(move || {
            // Everything written so far is numbered below `below`. Recording that in one small transaction is
            // the reset; the ingest thread deletes the cleared rows and files afterwards.
            let below = self.log.next_seq();
            let write = |e: rusqlite::Error| StoreError::Write(e.to_string());
            let tx = conn.transaction().map_err(write)?;
            tx.execute("DELETE FROM history_cleared", []).map_err(write)?;
            tx.execute("INSERT INTO history_cleared (below) VALUES (?1)", [below as i64]).map_err(write)?;
            tx.commit().map_err(write)?;
            self.log.clear_below(below);
            Ok(())
        }))
    }
}

impl Appender for LogAppender {
    fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        LogAppender::write(self, records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordKind;

    fn entry(id: &str, body: &str) -> Record {
        Record { kind: RecordKind::Entry, id: id.into(), body: body.into() }
    }

    fn bodies(snapshot: &Snapshot) -> Vec<String> {
        snapshot.entries.iter().map(|e| format!("{} {}", e.id, e.name.as_deref().unwrap_or("-"))).collect()
    }

    fn entry_json(id: &str, name: &str) -> String {
        format!(
            r#"{{"seq":0,"id":"{id}","kind":"render","route":"POST /v1/generate","name":"{name}","folder_id":"f","created_at":"2026-11-27T00:00:00Z","ready_at":"2026-11-27T00:00:00Z","created_by":"t"}}"#
        )
    }

    fn log_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir.join("history-log"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_from_another_layout_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite3");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE other (x); PRAGMA user_version = 7;").unwrap();
        let Err(e) = SqliteBackend::open(dir.path(), DiskSync::default()) else { panic!("opened a foreign file") };
        assert!(e.to_string().contains("another version of tapink"), "{e}");
    }

    #[test]
    fn a_commit_whose_row_is_damaged_names_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteBackend::open(dir.path(), DiskSync::default()).unwrap();
        db.appender().unwrap().write(&[entry("rend_1", &entry_json("rend_1", "a"))]).unwrap();
        db.conn().execute("INSERT INTO history_log (seq, records) VALUES (99, 'garbage')", []).unwrap();
        let e = db.load().unwrap_err();
        assert!(e.to_string().contains("commit 99"), "{e}");
    }

    #[test]
    fn commits_from_several_writers_are_in_sqlite_after_a_clean_stop_and_the_log_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        for sync in [DiskSync::Off, DiskSync::Normal] {
            let db = SqliteBackend::open(dir.path(), sync).unwrap();
            db.clear().unwrap()().unwrap();
            let (mut a, mut b) = (db.appender().unwrap(), db.appender().unwrap());
            a.write(&[entry("rend_1", &entry_json("rend_1", "one")), entry("rend_2", &entry_json("rend_2", "two"))])
                .unwrap();
            b.write(&[entry("rend_3", &entry_json("rend_3", "three"))]).unwrap();
            drop((a, b));
            drop(db);
            assert_eq!(log_files(dir.path()), Vec::<String>::new(), "{sync:?}");
            let db = SqliteBackend::open(dir.path(), sync).unwrap();
            assert_eq!(bodies(&db.load().unwrap()), ["rend_1 one", "rend_2 two", "rend_3 three"], "{sync:?}");
        }
    }

    #[test]
    fn the_ingest_thread_moves_commits_into_sqlite_while_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        let mut a = db.appender().unwrap();
        a.write(&[entry("rend_1", &entry_json("rend_1", "one"))]).unwrap();
        // Well under the ingest thread's 1 s nap: it must be woken by the commit, not find it later.
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(800);
        while bodies(&db.load().unwrap()).is_empty() {
            assert!(std::time::Instant::now() < deadline, "the commit never reached SQLite");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(log_files(dir.path()).len(), 1, "the writer's file stays while it is open");
    }

    #[test]
    fn after_a_crash_the_next_open_moves_the_log_into_sqlite_in_commit_order_and_drops_a_torn_last_frame() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteBackend::open(dir.path(), DiskSync::Off).unwrap());
        // A crashed run: two writers' files, never ingested. The later change to rend_1 is in the file
        // that is read first, so only the commits' numbers can put it last.
        let log = CommitLog::open(&dir.path().join("history-log"), 1).unwrap();
        let (mut first_file, mut second_file) = (log.appender().unwrap(), log.appender().unwrap());
        second_file.write(&[entry("rend_1", &entry_json("rend_1", "created"))]).unwrap();
        first_file.write(&[entry("rend_1", &entry_json("rend_1", "deleted"))]).unwrap();
        second_file.write(&[entry("rend_2", &entry_json("rend_2", "two"))]).unwrap();
        std::mem::forget((first_file, second_file));
        let torn = dir.path().join("history-log/00000001.log");
        let mut bytes = std::fs::read(&torn).unwrap();
        bytes.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 1, 2, 3, 4, b'e', b'n']);
        std::fs::write(&torn, bytes).unwrap();
        std::fs::write(dir.path().join("history-log/00000009.log"), "").unwrap(); // made, then the crash

        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        assert_eq!(bodies(&db.load().unwrap()), ["rend_1 deleted", "rend_2 two"]);
        assert_eq!(log_files(dir.path()), Vec::<String>::new(), "the moved files are deleted");
        let mut next = db.appender().unwrap();
        next.write(&[entry("rend_3", &entry_json("rend_3", "three"))]).unwrap();
        drop(next);
        drop(db);
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        assert_eq!(bodies(&db.load().unwrap()), ["rend_1 deleted", "rend_2 two", "rend_3 three"]);
    }

    #[test]
    fn after_a_reset_a_clean_stop_leaves_what_came_after_it_only_and_no_log_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        let mut a = db.appender().unwrap();
        a.write(&[entry("rend_1", &entry_json("rend_1", "before"))]).unwrap();
        db.clear().unwrap()().unwrap();
        assert_eq!(bodies(&db.load().unwrap()), Vec::<String>::new());
        a.write(&[entry("rend_2", &entry_json("rend_2", "after"))]).unwrap();
        drop(a);
        drop(db);
        assert_eq!(log_files(dir.path()), Vec::<String>::new());
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        assert_eq!(bodies(&db.load().unwrap()), ["rend_2 after"]);
    }

    #[test]
    fn nothing_from_before_a_reset_comes_back_after_a_crash_whatever_was_still_on_disk() {
        // arrange: two commits, then a reset
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        let mut a = db.appender().unwrap();
        a.write(&[entry("rend_1", &entry_json("rend_1", "before"))]).unwrap(); // commit 1
        a.write(&[entry("rend_2", &entry_json("rend_2", "before"))]).unwrap(); // commit 2
        db.clear().unwrap()().unwrap();
        // what a crash could leave before the clean-up: a cleared row still in SQLite, and a cleared commit
        // still in a log file
        db.conn()
            .execute(
                "INSERT OR REPLACE INTO history_log (seq, records) VALUES (1, ?1)",
                [format!("entry\trend_1\t{}\n", entry_json("rend_1", "before"))],
            )
            .unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let old = CommitLog::open(elsewhere.path(), 2).unwrap();
        old.appender().unwrap().write(&[entry("rend_2", &entry_json("rend_2", "before"))]).unwrap();
        std::fs::copy(elsewhere.path().join("00000000.log"), dir.path().join("history-log/00000099.log")).unwrap();
        a.write(&[entry("rend_3", &entry_json("rend_3", "after"))]).unwrap();

        // act: the crash (the writer never closes its file), and a restart
        std::mem::forget(a);
        drop(db);
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();

        // assert
        assert_eq!(bodies(&db.load().unwrap()), ["rend_3 after"]);
        let mut next = db.appender().unwrap();
        next.write(&[entry("rend_4", &entry_json("rend_4", "later"))]).unwrap();
        drop(next);
        drop(db);
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        assert_eq!(bodies(&db.load().unwrap()), ["rend_3 after", "rend_4 later"], "numbering goes on past the reset");
    }

    #[test]
    fn rows_a_reset_cleared_are_deleted_a_slice_at_a_time_until_none_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        let mut a = db.appender().unwrap();
        let body = entry_json("rend_1", "before");
        for _ in 0..3 * super::super::ingest::TIDY_SLICE + 1 {
            a.write(&[entry("rend_1", &body)]).unwrap();
        }
        let count = || db.conn().query_row("SELECT count(*) FROM history_log", [], |r| r.get::<_, i64>(0)).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while count() < (3 * super::super::ingest::TIDY_SLICE + 1) as i64 {
            assert!(std::time::Instant::now() < deadline, "the commits never all reached SQLite");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        db.clear().unwrap()().unwrap();
        a.write(&[entry("rend_2", &entry_json("rend_2", "after"))]).unwrap();
        // The ingest thread goes on by itself, slice after slice, with nothing else written.
        while count() != 1 {
            assert!(std::time::Instant::now() < deadline, "{} rows left", count());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(bodies(&db.load().unwrap()), ["rend_2 after"]);
    }

    #[test]
    fn a_damaged_frame_is_set_aside_with_its_file_and_the_frames_before_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteBackend::open(dir.path(), DiskSync::Off).unwrap());
        let log = CommitLog::open(&dir.path().join("history-log"), 1).unwrap();
        let mut a = log.appender().unwrap();
        a.write(&[entry("rend_1", &entry_json("rend_1", "kept"))]).unwrap();
        a.write(&[entry("rend_2", &entry_json("rend_2", "damaged"))]).unwrap();
        a.write(&[entry("rend_3", &entry_json("rend_3", "after the damage"))]).unwrap();
        std::mem::forget(a);
        let path = dir.path().join("history-log/00000000.log");
        let mut bytes = std::fs::read(&path).unwrap();
        let second = bytes.windows(6).position(|w| w == b"rend_2").unwrap();
        bytes[second] = b'R';
        std::fs::write(&path, bytes).unwrap();

        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();

        assert_eq!(bodies(&db.load().unwrap()), ["rend_1 kept"]);
        assert_eq!(log_files(dir.path()), ["00000000.log.damaged"]);
    }

    #[tokio::test]
    async fn a_clean_stop_after_a_write_from_a_thread_that_is_not_a_server_thread_leaves_no_log_file() {
        let dir = tempfile::tempdir().unwrap();
        let writer = crate::store::Writer::start(Box::new(SqliteBackend::open(dir.path(), DiskSync::Off).unwrap()));
        writer.write(vec![entry("rend_1", &entry_json("rend_1", "one"))], Box::new(|| {})).await.unwrap();
        drop(writer);
        assert_eq!(log_files(dir.path()), Vec::<String>::new());
        let db = SqliteBackend::open(dir.path(), DiskSync::Off).unwrap();
        assert_eq!(bodies(&db.load().unwrap()), ["rend_1 one"]);
    }
}
