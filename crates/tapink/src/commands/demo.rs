//! `tapink demo`: the seed walkthrough (CleverTap → webhook → Inkit), run for real on this machine and
//! narrated step by step: what CleverTap does, what the webhook sends, what Inkit stores.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use engine_api::channel::SampleUser;
use inkit_mock::EntryKind;
use pipeline::bridge::lock;
use pipeline::channel::{preview_request, send_once};
use pipeline::synthetic::upload_bodies;
use pipeline::{Pipeline, PipelineConfig, Storage, TimeMode};
use serde_json::json;
use webhook_dispatcher::client::HttpClient;

use crate::number_format::group;
use crate::progress::Progress;
use crate::seed;

/// Run the CleverTap → Inkit walkthrough end to end, explained step by step.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tapink demo                      the walkthrough with 10,000 synthetic users, then a summary
  tapink demo --users 1000 --keep-running
                                   stay up afterwards to explore the Inkit dashboard (Ctrl-C to stop)")]
pub struct DemoArgs {
    /// How many synthetic users the campaign is published to.
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Seed of the synthetic users (the same seed, the same users).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where inkit-mock (and its dashboard) listens; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8025")]
    inkit_addr: SocketAddr,
    /// Stay up after the walkthrough, until Ctrl-C, to explore the dashboard.
    #[arg(long)]
    keep_running: bool,
}

fn step(n: u32, title: &str) {
    println!();
    println!("Step {n} · {title}");
}

