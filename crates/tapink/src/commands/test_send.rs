//! `tapink test-send`: render a webhook body for one profile and send it once, as CleverTap's "Send Test"
//! does, printing the endpoint's answer.

use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use webhook_dispatcher::client::{Answer, HttpClient, OutgoingRequest};

use super::preview::PreviewArgs;

/// Render a webhook body for a profile and send it to a URL once.
#[derive(Debug, Args)]
#[command(after_help = r#"Examples:
  tapink test-send --url http://127.0.0.1:8025/v1/generate -H 'X-Inkit-API-Token: tapink-inkit-token' \
      --body fixtures/bodies/seed.json --profile '{"Name": "Ada", "Email": "ada@example.com"}'

Prints the answer's status line, content type and body. Exit status 0 when the answer is HTTP 200 (what
CleverTap counts as delivered), 1 otherwise (another status, a timeout, a connection failure, or a body
that did not render)."#)]
pub struct TestSendArgs {
    #[command(flatten)]
    preview: PreviewArgs,
    /// Where to send it (plain http).
    #[arg(long)]
    url: String,
    /// The HTTP method.
    #[arg(long, default_value = "POST", value_parser = ["POST", "PUT", "GET", "DELETE"])]
    method: String,
    /// A header as 'Name: value'; repeat for several.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// How long to wait for the answer (CleverTap waits 3 s).
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    timeout_ms: u64,
}

pub async fn run(args: TestSendArgs) -> anyhow::Result<()> {
    let (body, format) = args.preview.render()?;
    let mut headers = vec![("content-type".to_owned(), format.content_type().to_owned())];
    for h in &args.headers {
        let (name, value) = h.split_once(':').with_context(|| format!("--header {h:?}: expected 'Name: value'"))?;
        let (name, value) = (name.trim(), value.trim());
        http::HeaderName::from_bytes(name.as_bytes())
            .with_context(|| format!("--header {h:?}: invalid header name"))?;
        http::HeaderValue::from_str(value).with_context(|| format!("--header {h:?}: invalid header value"))?;
        headers.push((name.to_owned(), value.to_owned()));
    }
    let method = http::Method::from_bytes(args.method.as_bytes()).context("--method")?;
    let request = OutgoingRequest { method, url: args.url.clone(), headers, body: Bytes::from(body) };
    let report = HttpClient::new().send(request, Duration::from_millis(args.timeout_ms)).await;
    let ms = report.latency.as_secs_f64() * 1000.0;
    match report.answer {
        Answer::Response { status, content_type, body, .. } => {
            println!("HTTP {status} in {ms:.1} ms");
            if let Some(ct) = content_type {
                println!("content-type: {ct}");
            }
            println!();
            println!("{body}");
            if status != 200 {
                bail!("{} answered HTTP {status}; CleverTap counts only HTTP 200 as delivered", args.url);
            }
            Ok(())
        }
        Answer::TimedOut => bail!("{} did not answer within {} ms", args.url, args.timeout_ms),
        Answer::ConnectionFailed { error } => bail!("cannot reach {}: {error}", args.url),
    }
}
