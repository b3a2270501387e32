//! The transport: accepts connections on a bound listener, and for each request reads the body under the
//! size limit, applies the fault plan, routes it, makes every answer JSON-typed, journals it, and drains
//! in-flight requests on shutdown.
//!
//! Serving hyper connections ourselves, rather than with `axum::serve`, is what lets a fault close a
//! connection without an answer, and lets the journal see requests that never reach a route (too large,
//! cut off).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use request_body::BodyError;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::error::ApiError;
use crate::faults::Verdict;
use crate::journal::{BODY_EXCERPT_BYTES, HeaderLines, JournalEntry};
use crate::placement::{Placed, Placement, incoming_cpu};
use crate::routes::{fast, route_key, router};
use crate::state::Inkit;

/// Serves the mock on `listener` until `shutdown` resolves, then stops accepting and waits for in-flight
/// requests (up to the configured drain timeout). Every request answered 2xx is in History by then.
///
/// Connections are accepted here and handed to `server_threads` threads, each running its own
/// single-threaded runtime: a request is then handled start to finish on one thread, without the
/// cross-thread wake-ups of a work-stealing runtime, which on a small machine cost a third of the time
/// of a request (see docs/benchmarks.md). Connections whose packets arrive on the same CPU go to the same
/// thread (`placement`).
pub async fn serve(
    listener: TcpListener,
    inkit: Arc<Inkit>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let router = router(inkit.clone());
    let workers: Vec<Worker> = (0..inkit.config.server_threads.max(1))
        .map(|i| Worker::start(i, inkit.clone(), router.clone()))
        .collect::<Result<_, _>>()?;
    let placement = Placement::new(workers.len());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        match stream.into_std() {
            Ok(stream) => {
                let seat = placement.place(incoming_cpu(&stream));
                let thread = seat.thread();
                let placed = Placed::new(seat, placement.clone());
                workers[thread].hand(stream, placed);
            }
            Err(e) => tracing::warn!(error = %e, "cannot hand a connection to a worker"),
        }
    }
    drop(listener);
    // Each worker stops when its queue closes, drains its connections and says so.
    let done: Vec<_> = workers.into_iter().map(Worker::finish).collect();
    for d in done {
        let _ = d.await;
    }
    Ok(())
}

/// One server thread: a single-threaded runtime serving the connections it is handed.
struct Worker {
    connections: tokio::sync::mpsc::UnboundedSender<(std::net::TcpStream, Placed)>,
    finished: tokio::sync::oneshot::Receiver<()>,
}

impl Worker {
    fn start(index: usize, inkit: Arc<Inkit>, router: Router) -> std::io::Result<Self> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(std::net::TcpStream, Placed)>();
        let (finished_tx, finished) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let writer = inkit.writer.clone();
        std::thread::Builder::new().name(format!("inkit-mock-{index}")).spawn(move || {
            runtime.block_on(async move {
                // This thread commits its own requests' History records, several at a time.
                tokio::spawn(inkit.writer.commit_on_this_thread());
                tokio::spawn(keep_a_timer_pending());
                let graceful = GracefulShutdown::new();
                while let Some((stream, placed)) = rx.recv().await {
                    let stream = match tokio::net::TcpStream::from_std(stream) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot register a connection");
                            continue;
                        }
                    };
                    let stream = placed.noting(stream);
                    // The connection's place goes with its service, which lives as long as the connection.
                    let service =
                        RequestHandler { inkit: inkit.clone(), router: router.clone(), placed: Arc::new(placed) };
                    // hyper's default limit of 100 headers is ours too. Setting it, even to 100, makes hyper
                    // allocate and fill two header arrays on the heap for every request instead of using
                    // arrays on the stack. Answers are small: copied behind their head and written with one
                    // `write`, they cost fewer instructions than a `writev` of the two (docs/benchmarks.md).
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .writev(false)
                        .serve_connection(
                            TokioIo::new(stream),
                            hyper::service::service_fn(move |req| service.clone().handle(req)),
                        );
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                tokio::select! {
                    () = graceful.shutdown() => tracing::debug!("all connections drained"),
                    () = tokio::time::sleep(inkit.config.drain_timeout) => {
                        tracing::warn!("drain timeout: closing connections that are still busy");
                    }
                }
            });
            // Requests dropped while waiting for their commit (their client hung up) still get it. The runtime
            // goes first, so that none of its tasks commits afterwards.
            drop(runtime);
            writer.commit_what_this_thread_gathered();
            let _ = finished_tx.send(());
        })?;
        Ok(Self { connections: tx, finished })
    }

    fn hand(&self, stream: std::net::TcpStream, placed: Placed) {
        // The worker lives until `finish`, so the send cannot fail before then.
        let _ = self.connections.send((stream, placed));
    }

    /// Closes the worker's queue; resolves when it has drained its connections.
    fn finish(self) -> tokio::sync::oneshot::Receiver<()> {
        drop(self.connections);
        self.finished
    }
}

/// How often [`keep_a_timer_pending`] wakes.
const TIMER_TICK: Duration = Duration::from_secs(5);

/// Keeps one timer due within [`TIMER_TICK`] on this thread's runtime at all times.
///
/// hyper arms a header-read timer (30 s) each time a connection waits for its next request. tokio's timer
/// driver wakes its own thread (a write to an eventfd, and a spurious pass through `epoll_wait`) whenever a
/// timer is set that is due before everything it had when it last went to sleep, and "everything" is often
/// nothing: under load the thread sleeps while its requests wait for their History commit, with no timer
/// set. Then every answered request paid that wake-up. With a timer always due sooner than hyper's, setting
/// hyper's never needs one (docs/benchmarks.md).
async fn keep_a_timer_pending() {
    loop {
        tokio::time::sleep(TIMER_TICK).await;
    }
}

