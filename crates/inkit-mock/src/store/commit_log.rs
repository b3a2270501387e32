//! History's commit log: the files an answered request's records are in before they reach SQLite.
//!
//! Each thread that commits appends to a file of its own (`history-log/NNNNNNNN.log` in the data
//! directory), one `write` per commit, so the server threads never wait for each other or for SQLite: a
//! commit is in the operating system's cache, and survives a crash of the process, when the `write`
//! returns. The ingest thread (`super::ingest`) moves the commits into SQLite in large transactions a few
//! milliseconds later and deletes a file once it is all in SQLite and its writer has moved on.
//!
//! A commit is one frame: its sequence number (one counter for all threads, so that commits from
//! different files are put back in the order they were made), the length of the records' text, a CRC-32
//! of both and of the text, then the text. A frame cut short by a crash in the middle of its `write` was
//! never answered; it is where reading the file stops.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;

use super::{Record, StoreError};

/// Bytes before a frame's text: sequence number (u64), text length (u32), CRC-32 of those twelve bytes and
/// the text (u32), all little-endian.
const HEADER: usize = 16;

/// A writer moves to a new file once its file is this large, so the ingested part can be deleted.
const ROTATE_AT: u64 = 64 << 20;

/// The commit log of one data directory, shared by its writers and the ingest thread.
pub(crate) struct CommitLog {
    dir: PathBuf,
    /// The sequence number of the next commit.
    next_seq: AtomicU64,
    /// The number of the next file.
    next_file: AtomicU64,
    files: Mutex<Vec<LogFile>>,
    /// Commits written and files closed so far: the ingest thread has work when it has not seen them all.
    changes: AtomicU64,
    /// Bumped by a reset: a writer then moves to a new file, so that the files with commits from before
    /// it are closed and can go.
    generation: AtomicU64,
    /// Commits numbered below this were cleared by a reset: they are not moved into SQLite.
    cleared_below: AtomicU64,
    /// Rows numbered below this are gone from SQLite (the ingest thread deletes them after a reset).
    pub tidied_below: AtomicU64,
    /// The ingest thread, to wake when it sleeps until there is something to ingest.
    ingest: OnceLock<Thread>,
    asleep: AtomicBool,
}

/// A log file as the ingest thread sees it.
pub(crate) struct LogFile {
    pub path: PathBuf,
    /// For reading, without holding the list's lock.
    pub file: Arc<File>,
    /// How far the ingest thread has moved the file's frames into SQLite.
    pub ingested: u64,
    /// Whether a writer still appends to it; a file no writer appends to is deleted once ingested.
    pub open: bool,
}

/// A frame read back: its sequence number and the records' text.
pub(crate) struct Frame<'a> {
    pub seq: u64,
    pub text: &'a str,
}

