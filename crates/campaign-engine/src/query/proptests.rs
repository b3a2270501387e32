//! Property tests of the segment query parser: no JSON makes it panic, every error names a field that is in the
//! input (or a key missing from an object that is), a well-formed query parses, and evaluating any query that
//! parses against a small store never panics and agrees with itself.
//!
//! Cases per property are kept small for the debug test run; `PROPTEST_CASES=10000` raises them all.

use clock::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::{Operator, Query};
use crate::profile::IdentityKind;
use crate::store::MemoryStore;

/// `cases` unless `PROPTEST_CASES` is set.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

const QUERY_KEYS: [&str; 14] = [
    "event_name",
    "from",
    "to",
    "event_properties",
    "props",
    "common_profile_properties",
    "common_profile_prop",
    "profile_fields",
    "session_properties",
    "demographics",
    "geo_fields",
    "name",
    "operator",
    "value",
];

const PROPERTY_NAMES: [&str; 9] = ["Tier", "Age", "Score", "Tags", "Joined", "Vip", "Amount", "Category", "Missing"];

const EVENT_NAMES: [&str; 4] = ["Charged", "App Launched", "added to cart", "Viewed"];

/// Text a query holds: its keys, operator names, days, dates, and anything else (dots and brackets included, to
/// confuse paths).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(QUERY_KEYS.to_vec()).prop_map(str::to_owned),
        2 => select(Operator::ALL.to_vec()).prop_map(|op| op.name().to_owned()),
        1 => select(PROPERTY_NAMES.to_vec()).prop_map(str::to_owned),
        1 => (19_000_101_i64..21_001_231).prop_map(|d| d.to_string()),
        1 => any::<i64>().prop_map(|s| format!("$D_{s}")),
        1 => "[a-z.\\[\\]0-9 ]{0,8}",
        1 => any::<String>(),
    ]
}

/// Any JSON value, leaning towards the keys and values a query holds.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (19_000_101_i64..21_001_231).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("JSON has no NaN or infinity", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A day as CleverTap writes it: `YYYYMMDD`, as an integer or a string.
fn day() -> impl Strategy<Value = (i64, Value)> {
    (2023_i64..=2025, 1_i64..=12, 1_i64..=28, any::<bool>()).prop_map(|(y, m, d, as_text)| {
        let n = y * 10_000 + m * 100 + d;
        (n, if as_text { Value::from(n.to_string()) } else { Value::from(n) })
    })
}

/// A value a filter compares with: a string, a number, a boolean, a date or a day.
fn filter_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        select(vec!["gold", "silver", "books", "True", "false", "42", " 4.5 ", ""]).prop_map(Value::from),
        (-100_i64..200).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        any::<bool>().prop_map(Value::from),
        (1_600_000_000_i64..1_800_000_000).prop_map(|s| Value::from(format!("$D_{s}"))),
        day().prop_map(|(_, d)| d),
    ]
}

/// A filter that parses: a name, an operator (or none, meaning equals), and a value that suits it.
fn filter() -> impl Strategy<Value = Value> {
    let comparable = prop_oneof![
        (-100_i64..200).prop_map(Value::from),
        (-100_i64..200).prop_map(|n| Value::from(n.to_string())),
        (1_600_000_000_i64..1_800_000_000).prop_map(|s| Value::from(format!("$D_{s}"))),
        day().prop_map(|(_, d)| d),
    ];
    let list = prop::collection::vec(filter_scalar(), 1..4).prop_map(Value::Array);
    (select(PROPERTY_NAMES.to_vec()), select(Operator::ALL.to_vec()), any::<bool>(), comparable, filter_scalar(), list)
        .prop_map(|(name, op, as_list, comparable, scalar, list)| {
            let mut filter = json!({"name": name, "operator": op.name()});
            let value = match op {
                Operator::Exists | Operator::DoesNotExist => None,
                Operator::GreaterThan | Operator::GreaterThanEquals | Operator::LessThan | Operator::LessThanEquals => {
                    Some(comparable)
                }
                _ if as_list => Some(list),
                _ => Some(scalar),
            };
            if let Some(value) = value {
                filter["value"] = value;
            }
            if op == Operator::Equals && as_list {
                filter.as_object_mut().map(|f| f.remove("operator"));
            }
            filter
        })
}