fn say(text: &str) {
    for line in text.lines() {
        println!("  {line}");
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut config = PipelineConfig { time: TimeMode::Real, storage: Storage::Memory, ..PipelineConfig::default() };
    config.inkit_addr = args.inkit_addr;
    let pipeline = match Pipeline::start(config).await {
        Ok(p) => p,
        Err(pipeline::PipelineError::Listen { addr, source }) if args.inkit_addr.port() != 0 => {
            bail!("cannot listen on {addr} ({source}); is another tapink running? Try --inkit-addr 127.0.0.1:0")
        }
        Err(e) => return Err(e).context("cannot start the pipeline"),
    };
    let inkit = pipeline.inkit_url();
    println!("tapink demo: CleverTap sends personalised direct mail through Inkit, simulated on this machine.");
    println!();
    println!("  Inkit (mock)   {inkit}/v1   dashboard {inkit}/");
    println!("  CleverTap      campaign engine and webhook dispatcher, in this process");

    let http = HttpClient::new();
    let token = inkit_mock::DEFAULT_TOKEN;

    step(1, "Create a template in Inkit");
    let template_id = seed::create_template(&http, &inkit, token).await?;
    say(&format!(
        "POST {inkit}/v1/template  {{\"name\": \"Welcome letter\", \"file\": <the HTML, base64>}}\n\
         Inkit answered 200: template id {template_id}\n\
         Its merge fields: Name, email, phone number (the keys the webhook body will fill)."
    ));

    step(2, "Create the webhook in CleverTap (Settings > Channels > Webhook)");
    pipeline.create_webhook(seed::webhook(&inkit, token)?, true).await.context("creating the webhook")?;
    say(&format!(
        "Name Inkit · POST {inkit}/v1/generate · application/json · X-Inkit-API-Token: {token}\n\
         CleverTap sent its test request {{\"is_test\": true, \"targetId\": …, \"profiles\": […]}};\n\
         Inkit answered HTTP 200, so CleverTap saved the webhook (it refuses any other answer)."
    ));

    step(3, "Create the webhook campaign (Content format JSON, Custom body)");
    let body = seed::body(&template_id);
    let spec = pipeline
        .save_campaign(&json!({"name": "Welcome letter", "target_mode": "webhook", "webhook_endpoint_name": "Inkit",
                               "where": {}, "when": "now", "content": {"body": body, "format": "json"}, "draft": true}))
        .context("saving the campaign")?;
    let campaign_id = spec.campaign.id;
    say(&format!("The seed's body, with the template id pasted in; its Liquid compiled on save:\n{}", body.trim_end()));
    say(&format!("Saved as a draft: campaign {campaign_id}."));

    step(4, "Preview and Test with a sample profile");
    let sample = json!({"Name": "Ada Lovelace", "Email": "ada@example.com", "Phone": "+14155550100"});
    let user = SampleUser {
        object_id: "__sample".into(),
        identity: Some("ada@example.com".into()),
        profile: sample.as_object().cloned().unwrap_or_default(),
        event: None,
    };
    let campaign = lock(&pipeline.engine).campaign(campaign_id).cloned().context("the campaign")?;
    let preview = preview_request(&pipeline.dispatcher, &pipeline.bridge, &campaign, &user, pipeline.now())
        .map_err(|e| anyhow::anyhow!("preview: {e}"))?;
    say(&format!("Profile {sample}"));
    say(&format!("{} {}\nBody sent:\n{}", preview.method.as_str(), preview.url, preview.body));
    let answer =
        send_once(&http, &preview, Duration::from_secs(3)).await.map_err(|e| anyhow::anyhow!("Send Test: {e}"))?;
    if answer["status"] != 200 {
        bail!("the test send was not answered HTTP 200: {answer}");
    }
    say(&format!("Send Test: Inkit answered HTTP 200 {}", answer["body"].as_str().unwrap_or_default()));

    step(5, "Check Inkit's History");
    let entries = pipeline.inkit.entries_where(|e| e.kind == EntryKind::Render);
    for e in &entries {
        say(&format!(
            "{} · template {} · merge parameters {}",
            e.id,
            e.template_name.as_deref().unwrap_or("?"),
            e.merge_parameters
        ));
    }
    say(&format!("Open {inkit}/ to see it, with the generated PDF."));

    step(6, &format!("Publish to {} synthetic users", group(args.users)));
    let upload_started = Instant::now();
    for body in upload_bodies(args.users, args.seed) {
        let outcome = lock(&pipeline.engine).upload(&body).context("uploading synthetic users")?;
        if outcome.processed == 0 {
            bail!("the synthetic users were refused: {:?}", outcome.unprocessed.first());
        }
    }
    say(&format!(
        "Uploaded {} profiles in CleverTap's upload format in {:.2} s.",
        group(args.users),
        upload_started.elapsed().as_secs_f64()
    ));
    let publish_started = Instant::now();
    lock(&pipeline.engine).publish(campaign_id).context("publishing")?;
    let total = args.users;
    let mut bar = Progress::new("deliveries", total, "settled");
    loop {
        let settled = pipeline.sink.settled().total();
        if settled >= total {
            bar.finish(settled);
            break;
        }
        bar.update(settled);
        if publish_started.elapsed() > Duration::from_secs(600) {
            bail!("only {settled} of {total} deliveries settled after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = publish_started.elapsed();

    summary(&pipeline, campaign_id, elapsed);
    println!();
    println!("Dashboard: {inkit}/   (History, documents, PDFs)");
    println!("Done in {:.1} s.", started.elapsed().as_secs_f64());
    if args.keep_running {
        let shutdown = crate::shutdown::signal();
        println!("Still running; press Ctrl-C to stop.");
        shutdown.await;
    }
    pipeline.shutdown().await;
    Ok(())
}

fn summary(pipeline: &Pipeline, campaign_id: u64, elapsed: Duration) {
    let report = lock(&pipeline.engine).report(campaign_id).map(|r| r.total()).unwrap_or_default();
    let settled = pipeline.sink.settled();
    let history = pipeline.inkit.entries_where(|e| e.kind == EntryKind::Render).len();
    let failed: u64 = report.failed.values().sum::<u64>() + report.not_sent.values().sum::<u64>();
    let p = |q| settled.latency_percentile(q).map_or("-".to_owned(), |ms| format!("{ms:.1} ms"));
    println!();
    println!("Summary of campaign {campaign_id}");
    let rows = [
        ("qualified", group(report.qualified)),
        ("sent (handed to the webhook)", group(report.handed)),
        ("delivered (HTTP 200)", group(report.delivered)),
        ("retried", group(settled.retried)),
        ("failed", group(failed)),
        ("documents in Inkit's History", group(history as u64)),
        ("latency p50 / p95 / p99", format!("{} / {} / {}", p(50.0), p(95.0), p(99.0))),
        ("throughput", format!("{} deliveries/s", group((report.delivered as f64 / elapsed.as_secs_f64()) as u64))),
    ];
    for (label, value) in rows {
        println!("  {label:<30} {value:>24}");
    }
    println!("  (the documents are the campaign's and the Send Test's; History also holds the webhook's test request)");
}