/// The frames found at the start of `bytes`, how many bytes they take, and why reading stopped before the
/// end, if it did (an incomplete frame at the end is not a problem: its writer may still be writing it).
pub(crate) fn read_frames(bytes: &[u8]) -> (Vec<Frame<'_>>, usize, Option<String>) {
    let mut frames = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= HEADER {
        let header = &bytes[at..at + HEADER];
        let seq = u64::from_le_bytes(header[0..8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
        let Some(body) = bytes.get(at + HEADER..at + HEADER + len) else { break };
        if len == 0 || checksum(&header[0..12], body) != crc {
            return (frames, at, Some(format!("the frame at byte {at} fails its checksum")));
        }
        let Ok(text) = std::str::from_utf8(body) else {
            return (frames, at, Some(format!("the frame at byte {at} is not UTF-8")));
        };
        frames.push(Frame { seq, text });
        at += HEADER + len;
    }
    (frames, at, None)
}

/// The CRC-32 of a frame's sequence number and length, then its text.
fn checksum(numbers: &[u8], text: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(numbers);
    crc.update(text);
    crc.finalize()
}

impl CommitLog {
    /// The log in `dir` (created if missing), with the files a previous run left, for the ingest thread to
    /// move into SQLite before anything else. Commits get sequence numbers from `next_seq` on.
    pub fn open(dir: &Path, next_seq: u64) -> Result<Arc<Self>, StoreError> {
        let open_error =
            |e: std::io::Error| StoreError::Open { path: dir.display().to_string(), message: e.to_string() };
        std::fs::create_dir_all(dir).map_err(open_error)?;
        let mut found = Vec::new();
        for item in std::fs::read_dir(dir).map_err(open_error)? {
            let path = item.map_err(open_error)?.path();
            let number = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u64>().ok());
            match number {
                Some(n) if path.extension().is_some_and(|e| e == "log") => found.push((n, path)),
                _ => {}
            }
        }
        found.sort();
        let next_file = found.last().map_or(0, |(n, _)| n + 1);
        let mut files = Vec::with_capacity(found.len());
        for (_, path) in found {
            let file = OpenOptions::new().read(true).open(&path).map_err(open_error)?;
            files.push(LogFile { path, file: Arc::new(file), ingested: 0, open: false });
        }
        Ok(Arc::new(CommitLog {
            dir: dir.to_owned(),
            next_seq: AtomicU64::new(next_seq),
            next_file: AtomicU64::new(next_file),
            files: Mutex::new(files),
            changes: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            cleared_below: AtomicU64::new(0),
            tidied_below: AtomicU64::new(0),
            ingest: OnceLock::new(),
            asleep: AtomicBool::new(false),
        }))
    }

    /// Makes sequence numbers start at `seq` at the least (after the files of a previous run were read).
    pub fn seq_at_least(&self, seq: u64) {
        self.next_seq.fetch_max(seq, Ordering::SeqCst);
    }

    /// The files, for the ingest thread and for a reset.
    pub fn files(&self) -> MutexGuard<'_, Vec<LogFile>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new file for a writer.
    pub fn appender(self: &Arc<Self>) -> Result<LogAppender, StoreError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let (file, path) = self.new_file()?;
        Ok(LogAppender {
            log: self.clone(),
            file,
            path,
            size: 0,
            generation,
            failed: false,
            frame: Vec::with_capacity(16 * 1024),
        })
    }

    /// The number the next commit gets: every commit written so far is numbered below it.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.load(Ordering::SeqCst)
    }

    /// Commits numbered below `seq` are cleared (a reset, or one found at start-up): they are not moved into
    /// SQLite, and writers move to new files so that the files holding them can go once read.
    pub fn clear_below(&self, seq: u64) {
        self.cleared_below.fetch_max(seq, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.wake_ingest();
    }

    /// Commits numbered below this are cleared.
    pub fn cleared_below(&self) -> u64 {
        self.cleared_below.load(Ordering::SeqCst)
    }

    /// How many commits were written and files closed so far.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    fn new_file(&self) -> Result<(File, PathBuf), StoreError> {
        let path = self.dir.join(format!("{:08}.log", self.next_file.fetch_add(1, Ordering::SeqCst)));
        let failed = |e: std::io::Error| StoreError::Write(format!("cannot create {}: {e}", path.display()));
        let file = OpenOptions::new().append(true).create_new(true).open(&path).map_err(failed)?;
        let reader = OpenOptions::new().read(true).open(&path).map_err(failed)?;
        self.files().push(LogFile { path: path.clone(), file: Arc::new(reader), ingested: 0, open: true });
        Ok((file, path))
    }

    /// Lets the ingest thread (the thread that calls it) sleep until the next commit: it calls this, checks
    /// once more for work, then parks.
    pub fn going_to_sleep(&self) {
        self.ingest.get_or_init(std::thread::current);
        self.asleep.store(true, Ordering::SeqCst);
    }

    /// The ingest thread is awake again.
    pub fn awake(&self) {
        self.asleep.store(false, Ordering::SeqCst);
    }

    fn wake_ingest(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        if self.asleep.swap(false, Ordering::SeqCst)
            && let Some(thread) = self.ingest.get()
        {
            thread.unpark();
        }
    }

    fn closed(&self, path: &Path) {
        if let Some(f) = self.files().iter_mut().find(|f| f.path == path) {
            f.open = false;
        }
        self.wake_ingest();
    }
}

/// One writer's end of the log: appends its commits to its own file.
pub(crate) struct LogAppender {
    log: Arc<CommitLog>,
    file: File,
    path: PathBuf,
    size: u64,
    /// The log's generation when this file was made; after a reset, the next commit goes to a new file.
    generation: u64,
    /// Whether a write to this file failed: the next commit goes to a new file.
    failed: bool,
    /// The frame being written, kept to reuse its allocation.
    frame: Vec<u8>,
}

impl LogAppender {
    /// Appends `records` as one frame, in one `write`.
    pub fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let generation = self.log.generation.load(Ordering::SeqCst);
        if self.size >= ROTATE_AT || generation != self.generation || self.failed {
            let (file, path) = self.log.new_file()?;
            self.generation = generation;
            let old = std::mem::replace(&mut self.path, path);
            self.file = file;
            self.size = 0;
            self.failed = false;
            self.log.closed(&old);
        }
        self.frame.clear();
        self.frame.extend_from_slice(&[0; HEADER]);
        for r in records {
            // Compact JSON has no raw line breaks or tabs, and ids are letters and digits.
            self.frame.extend_from_slice(r.kind.as_str().as_bytes());
            self.frame.push(b'\t');
            self.frame.extend_from_slice(r.id.as_bytes());
            self.frame.push(b'\t');
            self.frame.extend_from_slice(r.body.as_bytes());
            self.frame.push(b'\n');
        }
        let text = &self.frame[HEADER..];
        let len = u32::try_from(text.len())
            .map_err(|_| StoreError::Write(format!("a commit of {} bytes is too large", text.len())))?;
        let seq = self.log.next_seq.fetch_add(1, Ordering::SeqCst);
        self.frame[0..8].copy_from_slice(&seq.to_le_bytes());
        self.frame[8..12].copy_from_slice(&len.to_le_bytes());
        let crc = checksum(&self.frame[0..12], &self.frame[HEADER..]);
        self.frame[12..16].copy_from_slice(&crc.to_le_bytes());
        if let Err(e) = self.file.write_all(&self.frame) {
            // Whatever part of the frame reached the file is where reading it stops; the next commit goes
            // to a new file, so that nothing answered comes after it.
            self.failed = true;
            return Err(StoreError::Write(format!("cannot append to {}: {e}", self.path.display())));
        }
        self.size += self.frame.len() as u64;
        self.log.wake_ingest();
        Ok(())
    }
}