/// A query that parses: a profile part, a base query with event filters, both, or neither, in either spelling.
fn well_formed_query() -> impl Strategy<Value = Value> {
    let base = (select(EVENT_NAMES.to_vec()), day(), day(), prop::collection::vec(filter(), 0..3), any::<bool>());
    let profile = (prop::collection::vec(filter(), 0..3), any::<bool>());
    (proptest::option::of(base), proptest::option::of(profile)).prop_map(|(base, profile)| {
        let mut query = Map::new();
        if let Some((name, (a, a_json), (b, b_json), filters, legacy)) = base {
            let (from, to) = if a <= b { (a_json, b_json) } else { (b_json, a_json) };
            query.insert("event_name".into(), name.into());
            query.insert("from".into(), from);
            query.insert("to".into(), to);
            if !filters.is_empty() {
                query.insert(if legacy { "props" } else { "event_properties" }.into(), filters.into());
            }
        }
        if let Some((fields, legacy)) = profile {
            let key = if legacy { "common_profile_prop" } else { "common_profile_properties" };
            query.insert(key.into(), json!({ "profile_fields": fields }));
        }
        Value::Object(query)
    })
}

/// A query-shaped object whose parts may be anything.
fn query_like() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map(select(QUERY_KEYS[..10].to_vec()), json_value(), 0..5),
        proptest::option::of(prop::collection::vec(prop_oneof![filter(), json_value()], 0..4)),
        any::<bool>(),
    )
        .prop_map(|(top, filters, in_profile)| {
            let mut query: Map<String, Value> = top.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Some(filters) = filters {
                if in_profile {
                    query.insert("common_profile_properties".into(), json!({ "profile_fields": filters }));
                } else {
                    query.insert("event_properties".into(), filters.into());
                }
            }
            Value::Object(query)
        })
}

