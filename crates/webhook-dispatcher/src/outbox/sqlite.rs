//! The SQLite backend: the outbox in one file, in WAL mode, laid out so that each step writes little.
//!
//! - `deliveries`, one row per delivery: the delivery itself as JSON (`delivery`; adding a field to it
//!   does not change the layout), written once when it is enqueued, and beside it the small columns that
//!   change: `state` (a code, [`PENDING`] to [`NOT_SENT`]), `at` (ms: the due time while pending, else the
//!   instant of the final state), and how many attempts it has had. A settle rewrites only these, so the
//!   row keeps its size and SQLite overwrites it where it is.
//! - `attempts`, one row per attempt, appended: the attempt log's fields as columns (the response excerpt
//!   as it came, not escaped into JSON). The key is the delivery's `seq` times 2^20 plus the attempt's
//!   index, so a delivery's attempts are one range of the table, in order, and need no index of their own.
//! - `outcomes`, one row per delivery in a final state: that state as JSON (its exact instant, status or
//!   reason).
//! - Partial indexes hold only what is looked for: pending deliveries by due time (the queue), dead letters
//!   by the time they were given up, and deliveries not sent (to count them). A delivered delivery leaves
//!   the queue's index and enters none.
//!
//! An enqueue is one transaction of `INSERT OR IGNORE`s. Settles are written together, in one transaction
//! per [`UNWRITTEN_LIMIT`] and before anything reads the file ([`Outbox::flush`] after each step of the
//! dispatcher): a crash loses only settles not yet written, whose deliveries are then sent again.
//!
//! `synchronous = NORMAL` in WAL mode keeps every committed transaction through a crash of the process
//! ("a delivery accepted by the dispatcher survives a crash"); only a power cut can lose the last commits.
//! The file is opened in exclusive locking mode: only this process uses it, and skipping the per-transaction
//! file locks makes small commits cheaper.
//!
//! Leases (taken deliveries) live in a map beside the connection and are never written: on open nothing is
//! taken, so whatever was in flight when the process stopped is due again. The counts by state are loaded
//! once on open and kept up to date, so [`Outbox::counts`] does not scan the table.
//!
//! A file of the first layout (the whole entry as JSON in one row, rewritten by every settle) is converted
//! when it is opened, in one transaction.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use clock::Timestamp;
use foldhash::HashMap;
use rusqlite::{Connection, Row, Transaction, params};

use super::{Outbox, OutboxCounts, OutboxError, Tally, describe, in_settle_order, millis, stored, whole_millis};
use crate::delivery::{AttemptLog, Delivery, DeliveryState, OutboxEntry};

/// The layout this code writes; a file with another is refused rather than misread (the first layout is
/// converted).
const SCHEMA_VERSION: i64 = 2;

