//! The transport: accepts connections on a bound listener (at most `max_connections` at once), reads each
//! body under the size limit (413 in CleverTap's shape), routes the request on its own task so that even a
//! bug that panics answers 500 instead of dropping the connection, makes every answer
//! `Content-Type: application/json`, and on shutdown stops accepting and drains requests in flight for up to
//! `drain_timeout`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use campaign_engine::Engine;
use http::{HeaderValue, Request, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use request_body::BodyError;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::channel::Channel;
use crate::config::EngineApiConfig;
use crate::error::ApiError;
use crate::routes::router;
use crate::state::ApiState;

/// Serves the API on `listener` until `shutdown` resolves, then stops accepting and waits for requests in
/// flight (up to `config.drain_timeout`). Every change answered 2xx is in the engine's journal by then.
/// Fails at once, before serving, when `config` does not validate.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Mutex<Engine>>,
    config: EngineApiConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with_channel(listener, engine, config, None, shutdown).await
}

/// [`serve`], with the webhook channel the campaign routes use to check content, create webhooks, preview and
/// send tests (the pipeline's dispatcher).
pub async fn serve_with_channel(
    listener: TcpListener,
    engine: Arc<Mutex<Engine>>,
    config: EngineApiConfig,
    channel: Option<Arc<dyn Channel>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    config.validate().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let state = Arc::new(ApiState::new(engine, config).with_channel(channel));
    let router = router(state.clone());
    let connections = Arc::new(Semaphore::new(state.config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free connection slot first, so that past the limit clients wait in the listen queue.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let handler = Handler { state: state.clone(), router: router.clone() };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(state.config.header_read_timeout)
            .max_headers(100)
            .serve_connection(
                TokioIo::new(stream),
                hyper::service::service_fn(move |request| handler.clone().handle(request)),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::debug!("all connections drained"),
        () = tokio::time::sleep(state.config.drain_timeout) => {
            tracing::warn!("drain timeout: closing connections that are still busy");
        }
    }
    Ok(())
}

#[derive(Clone)]
struct Handler {
    state: Arc<ApiState>,
    router: Router,
}

impl Handler {
    async fn handle(self, request: Request<Incoming>) -> Result<Response, Infallible> {
        let (parts, body) = request.into_parts();
        let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
        let mut response = match self.read_body(&parts, body).await {
            Ok(body) => {
                let router = self.router.clone();
                let request = Request::from_parts(parts, Body::from(body));
                match tokio::spawn(async move { router.oneshot(request).await }).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(e) => {
                        tracing::error!(error = %e, %method, %path, "a request handler failed");
                        ApiError::internal("The server failed on this request; nothing was changed by it")
                            .into_response()
                    }
                }
            }
            Err(error) => error.into_response(),
        };
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
        Ok(response)
    }

    /// The whole body, or 413 as soon as it is known to be over the limit (from `Content-Length`, or while
    /// reading).
    async fn read_body(&self, parts: &http::request::Parts, body: Incoming) -> Result<Bytes, ApiError> {
        let limit = self.state.config.body_limit;
        request_body::read(&parts.headers, body, limit).await.map_err(|e| match e {
            BodyError::TooLarge => ApiError::too_large(limit),
            BodyError::Unreadable(e) => ApiError::bad_request(format!("The request body could not be read: {e}")),
        })
    }
}
