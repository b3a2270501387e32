//! Fuzzes JSON-safe Liquid rendering (`webhook_dispatcher::body`).
//!
//! The input is a body's source and a profile, split at the first 0xFF byte (a byte UTF-8 never holds). The
//! profile is the JSON object after it, or, when that is not an object, a profile whose `Name` and `Email` hold
//! the text (or the JSON value) after it. The same properties serve as the event's.
//!
//! Checks: nothing panics; a JSON body that renders is valid JSON; the seed walkthrough's body renders for any
//! profile, with every merge parameter a string; on the fast path, the body renders as the `liquid` path
//! renders it (when the `liquid` path itself renders the same twice: it prints objects outside JSON strings in
//! `HashMap` order, a known limit).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use webhook_dispatcher::body::{BodyTemplate, ContentFormat, RenderError, RenderInput};

const SEED_BODY: &str = include_str!("../../fixtures/bodies/seed.json");

fn seed_body() -> &'static BodyTemplate {
    static SEED: OnceLock<BodyTemplate> = OnceLock::new();
    SEED.get_or_init(|| BodyTemplate::compile(SEED_BODY, ContentFormat::Json).expect("the seed body compiles"))
}

fn profile_of(bytes: &[u8]) -> Map<String, Value> {
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(profile)) => return profile,
        Ok(value) => value,
        Err(_) => Value::from(String::from_utf8_lossy(bytes).into_owned()),
    };
    let mut profile = Map::new();
    profile.insert("Name".into(), value.clone());
    profile.insert("email".into(), value);
    profile
}

/// Whether the fast path's result is the `liquid` path's: the same body, or both invalid JSON, or the same
/// Liquid error (the fast path's message is the start of the `liquid` crate's, which goes on with a trace).
fn same(fast: &Result<String, RenderError>, liquid: &Result<String, RenderError>) -> bool {
    match (fast, liquid) {
        (Ok(a), Ok(b)) => a == b,
        (Err(RenderError::InvalidJson { .. }), Err(RenderError::InvalidJson { .. })) => true,
        (Err(RenderError::Liquid(a)), Err(RenderError::Liquid(b))) => b.starts_with(a.as_str()),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let (source, profile) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let source = String::from_utf8_lossy(source);
    let profile = profile_of(profile);
    let campaign = json!({"campaignId": 1_700_000_001, "name": profile.get("Name")});
    let input = RenderInput { profile: &profile, event: Some(&profile), campaign: &campaign };

    let seed = seed_body().render(&input).expect("the seed body renders for any profile");
    let seed: Value = serde_json::from_str(&seed).expect("the seed body renders to valid JSON");
    let parameters = seed["merge_parameters"].as_object().expect("merge_parameters stays an object");
    assert!(parameters.values().all(Value::is_string), "{seed}");

    if let Ok(body) = BodyTemplate::compile(&source, ContentFormat::Json) {
        let fast = body.render(&input);
        if let Ok(text) = &fast {
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(), "invalid JSON sent: {text}");
        }
        if body.is_fast() {
            let liquid = body.render_with_liquid(&input);
            if liquid == body.render_with_liquid(&input) {
                assert!(same(&fast, &liquid), "{source}\nfast   {fast:?}\nliquid {liquid:?}");
            }
        }
    }
    if let Ok(body) = BodyTemplate::compile(&source, ContentFormat::Text) {
        let _ = body.render(&input);
    }
});
