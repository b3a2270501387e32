//! Fuzzes the segment query parser (`campaign_engine::query`): the input is read as JSON and parsed as a CQL
//! query; a query that parses is evaluated against a small store.
//!
//! Checks: nothing panics; an error names a field of the input (or a key missing from an object of it); the
//! profiles a query selects are the ones for which `holds` is true, and the counts match the lists.

#![no_main]

use std::sync::OnceLock;

use campaign_engine::profile::IdentityKind;
use campaign_engine::query::Query;
use campaign_engine::store::MemoryStore;
use clock::Timestamp;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("a valid instant")
}

fn props(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}

/// Three users with the kinds of values queries compare: strings, numbers, numeric strings, booleans,
/// multi-values, dates, null; Charged events with Items.
fn store() -> &'static MemoryStore {
    static STORE: OnceLock<MemoryStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut store = MemoryStore::new();
        let t0 = at(1_709_251_200);
        let users = [
            json!({"Name": "Ada", "Tier": "gold", "Age": 30, "Score": "42", "Vip": true, "Tags": ["reader", "gamer"],
                "Joined": "$D_1705320000", "Nick": null}),
            json!({"Name": "Bob", "Tier": "silver", "Age": 45.5, "Score": "7", "Vip": "False", "Tags": ["cook"],
                "Joined": "$D_1685606400"}),
            json!({"Name": "Cy", "Tier": "platinum"}),
        ];
        for (i, profile) in users.into_iter().enumerate() {
            store.upload_profile((IdentityKind::Identity, &format!("u{i}")), &props(profile), t0);
        }
        let charged = json!({"Amount": 150, "Items": [{"Category": "books", "Price": 20}, {"Category": "toys"}]});
        store.add_event((IdentityKind::Identity, "u0"), "Charged", props(charged), at(1_704_888_000), t0);
        store.add_event((IdentityKind::Identity, "u0"), "App Launched", Map::new(), at(1_706_745_599), t0);
        store.add_event(
            (IdentityKind::Identity, "u1"),
            "charged",
            props(json!({"Amount": "50"})),
            at(1_706_745_600),
            t0,
        );
        store.add_event(
            (IdentityKind::Identity, "u1"),
            "Added To Cart",
            props(json!({"Product": "Pan"})),
            at(1_704_067_200),
            t0,
        );
        store
    })
}

/// Whether `path` (`a.b[2].c`) leads to a value inside `value`, or to a key missing from an object that is
/// there. Keys may hold dots and brackets, so each key of an object is tried as a prefix.
fn names_a_field(value: &Value, path: &str) -> bool {
    if path.is_empty() {
        return true;
    }
    let rest_of = |inner: &Value, rest: &str| match rest.strip_prefix('.') {
        Some(rest) => names_a_field(inner, rest),
        None => rest.is_empty() || (rest.starts_with('[') && names_a_field(inner, rest)),
    };
    match value {
        Value::Object(fields) => {
            fields.iter().any(|(key, inner)| path.strip_prefix(key.as_str()).is_some_and(|rest| rest_of(inner, rest)))
                || !path.contains(['.', '['])
        }
        Value::Array(items) => {
            let Some((index, rest)) = path.strip_prefix('[').and_then(|p| p.split_once(']')) else { return false };
            index.parse::<usize>().ok().and_then(|i| items.get(i)).is_some_and(|item| rest_of(item, rest))
        }
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Value>(data) else { return };
    match Query::parse(&json) {
        Ok(query) => {
            let store = store();
            let now = at(1_767_225_600);
            let selected: Vec<&str> = query.profiles(store, now).iter().map(|p| p.object_id.as_str()).collect();
            let one_by_one: Vec<&str> = store
                .profiles()
                .filter(|p| query.holds(p, store.events_of(&p.object_id)))
                .map(|p| p.object_id.as_str())
                .collect();
            assert_eq!(selected, one_by_one);
            assert_eq!(query.count_profiles(store, now), selected.len());
            assert_eq!(query.count_events(store, now), query.events(store, now).len());
        }
        Err(e) if e.path == "query" => assert!(!json.is_object(), "{e}"),
        Err(e) => assert!(names_a_field(&json, &e.path), "{e} names nothing in {json}"),
    }
});
