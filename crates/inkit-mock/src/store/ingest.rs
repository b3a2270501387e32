//! Moving History's commit log into SQLite: once at start-up for what a previous run left, then on the
//! ingest thread, every few milliseconds while requests come in.
//!
//! Each frame becomes one row of `history_log`, keyed by its sequence number, so the rows read back in the
//! order the commits were made whichever file they came from, and a frame moved twice (a crash between the
//! SQLite commit and the deletion of its file) is one row. The thread gathers commits for a few
//! milliseconds and moves them in one transaction: what used to be thousands of small SQLite commits a
//! second on the server threads is a few hundred large ones on a thread of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use sqlite_file::DiskSync;

use super::StoreError;
use super::commit_log::{CommitLog, read_frames, read_from};

/// How long the thread lets commits gather before moving them: long enough that a transaction holds
/// hundreds of commits under load, short enough that the log stays a few megabytes.
const GATHER: Duration = Duration::from_millis(5);

/// The most bytes of frames one transaction takes; a larger backlog (after a crash) goes in several.
const MAX_BATCH: usize = 32 << 20;

/// The most rows cleared by a reset that one pass deletes.
pub(crate) const TIDY_SLICE: usize = 2_000;

/// What becomes of a log file once a pass has moved its frames.
enum Fate {
    Keep,
    Delete,
    /// Renamed to `….log.damaged`.
    SetAside,
}

/// What one pass moved.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Moved {
    pub frames: usize,
    /// Whether work was left for the next pass because this one was full (frames, or rows to delete).
    pub more: bool,
}

/// Moves the complete frames not yet in SQLite into it (but those a reset cleared), in one transaction,
/// then deletes the files that are all in SQLite and that no writer appends to. A file no writer appends
/// to that ends in a frame cut short (a crash in the middle of a write: it was never answered) is moved up
/// to there and deleted, with a warning; one with a damaged frame is moved up to it and set aside as
/// `NNNNNNNN.log.damaged`, with a warning.
///
/// `bytes` is where files are read; passing the same one each time saves the memory being taken afresh
/// (and zeroed by the kernel) on every pass.
pub(crate) fn ingest_once(
    log: &CommitLog,
    conn: &mut Connection,
    sync: DiskSync,
    bytes: &mut Vec<u8>,
) -> Result<Moved, StoreError> {
    let read = |path: &std::path::Path, e: std::io::Error| StoreError::Read(format!("{}: {e}", path.display()));
    let write = |e: rusqlite::Error| StoreError::Write(e.to_string());
    // The list's lock is not held while reading: a writer that moves to a new file takes it.
    let files: Vec<_> = log.files().iter().map(|f| (f.path.clone(), f.file.clone(), f.ingested, f.open)).collect();
    let mut moved = Moved::default();
    // The new end of each file's ingested part, and whether it can be deleted.
    let mut ends = Vec::with_capacity(files.len());
    let cleared_below = log.cleared_below();
    let tx = conn.transaction().map_err(write)?;
    let mut tidied = false;
    if log.tidied_below.load(Ordering::SeqCst) < cleared_below {
        // After a reset: the rows it cleared are already left out by loading; this frees their space, a
        // slice per pass, so that a reset (which waits for the connection) never waits for all of it.
        let deleted = tx
            .execute(
                "DELETE FROM history_log WHERE seq IN (SELECT seq FROM history_log WHERE seq < ?1 LIMIT ?2)",
                [cleared_below as i64, TIDY_SLICE as i64],
            )
            .map_err(write)?;
        tidied = deleted < TIDY_SLICE;
        moved.more |= !tidied;
    }
    {
        let mut insert =
            tx.prepare_cached("INSERT OR IGNORE INTO history_log (seq, records) VALUES (?1, ?2)").map_err(write)?;
        let mut taken = 0;
        for (path, file, ingested, open) in &files {
            // The first file is read whole, however large, so that no commit is too large to move.
            let limit = if taken == 0 { usize::MAX } else { MAX_BATCH.saturating_sub(taken) };
            bytes.clear();
            if limit > 0 {
                read_from(file, *ingested, bytes).map_err(|e| read(path, e))?;
            }
            let whole = bytes.len() <= limit && limit > 0;
            moved.more |= !whole;
            let (frames, used, problem) = read_frames(&bytes[..bytes.len().min(limit)]);
            if sync == DiskSync::Normal && !frames.is_empty() {
                file.sync_data().map_err(|e| read(path, e))?;
            }
            for frame in frames.iter().filter(|f| f.seq >= cleared_below) {
                insert.execute(rusqlite::params![frame.seq as i64, frame.text]).map_err(write)?;
            }
            moved.frames += frames.len();
            taken += used;
            let rest = bytes.len() - used;
            let fate = match problem {
                Some(problem) if *open => {
                    // Its writer moves to a new file after a failed write, so this file closes soon.
                    tracing::error!(file = %path.display(), %problem, "History's commit log is damaged");
                    Fate::Keep
                }
                Some(problem) => {
                    tracing::warn!(file = %path.display(), %problem, unread = rest,
                        "History's commit log has a damaged frame; the commits after it are not in History");
                    Fate::SetAside
                }
                None if !*open && whole && rest > 0 => {
                    tracing::warn!(file = %path.display(), dropped = rest,
                        "History's commit log ends in a frame cut short (a crash during its write; it was never answered)");
                    Fate::Delete
                }
                None if !*open && whole => Fate::Delete,
                None => Fate::Keep,
            };
            ends.push((ingested + used as u64, fate));
        }
    }
    tx.commit().map_err(write)?;
    if tidied {
        log.tidied_below.fetch_max(cleared_below, Ordering::SeqCst);
    }
    // Only now that its frames are in SQLite does a file go.
    let mut list = log.files();
    for ((path, ..), (end, fate)) in files.iter().zip(ends) {
        let Some(at) = list.iter().position(|f| &f.path == path) else { continue };
        list[at].ingested = end;
        let gone = match fate {
            Fate::Keep => continue,
            // Kept aside, not deleted: what follows the damage cannot be read, but may matter.
            Fate::SetAside => std::fs::rename(path, path.with_extension("log.damaged")),
            Fate::Delete => std::fs::remove_file(path),
        };
        list.remove(at);
        if let Err(e) = gone {
            tracing::warn!(file = %path.display(), error = %e, "cannot remove an ingested commit log file");
        }
    }
    Ok(moved)
}

