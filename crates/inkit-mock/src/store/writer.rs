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

type Done = oneshot::Sender<Result<(), StoreError>>;

/// What to do once a job's records are committed: make them visible in memory. It runs on the writer
/// thread, so it happens even when the request that asked has gone away (a client that hung up must not
/// leave an entry in the file but missing from the live History).
pub type AfterCommit = Box<dyn FnOnce() + Send>;

enum Job {
    Write(Vec<Record>, AfterCommit, Done),
    Clear(Done),
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

    /// Stores `records`, then runs `after`; returns once both are done. If the caller stops waiting, both
    /// still happen. Without a durable backend, `after` runs at once.
    pub async fn write(&self, records: Vec<Record>, after: AfterCommit) -> Result<(), StoreError> {
        if self.thread.is_none() {
            after();
            return Ok(());
        }
        self.send(|done| Job::Write(records, after, done)).await
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
    let mut waiting: Vec<(AfterCommit, Done)> = Vec::new();
    let mut busy = false;
    while let Ok(first) = rx.recv() {
        if busy {
            std::thread::sleep(LINGER_UNDER_LOAD);
        }
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(mut batch, after, done) => {
                    records.append(&mut batch);
                    waiting.push((after, done));
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

fn commit(backend: &mut dyn Backend, records: &mut Vec<Record>, waiting: &mut Vec<(AfterCommit, Done)>) {
    if waiting.is_empty() {
        return;
    }
    let result = backend.write(records);
    if let Err(e) = &result {
        tracing::error!(error = %e, records = records.len(), "History commit failed; the requests get 500");
    }
    for (after, done) in waiting.drain(..) {
        if result.is_ok() {
            after();
        }
        let _ = done.send(result.clone());
    }
    records.clear();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::store::{RecordKind, Snapshot};

    /// A durable backend that takes its time, so a request can be dropped while its commit is running.
    struct SlowBackend {
        written: Arc<AtomicUsize>,
    }

    impl Backend for SlowBackend {
        fn is_durable(&self) -> bool {
            true
        }
        fn load(&mut self) -> Result<Snapshot, StoreError> {
            Ok(Snapshot::default())
        }
        fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
            std::thread::sleep(Duration::from_millis(50));
            self.written.fetch_add(records.len(), Ordering::SeqCst);
            Ok(())
        }
        fn clear(&mut self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_change_is_applied_after_its_commit_even_when_the_request_is_dropped() {
        // arrange
        let written = Arc::new(AtomicUsize::new(0));
        let writer = Writer::start(Box::new(SlowBackend { written: written.clone() }));
        let applied = Arc::new(AtomicUsize::new(0));
        let seen = applied.clone();
        let record = Record { kind: RecordKind::Entry, id: "rend_1".into(), body: "{}".into() };

        // act: poll the write once (the job reaches the writer), then drop it, as hyper does when a client
        // hangs up
        {
            let after: AfterCommit = Box::new(move || {
                seen.fetch_add(1, Ordering::SeqCst);
            });
            let mut request = std::pin::pin!(writer.write(vec![record], after));
            let first = std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "a 50 ms commit cannot finish within one poll");
        }

        // assert: the record was committed and the change applied all the same
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(written.load(Ordering::SeqCst), 1);
        assert_eq!(applied.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_commit_applies_nothing_and_reports_the_error() {
        struct Failing;
        impl Backend for Failing {
            fn is_durable(&self) -> bool {
                true
            }
            fn load(&mut self) -> Result<Snapshot, StoreError> {
                Ok(Snapshot::default())
            }
            fn write(&mut self, _: &[Record]) -> Result<(), StoreError> {
                Err(StoreError::Write("disk full".into()))
            }
            fn clear(&mut self) -> Result<(), StoreError> {
                Ok(())
            }
        }
        let writer = Writer::start(Box::new(Failing));
        let applied = Arc::new(AtomicUsize::new(0));
        let seen = applied.clone();
        let record = Record { kind: RecordKind::Entry, id: "rend_1".into(), body: "{}".into() };
        let result = writer
            .write(
                vec![record],
                Box::new(move || {
                    seen.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .await;
        assert!(matches!(result, Err(StoreError::Write(ref m)) if m == "disk full"), "{result:?}");
        assert_eq!(applied.load(Ordering::SeqCst), 0);
    }
}