impl Drop for LogAppender {
    fn drop(&mut self) {
        self.log.closed(&self.path);
    }
}

/// Reads `file` from `from` to its end into `bytes` (replacing what it held, reusing its memory).
pub(crate) fn read_from(file: &File, from: u64, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    bytes.clear();
    let mut file = file;
    file.seek(SeekFrom::Start(from))?;
    file.read_to_end(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordKind;

    fn record(id: &str) -> Record {
        Record { kind: RecordKind::Entry, id: id.into(), body: format!("{{\"id\":\"{id}\"}}") }
    }

    fn frames_of(path: &Path) -> Vec<(u64, String)> {
        let bytes = std::fs::read(path).unwrap();
        let (frames, _, problem) = read_frames(&bytes);
        assert_eq!(problem, None);
        frames.into_iter().map(|f| (f.seq, f.text.to_owned())).collect()
    }

    #[test]
    fn each_commit_is_one_frame_numbered_across_writers() {
        let dir = tempfile::tempdir().unwrap();
        let log = CommitLog::open(dir.path(), 7).unwrap();
        let (mut a, mut b) = (log.appender().unwrap(), log.appender().unwrap());
        a.write(&[record("rend_1"), record("rend_2")]).unwrap();
        b.write(&[record("rend_3")]).unwrap();
        a.write(&[record("rend_4")]).unwrap();
        assert_eq!(
            frames_of(&a.path),
            [
                (7, "entry\trend_1\t{\"id\":\"rend_1\"}\nentry\trend_2\t{\"id\":\"rend_2\"}\n".to_owned()),
                (9, "entry\trend_4\t{\"id\":\"rend_4\"}\n".to_owned())
            ]
        );
        assert_eq!(frames_of(&b.path), [(8, "entry\trend_3\t{\"id\":\"rend_3\"}\n".to_owned())]);
    }

    #[test]
    fn a_frame_cut_short_stops_reading_without_a_complaint_and_a_damaged_one_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = CommitLog::open(dir.path(), 0).unwrap();
        let mut a = log.appender().unwrap();
        a.write(&[record("rend_1")]).unwrap();
        a.write(&[record("rend_2")]).unwrap();
        let bytes = std::fs::read(&a.path).unwrap();
        let first = HEADER + "entry\trend_1\t{\"id\":\"rend_1\"}\n".len();

        let (frames, used, problem) = read_frames(&bytes[..bytes.len() - 3]);
        assert_eq!((frames.len(), used, problem), (1, first, None));

        let mut damaged = bytes.clone();
        *damaged.last_mut().unwrap() ^= 1;
        let (frames, used, problem) = read_frames(&damaged);
        assert_eq!((frames.len(), used), (1, first));
        assert_eq!(problem.unwrap(), format!("the frame at byte {first} fails its checksum"));
    }

    #[test]
    fn files_left_by_a_previous_run_are_found_and_new_ones_numbered_after_them() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = CommitLog::open(dir.path(), 0).unwrap();
            log.appender().unwrap().write(&[record("rend_1")]).unwrap();
            log.appender().unwrap().write(&[record("rend_2")]).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not a log").unwrap();
        let log = CommitLog::open(dir.path(), 0).unwrap();
        let names: Vec<_> = log.files().iter().map(|f| f.path.file_name().unwrap().to_owned()).collect();
        assert_eq!(names, ["00000000.log", "00000001.log"]);
        assert!(log.files().iter().all(|f| !f.open), "no writer appends to them");
        let appender = log.appender().unwrap();
        assert_eq!(appender.path.file_name().unwrap(), "00000002.log");
    }

    #[test]
    fn a_writer_moves_to_a_new_file_once_its_file_is_full_and_the_old_one_is_marked_closed() {
        let dir = tempfile::tempdir().unwrap();
        let log = CommitLog::open(dir.path(), 0).unwrap();
        let mut a = log.appender().unwrap();
        a.write(&[record("rend_1")]).unwrap();
        a.size = ROTATE_AT;
        a.write(&[record("rend_2")]).unwrap();
        let files: Vec<_> = log.files().iter().map(|f| (f.path.clone(), f.open)).collect();
        assert_eq!(files.len(), 2);
        assert!(!files[0].1 && files[1].1, "{files:?}");
        assert_eq!(frames_of(&files[1].0)[0].0, 1);
        drop(a);
        assert!(log.files().iter().all(|f| !f.open), "a dropped writer's file is closed");
    }
}