/// Returned to hyper to close a connection without answering (an injected `close` fault, or a client
/// that went away mid-body).
#[derive(Debug)]
struct Closed(&'static str);

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Closed {}

#[derive(Clone)]
struct RequestHandler {
    inkit: Arc<Inkit>,
    router: Router,
    placed: Arc<Placed>,
}

impl RequestHandler {
    async fn handle(self, req: Request<Incoming>) -> Result<Response, Closed> {
        let (parts, body) = req.into_parts();
        let route = route_key(&parts.method, parts.uri.path());
        // Recorded when the guard drops: after the answer, or when hyper drops this request because the
        // client hung up (during an injected delay, say), so even those are in the journal and the counts.
        let mut journal = JournalGuard {
            inkit: self.inkit.clone(),
            started: Instant::now(),
            entry: Some(JournalEntry {
                seq: 0,
                received_at: self.inkit.now(),
                method: parts.method.clone(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().map(str::to_owned),
                route: route.clone(),
                headers: self.journal_headers(&parts.headers),
                body_excerpt: Bytes::new(),
                body_bytes: 0,
                status: 0,
                duration_ms: 0.0,
                fault: None,
            }),
        };
        let mut result = self.answer(&route, parts, body, journal.entry()).await;
        journal.entry().status = result.as_ref().map_or(0, |r| r.status().as_u16());
        if let Ok(response) = &mut result
            && self.placed.should_move()
        {
            // The client reconnects, and its new connection goes to the thread beside it (`placement`).
            response.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        result
    }

    async fn answer(
        &self,
        route: &str,
        parts: http::request::Parts,
        body: Incoming,
        journal: &mut JournalEntry,
    ) -> Result<Response, Closed> {
        let limit = self.inkit.config.body_limit;
        let body = match request_body::read(&parts.headers, body, limit).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => return Ok(ApiError::too_large(limit).into_response()),
            Err(BodyError::Unreadable(_)) => {
                return Err(Closed("the client closed the connection while sending the body"));
            }
        };
        journal.body_bytes = body.len();
        journal.body_excerpt = Bytes::copy_from_slice(&body[..body.len().min(BODY_EXCERPT_BYTES)]);

        let mut answer_delay = Duration::ZERO;
        if !route.contains(" /__admin") && !route.ends_with(" /") {
            let token = parts.headers.get(&crate::routes::caller::TOKEN_HEADER).and_then(|v| v.to_str().ok());
            let decision = self.inkit.faults.decide(route, token, self.inkit.now());
            journal.fault = decision.label.clone();
            if !decision.delay.is_zero() {
                // Only this request waits; nothing is locked while it sleeps.
                tokio::time::sleep(decision.delay).await;
            }
            answer_delay = decision.answer_delay;
            match decision.verdict {
                Verdict::Pass => {}
                Verdict::Respond(error) => {
                    tokio::time::sleep(answer_delay).await;
                    return Ok(error.into_response());
                }
                Verdict::Close => return Err(Closed("injected fault: connection closed without an answer")),
            }
        }

        let response = if self.inkit.config.fast_generate && fast::serves(&parts.method, parts.uri.path()) {
            // Its answers are always JSON-typed: `as_json_api` would have nothing to do.
            fast::create(&self.inkit, parts, body).await
        } else {
            let method = parts.method.clone();
            let path = parts.uri.path().to_owned();
            let request = Request::from_parts(parts, Body::from(body));
            let response = match self.router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            as_json_api(response, method.as_str(), &path).await
        };
        if !answer_delay.is_zero() {
            // A `slow_answer` fault: what the request changed is stored; only the answer waits.
            tokio::time::sleep(answer_delay).await;
        }
        Ok(response)
    }

    /// Request headers for the journal, with the API token replaced by its name: secrets stay out of logs.
    fn journal_headers(&self, headers: &http::HeaderMap) -> HeaderLines {
        HeaderLines::copy(headers, &crate::routes::caller::TOKEN_HEADER, |token, text| {
            match std::str::from_utf8(token).ok().and_then(|t| self.inkit.token_name(t.trim())) {
                Some(name) => {
                    text.push_str("<token ");
                    text.push_str(name);
                    text.push('>');
                }
                None => text.push_str("<unknown token>"),
            }
        })
    }
}

/// Records its journal entry when dropped, whether the request was answered or abandoned.
struct JournalGuard {
    inkit: Arc<Inkit>,
    started: Instant,
    /// Taken on drop.
    entry: Option<JournalEntry>,
}

impl JournalGuard {
    fn entry(&mut self) -> &mut JournalEntry {
        self.entry.get_or_insert_with(|| unreachable!("the entry is only taken on drop"))
    }
}

impl Drop for JournalGuard {
    fn drop(&mut self) {
        if let Some(mut entry) = self.entry.take() {
            entry.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
            self.inkit.journal.record(entry);
        }
    }
}

/// Makes every answer what the SDKs need: a Content-Type on every response (204 included), and errors
/// that framework layers produced (405, bad query strings) in our JSON error shape.
async fn as_json_api(response: Response, method: &str, path: &str) -> Response {
    let status = response.status();
    let is_json = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v == "application/json");
    if status.is_client_error() && !is_json {
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return ApiError::method_not_allowed(method, path).into_response();
        }
        let (_, body) = response.into_parts();
        let text = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let mut error = ApiError::malformed(String::from_utf8_lossy(&text).trim().to_owned());
        error.status = status;
        if status == StatusCode::BAD_REQUEST {
            error.message = format!("invalid query string: {}", error.message);
        }
        return error.into_response();
    }
    let mut response = response;
    if !response.headers().contains_key(header::CONTENT_TYPE) {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}
