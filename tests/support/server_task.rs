//! A server spawned in-process for a test, with its shutdown signal: `stop` waits for a clean shutdown, and
//! dropping it aborts the server so a failing test leaves nothing running.

use std::future::Future;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct ServerTask {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerTask {
    /// Spawns `serve(shutdown)`, where `shutdown` resolves when [`ServerTask::stop`] is called.
    pub fn spawn<F>(serve: impl FnOnce(oneshot::Receiver<()>) -> F) -> Self
    where
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(rx));
        Self { shutdown: Some(tx), task: Some(task) }
    }

    /// Stops accepting, waits for requests in flight, and returns once the server has finished cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ends cleanly");
        }
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
