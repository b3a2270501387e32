//! Group commit on the thread that asked: each server thread gathers the records of the requests it is
//! serving, and once the requests that were ready have all had their turn, stores them in one transaction,
//! applies them to the in-memory History and answers them. Under load one commit serves a dozen requests
//! or more (those that arrived together), so durability costs little per request; alone, a request waits
//! for one small commit.
//!
//! Committing on the server thread itself, instead of handing records to a writer thread, is about
//! latency: with a fixed number of clients (wrk's 32 connections, the dispatcher's 64 slots) every
//! microsecond a request waits for its commit is throughput lost. A writer thread cost two cross-thread
//! wake-ups per commit, and requests waited for the writer's current commit, then for their own; a 200 µs
//! pause to let more requests gather, once worth it, left a third of the two cores idle (docs/benchmarks.md).
//! The server threads share one SQLite connection behind a fair asynchronous mutex, held for a commit and
//! its changes, so changes are applied in the order they were committed. A thread whose turn has not come
//! goes on serving its other connections meanwhile (their requests join its next commit), and turns go in
//! the order they were asked for: with a plain mutex, the thread that had just committed often took it
//! again before the other woke, whose requests then waited hundreds of milliseconds.
//!
//! A write from any other thread (start-up, tests, an embedding program's runtime) commits at once, alone.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Mutex as FairMutex, Notify, oneshot};

use super::{Backend, Record, StoreError};

/// What to do once a job's records are committed: make them visible in memory. It runs whether or not
/// the request that asked is still waiting (a client that hung up must not leave an entry in the file
/// but missing from the live History).
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// A write waiting for its thread's next commit.
struct Job {
    records: Vec<Record>,
    after: AfterCommit,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The writes a server thread has gathered since its last commit.
#[derive(Default)]
struct ThreadQueue {
    jobs: Mutex<Vec<Job>>,
    ready: Notify,
}

/// The backend, shared by every thread that commits.
type Shared = Arc<FairMutex<Box<dyn Backend>>>;

thread_local! {
    /// This thread's queue and the backend it commits to, if this thread commits its own writes.
    static QUEUE: RefCell<Option<(Shared, Arc<ThreadQueue>)>> = const { RefCell::new(None) };
}

/// The handle requests use to store records.
#[derive(Clone)]
pub struct Writer {
    /// `None` for a backend that keeps nothing: writes succeed at once.
    backend: Option<Shared>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("durable", &self.is_durable()).finish()
    }
}

impl Writer {
    pub fn start(backend: Box<dyn Backend>) -> Self {
        let durable = backend.is_durable();
        Writer { backend: durable.then(|| Arc::new(FairMutex::new(backend))) }
    }

    /// Whether writes go anywhere; when not, callers need not build records at all.
    pub fn is_durable(&self) -> bool {
        self.backend.is_some()
    }

