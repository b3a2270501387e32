//! Phase `render`: renders/s of the seed's webhook body on one core, as the dispatcher renders it
//! (CleverTap's Liquid dialect, JSON-safe), for the profile `render_bench` uses: a name with a quote and a
//! line break (escaping applies) and no phone (`default` applies). One thread renders for `--seconds`;
//! its own CPU time gives ns per render, which moves less with load than the wall-clock rate.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use webhook_dispatcher::body::RenderInput;

use super::BenchArgs;
use super::cpu;
use super::outcome::{Outcome, verdict};
use super::synthetic_bodies::seed_template;
use crate::number_format::group;
use crate::progress::Progress;

/// The target, from the dispatcher's issue: bodies rendered per second on one core.
pub const TARGET_PER_S: f64 = 1_000_000.0;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let template = seed_template("tmpl_SeedLetter000000000001")?;
    let profile = json!({"Name": "Ada \"The Countess\"\nLovelace", "Email": "ada@example.com", "Identity": "u-1"});
    let Value::Object(profile) = profile else { unreachable!("a JSON object literal") };
    let sample = template.render(&RenderInput::for_profile(&profile)).context("rendering the seed's body")?;
    serde_json::from_str::<Value>(&sample).with_context(|| format!("the rendered body is not JSON: {sample}"))?;

    let duration = Duration::from_secs(args.seconds);
    let rendered = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (count, thread_done) = (rendered.clone(), done.clone());
    let worker = std::thread::Builder::new().name("bench-render".into()).spawn(move || {
        // Warm up, then count whole renders for the given time.
        let warm = Instant::now();
        while warm.elapsed() < Duration::from_millis(300) {
            black_box(template.render(&RenderInput::for_profile(black_box(&profile))).map_or(0, |s| s.len()));
        }
        let cpu_before = cpu::this_thread();
        let started = Instant::now();
        let mut n = 0u64;
        let mut bytes = 0usize;
        while started.elapsed() < duration {
            for _ in 0..1000 {
                bytes +=
                    black_box(template.render(&RenderInput::for_profile(black_box(&profile))).map_or(0, |s| s.len()));
            }
            n += 1000;
            count.store(n, Ordering::Relaxed);
        }
        let elapsed = started.elapsed();
        let cpu = cpu::this_thread() - cpu_before;
        thread_done.store(true, Ordering::Relaxed);
        (n, bytes, elapsed, cpu)
    })?;
    let mut bar = Progress::new("renders", args.seconds.max(1), "s");
    let started = Instant::now();
    while !done.load(Ordering::Relaxed) {
        let n = rendered.load(Ordering::Relaxed);
        bar.update_with(started.elapsed().as_secs(), &format!("{} renders", group(n)));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (n, bytes, elapsed, cpu) = tokio::task::spawn_blocking(move || worker.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the render thread panicked"))?;
    bar.finish_with(args.seconds.max(1), &format!("{} renders", group(n)));
    // Ticks are 10 ms: a run of under a second, or a thread that got little CPU, says little per render.
    let rate = n as f64 / elapsed.as_secs_f64().max(1e-9);
    let cpu_ns = if cpu >= 0.5 { Some(cpu * 1e9 / n.max(1) as f64) } else { None };

    let mut out = Outcome::default();
    out.row_against(
        "seed body, one core",
        format!("{} renders/s", group(rate as u64)),
        verdict("≥ 1,000,000/s", rate >= TARGET_PER_S),
    );
    out.row("wall time per render", format!("{:.0} ns", 1e9 / rate.max(1e-9)));
    if let Some(ns) = cpu_ns {
        out.row("CPU per render (render thread)", format!("{ns:.0} ns"));
    }
    out.row("bytes per body", group((bytes as u64).checked_div(n).unwrap_or(0)));
    out.set("renders_per_s", rate);
    out.set("target_renders_per_s", TARGET_PER_S);
    out.set("renders", n);
    out.set("seconds", elapsed.as_secs_f64());
    out.set("cpu_ns_per_render", cpu_ns);
    out.check(n > 0, "render: nothing was rendered");
    Ok(out)
}
