//! The settler: one thread that records attempts' outcomes (the outbox's settles and the sink's reports) for
//! the lanes, so that a lane goes on to its next request instead of writing to the outbox, and never waits
//! behind the outbox's lock while another thread commits a batch of settles to SQLite.
//!
//! Jobs run one at a time, in the order they were handed over. A job that panics (a sink may) is reported
//! and the thread carries on. Under load the thread looks for new jobs every [`NAP`] rather than being
//! woken for each, which would cost a wake-up per delivery; when nothing has come for a while it sleeps
//! until the next job.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// How long the thread naps when it finds no job, while jobs keep coming.
const NAP: Duration = Duration::from_micros(500);
/// Naps in a row without a job after which the thread sleeps until the next one.
const NAPS_BEFORE_SLEEP: u32 = 20;

/// Hands jobs to the settler thread. The thread ends when this is dropped and its jobs are done.
#[derive(Debug)]
pub(crate) struct Settler {
    jobs: Sender<Job>,
}

impl Settler {
    /// Starts the thread, named `name`.
    pub(crate) fn start(name: &str) -> Self {
        let (jobs, queue) = channel::<Job>();
        let started = std::thread::Builder::new().name(name.to_owned()).spawn(move || work(&queue));
        if let Err(e) = started {
            // Every job then runs on the caller's thread (see `hand`): slower, never lost.
            tracing::error!(error = %e, "cannot start the settler thread; settling on the lanes' threads");
        }
        Self { jobs }
    }

    /// Runs `job` on the settler thread, after every job handed over before it (on this thread if the
    /// settler's thread is gone).
    pub(crate) fn hand(&self, job: impl FnOnce() + Send + 'static) {
        if let Err(unsent) = self.jobs.send(Box::new(job)) {
            unsent.0();
        }
    }
}

impl Settler {
    /// Returns once every job handed over before this call has run.
    pub(crate) async fn caught_up(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.hand(move || {
            let _ = done.send(());
        });
        let _ = wait.await;
    }
}

fn work(queue: &Receiver<Job>) {
    let mut naps = 0;
    loop {
        match queue.try_recv() {
            Ok(job) => {
                naps = 0;
                run(job);
            }
            Err(TryRecvError::Empty) if naps < NAPS_BEFORE_SLEEP => {
                naps += 1;
                std::thread::sleep(NAP);
            }
            Err(TryRecvError::Empty) => match queue.recv() {
                Ok(job) => {
                    naps = 0;
                    run(job);
                }
                Err(_) => return,
            },
            Err(TryRecvError::Disconnected) => return,
        }
    }
}

fn run(job: Job) {
    if catch_unwind(AssertUnwindSafe(job)).is_err() {
        tracing::error!("settling an attempt panicked");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Waits (at most 5 s) until `done` holds `n` items.
    fn wait_for(done: &Mutex<Vec<u32>>, n: usize) {
        let started = std::time::Instant::now();
        while done.lock().unwrap().len() < n && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn jobs_run_on_the_settler_thread_in_the_order_they_were_handed_over() {
        let settler = Settler::start("settler-test");
        let done = Arc::new(Mutex::new(Vec::new()));
        for i in 0..100 {
            let done = done.clone();
            settler.hand(move || {
                assert_eq!(std::thread::current().name(), Some("settler-test"));
                done.lock().unwrap().push(i);
            });
        }
        wait_for(&done, 100);
        assert_eq!(*done.lock().unwrap(), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_job_that_panics_does_not_stop_the_jobs_after_it() {
        let settler = Settler::start("settler-test");
        let done = Arc::new(Mutex::new(Vec::new()));
        settler.hand(|| panic!("a sink failed"));
        let after = done.clone();
        settler.hand(move || after.lock().unwrap().push(1));
        wait_for(&done, 1);
        assert_eq!(*done.lock().unwrap(), [1]);
    }

    #[test]
    fn a_job_handed_over_after_the_thread_slept_still_runs() {
        let settler = Settler::start("settler-test");
        std::thread::sleep(NAP * (NAPS_BEFORE_SLEEP + 5));
        let done = Arc::new(Mutex::new(Vec::new()));
        let after = done.clone();
        settler.hand(move || after.lock().unwrap().push(7));
        wait_for(&done, 1);
        assert_eq!(*done.lock().unwrap(), [7]);
    }
}