/// The indexes end in `id` so that "oldest due first, then by id" and "newest first, then by id" are read
/// straight from an index: many deliveries share a due time (a campaign run enqueues them at one instant),
/// and without `id` in the index SQLite would sort that whole group on every `take_due`.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS deliveries (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
        at INTEGER NOT NULL,
        webhook TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        attempts_before_replay INTEGER NOT NULL,
        delivery TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (at, id) WHERE state = 0;
    CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (at, id) WHERE state = 2;
    CREATE INDEX IF NOT EXISTS deliveries_not_sent ON deliveries (id) WHERE state = 3;
    CREATE TABLE IF NOT EXISTS attempts (
        key INTEGER PRIMARY KEY,
        number INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        status INTEGER,
        error TEXT,
        excerpt TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS outcomes (
        seq INTEGER PRIMARY KEY,
        state TEXT NOT NULL
    );";

/// `deliveries.state`: the codes of the four states. The partial indexes' `WHERE` clauses repeat them.
const PENDING: i64 = 0;
const DELIVERED: i64 = 1;
const DEAD_LETTER: i64 = 2;
const NOT_SENT: i64 = 3;

/// A delivery's attempts are keyed from `seq << ATTEMPT_BITS`: room for 2^20 attempts each (a retry
/// policy makes a dozen; replays add as many again), and for 2^43 deliveries.
const ATTEMPT_BITS: u32 = 20;

/// The columns of `deliveries` (and its outcome) that make an entry, in the order [`read_entry`] reads.
const ENTRY_COLUMNS: &str = "d.seq, d.id, d.state, d.at, d.attempts, d.attempts_before_replay, d.delivery, o.state";

/// The outbox in a SQLite file. Usable from several threads: the connection and the leases sit behind one
/// mutex, which also makes every read-modify-write (settle, replay) atomic.
pub struct SqliteOutbox {
    inner: Mutex<Inner>,
}

struct Inner {
    conn: Connection,
    /// Taken deliveries (in flight), pending in the file, with what settling them needs (`None` for a row
    /// set aside as unreadable), so that a settle reads nothing.
    taken: HashMap<String, Option<Lease>>,
    /// Settles not written yet: written together, in one transaction, when there are `UNWRITTEN_LIMIT` of
    /// them and before anything reads the file.
    unwritten: Vec<Settle>,
    /// Where reading pending deliveries starts (see [`Resume`]).
    resume: Resume,
    tally: Tally,
}

/// Most settles kept before they are written together.
const UNWRITTEN_LIMIT: usize = 1024;

/// What the file says of a delivery, as far as changing its state goes.
#[derive(Debug, Clone)]
struct Lease {
    seq: i64,
    state: DeliveryState,
    attempts: u32,
    attempts_before_replay: u32,
}

/// A delivery's next state, to be written: the columns of its row, its new attempt, its outcome.
struct Settle {
    seq: i64,
    state: DeliveryState,
    /// How many attempts it has had, this one included.
    attempts: u32,
    attempts_before_replay: u32,
    attempt: Option<AttemptLog>,
    /// It was in a final state and is pending again: its outcome goes.
    clear_outcome: bool,
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

impl SqliteOutbox {
    /// Opens (or creates) the outbox at `path`. A file of the first layout is converted; one written with
    /// another layout is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OutboxError> {
        let path = path.as_ref();
        let open_err = |message: String| {
            OutboxError::Storage(format!("cannot open the outbox database {}: {message}", path.display()))
        };
        create_with_large_pages(path).map_err(open_err)?;
        convert_layout_1(path).map_err(open_err)?;
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

/// Counts the rows in each state, from the partial indexes and the id's (delivered ones are in no index of
/// their own: they are what is left).
fn load_tally(conn: &Connection) -> Result<Tally, String> {
    let count = |condition: &str| -> Result<usize, String> {
        let sql = format!("SELECT count(*) FROM deliveries {condition}");
        let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(|e| e.to_string())?;
        Ok(usize::try_from(n).unwrap_or(0))
    };
    let all = count("")?;
    let pending = count(&format!("WHERE state = {PENDING}"))?;
    let dead_letter = count(&format!("WHERE state = {DEAD_LETTER}"))?;
    let not_sent = count(&format!("WHERE state = {NOT_SENT}"))?;
    let delivered = all.saturating_sub(pending + dead_letter + not_sent);
    Ok(Tally { pending, delivered, dead_letter, not_sent })
}

fn read_err(e: rusqlite::Error) -> OutboxError {
    OutboxError::Storage(format!("cannot read the outbox database: {e}"))
}

fn write_err(e: rusqlite::Error) -> OutboxError {
    OutboxError::Storage(format!("cannot write to the outbox database: {e}"))
}

fn unreadable(id: &str, what: impl std::fmt::Display) -> OutboxError {
    OutboxError::Storage(format!("delivery {id:?} is not readable: {what}"))
}

fn encode<T: serde::Serialize>(id: &str, value: &T) -> Result<String, OutboxError> {
    serde_json::to_string(value).map_err(|e| OutboxError::Storage(format!("delivery {id:?} cannot be stored: {e}")))
}

/// A final state as its outcome row holds it.
fn encode_state(state: &DeliveryState) -> Result<String, OutboxError> {
    serde_json::to_string(state).map_err(|e| OutboxError::Storage(format!("a delivery's state cannot be stored: {e}")))
}

/// A state's code and `at` column.
fn columns(state: &DeliveryState) -> (i64, i64) {
    match state {
        DeliveryState::Pending { due_at } => (PENDING, millis(*due_at)),
        DeliveryState::Delivered { at, .. } => (DELIVERED, millis(*at)),
        DeliveryState::DeadLetter { at, .. } => (DEAD_LETTER, millis(*at)),
        DeliveryState::NotSent { at, .. } => (NOT_SENT, millis(*at)),
    }
}

/// A count or limit as SQLite wants it.
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The key of a delivery's attempt at `index` (0 for the first).
fn attempt_key(seq: i64, index: u32) -> i64 {
    (seq << ATTEMPT_BITS) | i64::from(index)
}

fn milliseconds_to_timestamp(id: &str, ms: i64) -> Result<Timestamp, OutboxError> {
    Timestamp::from_millisecond(ms).map_err(|e| unreadable(id, e))
}

/// An entry from a row of [`ENTRY_COLUMNS`], without its attempts (they are in another table): its
/// `seq`, what a settle needs, and the entry.
fn read_entry(row: &Row<'_>) -> Result<(Lease, OutboxEntry), OutboxError> {
    let id: String = row.get(1).map_err(read_err)?;
    let (code, at): (i64, i64) = (row.get(2).map_err(read_err)?, row.get(3).map_err(read_err)?);
    let state = if code == PENDING {
        DeliveryState::Pending { due_at: milliseconds_to_timestamp(&id, at)? }
    } else {
        let outcome: Option<String> = row.get(7).map_err(read_err)?;
        let outcome = outcome.ok_or_else(|| unreadable(&id, "its final state is missing"))?;
        serde_json::from_str(&outcome).map_err(|e| unreadable(&id, e))?
    };
    let delivery: String = row.get(6).map_err(read_err)?;
    let delivery: Delivery = serde_json::from_str(&delivery).map_err(|e| unreadable(&id, e))?;
    let lease = Lease {
        seq: row.get(0).map_err(read_err)?,
        state: state.clone(),
        attempts: row.get(4).map_err(read_err)?,
        attempts_before_replay: row.get(5).map_err(read_err)?,
    };
    let entry =
        OutboxEntry { delivery, state, attempts: Vec::new(), attempts_before_replay: lease.attempts_before_replay };
    Ok((lease, entry))
}

/// The attempts of the delivery `seq`, in order.
fn read_attempts(conn: &Connection, id: &str, seq: i64) -> Result<Vec<AttemptLog>, OutboxError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT number, started_at, latency_ms, status, error, excerpt FROM attempts
             WHERE key >= ?1 AND key < ?2 ORDER BY key",
        )
        .map_err(read_err)?;
    let mut rows = stmt.query(params![attempt_key(seq, 0), attempt_key(seq + 1, 0)]).map_err(read_err)?;
    let mut attempts = Vec::new();
    while let Some(row) = rows.next().map_err(read_err)? {
        let started_at: String = row.get(1).map_err(read_err)?;
        attempts.push(AttemptLog {
            number: row.get(0).map_err(read_err)?,
            started_at: started_at.parse().map_err(|e| unreadable(id, e))?,
            latency_ms: row.get(2).map_err(read_err)?,
            status: row.get(3).map_err(read_err)?,
            error: row.get(4).map_err(read_err)?,
            response_excerpt: row.get(5).map_err(read_err)?,
        });
    }
    Ok(attempts)
}

/// Stores one attempt of the delivery `seq`, at `index`.
fn write_attempt(tx: &Transaction<'_>, seq: i64, index: u32, attempt: &AttemptLog) -> Result<(), OutboxError> {
    tx.prepare_cached(
        "INSERT INTO attempts (key, number, started_at, latency_ms, status, error, excerpt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            attempt_key(seq, index),
            attempt.number,
            attempt.started_at.to_string(),
            attempt.latency_ms,
            attempt.status,
            attempt.error,
            attempt.response_excerpt,
        ])
    })
    .map_err(write_err)?;
    Ok(())
}