/// The thread that moves commits into SQLite while the mock runs; stopping it moves what is left.
pub(crate) struct IngestThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl IngestThread {
    pub fn start(log: Arc<CommitLog>, conn: Arc<Mutex<Connection>>, sync: DiskSync) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("history-ingest".into())
            .spawn(move || run(&log, &conn, sync, &stopping))?;
        Ok(IngestThread { stop, thread: Some(thread) })
    }
}

impl Drop for IngestThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn run(log: &CommitLog, conn: &Mutex<Connection>, sync: DiskSync, stop: &AtomicBool) {
    // Not `log.changes()`: commits made before this thread got going would look seen.
    let mut seen = u64::MAX;
    let mut bytes = Vec::new();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping && log.changes() == seen {
            log.going_to_sleep();
            if log.changes() == seen && !stop.load(Ordering::SeqCst) {
                std::thread::park_timeout(Duration::from_secs(1));
            }
            log.awake();
            continue;
        }
        if !stopping {
            std::thread::sleep(GATHER);
        }
        seen = log.changes();
        let result = ingest_once(log, &mut conn.lock().unwrap_or_else(|p| p.into_inner()), sync, &mut bytes);
        match result {
            Ok(Moved { more: true, .. }) => seen = seen.wrapping_sub(1), // go on at once
            Ok(_) if stopping => return,
            Ok(_) => {}
            Err(e) => {
                // The commits stay in the log, on disk, and are moved on a later pass or at the next start.
                tracing::error!(error = %e, "cannot move History's commit log into SQLite; will retry");
                if stopping {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
                seen = seen.wrapping_sub(1);
            }
        }
    }
}
