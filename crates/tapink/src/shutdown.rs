//! One shutdown signal for every server: Ctrl-C or SIGTERM.

use std::future::Future;

/// Listens for the first Ctrl-C (SIGINT) or SIGTERM; the returned future resolves when one arrives.
///
/// The handlers are installed when this is called, not when the future is first polled: call it before
/// printing the line that tells a caller the server is ready, or a SIGTERM sent right after that line could
/// find no handler and kill the process instead of stopping it gracefully.
pub fn signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