impl Inner {
    /// One delivery, whatever its state, with what a settle needs.
    fn load(&self, id: &str) -> Result<Option<(Lease, OutboxEntry)>, OutboxError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM deliveries d LEFT JOIN outcomes o ON o.seq = d.seq WHERE d.id = ?1"
            ))
            .map_err(read_err)?;
        let mut rows = stmt.query([id]).map_err(read_err)?;
        let Some(row) = rows.next().map_err(read_err)? else { return Ok(None) };
        let (lease, mut entry) = read_entry(row)?;
        if lease.attempts > 0 {
            entry.attempts = read_attempts(&self.conn, id, lease.seq)?;
        }
        Ok(Some((lease, entry)))
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
                    "UPDATE deliveries SET state = ?2, at = ?3, attempts = ?4, attempts_before_replay = ?5
                     WHERE seq = ?1",
                )
                .map_err(write_err)?;
            let mut outcome =
                tx.prepare_cached("INSERT OR REPLACE INTO outcomes (seq, state) VALUES (?1, ?2)").map_err(write_err)?;
            let mut clear = tx.prepare_cached("DELETE FROM outcomes WHERE seq = ?1").map_err(write_err)?;
            for settle in &self.unwritten {
                let (code, at) = columns(&settle.state);
                let params = params![settle.seq, code, at, settle.attempts, settle.attempts_before_replay];
                update.execute(params).map_err(write_err)?;
                if let Some(attempt) = &settle.attempt {
                    write_attempt(&tx, settle.seq, settle.attempts - 1, attempt)?;
                }
                if settle.state.is_final() {
                    outcome.execute(params![settle.seq, encode_state(&settle.state)?]).map_err(write_err)?;
                } else if settle.clear_outcome {
                    clear.execute([settle.seq]).map_err(write_err)?;
                }
            }
        }
        tx.commit().map_err(write_err)?;
        self.unwritten.clear();
        Ok(())
    }

    /// Puts the delivery `id`, which the file says is `from`, in its new state, to be written with the next
    /// batch; updates leases, tally and `resume` now.
    fn transition(
        &mut self,
        id: &str,
        from: Lease,
        attempt: Option<AttemptLog>,
        next: DeliveryState,
        attempts_before_replay: u32,
    ) -> Result<(), OutboxError> {
        self.taken.remove(id);
        self.tally.change(&from.state, &next);
        if let DeliveryState::Pending { due_at } = next {
            self.resume.lower_to(millis(due_at), id);
        }
        self.unwritten.push(Settle {
            seq: from.seq,
            attempts: from.attempts + u32::from(attempt.is_some()),
            attempts_before_replay,
            attempt,
            clear_outcome: from.state.is_final() && !next.is_final(),
            state: next,
        });
        if self.unwritten.len() >= UNWRITTEN_LIMIT {
            self.write_unwritten()?;
        }
        Ok(())
    }

    /// Calls `each` with the row (`seq, id, at, attempts, attempts_before_replay, delivery`) and id of every
    /// pending delivery that is not taken and is due at or before `now` (at any time if `None`), oldest due
    /// first, until it returns false. Then raises `resume` past what it read: to the row where `each`
    /// stopped, or past `now` if it read them all.
    fn scan_due(
        &mut self,
        now: Option<Timestamp>,
        mut each: impl FnMut(&Row<'_>, &str) -> Result<bool, OutboxError>,
    ) -> Result<(), OutboxError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT seq, id, at, attempts, attempts_before_replay, delivery FROM deliveries
                 WHERE state = {PENDING} AND (at, id) >= (?1, ?2) AND at <= ?3 ORDER BY at, id"
            ))
            .map_err(read_err)?;
        let now_ms = now.map_or(i64::MAX, millis);
        let mut rows = stmt.query(params![self.resume.due_at, self.resume.id, now_ms]).map_err(read_err)?;
        let mut stopped_at = None;
        while let Some(row) = rows.next().map_err(read_err)? {
            let id: String = row.get(1).map_err(read_err)?;
            // Taken rows are passed over by id, before the delivery is read: there are at most as many as
            // the dispatcher has in flight, and `resume` keeps most of them out of the scan.
            if self.taken.contains_key(&id) {
                continue;
            }
            if !each(row, &id)? {
                stopped_at = Some(Resume { due_at: row.get(2).map_err(read_err)?, id });
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
                .prepare_cached(&format!(
                    "INSERT OR IGNORE INTO deliveries (id, state, at, webhook, attempts, attempts_before_replay, delivery)
                     VALUES (?1, {PENDING}, ?2, ?3, 0, 0, ?4)"
                ))
                .map_err(write_err)?;
            for delivery in &deliveries {
                let json = encode(&delivery.id, delivery)?;
                new +=
                    insert.execute(params![delivery.id, millis(due_at), delivery.webhook, json]).map_err(write_err)?;
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
            let read = || -> Result<(Lease, OutboxEntry), OutboxError> {
                let delivery: String = row.get(5).map_err(read_err)?;
                let lease = Lease {
                    seq: row.get(0).map_err(read_err)?,
                    state: DeliveryState::Pending {
                        due_at: milliseconds_to_timestamp(id, row.get(2).map_err(read_err)?)?,
                    },
                    attempts: row.get(3).map_err(read_err)?,
                    attempts_before_replay: row.get(4).map_err(read_err)?,
                };
                let entry = OutboxEntry {
                    delivery: serde_json::from_str(&delivery).map_err(|e| unreadable(id, e))?,
                    state: lease.state.clone(),
                    attempts: Vec::new(),
                    attempts_before_replay: lease.attempts_before_replay,
                };
                Ok((lease, entry))
            };
            match read() {
                Ok(taken) => out.push(taken),
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
        let mut entries = Vec::with_capacity(out.len());
        for (lease, mut entry) in out {
            // A retry: its attempts so far, for the log and the next attempt's number.
            if lease.attempts > 0 {
                entry.attempts = read_attempts(&inner.conn, &entry.delivery.id, lease.seq)?;
            }
            inner.taken.insert(entry.delivery.id.clone(), Some(lease));
            entries.push(entry);
        }
        Ok(entries)
    }

    fn settle(&self, id: &str, attempt: Option<AttemptLog>, next: DeliveryState) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let from = match inner.taken.get(id) {
            Some(Some(lease)) => lease.clone(),
            _ => {
                inner.write_unwritten()?;
                inner.load(id)?.ok_or_else(|| OutboxError::UnknownDelivery(id.to_owned()))?.0
            }
        };
        let attempts_before_replay = from.attempts_before_replay;
        inner.transition(id, from, attempt, stored(next), attempts_before_replay)
    }

    fn release(&self, ids: &[String]) -> Result<(), OutboxError> {
        // Leases are never written, so giving them back is only forgetting them (and reading from them on).
        let mut inner = self.lock();
        for id in ids {
            match inner.taken.remove(id) {
                Some(Some(Lease { state: DeliveryState::Pending { due_at }, .. })) => {
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
            first = row.get::<_, i64>(2).ok().and_then(|ms| Timestamp::from_millisecond(ms).ok());
            Ok(false)
        });
        scanned.ok().and(first)
    }

    fn get(&self, id: &str) -> Result<Option<OutboxEntry>, OutboxError> {
        let mut inner = self.lock();
        inner.write_unwritten()?;
        Ok(inner.load(id)?.map(|(_, entry)| entry))
    }

    fn flush(&self) -> Result<(), OutboxError> {
        self.lock().write_unwritten()
    }

    fn final_states(&self) -> Result<Vec<(String, DeliveryState)>, OutboxError> {
        let mut inner = self.lock();
        inner.write_unwritten()?;
        let mut stmt = inner
            .conn
            .prepare_cached("SELECT d.id, o.state FROM outcomes o JOIN deliveries d ON d.seq = o.seq")
            .map_err(read_err)?;
        let mut rows = stmt.query([]).map_err(read_err)?;
        let mut states = Vec::new();
        while let Some(row) = rows.next().map_err(read_err)? {
            let id: String = row.get(0).map_err(read_err)?;
            let state: String = row.get(1).map_err(read_err)?;
            let state: DeliveryState = serde_json::from_str(&state).map_err(|e| unreadable(&id, e))?;
            states.push((id, state));
        }
        drop(rows);
        drop(stmt);
        in_settle_order(&mut states);
        Ok(states)
    }

    fn dead_letters(&self, webhook: Option<&str>, limit: usize) -> Result<Vec<OutboxEntry>, OutboxError> {
        let mut inner = self.lock();
        inner.write_unwritten()?;
        let mut stmt = inner
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM deliveries d LEFT JOIN outcomes o ON o.seq = d.seq
                 WHERE d.state = {DEAD_LETTER} AND (?1 IS NULL OR d.webhook = ?1)
                 ORDER BY d.at DESC, d.id DESC LIMIT ?2"
            ))
            .map_err(read_err)?;
        let mut rows = stmt.query(params![webhook, sql_limit(limit)]).map_err(read_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(read_err)? {
            let (lease, mut entry) = read_entry(row)?;
            entry.attempts = read_attempts(&inner.conn, &entry.delivery.id, lease.seq)?;
            out.push(entry);
        }
        Ok(out)
    }

    fn replay(&self, id: &str, now: Timestamp) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        inner.write_unwritten()?;
        let (from, entry) = inner.load(id)?.ok_or_else(|| OutboxError::UnknownDelivery(id.to_owned()))?;
        if !matches!(entry.state, DeliveryState::DeadLetter { .. }) {
            return Err(OutboxError::NotADeadLetter { id: id.to_owned(), state: describe(&entry.state).to_owned() });
        }
        let attempts_before_replay = from.attempts;
        inner.transition(id, from, None, DeliveryState::Pending { due_at: whole_millis(now) }, attempts_before_replay)
    }

    fn counts(&self) -> OutboxCounts {
        let inner = self.lock();
        inner.tally.counts(inner.taken.len())
    }
}