/// Whether `path` (as a [`super::FieldError`] names it: `a.b[2].c`) leads to a value inside `value`, or to a key
/// missing from an object that is there. Keys may hold dots and brackets themselves, so each key of an object
/// is tried as a prefix.
fn names_a_field(value: &Value, path: &str) -> bool {
    if path.is_empty() {
        return true;
    }
    match value {
        Value::Object(fields) => {
            let through_a_key = fields.iter().any(|(key, inner)| {
                path.strip_prefix(key.as_str()).is_some_and(|rest| match rest.strip_prefix('.') {
                    Some(rest) => names_a_field(inner, rest),
                    None => rest.is_empty() || (rest.starts_with('[') && names_a_field(inner, rest)),
                })
            });
            // A key the parser asked for and did not find (`from`, `event_properties[0].name`).
            through_a_key || !path.contains(['.', '['])
        }
        Value::Array(items) => {
            let Some((index, rest)) = path.strip_prefix('[').and_then(|p| p.split_once(']')) else { return false };
            let Some(item) = index.parse::<usize>().ok().and_then(|i| items.get(i)) else { return false };
            match rest.strip_prefix('.') {
                Some(rest) => names_a_field(item, rest),
                None => rest.is_empty() || (rest.starts_with('[') && names_a_field(item, rest)),
            }
        }
        _ => false,
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("a valid instant")
}

/// A stored property value: the kinds a profile or event holds, and some it should not.
fn stored_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        select(vec!["gold", "silver", "books", "True", "False", "42", "7", "4.5", "x"]).prop_map(Value::from),
        (-100_i64..200).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        any::<bool>().prop_map(Value::from),
        (1_600_000_000_i64..1_800_000_000).prop_map(|s| Value::from(format!("$D_{s}"))),
        any::<String>().prop_map(Value::from),
    ];
    scalar.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(select(PROPERTY_NAMES.to_vec()), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

fn properties() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(select(PROPERTY_NAMES.to_vec()), stored_value(), 0..5)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// One user: profile properties, and events by name, time (2023–2025) and properties (`Items` included).
type User = (Map<String, Value>, Vec<(&'static str, i64, Map<String, Value>)>);

fn user() -> impl Strategy<Value = User> {
    let event = (
        select(EVENT_NAMES.to_vec()),
        1_672_531_200_i64..1_767_225_600,
        properties(),
        proptest::option::of(prop::collection::vec(properties().prop_map(Value::Object), 0..3)),
    )
        .prop_map(|(name, ts, mut props, items)| {
            if let Some(items) = items {
                props.insert("Items".into(), Value::Array(items));
            }
            (name, ts, props)
        });
    (properties(), prop::collection::vec(event, 0..4))
}

fn store_of(users: &[User]) -> MemoryStore {
    let mut store = MemoryStore::new();
    let uploaded = at(1_767_225_600);
    for (i, (profile, events)) in users.iter().enumerate() {
        let who = (IdentityKind::Identity, format!("u{i}"));
        store.upload_profile((who.0, &who.1), profile, uploaded);
        for (name, ts, props) in events {
            store.add_event((who.0, &who.1), name, props.clone(), at(*ts), uploaded);
        }
    }
    store
}

/// Evaluates `query` every way there is, and checks that the ways agree.
fn check_evaluation(query: &Query, users: &[User]) -> Result<(), TestCaseError> {
    let store = store_of(users);
    let now = at(1_767_225_600);
    let selected: Vec<&str> = query.profiles(&store, now).iter().map(|p| p.object_id.as_str()).collect();
    let one_by_one: Vec<&str> = store
        .profiles()
        .filter(|p| query.holds(p, store.events_of(&p.object_id)))
        .map(|p| p.object_id.as_str())
        .collect();
    prop_assert_eq!(&selected, &one_by_one);
    prop_assert_eq!(query.count_profiles(&store, now), selected.len());
    let events = query.events(&store, now);
    prop_assert_eq!(query.count_events(&store, now), events.len());
    match query.event_name() {
        None => prop_assert!(events.is_empty()),
        Some(_) => {
            for (user, event) in &events {
                prop_assert!(selected.contains(&user.object_id.as_str()), "{:?} of a user not selected", event);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_json_parses_or_fails_naming_a_field_of_the_input(json in prop_oneof![query_like(), json_value()]) {
        match Query::parse(&json) {
            Ok(_) => {}
            Err(e) if e.path == "query" => prop_assert!(!json.is_object(), "{}", e),
            Err(e) => prop_assert!(names_a_field(&json, &e.path), "{} names nothing in {}", e, json),
        }
    }

    #[test]
    fn a_well_formed_query_parses(json in well_formed_query()) {
        let parsed = Query::parse(&json);
        prop_assert!(parsed.is_ok(), "{:?}: {}", parsed, json);
    }

    #[test]
    fn evaluating_a_query_never_panics_and_every_way_agrees(
        json in prop_oneof![3 => well_formed_query(), 1 => query_like()],
        users in prop::collection::vec(user(), 0..5),
    ) {
        if let Ok(query) = Query::parse(&json) {
            check_evaluation(&query, &users)?;
        }
    }
}

#[test]
fn field_paths_are_found_in_the_input() {
    let input = json!({"a.b": {"c": [1, {"d": null}]}, "e": []});
    for path in ["a.b", "a.b.c", "a.b.c[1]", "a.b.c[1].d", "a.b.c[1].missing", "e", "missing"] {
        assert!(names_a_field(&input, path), "{path}");
    }
    for path in ["a.b.c[2]", "a.b.x.y", "e[0]", "a.b.c[0].d"] {
        assert!(!names_a_field(&input, path), "{path}");
    }
}
