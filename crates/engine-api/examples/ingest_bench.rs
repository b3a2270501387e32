//! Ingest rate of `/1/upload`: the data of `segment_bench` (shared: `campaign-engine/examples/data/mod.rs`),
//! as CleverTap upload bodies of 1,000 records, (a) through the library, the code the route runs (the body's
//! bytes parsed as JSON, then `Engine::upload`: validate, journal, store, live triggers), and (b) through
//! `POST /1/upload` over real loopback HTTP to the engine API.
//!
//! `cargo run --release -p engine-api --example ingest_bench -- [PROFILES] [EVENTS] [HTTP_PROFILES] [HTTP_EVENTS] [CONNECTIONS]`
//! (defaults 1,000,000 / 10,000,000 through the library; 100,000 / 1,000,000 over HTTP, 2 connections).
//!
//! Both engines journal to a journal that keeps nothing (`tapink engine`'s in-memory journal would keep
//! every body; the SQLite journal's cost is its own measure). Bodies are generated and serialized before they
//! are timed. CPU is the whole process's (for HTTP, the client's too).

#[path = "../../campaign-engine/examples/data/mod.rs"]
mod data;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use campaign_engine::Engine;
use clock::{Clock, ManualClock};
use data::{Discard, arg, peak_rss, process_cpu_seconds};
use engine_api::{DEFAULT_ACCOUNT_ID, DEFAULT_PASSCODE, EngineApiConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

const BATCH: usize = 1_000;

fn engine() -> Engine {
    let clock = Arc::new(ManualClock::new(data::now())) as Arc<dyn Clock>;
    Engine::open(clock, Box::new(Discard)).expect("an empty journal opens")
}

/// The data as upload bodies of [`BATCH`] records, each handed to `each` as bytes.
fn bodies(profiles: usize, events: usize, mut each: impl FnMut(Vec<u8>, usize)) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut flush = |batch: &mut Vec<Value>| {
        let n = batch.len();
        let body = serde_json::to_vec(&serde_json::json!({"d": std::mem::take(batch)})).expect("JSON");
        each(body, n);
    };
    campaign_engine::synthetic::generate(profiles, events, data::SEED, data::now(), |record| {
        batch.push(record.upload_json());
        if batch.len() == BATCH {
            flush(&mut batch);
        }
    });
    if !batch.is_empty() {
        flush(&mut batch);
    }
}

struct Rate {
    records: usize,
    bytes: usize,
    wall: Duration,
    cpu: f64,
}

impl Rate {
    fn print(&self, what: &str) {
        let secs = self.wall.as_secs_f64();
        println!(
            "{what:<9} {} records ({:.0} MB of JSON) in {secs:.2} s: {:.0} records/s, {:.2} µs CPU per record",
            self.records,
            self.bytes as f64 / 1e6,
            self.records as f64 / secs,
            self.cpu * 1e6 / self.records as f64,
        );
    }
}

/// (a): each body parsed and uploaded, as the route does, timed apart from generating it.
fn library(profiles: usize, events: usize) -> (Rate, Engine) {
    let mut engine = engine();
    let mut rate = Rate { records: 0, bytes: 0, wall: Duration::ZERO, cpu: 0.0 };
    bodies(profiles, events, |body, n| {
        let (started, cpu) = (Instant::now(), process_cpu_seconds());
        let value: Value = serde_json::from_slice(&body).expect("valid JSON");
        let outcome = engine.upload(&value).expect("a valid upload");
        assert_eq!(outcome.processed, n, "every record is accepted: {:?}", outcome.unprocessed.first());
        rate.wall += started.elapsed();
        rate.cpu += process_cpu_seconds() - cpu;
        rate.records += n;
        rate.bytes += body.len();
    });
    (rate, engine)
}

/// (b): the bodies sent over `connections` keep-alive connections to a served engine.
async fn http(profiles: usize, events: usize, connections: usize) -> Rate {
    let mut all: Vec<(Bytes, usize)> = Vec::new();
    bodies(profiles, events, |body, n| all.push((Bytes::from(body), n)));
    let (records, bytes) = all.iter().fold((0, 0), |(r, b), (body, n)| (r + n, b + body.len()));

    let served = Arc::new(Mutex::new(engine()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://{}/1/upload", listener.local_addr().expect("local addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(engine_api::serve(listener, served.clone(), EngineApiConfig::default(), async move {
        let _ = stopped.await;
    }));

    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let queue = Arc::new(Mutex::new(all.into_iter()));
    let (started, cpu) = (Instant::now(), process_cpu_seconds());
    let senders: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let (client, queue, url) = (client.clone(), queue.clone(), url.clone());
            tokio::spawn(async move {
                loop {
                    let Some((body, n)) = queue.lock().expect("queue").next() else { break };
                    let request = http::Request::post(&url)
                        .header("Content-Type", "application/json")
                        .header("X-CleverTap-Account-Id", DEFAULT_ACCOUNT_ID)
                        .header("X-CleverTap-Passcode", DEFAULT_PASSCODE)
                        .body(Full::new(body))
                        .expect("a request");
                    let response = client.request(request).await.expect("the engine API answers");
                    assert_eq!(response.status(), 200);
                    let answer = response.into_body().collect().await.expect("a body").to_bytes();
                    let answer: Value = serde_json::from_slice(&answer).expect("JSON");
                    assert_eq!(answer["processed"], n, "every record is accepted: {answer}");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("a sender");
    }
    let rate = Rate { records, bytes, wall: started.elapsed(), cpu: process_cpu_seconds() - cpu };
    let _ = stop.send(());
    server.await.expect("the server task").expect("the server");
    let engine = served.lock().expect("engine");
    assert_eq!(engine.store().event_count(), events);
    rate
}

fn main() {
    let (profiles, events) = (arg(1, 1_000_000).max(1), arg(2, 10_000_000));
    let (http_profiles, http_events) = (arg(3, 100_000).max(1), arg(4, 1_000_000));
    let connections = arg(5, 2);
    println!("batches of {BATCH} records (CleverTap's upload JSON), profiles first, then events");

    let (rate, engine) = library(profiles, events);
    rate.print("library");
    println!(
        "          store: {} profiles, {} events; peak RSS {}",
        engine.store().profile_count(),
        engine.store().event_count(),
        peak_rss()
    );
    drop(engine);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let rate = runtime.block_on(http(http_profiles, http_events, connections));
    rate.print("HTTP");
    println!("          over {connections} keep-alive connections to 127.0.0.1");
}