/// SQLite's page size for a new outbox: 16 KiB rather than the default 4 KiB. The outbox writes mostly in
/// sequence (new deliveries, their attempts, settles in the order deliveries were taken), and every page
/// is written twice (to the WAL, then by the checkpoint), so fewer, larger pages mean fewer writes for
/// the same bytes. A file keeps the page size it was created with.
const PAGE_SIZE: u32 = 16 * 1024;

/// Creates the file, if there is none, with [`PAGE_SIZE`] pages (which must be set before anything is
/// written; switching to WAL writes the header).
fn create_with_large_pages(path: &Path) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE}; PRAGMA journal_mode = WAL;"))
        .map_err(|e| e.to_string())
}

/// Converts a file of the first layout (one row per delivery holding the whole entry as JSON) to this
/// one, in one transaction; any other file is left alone. A row whose entry cannot be read keeps its raw
/// text as its delivery, so it is reported when read, as it was.
fn convert_layout_1(path: &Path) -> Result<(), String> {
    if !path.exists() {
        return Ok(());
    }
    let mut conn = Connection::open(path).map_err(|e| e.to_string())?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    let has_entries: bool = conn
        .query_row("SELECT count(*) > 0 FROM pragma_table_info('deliveries') WHERE name = 'entry'", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if version != 1 || !has_entries {
        return Ok(());
    }
    let mut converted = || -> Result<(), OutboxError> {
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;").map_err(write_err)?;
        let tx = conn.transaction().map_err(write_err)?;
        tx.execute_batch(
            "ALTER TABLE deliveries RENAME TO deliveries_layout_1;
             DROP INDEX IF EXISTS deliveries_by_due;
             DROP INDEX IF EXISTS deliveries_by_update;",
        )
        .map_err(write_err)?;
        tx.execute_batch(SCHEMA).map_err(write_err)?;
        {
            let mut old = tx
                .prepare("SELECT id, state, due_at, updated_at, webhook, entry FROM deliveries_layout_1 ORDER BY rowid")
                .map_err(read_err)?;
            let mut rows = old.query([]).map_err(read_err)?;
            while let Some(row) = rows.next().map_err(read_err)? {
                let id: String = row.get(0).map_err(read_err)?;
                let json: String = row.get(5).map_err(read_err)?;
                match serde_json::from_str::<OutboxEntry>(&json) {
                    Ok(entry) => insert_entry(&tx, &entry)?,
                    Err(_) => {
                        let state: String = row.get(1).map_err(read_err)?;
                        let code = match state.as_str() {
                            "pending" => PENDING,
                            "delivered" => DELIVERED,
                            "dead_letter" => DEAD_LETTER,
                            _ => NOT_SENT,
                        };
                        let at: Option<i64> = row.get(if code == PENDING { 2 } else { 3 }).map_err(read_err)?;
                        let webhook: String = row.get(4).map_err(read_err)?;
                        tx.execute(
                            "INSERT INTO deliveries (id, state, at, webhook, attempts, attempts_before_replay, delivery)
                             VALUES (?1, ?2, ?3, ?4, 0, 0, ?5)",
                            params![id, code, at.unwrap_or(0), webhook, json],
                        )
                        .map_err(write_err)?;
                    }
                }
            }
        }
        tx.execute_batch(&format!("DROP TABLE deliveries_layout_1; PRAGMA user_version = {SCHEMA_VERSION};"))
            .map_err(write_err)?;
        tx.commit().map_err(write_err)
    };
    converted().map_err(|e| format!("converting it from the first layout: {e}"))
}

/// Writes a whole entry: its row, its attempts and its outcome (for [`convert_layout_1`]).
fn insert_entry(tx: &Transaction<'_>, entry: &OutboxEntry) -> Result<(), OutboxError> {
    let id = &entry.delivery.id;
    let (code, at) = columns(&entry.state);
    tx.execute(
        "INSERT INTO deliveries (id, state, at, webhook, attempts, attempts_before_replay, delivery)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            code,
            at,
            entry.delivery.webhook,
            entry.attempts.len(),
            entry.attempts_before_replay,
            encode(id, &entry.delivery)?
        ],
    )
    .map_err(write_err)?;
    let seq = tx.last_insert_rowid();
    for (index, attempt) in (0u32..).zip(&entry.attempts) {
        write_attempt(tx, seq, index, attempt)?;
    }
    if entry.state.is_final() {
        tx.execute("INSERT INTO outcomes (seq, state) VALUES (?1, ?2)", params![seq, encode_state(&entry.state)?])
            .map_err(write_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::tests::{attempt, delivery, t};

    fn enqueue_ids(outbox: &SqliteOutbox, ids: &[&str], due_at: Timestamp) {
        outbox.enqueue(ids.iter().map(|id| delivery(id, "mail")).collect(), due_at).unwrap();
    }

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
        let finals = outbox.final_states().unwrap();
        assert_eq!(finals, [("a".to_owned(), DeliveryState::Delivered { at: t(0), status: 200 })], "outcomes too");
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
    fn after_a_crash_taken_deliveries_are_due_again_and_settled_ones_are_not() {
        // arrange: four deliveries taken; one delivered, one retrying later and one given up, each settle
        // written; the fourth still in flight when the process dies
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        let outbox = SqliteOutbox::open(&path).unwrap();
        enqueue_ids(&outbox, &["delivered", "in-flight", "retrying", "given-up"], t(0));
        enqueue_ids(&outbox, &["not-yet-due"], t(100));
        assert_eq!(outbox.take_due(t(0), 10).unwrap().len(), 4);
        let delivered = DeliveryState::Delivered { at: t(1), status: 200 };
        outbox.settle("delivered", Some(attempt(1, t(0), Some(200))), delivered.clone()).unwrap();
        outbox.settle("retrying", Some(attempt(1, t(0), Some(503))), DeliveryState::Pending { due_at: t(30) }).unwrap();
        let dead = DeliveryState::DeadLetter { at: t(2), reason: "Webhook Dispatch Failed: HTTP 400".into() };
        outbox.settle("given-up", Some(attempt(1, t(0), Some(400))), dead.clone()).unwrap();
        outbox.flush().unwrap();

        // act: the process dies (in a test the connection must still close to release its lock; nothing is
        // left unwritten to lose here), and starts again
        assert!(outbox.lock().unwritten.is_empty());
        drop(outbox);
        let outbox = SqliteOutbox::open(&path).unwrap();

        // assert: the one in flight is due again, as it was; the settled ones keep their states and attempts
        let counts = outbox.counts();
        assert_eq!(counts, OutboxCounts { pending: 3, taken: 0, delivered: 1, dead_letter: 1, not_sent: 0 });
        let due = outbox.take_due(t(0), 10).unwrap();
        assert_eq!(due.iter().map(|e| e.delivery.id.as_str()).collect::<Vec<_>>(), ["in-flight"]);
        assert_eq!(due[0].delivery, delivery("in-flight", "mail"));
        assert!(due[0].attempts.is_empty());
        assert_eq!(outbox.next_due(), Some(t(30)));
        let retry = outbox.take_due(t(30), 10).unwrap();
        assert_eq!(retry.iter().map(|e| e.delivery.id.as_str()).collect::<Vec<_>>(), ["retrying"]);
        assert_eq!(retry[0].attempts, vec![attempt(1, t(0), Some(503))], "its attempt, to number the next one");
        let got = outbox.get("delivered").unwrap().unwrap();
        assert_eq!((got.state, got.attempts), (delivered, vec![attempt(1, t(0), Some(200))]));
        let dead_letters = outbox.dead_letters(None, 10).unwrap();
        assert_eq!(dead_letters.len(), 1);
        assert_eq!((&dead_letters[0].state, dead_letters[0].attempts.len()), (&dead, 1));

        // and a replayed dead letter's second round of attempts follows its first, through another restart
        outbox.replay("given-up", t(40)).unwrap();
        let replayed = outbox.take_due(t(40), 10).unwrap();
        assert_eq!(replayed[0].next_attempt(), 2);
        assert_eq!(replayed[0].next_attempt_since_replay(), 1);
        outbox
            .settle("given-up", Some(attempt(2, t(40), Some(200))), DeliveryState::Delivered { at: t(41), status: 200 })
            .unwrap();
        drop(outbox);
        let outbox = SqliteOutbox::open(&path).unwrap();
        let got = outbox.get("given-up").unwrap().unwrap();
        assert_eq!(got.attempts, vec![attempt(1, t(0), Some(400)), attempt(2, t(40), Some(200))]);
        assert_eq!(got.attempts_before_replay, 1);
        // in-flight and retrying were taken again and left unsettled, not-yet-due never taken: all pending
        assert_eq!(outbox.counts(), OutboxCounts { pending: 3, taken: 0, delivered: 2, dead_letter: 0, not_sent: 0 });
    }

    #[test]
    fn a_file_of_the_first_layout_is_converted_with_every_delivery_kept() {
        // arrange: a file as the first layout wrote it: a pending delivery, a retry, a delivered one, a
        // replayed dead letter, and a row whose entry is damaged
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        let entry = |id: &str, state: DeliveryState, attempts: Vec<AttemptLog>, attempts_before_replay: u32| {
            OutboxEntry { delivery: delivery(id, "mail"), state, attempts, attempts_before_replay }
        };
        let dead = DeliveryState::DeadLetter { at: t(9), reason: "Webhook Dispatch Failed: HTTP 503".into() };
        let entries = [
            entry("pending", DeliveryState::Pending { due_at: t(0) }, vec![], 0),
            entry("retry", DeliveryState::Pending { due_at: t(30) }, vec![attempt(1, t(0), Some(503))], 0),
            entry("sent", DeliveryState::Delivered { at: t(1), status: 200 }, vec![attempt(1, t(1), Some(200))], 0),
            entry("dead", dead.clone(), vec![attempt(1, t(0), Some(503)), attempt(2, t(9), Some(503))], 1),
        ];
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE deliveries (id TEXT PRIMARY KEY, state TEXT NOT NULL, due_at INTEGER,
                     webhook TEXT NOT NULL, updated_at INTEGER, entry TEXT NOT NULL);
                 CREATE INDEX deliveries_by_due ON deliveries (state, due_at, id);
                 CREATE INDEX deliveries_by_update ON deliveries (state, updated_at, id);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
            for e in &entries {
                let (state, due_at, updated_at) = match &e.state {
                    DeliveryState::Pending { due_at } => ("pending", Some(millis(*due_at)), None),
                    DeliveryState::Delivered { at, .. } => ("delivered", None, Some(millis(*at))),
                    DeliveryState::DeadLetter { at, .. } => ("dead_letter", None, Some(millis(*at))),
                    DeliveryState::NotSent { at, .. } => ("not_sent", None, Some(millis(*at))),
                };
                conn.execute(
                    "INSERT INTO deliveries VALUES (?1, ?2, ?3, 'mail', ?4, ?5)",
                    params![e.delivery.id, state, due_at, updated_at, serde_json::to_string(e).unwrap()],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO deliveries VALUES ('broken', 'delivered', NULL, 'mail', ?1, '{oops')",
                [millis(t(2))],
            )
            .unwrap();
        }

        // act
        let outbox = SqliteOutbox::open(&path).unwrap();

        // assert: every entry as it was, counted; the damaged one still reported by name
        for e in &entries {
            assert_eq!(outbox.get(&e.delivery.id).unwrap().as_ref(), Some(e), "{}", e.delivery.id);
        }
        let e = outbox.get("broken").unwrap_err();
        assert!(e.to_string().contains("\"broken\" is not readable"), "{e}");
        assert_eq!(outbox.counts(), OutboxCounts { pending: 2, taken: 0, delivered: 2, dead_letter: 1, not_sent: 0 });
        assert_eq!(outbox.dead_letters(None, 10).unwrap(), vec![entries[3].clone()]);
        let due = outbox.take_due(t(30), 10).unwrap();
        assert_eq!(due, vec![entries[0].clone(), entries[1].clone()]);
        drop(due);
        drop(outbox);
        let reopened = SqliteOutbox::open(&path).unwrap();
        assert_eq!(reopened.get("sent").unwrap().as_ref(), Some(&entries[2]), "opened again as it is");
    }

    #[test]
    fn a_new_file_has_large_pages_and_an_existing_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |outbox: &SqliteOutbox| -> u32 {
            outbox.lock().conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap()
        };
        let new = SqliteOutbox::open(dir.path().join("new.sqlite3")).unwrap();
        assert_eq!(page_size(&new), PAGE_SIZE);

        let path = dir.path().join("old.sqlite3");
        drop(sqlite_file::open(&path, SCHEMA, SCHEMA_VERSION).unwrap());
        let old = SqliteOutbox::open(&path).unwrap();
        assert_eq!(page_size(&old), 4096);
        old.enqueue(vec![delivery("a", "mail")], t(0)).unwrap();
        assert_eq!(old.take_due(t(0), 10).unwrap().len(), 1);
    }

    #[test]
    fn a_file_from_another_layout_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE other (x); PRAGMA user_version = 7;").unwrap();

        let Err(e) = SqliteOutbox::open(&path) else { panic!("opened a file of another layout") };

        let message = e.to_string();
        assert!(matches!(e, OutboxError::Storage(_)), "{e:?}");
        assert!(message.contains("another version of tapink (layout 7, expected 2)"), "{message}");
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
                "INSERT INTO deliveries (id, state, at, webhook, attempts, attempts_before_replay, delivery)
                 VALUES ('broken', 0, ?1, 'mail', 0, 0, '{oops')",
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
