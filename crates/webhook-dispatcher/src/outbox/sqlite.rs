//! The SQLite backend: the outbox in one file, one row per delivery, in WAL mode.
//!
//! A row holds the whole [`OutboxEntry`] as JSON (`entry`; adding a field does not change the schema) and,
//! beside it, the columns the queries need: `state`, `due_at` (ms, NULL unless pending), `webhook` and
//! `updated_at` (ms of a final state's instant, NULL while pending). An enqueue is one transaction of
//! `INSERT OR IGNORE`s; a settle or replay rewrites one row.
//!
//! `synchronous = NORMAL` in WAL mode keeps every committed transaction through a crash of the process
//! ("a delivery accepted by the dispatcher survives a crash"); only a power cut can lose the last commits.
//! The file is opened in exclusive locking mode: only this process uses it, and skipping the per-transaction
//! file locks makes small commits cheaper.
//!
//! Leases (taken deliveries) live in a set beside the connection and are never written: on open nothing is
//! taken, so whatever was in flight when the process stopped is due again. The counts by state are loaded
//! once on open and kept up to date, so [`Outbox::counts`] does not scan the table.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use clock::Timestamp;
use foldhash::HashMap;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Outbox, OutboxCounts, OutboxError, Tally, describe, millis, new_entry, stored, whole_millis};
use crate::delivery::{AttemptLog, Delivery, DeliveryState, OutboxEntry};

/// The layout this code writes; a file with another is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

/// The indexes end in `id` so that "oldest due first, then by id" and "newest first, then by id" are read
/// straight from an index: many deliveries share a due time (a campaign run enqueues them at one instant),
/// and without `id` in the index SQLite would sort that whole group on every `take_due`.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS deliveries (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        due_at INTEGER,
        webhook TEXT NOT NULL,
        updated_at INTEGER,
        entry TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS deliveries_by_due ON deliveries (state, due_at, id);
    CREATE INDEX IF NOT EXISTS deliveries_by_update ON deliveries (state, updated_at, id);";

/// The outbox in a SQLite file. Usable from several threads: the connection and the leases sit behind one
/// mutex, which also makes every read-modify-write (settle, replay) atomic.
pub struct SqliteOutbox {
    inner: Mutex<Inner>,
}

struct Inner {
    conn: Connection,
    /// Taken deliveries (in flight), pending in the file, with their entries as taken (`None` for a row set
    /// aside as unreadable), so that settling one needs no read.
    taken: HashMap<String, Option<OutboxEntry>>,
    /// Settled entries not written yet: written together, in one transaction, when there are
    /// `UNWRITTEN_LIMIT` of them and before anything reads the file.
    unwritten: Vec<OutboxEntry>,
    /// Where reading pending deliveries starts (see [`Resume`]).
    resume: Resume,
    tally: Tally,
}

/// A `(due_at ms, id)` at or below that of every pending delivery that is not taken, so [`Inner::scan_due`]
/// starts there instead of at the first pending row. Taken deliveries stay pending in the file until they
/// are settled, and the dispatcher takes a whole queue in batches before the first answers come back:
/// reading from the first row each time would pass over every delivery in flight again, batch after batch.
///
/// Everything that makes a delivery pending and not taken (enqueue, a settle or release back to pending,
/// replay) lowers it to that delivery's key; `take_due` raises it past what it has read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Resume {
    due_at: i64,
    id: String,
}

impl Resume {
    /// Before every row.
    const START: Resume = Resume { due_at: i64::MIN, id: String::new() };

    fn lower_to(&mut self, due_at: i64, id: &str) {
        if (due_at, id) < (self.due_at, self.id.as_str()) {
            *self = Resume { due_at, id: id.to_owned() };
        }
    }
}

/// Most settles kept before they are written together.
const UNWRITTEN_LIMIT: usize = 1024;

