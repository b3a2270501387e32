//! Group commit: requests hand their records to one writer thread, which stores everything that has
//! arrived in one transaction and then answers each request. Under load one commit serves dozens of
//! requests (those that arrived while the last one was written), so durability costs little per request;
//! alone, a request waits for one small commit.
//!
//! The writer never waits on purpose for more requests to gather: each request's answer waits for its
//! commit, so a pause before committing adds to every request's latency, and with a fixed number of
//! clients (wrk's 32 connections, the dispatcher's 64 slots) latency is throughput. A 200 µs pause under
//! load, once worth it, left a third of the two cores idle: 43,800 against 54,600 requests/s without it
//! (docs/benchmarks.md).
//!
//! Answering a request means waking its task on its server thread. Woken one by one from the writer's
//! thread, each request costs a cross-thread wake-up; so a server thread can run a courier
//! (`deliver_acks_on_this_thread`), and then the writer hands it all of that thread's answers of a
//! commit in one message, and the courier wakes the requests from their own thread.

use std::cell::RefCell;
use std::sync::mpsc;

use tokio::sync::{mpsc as async_mpsc, oneshot};

use super::{Backend, Record, StoreError};

/// Most jobs folded into one transaction; bounds a commit's latency under a flood.
const MAX_JOBS_PER_COMMIT: usize = 512;

type Done = oneshot::Sender<Result<(), StoreError>>;

/// The answers of one commit for the requests of one server thread.
type Acks = Vec<(Done, Result<(), StoreError>)>;

/// Where the answers for one server thread's requests go.
type Courier = async_mpsc::UnboundedSender<Acks>;

thread_local! {
    /// This thread's courier, if its runtime runs one.
    static COURIER: RefCell<Option<Courier>> = const { RefCell::new(None) };
}

/// Makes the writer answer this thread's requests in one batch per commit, delivered by the task this
/// returns. Spawn it on this thread's current-thread runtime, which must serve this thread's requests.
pub fn deliver_acks_on_this_thread() -> impl Future<Output = ()> + Send + 'static {
    let (courier, mut acks) = async_mpsc::unbounded_channel::<Acks>();
    COURIER.with(|c| *c.borrow_mut() = Some(courier));
    async move {
        while let Some(batch) = acks.recv().await {
            for (done, result) in batch {
                let _ = done.send(result);
            }
        }
    }
}

/// What to do once a job's records are committed: make them visible in memory. It runs on the writer
/// thread, so it happens even when the request that asked has gone away (a client that hung up must not
/// leave an entry in the file but missing from the live History).
pub type AfterCommit = Box<dyn FnOnce() + Send>;

enum Job {
    Write(Vec<Record>, AfterCommit, Answer),
    Clear(Done),
}

/// How to answer a write: through the courier of the thread that asked, or directly.
struct Answer {
    done: Done,
    courier: Option<Courier>,
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
        let courier = COURIER.with(|c| c.borrow().clone());
        self.send(|done| Job::Write(records, after, Answer { done, courier })).await
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
    let mut waiting: Vec<(AfterCommit, Answer)> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(mut batch, after, answer) => {
                    records.append(&mut batch);
                    waiting.push((after, answer));
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
        commit(&mut *backend, &mut records, &mut waiting);
    }
}

fn commit(backend: &mut dyn Backend, records: &mut Vec<Record>, waiting: &mut Vec<(AfterCommit, Answer)>) {
    if waiting.is_empty() {
        return;
    }
    let result = backend.write(records);
    if let Err(e) = &result {
        tracing::error!(error = %e, records = records.len(), "History commit failed; the requests get 500");
    }
    // Each change is applied before its request is answered, so an answered request's entry is visible.
    let mut by_courier: Vec<(Courier, Acks)> = Vec::new();
    for (after, answer) in waiting.drain(..) {
        if result.is_ok() {
            after();
        }
        match answer.courier {
            None => {
                let _ = answer.done.send(result.clone());
            }
            Some(courier) => match by_courier.iter_mut().find(|(c, _)| c.same_channel(&courier)) {
                Some((_, acks)) => acks.push((answer.done, result.clone())),
                None => by_courier.push((courier, vec![(answer.done, result.clone())])),
            },
        }
    }
    for (courier, acks) in by_courier {
        // A courier whose runtime has ended has no requests left to answer; answer directly all the same.
        if let Err(returned) = courier.send(acks) {
            for (done, result) in returned.0 {
                let _ = done.send(result);
            }
        }
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

    #[tokio::test]
    async fn a_failed_commit_applies_nothing_and_reports_the_error() {
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

    /// Runs `f` on a current-thread runtime that runs a courier, as a server thread does.
    fn on_a_server_thread(f: impl Future<Output = ()>) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            tokio::spawn(deliver_acks_on_this_thread());
            f.await;
        });
    }

    /// Starts `n` writes at once on this thread and returns their results.
    async fn write_many(writer: Writer, n: usize, applied: &Arc<AtomicUsize>) -> Vec<Result<(), StoreError>> {
        let writer = Arc::new(writer);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let (writer, seen) = (writer.clone(), applied.clone());
            let record = Record { kind: RecordKind::Entry, id: format!("rend_{i}").into(), body: "{}".into() };
            tasks.spawn(async move {
                let after: AfterCommit = Box::new(move || {
                    seen.fetch_add(1, Ordering::SeqCst);
                });
                writer.write(vec![record], after).await
            });
        }
        tokio::time::timeout(Duration::from_secs(10), tasks.join_all()).await.expect("every write is answered")
    }

    #[test]
    fn a_courier_delivers_every_answer_of_a_commit_after_its_change_is_applied() {
        on_a_server_thread(async {
            // arrange: a slow backend, so that many writes share each commit
            let written = Arc::new(AtomicUsize::new(0));
            let writer = Writer::start(Box::new(SlowBackend { written: written.clone() }));
            let applied = Arc::new(AtomicUsize::new(0));

            // act
            let results = write_many(writer, 20, &applied).await;

            // assert
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            assert_eq!(written.load(Ordering::SeqCst), 20);
            assert_eq!(applied.load(Ordering::SeqCst), 20);
        });
    }

    #[test]
    fn a_courier_delivers_a_failed_commit_as_an_error_and_nothing_is_applied() {
        on_a_server_thread(async {
            let applied = Arc::new(AtomicUsize::new(0));
            let results = write_many(Writer::start(Box::new(Failing)), 5, &applied).await;
            assert!(results.iter().all(|r| matches!(r, Err(StoreError::Write(m)) if m == "disk full")), "{results:?}");
            assert_eq!(applied.load(Ordering::SeqCst), 0);
        });
    }
}