    /// Makes this thread gather its writes and commit them together, in the task this returns. Spawn it
    /// on this thread's current-thread runtime, which must serve this thread's requests, and call
    /// [`Writer::commit_what_this_thread_gathered`] once that runtime has served its last request. Without
    /// a durable backend the task ends at once.
    pub fn commit_on_this_thread(&self) -> impl Future<Output = ()> + Send + 'static {
        let queue = Arc::new(ThreadQueue::default());
        if let Some(backend) = &self.backend {
            QUEUE.with(|q| *q.borrow_mut() = Some((backend.clone(), queue.clone())));
        }
        let backend = self.backend.clone();
        async move {
            let Some(backend) = backend else { return };
            loop {
                queue.ready.notified().await;
                // Let every other request that is ready now run first, and the sockets be polled once more,
                // so that all of them share this commit.
                tokio::task::yield_now().await;
                let mut backend = backend.lock().await;
                let jobs = std::mem::take(&mut *lock_queue(&queue));
                commit_jobs(&mut **backend, jobs);
            }
        }
    }

    /// Commits what this thread has gathered and not yet committed: writes whose requests were dropped
    /// after asking. A server thread calls it when its runtime has stopped, so that those still happen.
    pub fn commit_what_this_thread_gathered(&self) {
        if let Some((backend, queue)) = QUEUE.with(|q| q.borrow_mut().take()) {
            let jobs = std::mem::take(&mut *lock_queue(&queue));
            commit_jobs(&mut **backend.blocking_lock(), jobs);
        }
    }

    /// Stores `records`, then runs `after`; returns once both are done. If the caller stops waiting, both
    /// still happen. Without a durable backend, `after` runs at once.
    pub async fn write(&self, records: Vec<Record>, after: AfterCommit) -> Result<(), StoreError> {
        let Some(backend) = &self.backend else {
            after();
            return Ok(());
        };
        let queue = QUEUE.with(|q| match &*q.borrow() {
            Some((b, queue)) if Arc::ptr_eq(b, backend) => Some(queue.clone()),
            _ => None,
        });
        let Some(queue) = queue else {
            let (done, result) = oneshot::channel();
            commit_jobs(&mut **backend.lock().await, vec![Job { records, after, done }]);
            return result.await.map_err(|_| StoreError::WriterStopped)?;
        };
        let (done, result) = oneshot::channel();
        lock_queue(&queue).push(Job { records, after, done });
        queue.ready.notify_one();
        result.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Empties the backend. Writes answered before it stay cleared; writes still waiting for their commit
    /// are concurrent with it and land on either side.
    pub async fn clear(&self) -> Result<(), StoreError> {
        match &self.backend {
            Some(backend) => backend.lock().await.clear(),
            None => Ok(()),
        }
    }
}

fn lock_queue(queue: &ThreadQueue) -> MutexGuard<'_, Vec<Job>> {
    queue.jobs.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes the jobs' records in one transaction, applies each change if that worked, then answers each.
