//! Group commit on the thread that asked: each server thread gathers the records of the requests it is
//! serving, and once the requests that were ready have all had their turn, writes them in one go through
//! its own appender, applies them to the in-memory History and answers them. Under load one commit serves a
//! dozen requests or more (those that arrived together), so durability costs little per request; alone, a
//! request waits for one small commit.
//!
//! Committing on the server thread itself, instead of handing records to a writer thread, is about
//! latency: with a fixed number of clients (wrk's 32 connections, the dispatcher's 64 slots) every
//! microsecond a request waits for its commit is throughput lost. Each thread has an appender of its own
//! (with SQLite, a commit log file: `super::commit_log`), so threads never wait for each other: when they
//! took turns on one SQLite connection, a thread whose requests all waited for its turn had nothing to do,
//! and a twelfth of the two cores sat idle (docs/benchmarks.md). Changes from different threads are
//! therefore applied in whichever order their commits finish; the backend orders them by when they were
//! written, and concurrent changes to one entry (two deletes at once) are the only place that can show.
//!
//! A write from any other thread (start-up, tests, an embedding program's runtime) commits at once, alone,
//! through one shared appender.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::{Notify, oneshot};

use super::{Appender, Backend, Record, StoreError};

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

/// One thread's way to write, made at its first commit.
type Slot = Mutex<Option<Box<dyn Appender>>>;

/// The writes a server thread has gathered since its last commit, and its appender.
#[derive(Default)]
struct ThreadQueue {
    jobs: Mutex<Vec<Job>>,
    ready: Notify,
    appender: Slot,
}

/// The backend, shared by every thread that commits.
struct Shared {
    /// The appender of writes from threads that do not commit their own. Declared before `backend` so that
    /// it is dropped first: a backend's last act may be to tidy up after its appenders.
    others: Slot,
    backend: Box<dyn Backend>,
    /// Held shared by a commit while it writes and applies its changes, and alone by a reset: a write is
    /// either cleared from both the backend and memory or kept in both.
    gate: RwLock<()>,
}

thread_local! {
    /// The queues this thread gathers its writes in, one for each backend whose writes it commits itself
    /// (one in a server, several where tests run more than one mock on a thread).
    static QUEUES: RefCell<Vec<(Arc<Shared>, Arc<ThreadQueue>)>> = const { RefCell::new(Vec::new()) };
}

/// This thread's queue for `shared`, if it has one.
fn queue_for(shared: &Arc<Shared>) -> Option<Arc<ThreadQueue>> {
    QUEUES.with(|q| q.borrow().iter().find(|(s, _)| Arc::ptr_eq(s, shared)).map(|(_, queue)| queue.clone()))
}

/// The handle requests use to store records.
#[derive(Clone)]
pub struct Writer {
    /// `None` for a backend that keeps nothing: writes succeed at once.
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("durable", &self.is_durable()).finish()
    }
}

impl Writer {
    pub fn start(backend: Box<dyn Backend>) -> Self {
        let durable = backend.is_durable();
        Writer {
            shared: durable.then(|| Arc::new(Shared { others: Mutex::new(None), backend, gate: RwLock::new(()) })),
        }
    }

    /// Whether writes go anywhere; when not, callers need not build records at all.
    pub fn is_durable(&self) -> bool {
        self.shared.is_some()
    }

