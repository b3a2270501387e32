//! Group commit: requests hand their records to one writer thread, which stores everything that has
//! arrived in one transaction and then answers each request. Under load one commit serves dozens of
//! requests, so durability costs little per request; alone, a request waits for one small commit.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{Backend, Record, StoreError};

/// Most jobs folded into one transaction; bounds a commit's latency under a flood.
const MAX_JOBS_PER_COMMIT: usize = 512;

/// Under load (the last commit served several requests), how long the writer lets requests gather before
/// the next commit. Requests queue without waking it, and more of them share each commit. Alone, a
/// request is committed at once.
const LINGER_UNDER_LOAD: std::time::Duration = std::time::Duration::from_micros(200);

enum Job {
    Write(Vec<Record>, oneshot::Sender<Result<(), StoreError>>),
    Clear(oneshot::Sender<Result<(), StoreError>>),
}

/// The handle requests use to store records.
#[derive(Debug)]
pub struct Writer {
    /// `None` for a backend that keeps nothing: writes succeed at once.
    thread: Option<mpsc::Sender<Job>>,
}

impl Writer {
    /// Starts the writer for `backend`. The thread ends when the last handle is dropped, after it has
    /// written every job it received.
    pub fn start(backend: Box<dyn Backend>) -> Self {
        if !backend.is_durable() {
            return Writer { thread: None };
        }
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("inkit-history-writer".into())
            .spawn(move || run(backend, rx))
            .expect("spawning the History writer thread");
        Writer { thread: Some(tx) }
    }

    /// Whether writes go anywhere; when not, callers need not build records at all.
    pub fn is_durable(&self) -> bool {
        self.thread.is_some()
    }

    /// Stores `records`; returns once they are committed.
    pub async fn write(&self, records: Vec<Record>) -> Result<(), StoreError> {
        self.send(|done| Job::Write(records, done)).await
    }

    pub async fn clear(&self) -> Result<(), StoreError> {
        self.send(Job::Clear).await
    }

    async fn send(&self, job: impl FnOnce(oneshot::Sender<Result<(), StoreError>>) -> Job) -> Result<(), StoreError> {
        let Some(tx) = &self.thread else { return Ok(()) };
        let (done, wait) = oneshot::channel();
        tx.send(job(done)).map_err(|_| StoreError::WriterStopped)?;
        wait.await.map_err(|_| StoreError::WriterStopped)?
    }
}

fn run(mut backend: Box<dyn Backend>, rx: mpsc::Receiver<Job>) {
    let mut records = Vec::new();
    let mut waiting = Vec::new();
    let mut busy = false;
    while let Ok(first) = rx.recv() {
        if busy {
            std::thread::sleep(LINGER_UNDER_LOAD);
        }
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(mut batch, done) => {
                    records.append(&mut batch);
                    waiting.push(done);
                    if waiting.len() < MAX_JOBS_PER_COMMIT {
                        next = rx.try_recv().ok();
                    }
                }
                Job::Clear(done) => {
                    // Commit what came before the clear, so the order requests were answered in holds.
                    commit(&mut *backend, &mut records, &mut waiting);
                    let _ = done.send(backend.clear());
                    next = rx.try_recv().ok();
                }
            }
        }
        busy = waiting.len() > 1;
        commit(&mut *backend, &mut records, &mut waiting);
    }
}

fn commit(
    backend: &mut dyn Backend,
    records: &mut Vec<Record>,
    waiting: &mut Vec<oneshot::Sender<Result<(), StoreError>>>,
) {
    if waiting.is_empty() {
        return;
    }
    let result = backend.write(records);
    if let Err(e) = &result {
        tracing::error!(error = %e, records = records.len(), "History commit failed; the requests get 500");
    }
    for done in waiting.drain(..) {
        let _ = done.send(result.clone());
    }
    records.clear();
}
