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
    /// The queues this thread gathers its writes in, one for each backend whose writes it commits itself
    /// (one in a server, several where tests run more than one mock on a thread).
    static QUEUES: RefCell<Vec<(Shared, Arc<ThreadQueue>)>> = const { RefCell::new(Vec::new()) };
}

/// This thread's queue for `backend`, if it has one.
fn queue_for(backend: &Shared) -> Option<Arc<ThreadQueue>> {
    QUEUES.with(|q| q.borrow().iter().find(|(b, _)| Arc::ptr_eq(b, backend)).map(|(_, queue)| queue.clone()))
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
    /// on this thread's current-thread runtime, which must serve this thread's requests; once that runtime
    /// has served its last request, drop it, then call [`Writer::commit_what_this_thread_gathered`]. Without
    /// a durable backend the task ends at once. Called again on the same thread, it keeps the same queue.
    pub fn commit_on_this_thread(&self) -> impl Future<Output = ()> + Send + 'static {
        let backend = self.backend.clone();
        let queue = backend.as_ref().map(|backend| {
            queue_for(backend).unwrap_or_else(|| {
                let queue = Arc::new(ThreadQueue::default());
                QUEUES.with(|q| q.borrow_mut().push((backend.clone(), queue.clone())));
                queue
            })
        });
        async move {
            let (Some(backend), Some(queue)) = (backend, queue) else { return };
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

    /// Commits what this thread has gathered for this writer and not yet committed (writes whose requests
    /// were dropped after asking), and stops gathering. A server thread calls it after dropping its runtime:
    /// not before, since a committing task of that runtime may be waiting in line for the backend, and the
    /// line would never move past it.
    pub fn commit_what_this_thread_gathered(&self) {
        let Some(backend) = &self.backend else { return };
        let Some(queue) = queue_for(backend) else { return };
        QUEUES.with(|q| q.borrow_mut().retain(|(b, _)| !Arc::ptr_eq(b, backend)));
        let jobs = std::mem::take(&mut *lock_queue(&queue));
        commit_jobs(&mut **backend.blocking_lock(), jobs);
    }

    /// Stores `records`, then runs `after`; returns once both are done. If the caller stops waiting, both
    /// still happen. Without a durable backend, `after` runs at once.
    pub async fn write(&self, records: Vec<Record>, after: AfterCommit) -> Result<(), StoreError> {
        let Some(backend) = &self.backend else {
            after();
            return Ok(());
        };
        let (done, result) = oneshot::channel();
        let job = Job { records, after, done };
        let Some(queue) = queue_for(backend) else {
            // Not a server thread: commit alone, in a task of its own, so the write happens even if the caller
            // stops waiting for its turn.
            let backend = backend.clone();
            tokio::spawn(async move { commit_jobs(&mut **backend.lock().await, vec![job]) });
            return result.await.map_err(|_| StoreError::WriterStopped)?;
        };
        lock_queue(&queue).push(job);
        queue.ready.notify_one();
        result.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Empties the backend, then runs `after` (which empties the in-memory state) before any other commit
    /// can apply a change: a write is either cleared from both or kept in both. Writes answered before it
    /// stay cleared; writes still waiting for their commit are concurrent with it and land on either side.
    pub async fn clear(&self, after: AfterCommit) -> Result<(), StoreError> {
        let Some(backend) = &self.backend else {
            after();
            return Ok(());
        };
        let mut backend = backend.lock().await;
        backend.clear()?;
        after();
        Ok(())
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
    // A change that panics (a bug) fails its own request only; the others and this thread carry on.
    for job in jobs {
        let applied = match &result {
            Ok(()) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(job.after)).map_err(|_| {
                tracing::error!("applying a stored History change panicked");
                StoreError::Write("the change was stored but could not be applied; it shows after a restart".into())
            }),
            Err(e) => Err(e.clone()),
        };
        let _ = job.done.send(applied);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::store::RecordKind;
    use crate::store::test_backend::TestBackend;

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
        drop(runtime);
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
        let backend = TestBackend::slow();
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
        let backend = TestBackend::slow();
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
        let backend = TestBackend::slow();
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
        let writer = Writer::start(Box::new(TestBackend::failing()));
        let applied = Arc::new(AtomicUsize::new(0));
        let mut results = Vec::new();
        on_a_server_thread(&writer, async { results = write_many(&writer, 5, &applied).await });
        assert!(results.iter().all(|r| matches!(r, Err(StoreError::Write(m)) if m == "disk full")), "{results:?}");
        assert_eq!(applied.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_write_from_another_thread_commits_at_once_and_a_failure_applies_nothing() {
        // arrange
        let backend = TestBackend::slow();
        let writer = Writer::start(Box::new(backend.clone()));
        let failing = Writer::start(Box::new(TestBackend::failing()));
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

    /// Polls `write` once and drops it, as hyper drops a request whose client hung up.
    async fn poll_once_then_drop(write: impl Future<Output = Result<(), StoreError>>) {
        let mut write = std::pin::pin!(write);
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx))).await;
        assert!(first.is_pending(), "the write cannot be done within one poll here");
    }

    /// Waits (at most 5 s) until `n` records are written.
    fn wait_for_written(backend: &TestBackend, n: usize) {
        let started = std::time::Instant::now();
        while backend.written.load(Ordering::SeqCst) < n && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_server_thread_that_stops_while_its_commit_waits_in_line_still_commits_and_stops() {
        // arrange: another thread's commit holds the backend; this server thread's write waits in line
        let backend = TestBackend::slow();
        let writer = Writer::start(Box::new(backend.clone()));
        let held = writer.backend.clone().expect("durable").blocking_lock_owned();
        let applied = Arc::new(AtomicUsize::new(0));
        let (stopped_tx, stopped) = std::sync::mpsc::channel();
        let (server_writer, seen) = (writer.clone(), applied.clone());
        let server = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                tokio::spawn(server_writer.commit_on_this_thread());
                poll_once_then_drop(server_writer.write(vec![record(1)], counting(&seen))).await;
                for _ in 0..20 {
                    tokio::task::yield_now().await; // the committing task gets in line for the backend
                }
            });
            stopped_tx.send(()).unwrap();
            drop(runtime);
            server_writer.commit_what_this_thread_gathered();
        });

        // act: the other commit ends once the server thread's runtime has stopped
        stopped.recv().unwrap();
        drop(held);

        // assert
        let started = std::time::Instant::now();
        while !server.is_finished() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(server.is_finished(), "the server thread is stuck behind its own stopped runtime");
        assert_eq!(backend.written.load(Ordering::SeqCst), 1);
        assert_eq!(applied.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn two_writers_on_one_thread_each_commit_their_own_leftovers() {
        // arrange: two mocks' writers gather on this thread; neither's committing task runs
        let (first, second) = (TestBackend::slow(), TestBackend::slow());
        let (a, b) = (Writer::start(Box::new(first.clone())), Writer::start(Box::new(second.clone())));
        drop((a.commit_on_this_thread(), b.commit_on_this_thread()));
        let applied = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            poll_once_then_drop(a.write(vec![record(1)], counting(&applied))).await;
            poll_once_then_drop(b.write(vec![record(2), record(3)], counting(&applied))).await;
        });
        drop(runtime);

        // act
        a.commit_what_this_thread_gathered();
        let after_first = (first.written.load(Ordering::SeqCst), second.written.load(Ordering::SeqCst));
        b.commit_what_this_thread_gathered();

        // assert
        assert_eq!(after_first, (1, 0), "the first writer committed its own write only");
        assert_eq!(second.written.load(Ordering::SeqCst), 2);
        assert_eq!(applied.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_write_from_another_thread_dropped_while_waiting_its_turn_is_still_committed() {
        // arrange: a commit in progress holds the backend
        let backend = TestBackend::slow();
        let writer = Writer::start(Box::new(backend.clone()));
        let held = writer.backend.clone().expect("durable").lock_owned().await;
        let applied = Arc::new(AtomicUsize::new(0));

        // act: the caller gives up while waiting, then the other commit ends
        poll_once_then_drop(writer.write(vec![record(1)], counting(&applied))).await;
        drop(held);

        // assert
        let waiting = tokio::task::spawn_blocking(move || wait_for_written(&backend, 1));
        waiting.await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(applied.load(Ordering::SeqCst), 1, "the dropped write was committed and applied");
    }
}
