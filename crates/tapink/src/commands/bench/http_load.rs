//! Load over loopback HTTP, as wrk makes it: a fixed number of keep-alive connections, each sending the
//! next body as soon as the previous answer is read, for a given time. Every answer is read in full before
//! the next request, so when `drive` returns nothing is in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::number_format::group;
use crate::progress::Progress;

/// What the load got back.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests answered otherwise.
    pub not_ok: u64,
    /// Connections that failed (each ends its connection's part of the load).
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        (self.ok + self.not_ok) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The request every connection sends: `POST path` with these headers; bodies are taken in turn.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: &'static str,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    pub bodies: Arc<Vec<Bytes>>,
}

/// Keeps `connections` keep-alive connections busy for `duration`, with a progress bar named `label`.
pub async fn drive(target: &Target, connections: usize, duration: Duration, label: &str) -> Load {
    let answered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> =
        (0..connections).map(|c| tokio::spawn(connection(target.clone(), c, deadline, answered.clone()))).collect();
    let mut bar = Progress::new(label, duration.as_secs().max(1), "s");
    while Instant::now() < deadline {
        let n = answered.load(Ordering::Relaxed);
        let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.update_with(started.elapsed().as_secs(), &format!("{} requests, {} /s", group(n), group(rate as u64)));
        tokio::time::sleep(Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now()))).await;
    }
    let mut load = Load::default();
    for task in tasks {
        let part = task.await.unwrap_or_else(|e| Load {
            errors: 1,
            first_error: Some(format!("a load task ended: {e}")),
            ..Load::default()
        });
        load.ok += part.ok;
        load.not_ok += part.not_ok;
        load.errors += part.errors;
        load.first_error = load.first_error.or(part.first_error);
    }
    load.elapsed = started.elapsed();
    let n = load.ok + load.not_ok;
    bar.finish_with(
        duration.as_secs().max(1),
        &format!("{} requests, {} /s", group(n), group(load.per_second() as u64)),
    );
    load
}

async fn connection(target: Target, index: usize, deadline: Instant, answered: Arc<AtomicU64>) -> Load {
    let mut load = Load::default();
    if let Err(e) = exchange_until(&target, index, deadline, &answered, &mut load).await {
        load.errors += 1;
        load.first_error = Some(e);
    }
    load
}

async fn exchange_until(
    target: &Target,
    index: usize,
    deadline: Instant,
    answered: &AtomicU64,
    load: &mut Load,
) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(target.addr).await.map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let host = HeaderValue::from_str(&target.addr.to_string()).map_err(|e| e.to_string())?;
    let mut next = index;
    while Instant::now() < deadline {
        let body = target.bodies[next % target.bodies.len()].clone();
        next += 1;
        let mut request = Request::post(target.path).body(Full::new(body)).map_err(|e| e.to_string())?;
        let headers = request.headers_mut();
        headers.insert(header::HOST, host.clone());
        for (name, value) in &target.headers {
            headers.insert(name.clone(), value.clone());
        }
        let response = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
        let ok = response.status().is_success();
        response.into_body().collect().await.map_err(|e| format!("reading the answer: {e}"))?;
        if ok {
            load.ok += 1;
        } else {
            load.not_ok += 1;
        }
        answered.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
