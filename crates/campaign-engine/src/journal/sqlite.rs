//! The journal in SQLite: `engine.sqlite3` in the data directory, one row per entry, each append its own
//! transaction, committed before `append` returns (WAL, see `sqlite-file`), so an accepted change survives a
//! crash of the process.

use std::path::{Path, PathBuf};

use clock::Timestamp;
use serde_json::Value;
use sqlite_file::rusqlite::{Connection, params};

use super::{Journal, JournalError};

/// The journal's file name inside a data directory.
pub const FILE_NAME: &str = "engine.sqlite3";

/// The layout of the file; bump it when the table changes, and `sqlite_file::open` refuses old files.
const LAYOUT_VERSION: i64 = 1;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    body TEXT NOT NULL
);";

/// A journal in a SQLite file, used by one process at a time.
pub struct SqliteJournal {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteJournal {
    /// Opens (or creates) the journal file at `path`.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let conn = sqlite_file::open(path, SCHEMA, LAYOUT_VERSION)
            .map_err(|message| JournalError::Open { path: path.display().to_string(), message })?;
        Ok(Self { conn, path: path.to_owned() })
    }

    /// Opens (or creates) `engine.sqlite3` in `dir`, creating the directory if it is missing.
    pub fn open_in(dir: &Path) -> Result<Self, JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::Open {
            path: dir.display().to_string(),
            message: format!("cannot create the directory: {e}"),
        })?;
        Self::open(&dir.join(FILE_NAME))
    }

    /// The file this journal writes.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Journal for SqliteJournal {
    fn append(&mut self, kind: &str, at: Timestamp, body: &Value) -> Result<(), JournalError> {
        let at_ns = i64::try_from(at.as_nanosecond())
            .map_err(|_| JournalError::Write(format!("the time {at} is out of the journal's range")))?;
        let body = serde_json::to_string(body).map_err(|e| JournalError::Write(e.to_string()))?;
        self.conn
            .execute("INSERT INTO journal (kind, at_ns, body) VALUES (?1, ?2, ?3)", params![kind, at_ns, body])
            .map_err(|e| JournalError::Write(e.to_string()))?;
        Ok(())
    }

    fn replay(
        &mut self,
        apply: &mut dyn FnMut(&str, Timestamp, Value) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        let read = |e: sqlite_file::rusqlite::Error| JournalError::Read(e.to_string());
        let mut statement =
            self.conn.prepare("SELECT seq, kind, at_ns, body FROM journal ORDER BY seq").map_err(read)?;
        let mut rows = statement.query([]).map_err(read)?;
        while let Some(row) = rows.next().map_err(read)? {
            let seq: i64 = row.get(0).map_err(read)?;
            let kind: String = row.get(1).map_err(read)?;
            let at_ns: i64 = row.get(2).map_err(read)?;
            let body: String = row.get(3).map_err(read)?;
            let seq = u64::try_from(seq).unwrap_or_default();
            let corrupt = |message: String| JournalError::Corrupt { seq, message };
            let at = Timestamp::from_nanosecond(i128::from(at_ns)).map_err(|e| corrupt(e.to_string()))?;
            let body = serde_json::from_str(&body).map_err(|e| corrupt(format!("the body is not JSON: {e}")))?;
            apply(&kind, at, body)?;
        }
        Ok(())
    }
}
