//! The speed ceiling of this machine for a JSON POST (`inkit_mock::ceiling`): a bare hyper server that reads
//! the body, parses it as JSON and answers a fixed JSON object. Nothing is stored. `bench/inkit-generate.sh`
//! measures it in the same run as the mock, so the mock's figure can be read as a fraction of what the
//! machine allows. It uses the `tapink` binary's allocator (mimalloc, keeping freed memory), so the two are
//! compared like with like.
//!
//! Run: `cargo run --release -p inkit-mock --example ceiling -- 127.0.0.1:0`

fn main() -> std::io::Result<()> {
    allocator::tune();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("ceiling listening on http://{}", listener.local_addr()?);
        inkit_mock::ceiling::serve_ceiling(listener, std::future::pending()).await
    })
}