/// The backend stays locked throughout, so changes are applied in the order of their commits.
fn commit_jobs(backend: &mut dyn Backend, mut jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    let mut records = Vec::with_capacity(jobs.iter().map(|j| j.records.len()).sum());
    for job in &mut jobs {
        records.append(&mut job.records);
    }
    let result = backend.write(&records);
    if let Err(e) = &result {
        tracing::error!(error = %e, requests = jobs.len(), "History commit failed; the requests get 500");
    }
    // Each change is applied before its request is answered, so an answered request's entry is visible.
    for job in jobs {
        if result.is_ok() {
            (job.after)();
        }
        let _ = job.done.send(result.clone());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::store::{RecordKind, Snapshot};

    /// A durable backend that takes its time, so that requests gather while it commits; it counts records
    /// and commits.
    #[derive(Default, Clone)]
    struct SlowBackend {
        written: Arc<AtomicUsize>,
        commits: Arc<AtomicUsize>,
    }

    impl Backend for SlowBackend {
        fn is_durable(&self) -> bool {
            true
        }
        fn load(&mut self) -> Result<Snapshot, StoreError> {
            Ok(Snapshot::default())
        }
        fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
            std::thread::sleep(Duration::from_millis(20));
            self.written.fetch_add(records.len(), Ordering::SeqCst);
            self.commits.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn clear(&mut self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    /// A backend whose every write fails, as a full disk would.
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

    fn record(i: usize) -> Record {
        Record { kind: RecordKind::Entry, id: format!("rend_{i}").into(), body: "{}".into() }
    }

    fn counting(applied: &Arc<AtomicUsize>) -> AfterCommit {
        let seen = applied.clone();
        Box::new(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// Runs `f` on a current-thread runtime whose thread commits its own writes, as a server thread does,
    /// then commits what is left, as a server thread does when its runtime stops.
    fn on_a_server_thread(writer: &Writer, f: impl Future<Output = ()>) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            tokio::spawn(writer.commit_on_this_thread());
            f.await;
        });
        writer.commit_what_this_thread_gathered();
    }

    /// Starts `n` writes at once on this thread; each checks that its change was applied before it was
    /// answered. Returns their results.
    async fn write_many(writer: &Writer, n: usize, applied: &Arc<AtomicUsize>) -> Vec<Result<(), StoreError>> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let (writer, applied) = (writer.clone(), applied.clone());
            tasks.spawn(async move {
                let mine = Arc::new(AtomicBool::new(false));
                let flag = mine.clone();
                let after: AfterCommit = Box::new(move || {
                    flag.store(true, Ordering::SeqCst);
                    applied.fetch_add(1, Ordering::SeqCst);
                });
                let result = writer.write(vec![record(i)], after).await;
                if result.is_ok() {
                    assert!(mine.load(Ordering::SeqCst), "write {i} was answered before its change was applied");
                }
                result
            });
        }
        tokio::time::timeout(Duration::from_secs(10), tasks.join_all()).await.expect("every write is answered")
    }

    #[test]
    fn writes_on_a_server_thread_share_commits_and_each_change_is_applied_before_its_answer() {
        // arrange
        let backend = SlowBackend::default();
        let writer = Writer::start(Box::new(backend.clone()));
        let applied = Arc::new(AtomicUsize::new(0));

        // act
        let mut results = Vec::new();
        on_a_server_thread(&writer, async { results = write_many(&writer, 20, &applied).await });

        // assert
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(backend.written.load(Ordering::SeqCst), 20);
        assert_eq!(applied.load(Ordering::SeqCst), 20);
        let commits = backend.commits.load(Ordering::SeqCst);
        assert!(commits < 5, "20 writes ready together took {commits} commits");
    }

    #[test]
    fn a_write_dropped_while_waiting_for_its_commit_is_still_committed_and_applied() {
        // arrange
        let backend = SlowBackend::default();
        let writer = Writer::start(Box::new(backend.clone()));
        let applied = Arc::new(AtomicUsize::new(0));

        // act: poll the write once (it joins the thread's queue), then drop it, as hyper does when a client
        // hangs up
        on_a_server_thread(&writer, async {
            let mut request = std::pin::pin!(writer.write(vec![record(1)], counting(&applied)));
            let first = std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "the commit waits for the thread's other ready requests");
        });

        // assert
        assert_eq!(backend.written.load(Ordering::SeqCst), 1);
        assert_eq!(applied.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn writes_left_when_a_server_thread_stops_are_committed_by_its_last_call() {
        // arrange: this thread gathers its writes, but its committing task never runs (its runtime stopped
        // first), and a write is waiting
        let backend = SlowBackend::default();
        let writer = Writer::start(Box::new(backend.clone()));
        let applied = Arc::new(AtomicUsize::new(0));
        drop(writer.commit_on_this_thread());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut request = std::pin::pin!(writer.write(vec![record(1)], counting(&applied)));
            let first = std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
            assert!(first.is_pending());
        });
        assert_eq!(backend.written.load(Ordering::SeqCst), 0, "nothing commits without the committing task");

        // act
        writer.commit_what_this_thread_gathered();

        // assert
        assert_eq!(backend.written.load(Ordering::SeqCst), 1);
        assert_eq!(applied.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_commit_on_a_server_thread_answers_every_write_with_the_error_and_applies_nothing() {
        let writer = Writer::start(Box::new(Failing));
        let applied = Arc::new(AtomicUsize::new(0));
        let mut results = Vec::new();
        on_a_server_thread(&writer, async { results = write_many(&writer, 5, &applied).await });
        assert!(results.iter().all(|r| matches!(r, Err(StoreError::Write(m)) if m == "disk full")), "{results:?}");
        assert_eq!(applied.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_write_from_another_thread_commits_at_once_and_a_failure_applies_nothing() {
        // arrange
        let backend = SlowBackend::default();
        let writer = Writer::start(Box::new(backend.clone()));
        let failing = Writer::start(Box::new(Failing));
        let applied = Arc::new(AtomicUsize::new(0));

        // act
        let stored = writer.write(vec![record(1)], counting(&applied)).await;
        let refused = failing.write(vec![record(2)], counting(&applied)).await;

        // assert
        assert!(stored.is_ok(), "{stored:?}");
        assert_eq!((backend.written.load(Ordering::SeqCst), backend.commits.load(Ordering::SeqCst)), (1, 1));
        assert!(matches!(refused, Err(StoreError::Write(ref m)) if m == "disk full"), "{refused:?}");
        assert_eq!(applied.load(Ordering::SeqCst), 1, "only the stored write was applied");
    }
}
