//! The speed ceiling of this machine for a JSON POST: a bare hyper server that reads the body, parses it
//! as JSON and answers a fixed JSON object. Nothing is stored. `bench/inkit-generate.sh` measures it in
//! the same run as the mock, so the mock's figure can be read as a fraction of what the machine allows.
//! It uses the `tapink` binary's allocator (mimalloc, keeping freed memory), so the two are compared like
//! with like.
//!
//! Run: `cargo run --release -p inkit-mock --example ceiling -- 127.0.0.1:0`

use std::convert::Infallible;

use bytes::Bytes;
use http::{Response, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    allocator::keep_freed_memory();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("ceiling listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
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
                res.headers_mut().insert(header::CONTENT_TYPE, "application/json".parse().expect("static"));
                Ok::<_, Infallible>(res)
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
