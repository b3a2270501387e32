//! Opening the SQLite files tapink keeps (inkit-mock's History, the dispatcher's outbox): the same
//! settings and the same guard against files written by another layout, in one place.
//!
//! - WAL, with `synchronous = NORMAL` by default: every committed transaction survives a crash of the
//!   process, and a power cut can lose the last ones but not damage the file. [`DiskSync::Off`] keeps the
//!   first promise only, for files that are cheap to lose and hot to write (inkit-mock's History).
//!   [`Journal::Rollback`] is for a file written in large transactions by a thread nobody waits for.
//! - `locking_mode = EXCLUSIVE`: only this process uses the file, and skipping the per-transaction file
//!   locks is a large part of a small commit's cost. A second process gets "database is locked".
//! - `PRAGMA user_version` holds the layout's version: a file with tables and another version is refused
//!   with a message that says what to do, rather than misread.

use std::path::Path;

pub use rusqlite;
use rusqlite::Connection;

/// How much of a commit is on the disk when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiskSync {
    /// `synchronous = NORMAL`: a commit survives a crash of the process; a power cut or a crash of the
    /// operating system can lose the last commits, never the file. Checkpoints wait for the disk (fsync).
    #[default]
    Normal,
    /// `synchronous = OFF`: a commit survives a crash of the process (it is in the operating system's
    /// cache), and SQLite never waits for the disk; a power cut or a crash of the operating system can lose
    /// more, and can damage the file.
    Off,
}

/// How SQLite keeps a transaction undoable until it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Journal {
    /// Write-ahead log: a commit appends its pages to the WAL, and checkpoints copy them into the file
    /// later. Small commits are cheap and readers do not block the writer.
    #[default]
    Wal,
    /// A rollback journal kept between transactions (`journal_mode = PERSIST`): a transaction saves the
    /// pages it changes in the journal and writes new pages once, straight into the file. For appending in
    /// large transactions it writes each byte once where WAL writes it twice (WAL, then checkpoint).
    Rollback,
}

/// Opens (or creates) `path`, checks its layout is `version`, and runs `schema` (idempotent statements such
/// as `CREATE TABLE IF NOT EXISTS`). The error says what went wrong, without the path: callers add it.
pub fn open(path: &Path, schema: &str, version: i64) -> Result<Connection, String> {
    open_with(path, schema, version, DiskSync::Normal, Journal::Wal)
}

/// [`open`], with commits as far on the disk as `sync` says, and the given journal.
pub fn open_with(
    path: &Path,
    schema: &str,
    version: i64,
    sync: DiskSync,
    journal: Journal,
) -> Result<Connection, String> {
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    let synchronous = match sync {
        DiskSync::Normal => "NORMAL",
        DiskSync::Off => "OFF",
    };
    let journal = match journal {
        Journal::Wal => "WAL",
        Journal::Rollback => "PERSIST",
    };
    conn.execute_batch(&format!(
        "PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA journal_mode = {journal};
         PRAGMA synchronous = {synchronous};
         PRAGMA busy_timeout = 5000;"
    ))
    .map_err(|e| e.to_string())?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if tables > 0 && found != version {
        return Err(format!(
            "it was written by another version of tapink (layout {found}, expected {version}); \
             move it away or use another --data-dir"
        ));
    }
    conn.execute_batch(&format!("{schema}\nPRAGMA user_version = {version};")).map_err(|e| e.to_string())?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_the_schema_and_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite3");
        let conn = open(&path, "CREATE TABLE IF NOT EXISTS t (a);", 3).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, 3);
        drop(conn);
        assert!(open(&path, "CREATE TABLE IF NOT EXISTS t (a);", 3).is_ok(), "reopening the same layout works");
    }

    #[test]
    fn disk_sync_sets_sqlite_synchronous_and_the_file_still_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite3");
        for (sync, expected) in [(DiskSync::Normal, 1), (DiskSync::Off, 0)] {
            let conn = open_with(&path, "CREATE TABLE IF NOT EXISTS t (a);", 3, sync, Journal::Wal).unwrap();
            conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
            let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
            assert_eq!(synchronous, expected, "{sync:?}");
        }
        let conn = open(&path, "CREATE TABLE IF NOT EXISTS t (a);", 3).unwrap();
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 2, "both commits are there after reopening");
    }

    #[test]
    fn a_file_moves_between_journals_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite3");
        for (journal, expected) in [(Journal::Wal, "wal"), (Journal::Rollback, "persist"), (Journal::Wal, "wal")] {
            let conn = open_with(&path, "CREATE TABLE IF NOT EXISTS t (a);", 3, DiskSync::Off, journal).unwrap();
            conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
            assert_eq!(mode, expected);
        }
        let conn = open(&path, "CREATE TABLE IF NOT EXISTS t (a);", 3).unwrap();
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 3);
    }

    #[test]
    fn a_file_of_another_layout_is_refused_saying_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite3");
        drop(open(&path, "CREATE TABLE IF NOT EXISTS t (a);", 1).unwrap());
        let err = open(&path, "CREATE TABLE IF NOT EXISTS u (b);", 2).unwrap_err();
        assert!(err.contains("layout 1, expected 2") && err.contains("--data-dir"), "{err}");
    }
}