impl SqliteOutbox {
    /// Opens (or creates) the outbox at `path`. A file written with another layout is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OutboxError> {
        let path = path.as_ref();
        let open_err = |message: String| {
            OutboxError::Storage(format!("cannot open the outbox database {}: {message}", path.display()))
        };
        let conn = sqlite_file::open(path, SCHEMA, SCHEMA_VERSION).map_err(open_err)?;
        let tally = load_tally(&conn).map_err(open_err)?;
        let inner = Inner { conn, taken: HashMap::default(), unwritten: Vec::new(), resume: Resume::START, tally };
        Ok(Self { inner: Mutex::new(inner) })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held cannot leave the file half-written (every write is a transaction),
        // and the leases are only a hint for the next take; carry on rather than fail every later call.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SqliteOutbox {
    /// A clean stop writes what is settled; only a crash loses the last settles (their deliveries are sent
    /// again).
    fn drop(&mut self) {
        if let Err(e) = self.lock().write_unwritten() {
            tracing::error!(error = %e, "could not write the last settles of the outbox");
        }
    }
}

/// Counts the rows in each state.
fn load_tally(conn: &Connection) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut stmt = conn.prepare("SELECT state, count(*) FROM deliveries GROUP BY state").map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let state: String = row.get(0).map_err(|e| e.to_string())?;
        let count: i64 = row.get(1).map_err(|e| e.to_string())?;
        let count = usize::try_from(count).unwrap_or(0);
        match state.as_str() {
            "pending" => tally.pending = count,
            "delivered" => tally.delivered = count,
            "dead_letter" => tally.dead_letter = count,
            "not_sent" => tally.not_sent = count,
            other => return Err(format!("{count} deliveries are in an unknown state {other:?}")),
        }
    }
    Ok(tally)
}

fn read_err(e: rusqlite::Error) -> OutboxError {
    OutboxError::Storage(format!("cannot read the outbox database: {e}"))
}

fn write_err(e: rusqlite::Error) -> OutboxError {
    OutboxError::Storage(format!("cannot write to the outbox database: {e}"))
}

fn decode(id: &str, json: &str) -> Result<OutboxEntry, OutboxError> {
    serde_json::from_str(json).map_err(|e| OutboxError::Storage(format!("delivery {id:?} is not readable: {e}")))
}

fn encode(entry: &OutboxEntry) -> Result<String, OutboxError> {
    serde_json::to_string(entry)
        .map_err(|e| OutboxError::Storage(format!("delivery {:?} cannot be stored: {e}", entry.delivery.id)))
}

/// The row's query columns for a state: `(state, due_at, updated_at)`.
fn columns(state: &DeliveryState) -> (&'static str, Option<i64>, Option<i64>) {
    match state {
        DeliveryState::Pending { due_at } => ("pending", Some(millis(*due_at)), None),
        DeliveryState::Delivered { at, .. } => ("delivered", None, Some(millis(*at))),
        DeliveryState::DeadLetter { at, .. } => ("dead_letter", None, Some(millis(*at))),
        DeliveryState::NotSent { at, .. } => ("not_sent", None, Some(millis(*at))),
    }
}