    /// Makes this thread gather its writes and commit them together, in the task this returns. Spawn it
    /// on this thread's current-thread runtime, which must serve this thread's requests; once that runtime
    /// has served its last request, drop it, then call [`Writer::commit_what_this_thread_gathered`]. Without
    /// a durable backend the task ends at once. Called again on the same thread, it keeps the same queue.
    pub fn commit_on_this_thread(&self) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        let queue = shared.as_ref().map(|shared| {
            queue_for(shared).unwrap_or_else(|| {
                let queue = Arc::new(ThreadQueue::default());
                QUEUES.with(|q| q.borrow_mut().push((shared.clone(), queue.clone())));
                queue
            })
        });
        async move {
            let (Some(shared), Some(queue)) = (shared, queue) else { return };
            loop {
                queue.ready.notified().await;
                // Let every other request that is ready now run first, and the sockets be polled once more,
                // so that all of them share this commit.
                tokio::task::yield_now().await;
                let jobs = std::mem::take(&mut *lock(&queue.jobs));
                commit_jobs(&shared, &queue.appender, jobs);
            }
        }
    }

    /// Commits what this thread has gathered for this writer and not yet committed (writes whose requests
    /// were dropped after asking), closes its appender and stops gathering. A server thread calls it after
    /// dropping its runtime, so that no task of it commits afterwards.
    pub fn commit_what_this_thread_gathered(&self) {
        let Some(shared) = &self.shared else { return };
        let Some(queue) = queue_for(shared) else { return };
        QUEUES.with(|q| q.borrow_mut().retain(|(s, _)| !Arc::ptr_eq(s, shared)));
        let jobs = std::mem::take(&mut *lock(&queue.jobs));
        commit_jobs(shared, &queue.appender, jobs);
        lock(&queue.appender).take();
    }

    /// Stores `records`, then runs `after`; returns once both are done. If the caller stops waiting, both
    /// still happen. Without a durable backend, `after` runs at once.
    pub async fn write(&self, records: Vec<Record>, after: AfterCommit) -> Result<(), StoreError> {
        let Some(shared) = &self.shared else {
            after();
            return Ok(());
        };
        let (done, result) = oneshot::channel();
        let job = Job { records, after, done };
        match queue_for(shared) {
            Some(queue) => {
                lock(&queue.jobs).push(job);
                queue.ready.notify_one();
            }
            // Not a server thread: commit now, before the caller can stop waiting.
            None => commit_jobs(shared, &shared.others, vec![job]),
        }
        result.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Empties the backend, then runs `after` (which empties the in-memory state) while no commit can write
    /// or apply a change: a write is either cleared from both or kept in both. Writes answered before it
    /// stay cleared; writes still waiting for their commit are concurrent with it and land on either side.
    pub async fn clear(&self, after: AfterCommit) -> Result<(), StoreError> {
        let Some(shared) = &self.shared else {
            after();
            return Ok(());
        };
        let clear_now = shared.backend.clear()?;
        let _alone = shared.gate.write().unwrap_or_else(|p| p.into_inner());
        clear_now()?;
        after();
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes the jobs' records at once through `slot`'s appender (made now if this is its first commit),
/// applies each change if that worked, then answers each.
fn commit_jobs(shared: &Shared, slot: &Slot, mut jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    let mut records = Vec::with_capacity(jobs.iter().map(|j| j.records.len()).sum());
    for job in &mut jobs {
        records.append(&mut job.records);
    }
    let _shared = shared.gate.read().unwrap_or_else(|p| p.into_inner());
    let mut appender = lock(slot);
    let result = match &mut *appender {
        Some(appender) => appender.write(&records),
        None => shared.backend.appender().and_then(|made| appender.insert(made).write(&records)),
    };
    drop(appender);
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

    /// Runs, on a thread of its own, a server thread that makes one write and waits for its answer.
    fn server_thread_writing(writer: &Writer, after: AfterCommit) -> std::thread::JoinHandle<Result<(), StoreError>> {
        let writer = writer.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let result = runtime.block_on(async {
                tokio::spawn(writer.commit_on_this_thread());
                writer.write(vec![record(1)], after).await
            });
            drop(runtime);
            writer.commit_what_this_thread_gathered();
            result
        })
    }

    #[test]
    fn server_threads_commit_without_waiting_for_each_other() {
        // arrange: the first commit to reach the backend stops at a gate
        let (open_gate, gate) = std::sync::mpsc::channel();
        let backend = TestBackend::default().gated(gate);
        let writer = Writer::start(Box::new(backend.clone()));
        let applied = Arc::new(AtomicUsize::new(0));
        let stuck = server_thread_writing(&writer, counting(&applied));
        wait_for(|| backend.gate_taken());

        // act
        let other = server_thread_writing(&writer, counting(&applied));
        let other = other.join().unwrap();

        // assert
        assert!(other.is_ok(), "{other:?}");
        assert_eq!(applied.load(Ordering::SeqCst), 1, "the other thread's write went through meanwhile");
        open_gate.send(()).unwrap();
        assert!(stuck.join().unwrap().is_ok());
        assert_eq!(applied.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_reset_waits_for_a_commit_in_progress_so_its_change_is_cleared_from_both_or_kept_in_both() {
        // arrange: a server thread's commit is writing, held at the gate
        let (open_gate, gate) = std::sync::mpsc::channel();
        let backend = TestBackend::default().gated(gate);
        let writer = Writer::start(Box::new(backend.clone()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let log = order.clone();
        let writing = server_thread_writing(&writer, Box::new(move || log.lock().unwrap().push("applied")));
        wait_for(|| backend.gate_taken());

        // act: a reset starts meanwhile, then the commit finishes
        let (resetter, log) = (writer.clone(), order.clone());
        let reset = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(resetter.clear(Box::new(move || log.lock().unwrap().push("cleared"))))
        });
        std::thread::sleep(Duration::from_millis(50));
        let before = order.lock().unwrap().clone();
        open_gate.send(()).unwrap();

        // assert
        assert!(writing.join().unwrap().is_ok());
        assert!(reset.join().unwrap().is_ok());
        assert_eq!(before, Vec::<&str>::new(), "the reset did not clear while the commit was writing");
        assert_eq!(*order.lock().unwrap(), ["applied", "cleared"]);
    }

    #[test]
    fn commits_go_on_while_a_reset_waits_to_get_ready() {
        // arrange: a reset whose preparation waits (the SQLite backend's waits for the ingest thread)
        let (release, gate) = std::sync::mpsc::channel();
        let backend = TestBackend::default().clear_gated(gate);
        let writer = Writer::start(Box::new(backend.clone()));
        let resetter = writer.clone();
        let reset = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(resetter.clear(Box::new(|| {})))
        });
        std::thread::sleep(Duration::from_millis(20));

        // act: a server thread writes meanwhile
        let applied = Arc::new(AtomicUsize::new(0));
        let writing = server_thread_writing(&writer, counting(&applied));
        let started = std::time::Instant::now();
        while !writing.is_finished() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(2));
        }
        let finished = writing.is_finished();
        release.send(()).unwrap();

        // assert
        assert!(finished, "the write waited for the reset's preparation");
        assert!(writing.join().unwrap().is_ok());
        assert_eq!(applied.load(Ordering::SeqCst), 1);
        assert!(reset.join().unwrap().is_ok());
    }

    /// Waits (at most 5 s) until `ready` holds.
    fn wait_for(ready: impl Fn() -> bool) {
        let started = std::time::Instant::now();
        while !ready() {
            assert!(started.elapsed() < Duration::from_secs(5), "timed out");
            std::thread::sleep(Duration::from_millis(2));
        }
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
    async fn a_write_from_another_thread_is_committed_and_applied_in_its_first_poll() {
        let backend = TestBackend::slow();
        let writer = Writer::start(Box::new(backend.clone()));
        let applied = Arc::new(AtomicUsize::new(0));

        // the caller gives up after one poll, as hyper does when a client hangs up
        let mut write = std::pin::pin!(writer.write(vec![record(1)], counting(&applied)));
        let _ = std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx))).await;

        assert_eq!(backend.written.load(Ordering::SeqCst), 1);
        assert_eq!(applied.load(Ordering::SeqCst), 1);
    }
}
