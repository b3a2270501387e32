//! The speed ceiling of this machine for a JSON POST: a bare hyper server that reads the body, parses it as
//! JSON and answers a fixed JSON object, storing nothing. Benchmarks (`examples/ceiling.rs`, which
//! `bench/inkit-generate.sh` runs, and `tapink bench`) measure it in the same run as the mock, so the mock's
//! figure reads as a fraction of what the machine allows.

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http::{Response, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves the ceiling on `listener` until `shutdown` completes; connections already open finish on their own.
pub async fn serve_ceiling(listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let ok = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
                let answer: &'static [u8] = if ok {
                    br#"{"id":"rend_21XvBWhhn9Tl9qQSztqzMe","document_id":"doc_5VVwNSVFgsscbxJj9N38iL"}"#
                } else {
                    br#"{"error":"malformed JSON"}"#
                };
                let mut res = Response::new(Full::new(Bytes::from_static(answer)));
                res.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
                Ok::<_, Infallible>(res)
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
