//! Renders/s of the seed walkthrough's webhook body on one core: our CleverTap dialect (JSON-safe) against
//! the `liquid` crate used plainly on the same body and data, in the same run.
//!
//! The profile has no phone (so `default` applies) and a name with a quote and a line break (so JSON
//! escaping applies). Run: `cargo run --release -p webhook-dispatcher --example render_bench [SECONDS]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use webhook_dispatcher::body::{BodyTemplate, ContentFormat, RenderInput};

/// The seed walkthrough's body, as `tapink preview` and the tests use it.
const SEED_BODY: &str = include_str!("../../../fixtures/bodies/seed.json");

fn measure(label: &str, seconds: f64, mut render: impl FnMut() -> usize) -> f64 {
    // Warm up, then count whole renders for the given time.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        black_box(render());
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    let mut bytes = 0usize;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..1000 {
            bytes += black_box(render());
        }
        n += 1000;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("{label:<44} {rate:>12.0} renders/s   ({:.0} ns each, {} bytes)", 1e9 / rate, bytes / n as usize);
    rate
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let profile = json!({"Name": "Ada \"The Countess\"\nLovelace", "Email": "ada@example.com", "Identity": "u-1"});
    let profile = profile.as_object().expect("object").clone();

    let ours = BodyTemplate::compile(SEED_BODY, ContentFormat::Json).expect("the seed body compiles");
    let input = RenderInput::for_profile(&profile);
    let check = ours.render(&input).expect("renders");
    assert!(serde_json::from_str::<serde_json::Value>(&check).is_ok(), "valid JSON: {check}");

    let plain = liquid::ParserBuilder::with_stdlib().build().expect("parser").parse(SEED_BODY).expect("parses");
    let globals = liquid::object!({
        "Profile": {"name": "Ada \"The Countess\"\nLovelace", "Email": "ada@example.com", "Phone": liquid::model::Value::Nil},
    });

    println!("one core, {seconds} s per measurement, release build");
    let a =
        measure("tapink body (CleverTap dialect, JSON-safe)", seconds, || ours.render(&input).map_or(0, |s| s.len()));
    let b =
        measure("liquid crate used plainly (not JSON-safe)", seconds, || plain.render(&globals).map_or(0, |s| s.len()));
    println!("ratio: {:.2}", a / b);
}
