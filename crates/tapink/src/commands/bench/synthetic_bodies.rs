//! The seed's webhook body rendered for synthetic users (`pipeline::synthetic`), as the dispatcher renders
//! it: the requests of the `mock` phase's load and the profiles of the `render` phase.

use anyhow::Context;
use bytes::Bytes;
use pipeline::synthetic::{SplitMix64, profile_record};
use serde_json::{Map, Value};
use webhook_dispatcher::body::{BodyTemplate, ContentFormat, RenderInput};

/// The first `n` synthetic users' profiles for `seed`.
pub fn profiles(n: u64, seed: u64) -> Vec<Map<String, Value>> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|i| match profile_record(i, &mut rng).get_mut("profileData").map(Value::take) {
            Some(Value::Object(profile)) => profile,
            _ => Map::new(),
        })
        .collect()
}

/// The seed's body, compiled as a campaign's is.
pub fn seed_template(template_id: &str) -> anyhow::Result<BodyTemplate> {
    BodyTemplate::compile(&crate::seed::body(template_id), ContentFormat::Json)
        .map_err(|e| anyhow::anyhow!("the seed's body does not compile: {e}"))
}

/// The seed's body rendered for the first `n` synthetic users of `seed`.
pub fn rendered(n: u64, seed: u64, template_id: &str) -> anyhow::Result<Vec<Bytes>> {
    let template = seed_template(template_id)?;
    profiles(n, seed)
        .iter()
        .map(|profile| {
            let body = template.render(&RenderInput::for_profile(profile)).context("rendering the seed's body")?;
            Ok(Bytes::from(body))
        })
        .collect()
}