/// A count or limit as SQLite wants it.
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Inner {
    fn load(&self, id: &str) -> Result<Option<OutboxEntry>, OutboxError> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT entry FROM deliveries WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([id], |r| r.get(0)).optional())
            .map_err(read_err)?;
        json.map(|json| decode(id, &json)).transpose()
    }

    /// Writes every unwritten settle, in one transaction. On failure they stay unwritten, to be tried again.
    fn write_unwritten(&mut self) -> Result<(), OutboxError> {
        if self.unwritten.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction().map_err(write_err)?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE deliveries SET state = ?2, due_at = ?3, updated_at = ?4, entry = ?5 WHERE id = ?1",
                )
                .map_err(write_err)?;
            for entry in &self.unwritten {
                let json = encode(entry)?;
                let (state, due_at, updated_at) = columns(&entry.state);
                update.execute(params![entry.delivery.id, state, due_at, updated_at, json]).map_err(write_err)?;
            }
        }
        tx.commit().map_err(write_err)?;
        self.unwritten.clear();
        Ok(())
    }

    /// Puts `entry` in its new state, to be written with the next batch; updates leases and tally now.
    fn transition(
        &mut self,
        mut entry: OutboxEntry,
        attempt: Option<AttemptLog>,
        next: DeliveryState,
    ) -> Result<(), OutboxError> {
        let previous = std::mem::replace(&mut entry.state, next);
        entry.attempts.extend(attempt);
        self.taken.remove(&entry.delivery.id);
        if let DeliveryState::Pending { due_at } = entry.state {
            self.resume.lower_to(millis(due_at), &entry.delivery.id);
        }
        self.tally.change(&previous, &entry.state);
        self.unwritten.push(entry);
        if self.unwritten.len() >= UNWRITTEN_LIMIT {
            self.write_unwritten()?;
        }
        Ok(())
    }

    /// Calls `each` with the row (`id, due_at, entry`) and id of every pending delivery that is not taken and
    /// is due at or before `now` (at any time if `None`), oldest due first, until it returns false. Then
    /// raises `resume` past what it read: to the row where `each` stopped, or past `now` if it read them all.
    fn scan_due(
        &mut self,
        now: Option<Timestamp>,
        mut each: impl FnMut(&rusqlite::Row<'_>, &str) -> Result<bool, OutboxError>,
    ) -> Result<(), OutboxError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, due_at, entry FROM deliveries
                 WHERE state = 'pending' AND (due_at, id) >= (?1, ?2) AND due_at <= ?3 ORDER BY due_at, id",
            )
            .map_err(read_err)?;
        let now_ms = now.map_or(i64::MAX, millis);
        let mut rows = stmt.query(params![self.resume.due_at, self.resume.id, now_ms]).map_err(read_err)?;
        let mut stopped_at = None;
        while let Some(row) = rows.next().map_err(read_err)? {
            let id: String = row.get(0).map_err(read_err)?;
            // Taken rows are passed over by id, before their entry is read: there are at most as many as
            // the dispatcher has in flight, and `resume` keeps most of them out of the scan.
            if self.taken.contains_key(&id) {
                continue;
            }
            if !each(row, &id)? {
                stopped_at = Some(Resume { due_at: row.get(1).map_err(read_err)?, id });
                break;
            }
        }
        // Every row before `stopped_at` is taken; every row due by `now` is, if the scan ran to the end.
        self.resume = match (stopped_at, now_ms.checked_add(1)) {
            (Some(row), _) => row,
            (None, Some(after)) => Resume { due_at: after, id: String::new() },
            (None, None) => self.resume.clone(),
        };
        Ok(())
    }
}

impl Outbox for SqliteOutbox {
    fn enqueue(&self, deliveries: Vec<Delivery>, due_at: Timestamp) -> Result<usize, OutboxError> {
        let due_at = whole_millis(due_at);
        let first_id = deliveries.iter().map(|d| &d.id).min().cloned();
        let mut inner = self.lock();
        let tx = inner.conn.transaction().map_err(write_err)?;
        let mut new = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO deliveries (id, state, due_at, webhook, updated_at, entry)
                     VALUES (?1, 'pending', ?2, ?3, NULL, ?4)",
                )
                .map_err(write_err)?;
            for delivery in deliveries {
                let entry = new_entry(delivery, due_at);
                let json = encode(&entry)?;
                new += insert
                    .execute(params![entry.delivery.id, millis(due_at), entry.delivery.webhook, json])
                    .map_err(write_err)?;
            }
        }
        tx.commit().map_err(write_err)?;
        inner.tally.pending += new;
        if let Some(first) = first_id {
            inner.resume.lower_to(millis(due_at), &first);
        }
        Ok(new)
    }

    fn take_due(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut inner = self.lock();
        inner.write_unwritten()?;
        let mut out = Vec::new();
        let mut corrupt = None;
        let resume = inner.resume.clone();
        inner.scan_due(Some(now), |row, id| {
            let json: String = row.get(2).map_err(read_err)?;
            match decode(id, &json) {
                Ok(entry) => out.push(entry),
                Err(e) => {
                    corrupt = Some((id.to_owned(), e));
                    return Ok(false);
                }
            }
            Ok(out.len() < limit)
        })?;
        // A row that cannot be read would otherwise come first on every call and stall the whole queue.
        // It is set aside as taken (it is reported now, and again after a restart), and the deliveries read
        // before it are handed back to the queue, so the next call carries on past it.
        if let Some((id, e)) = corrupt {
            inner.taken.insert(id, None);
            inner.resume = resume;
            return Err(e);
        }
        inner.taken.extend(out.iter().map(|entry| (entry.delivery.id.clone(), Some(entry.clone()))));
        Ok(out)
    }

    fn settle(&self, id: &str, attempt: Option<AttemptLog>, next: DeliveryState) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let entry = match inner.taken.get(id) {
            Some(Some(entry)) => entry.clone(),
            _ => {
                inner.write_unwritten()?;
                inner.load(id)?.ok_or_else(|| OutboxError::UnknownDelivery(id.to_owned()))?
            }
        };
        inner.transition(entry, attempt, stored(next))
    }

    fn release(&self, ids: &[String]) -> Result<(), OutboxError> {
        // Leases are never written, so giving them back is only forgetting them (and reading from them on).
        let mut inner = self.lock();
        for id in ids {
            match inner.taken.remove(id) {
                Some(Some(OutboxEntry { state: DeliveryState::Pending { due_at }, .. })) => {
                    inner.resume.lower_to(millis(due_at), id);
                }
                Some(_) => inner.resume = Resume::START,
                None => {}
            }
        }
        Ok(())
    }

    fn next_due(&self) -> Option<Timestamp> {
        let mut inner = self.lock();
        if inner.write_unwritten().is_err() {
            return None;
        }
        let mut first = None;
        let scanned = inner.scan_due(None, |row, _| {
            first = row.get::<_, i64>(1).ok().and_then(|ms| Timestamp::from_millisecond(ms).ok());
            Ok(false)
        });
        scanned.ok().and(first)
    }

    fn get(&self, id: &str) -> Result<Option<OutboxEntry>, OutboxError> {
        let mut inner = self.lock();
        inner.write_unwritten()?;
        inner.load(id)
    }

    fn flush(&self) -> Result<(), OutboxError> {
        self.lock().write_unwritten()
    }

    fn dead_letters(&self, webhook: Option<&str>, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError> {
        let mut inner = self.lock();
        inner.write_unwritten()?;
        let mut stmt = inner
            .conn
            .prepare_cached(
                "SELECT id, entry FROM deliveries WHERE state = 'dead_letter' AND (?1 IS NULL OR webhook = ?1)
                 ORDER BY updated_at DESC, id DESC LIMIT ?2",
            )
            .map_err(read_err)?;
        let mut rows = stmt.query(params![webhook, sql_limit(limit)]).map_err(read_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(read_err)? {
            let id: String = row.get(0).map_err(read_err)?;
            let json: String = row.get(1).map_err(read_err)?;
            out.push(decode(&id, &json)?);
        }
        Ok(out)
    }

    fn replay(&self, id: &str, now: Timestamp) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        inner.write_unwritten()?;
        let mut entry = inner.load(id)?.ok_or_else(|| OutboxError::UnknownDelivery(id.to_owned()))?;
        if !matches!(entry.state, DeliveryState::DeadLetter { .. }) {
            return Err(OutboxError::NotADeadLetter { id: id.to_owned(), state: describe(&entry.state).to_owned() });
        }
        entry.attempts_before_replay = entry.attempts.len() as u32;
        inner.transition(entry, None, DeliveryState::Pending { due_at: whole_millis(now) })
    }

    fn counts(&self) -> OutboxCounts {
        let inner = self.lock();
        inner.tally.counts(inner.taken.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::tests::{attempt, delivery, t};

    #[test]
    fn everything_survives_closing_and_reopening_the_file() {
        // arrange: five deliveries; two taken and settled, one taken and left in flight, two never taken
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        {
            let outbox = SqliteOutbox::open(&path).unwrap();
            let deliveries = ["a", "b", "c", "d"].map(|id| delivery(id, "mail")).to_vec();
            outbox.enqueue(deliveries, t(0)).unwrap();
            outbox.enqueue(vec![delivery("e", "mail")], t(100)).unwrap();
            let taken = outbox.take_due(t(0), 3).unwrap();
            assert_eq!(taken.len(), 3);
            outbox
                .settle("a", Some(attempt(1, t(0), Some(200))), DeliveryState::Delivered { at: t(0), status: 200 })
                .unwrap();
            outbox.settle("b", Some(attempt(1, t(0), Some(503))), DeliveryState::Pending { due_at: t(30) }).unwrap();
            assert_eq!(outbox.counts().taken, 1, "c is still in flight when the process stops");
        }

        // act
        let outbox = SqliteOutbox::open(&path).unwrap();

        // assert: nothing is taken; c (in flight) and d are due again, b at its retry time, e at its own
        let counts = outbox.counts();
        assert_eq!(counts, OutboxCounts { pending: 4, taken: 0, delivered: 1, dead_letter: 0, not_sent: 0 });
        assert_eq!(outbox.next_due(), Some(t(0)));
        let due: Vec<String> = outbox.take_due(t(0), 10).unwrap().into_iter().map(|e| e.delivery.id).collect();
        assert_eq!(due, ["c", "d"]);
        assert_eq!(outbox.next_due(), Some(t(30)));
        let a = outbox.get("a").unwrap().unwrap();
        assert_eq!(a.state, DeliveryState::Delivered { at: t(0), status: 200 });
        assert_eq!(a.attempts, vec![attempt(1, t(0), Some(200))]);
        let b = outbox.get("b").unwrap().unwrap();
        assert_eq!(b.state, DeliveryState::Pending { due_at: t(30) });
        assert_eq!(b.attempts, vec![attempt(1, t(0), Some(503))]);
        assert_eq!(b.delivery, delivery("b", "mail"));
    }

    #[test]
    fn a_crash_loses_only_unflushed_settles_and_their_deliveries_are_sent_again() {
        // arrange: two deliveries taken and delivered; a flush after the first only
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        let outbox = SqliteOutbox::open(&path).unwrap();
        outbox.enqueue(vec![delivery("a", "mail"), delivery("b", "mail")], t(0)).unwrap();
        outbox.take_due(t(0), 2).unwrap();
        let delivered = DeliveryState::Delivered { at: t(0), status: 200 };
        outbox.settle("a", Some(attempt(1, t(0), Some(200))), delivered.clone()).unwrap();
        outbox.flush().unwrap();
        outbox.settle("b", Some(attempt(1, t(0), Some(200))), delivered.clone()).unwrap();

        // act: the process dies before b's settle is written (in a test, the connection must still close
        // to release its lock, so the unwritten settles are discarded instead)
        outbox.lock().unwritten.clear();
        drop(outbox);
        let reopened = SqliteOutbox::open(&path).unwrap();

        // assert: a stays delivered; b is pending again, to be sent again (at-least-once)
        assert_eq!(reopened.get("a").unwrap().unwrap().state, delivered);
        let due: Vec<String> = reopened.take_due(t(0), 10).unwrap().into_iter().map(|e| e.delivery.id).collect();
        assert_eq!(due, ["b"]);
    }

    #[test]
    fn a_file_from_another_layout_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE other (x); PRAGMA user_version = 7;").unwrap();

        let Err(e) = SqliteOutbox::open(&path) else { panic!("opened a file of another layout") };

        let message = e.to_string();
        assert!(matches!(e, OutboxError::Storage(_)), "{e:?}");
        assert!(message.contains("another version of tapink (layout 7, expected 1)"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }

    #[test]
    fn a_row_whose_entry_is_not_json_is_a_storage_error_naming_the_delivery() {
        // arrange: two good deliveries and, due between them, a damaged row
        let dir = tempfile::tempdir().unwrap();
        let outbox = SqliteOutbox::open(dir.path().join("outbox.sqlite3")).unwrap();
        outbox.enqueue(vec![delivery("a", "mail")], t(0)).unwrap();
        outbox.enqueue(vec![delivery("c", "mail")], t(2)).unwrap();
        outbox
            .lock()
            .conn
            .execute(
                "INSERT INTO deliveries (id, state, due_at, webhook, entry) VALUES ('broken', 'pending', ?1, 'mail', '{oops')",
                [millis(t(1))],
            )
            .unwrap();

        // act + assert: reading it names it, wherever it is read
        let e = outbox.get("broken").unwrap_err();
        assert!(matches!(&e, OutboxError::Storage(m) if m.contains("\"broken\" is not readable")), "{e}");
        let e = outbox.settle("broken", None, DeliveryState::Delivered { at: t(1), status: 200 }).unwrap_err();
        assert!(e.to_string().contains("\"broken\""), "{e}");
        let e = outbox.take_due(t(5), 10).unwrap_err();
        assert!(e.to_string().contains("\"broken\""), "{e}");

        // and it does not stall the queue: the next take goes on past it
        let due: Vec<String> = outbox.take_due(t(5), 10).unwrap().into_iter().map(|e| e.delivery.id).collect();
        assert_eq!(due, ["a", "c"]);
    }
}
