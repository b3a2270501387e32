//! Tests of reading and evaluating queries, on a small store built here.

use clock::Timestamp;
use serde_json::{Map, Value, json};

use super::{Operator, Query};
use crate::profile::IdentityKind;
use crate::store::MemoryStore;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn props(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn date(s: &str) -> Value {
    json!(format!("$D_{}", at(s).as_second()))
}

/// u1 (gold), u2 (silver), u3 (platinum, no events).
fn store() -> MemoryStore {
    let mut store = MemoryStore::new();
    let t0 = at("2024-03-01T00:00:00Z");
    let u1 = (IdentityKind::Identity, "u1");
    let u2 = (IdentityKind::Identity, "u2");
    let u3 = (IdentityKind::Identity, "u3");
    store.upload_profile(
        u1,
        &props(json!({"Name": "Ada Lovelace", "Tier": "gold", "Age": 30, "Score": "42", "Vip": true,
            "Tags": ["reader", "gamer"], "Joined": date("2024-01-15T12:00:00Z"), "Nick": null})),
        t0,
    );
    store.upload_profile(
        u2,
        &props(json!({"Name": "Bob", "Tier": "silver", "Age": 45, "Score": "7", "Vip": "False",
            "Tags": ["cook"], "Joined": date("2023-06-01T08:00:00Z")})),
        t0,
    );
    store.upload_profile(u3, &props(json!({"Name": "Cy", "Tier": "platinum"})), t0);
    let charged = |amount: i64, items: Value| props(json!({"Amount": amount, "Items": items}));
    store.add_event(
        u1,
        "Charged",
        charged(150, json!([{"Category": "books", "Price": 20}, {"Category": "toys", "Price": 5}])),
        at("2024-01-10T12:00:00Z"),
        t0,
    );
    store.add_event(u1, "App Launched", Map::new(), at("2024-01-31T23:59:59Z"), t0);
    store.add_event(u2, "charged", charged(50, json!([{"Category": "food"}])), at("2024-02-01T00:00:00Z"), t0);
    store.add_event(u2, "added to cart", props(json!({"Product": "Pan"})), at("2024-01-01T00:00:00Z"), t0);
    store
}

fn now() -> Timestamp {
    at("2024-03-01T00:00:00Z")
}

/// The identities of the profiles a query selects.
fn who(store: &MemoryStore, query: Value) -> Vec<String> {
    let q = Query::parse(&query).unwrap_or_else(|e| panic!("{e}"));
    q.profiles(store, now()).iter().map(|p| p.identity.clone().unwrap_or_default()).collect()
}

/// Profiles selected by one profile filter.
fn by_field(store: &MemoryStore, name: &str, operator: &str, value: Value) -> Vec<String> {
    let field = json!({"name": name, "operator": operator, "value": value});
    who(store, json!({"common_profile_properties": {"profile_fields": [field]}}))
}

fn parse_error(query: Value) -> String {
    match Query::parse(&query) {
        Ok(q) => panic!("parsed {q:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn string_operators_compare_exactly() {
    let s = store();
    assert_eq!(by_field(&s, "Tier", "equals", json!("gold")), ["u1"]);
    assert!(by_field(&s, "Tier", "equals", json!("Gold")).is_empty(), "case-sensitive");
    assert_eq!(by_field(&s, "Tier", "not_equals", json!("gold")), ["u2", "u3"]);
    assert_eq!(by_field(&s, "Name", "contains", json!("Love")), ["u1"]);
    assert_eq!(by_field(&s, "Name", "does_not_contain", json!("o")), ["u3"]);
}

#[test]
fn numeric_operators_compare_numbers_and_numeric_strings_as_numbers() {
    let s = store();
    assert_eq!(by_field(&s, "Age", "equals", json!(30)), ["u1"]);
    assert_eq!(by_field(&s, "Age", "equals", json!("30.0")), ["u1"], "numeric string vs number");
    assert_eq!(by_field(&s, "Age", "greater_than", json!(30)), ["u2"]);
    assert_eq!(by_field(&s, "Age", "greater_than_equals", json!(30)), ["u1", "u2"]);
    assert_eq!(by_field(&s, "Age", "less_than", json!(45)), ["u1"]);
    assert_eq!(by_field(&s, "Age", "less_than_equals", json!("45")), ["u1", "u2"]);
    // Stored "42" and "7": as numbers 7 < 10 < 42 (as strings "7" > "10").
    assert_eq!(by_field(&s, "Score", "greater_than", json!(10)), ["u1"]);
    assert_eq!(by_field(&s, "Score", "less_than", json!(10)), ["u2"]);
    assert_eq!(by_field(&s, "Score", "equals", json!(42)), ["u1"]);
    assert!(by_field(&s, "Tier", "greater_than", json!(1)).is_empty(), "non-numbers never compare");
    assert!(by_field(&s, "Age", "less_than", json!(100)).iter().all(|id| id != "u3"), "missing never compares");
}

#[test]
fn lists_mean_any_of_for_equals_and_contains_and_none_of_for_negations() {
    let s = store();
    assert_eq!(by_field(&s, "Tier", "equals", json!(["gold", "platinum"])), ["u1", "u3"]);
    assert_eq!(by_field(&s, "Tier", "not_equals", json!(["gold", "platinum"])), ["u2"]);
    assert_eq!(by_field(&s, "Name", "contains", json!(["Bo", "Cy"])), ["u2", "u3"]);
    assert_eq!(by_field(&s, "Name", "does_not_contain", json!(["Bo", "Cy"])), ["u1"]);
    assert_eq!(by_field(&s, "Age", "equals", json!([45, 99])), ["u2"]);
}

#[test]
fn multi_value_properties_match_when_any_element_does() {
    let s = store();
    assert_eq!(by_field(&s, "Tags", "equals", json!("gamer")), ["u1"]);
    assert_eq!(by_field(&s, "Tags", "contains", json!("oo")), ["u2"]);
    assert_eq!(by_field(&s, "Tags", "not_equals", json!("gamer")), ["u2", "u3"]);
}

#[test]
fn exists_and_does_not_exist_treat_missing_and_null_alike() {
    let s = store();
    assert_eq!(by_field(&s, "Age", "exists", Value::Null), ["u1", "u2"]);
    assert_eq!(by_field(&s, "Age", "does_not_exist", Value::Null), ["u3"]);
    assert!(by_field(&s, "Nick", "exists", json!("ignored")).is_empty(), "an uploaded null removes the property");
    let q = json!({"common_profile_properties": {"profile_fields": [{"name": "Age", "operator": "exists"}]}});
    assert_eq!(who(&s, q), ["u1", "u2"], "exists needs no value");
}

#[test]
fn true_false_strings_match_booleans_stored_either_way() {
    let s = store();
    assert_eq!(by_field(&s, "Vip", "equals", json!("True")), ["u1"]);
    assert_eq!(by_field(&s, "Vip", "equals", json!(false)), ["u2"], "stored as the string \"False\"");
    assert_eq!(by_field(&s, "Vip", "equals", json!("False")), ["u2"]);
    assert_eq!(by_field(&s, "Vip", "not_equals", json!("True")), ["u2", "u3"]);
}

#[test]
fn dates_compare_as_instants_against_yyyymmdd_days_and_epoch_seconds() {
    let s = store();
    // u1 joined 2024-01-15 12:00 UTC, u2 2023-06-01.
    assert_eq!(by_field(&s, "Joined", "equals", json!(20240115)), ["u1"], "within the day");
    assert_eq!(by_field(&s, "Joined", "equals", json!("20240115")), ["u1"]);
    assert!(by_field(&s, "Joined", "greater_than", json!(20240115)).is_empty(), "after the whole day");
    assert_eq!(by_field(&s, "Joined", "greater_than_equals", json!(20240115)), ["u1"]);
    assert_eq!(by_field(&s, "Joined", "less_than", json!(20240115)), ["u2"]);
    assert_eq!(by_field(&s, "Joined", "less_than_equals", json!(20240115)), ["u1", "u2"]);
    let noon = at("2024-01-15T12:00:00Z").as_second();
    assert_eq!(by_field(&s, "Joined", "equals", json!(noon)), ["u1"], "epoch seconds");
    assert_eq!(by_field(&s, "Joined", "less_than", json!(noon)), ["u2"]);
    assert_eq!(by_field(&s, "Joined", "greater_than_equals", json!(format!("$D_{noon}"))), ["u1"]);
}

#[test]
fn charged_with_an_item_of_category_books_looks_in_every_item() {
    let s = store();
    let q = |category: &str| {
        json!({"event_name": "Charged", "from": 20240101, "to": 20240229,
            "event_properties": [{"name": "Category", "operator": "equals", "value": category}]})
    };
    assert_eq!(who(&s, q("books")), ["u1"]);
    assert_eq!(who(&s, q("toys")), ["u1"], "the second item");
    assert_eq!(who(&s, q("food")), ["u2"]);
    assert!(who(&s, q("garden")).is_empty());
    let priced = json!({"event_name": "Charged", "from": 20240101, "to": 20240229,
        "event_properties": [{"name": "Price", "operator": "less_than", "value": 10}]});
    assert_eq!(who(&s, priced), ["u1"], "OR across items: the toys item costs 5");
}

#[test]
fn event_filters_must_hold_on_the_same_event() {
    let s = store();
    let q = json!({"event_name": "Charged", "from": 20240101, "to": 20240229, "event_properties": [
        {"name": "Amount", "operator": "greater_than", "value": 100},
        {"name": "Category", "operator": "equals", "value": "food"}]});
    assert!(who(&s, q).is_empty(), "u1 spent > 100 and u2 bought food, but not in one event");
}

#[test]
fn from_and_to_include_both_whole_utc_days() {
    let s = store();
    let launched = |from: u32, to: u32| json!({"event_name": "App Launched", "from": from, "to": to});
    assert_eq!(who(&s, launched(20240131, 20240131)), ["u1"], "23:59:59 on the last day");
    assert!(who(&s, launched(20240201, 20240229)).is_empty());
    let charged = |from: u32, to: u32| json!({"event_name": "Charged", "from": from, "to": to});
    assert_eq!(who(&s, charged(20240201, 20240201)), ["u2"], "00:00:00 on the first day");
    assert_eq!(who(&s, charged(20240110, 20240110)), ["u1"]);
    assert!(who(&s, charged(20240111, 20240131)).is_empty());
    assert_eq!(who(&s, json!({"event_name": "Charged", "from": "20240101", "to": "20240229"})), ["u1", "u2"]);
}

#[test]
fn event_names_compare_ignoring_case_and_spaces() {
    let s = store();
    assert_eq!(who(&s, json!({"event_name": "Added To Cart", "from": 20240101, "to": 20240101})), ["u2"]);
    assert_eq!(who(&s, json!({"event_name": "CHARGED", "from": 20240201, "to": 20240201})), ["u2"]);
    assert_eq!(who(&s, json!({"event_name": "applaunched", "from": 20240101, "to": 20240131})), ["u1"]);
}

#[test]
fn legacy_props_and_common_profile_prop_give_the_same_result_as_the_documented_spellings() {
    let s = store();
    let filters = json!([{"name": "Amount", "operator": "greater_than_equals", "value": 50}]);
    let fields = json!({"profile_fields": [{"name": "Tier", "operator": "equals", "value": ["gold", "silver"]}]});
    let documented = json!({"event_name": "Charged", "from": 20240101, "to": 20240229,
        "event_properties": filters, "common_profile_properties": fields});
    let legacy = json!({"event_name": "Charged", "from": 20240101, "to": 20240229,
        "props": filters, "common_profile_prop": fields});
    assert_eq!(who(&s, documented.clone()), ["u1", "u2"]);
    assert_eq!(who(&s, legacy.clone()), who(&s, documented.clone()));
    let (a, b) = (Query::parse(&documented).unwrap(), Query::parse(&legacy).unwrap());
    assert_eq!(a, b);
}

#[test]
fn legacy_profile_fields_without_operator_mean_equals_and_a_list_any_of() {
    let s = store();
    let q = json!({"common_profile_prop": {"profile_fields": [{"name": "Tier", "value": ["silver", "platinum"]}]}});
    assert_eq!(who(&s, q.clone()), ["u2", "u3"]);
    assert_eq!(Query::parse(&q).unwrap().profile_filters()[0].operator, Operator::Equals);
}

#[test]
fn without_a_base_query_profile_filters_alone_select_even_users_without_events() {
    let s = store();
    assert_eq!(by_field(&s, "Tier", "equals", json!("platinum")), ["u3"]);
    let q = Query::parse(&json!({})).unwrap();
    assert_eq!(q.count_profiles(&s, now()), 3, "an empty query is everyone");
    assert!(q.events(&s, now()).is_empty());
    assert_eq!(q.require_events().unwrap_err().path, "event_name");
}

#[test]
fn events_lists_the_matching_events_of_matching_profiles_and_counts_agree() {
    let s = store();
    let q = Query::parse(&json!({"event_name": "charged", "from": 20240101, "to": 20240229})).unwrap();
    let amounts: Vec<_> = q.events(&s, now()).iter().map(|(_, e)| e.properties["Amount"].clone()).collect();
    assert_eq!(amounts, [json!(150), json!(50)]);
    assert_eq!((q.count_events(&s, now()), q.count_profiles(&s, now())), (2, 2));
    let silver = Query::parse(&json!({"event_name": "charged", "from": 20240101, "to": 20240229,
        "common_profile_properties": {"profile_fields": [{"name": "Tier", "operator": "equals", "value": "silver"}]}}))
    .unwrap();
    assert_eq!(silver.count_events(&s, now()), 1);
    assert!(q.require_events().is_ok());
}

#[test]
fn the_reference_example_parses_and_lists_what_is_not_evaluated() {
    let q = Query::parse(&json!({"event_name":"Charged","from":20171001,"to":20171220,
     "event_properties":[{"name":"Amount","operator":"greater_than","value":100}],
     "session_properties":[{"name":"utm_source","value":"google"}],
     "common_profile_properties":{
       "profile_fields":[{"name":"Customer Type","operator":"equals","value":"Platinum"}],
       "demographics":[{"name":"Gender","operator":"equals","value":"M"}],
       "geo_fields":[["India","Maharashtra","Mumbai"]]}}))
    .unwrap();
    assert_eq!(q.event_name(), Some("Charged"));
    let (from, to) = q.window().unwrap();
    assert_eq!((from.to_string(), to.to_string()), ("2017-10-01".into(), "2017-12-20".into()));
    assert_eq!((q.event_filters().len(), q.profile_filters().len()), (1, 1));
    assert_eq!(
        q.unsupported_filters(),
        ["common_profile_properties.demographics", "common_profile_properties.geo_fields", "session_properties"]
    );
}

#[test]
fn every_parse_error_names_its_field() {
    let base = |extra: Value| {
        let mut q = json!({"event_name": "Charged", "from": 20240101, "to": 20240131});
        for (k, v) in extra.as_object().unwrap() {
            q[k] = v.clone();
        }
        q
    };
    let cases = [
        (json!([1]), "query: must be a JSON object"),
        (json!({"event_nme": "x"}), "event_nme: unknown field"),
        (json!({"event_name": 3, "from": 20240101, "to": 20240101}), "event_name: must be a non-empty string"),
        (json!({"event_name": "x", "to": 20240101}), "from: required with event_name"),
        (json!({"event_name": "x", "from": 20240101}), "to: required with event_name"),
        (json!({"from": 20240101, "to": 20240101}), "from: needs event_name"),
        (base(json!({"from": 20241301})), "from: 20241301 is not a date"),
        (base(json!({"from": 20240230})), "from: 20240230 is not a date"),
        (base(json!({"to": "2024-01-31"})), "to: \"2024-01-31\" is not a date"),
        (base(json!({"to": 2024013})), "to: 2024013 is not a date"),
        (base(json!({"from": 20240201})), "to: 2024-01-31 is before from 2024-02-01"),
        (json!({"props": []}), "props: needs event_name"),
        (base(json!({"props": [], "event_properties": []})), "props: give either event_properties or props"),
        (base(json!({"event_properties": {}})), "event_properties: must be a list"),
        (base(json!({"event_properties": [1]})), "event_properties[0]: must be a {"),
        (
            base(json!({"event_properties": [{"name": "a", "value": 1}, {"name": "b", "operator": "bigger_than"}]})),
            "event_properties[1].operator: unknown operator \"bigger_than\"; use equals, not_equals, contains, \
             does_not_contain, exists, does_not_exist, greater_than, greater_than_equals, less_than, less_than_equals",
        ),
        (base(json!({"props": [{"name": "a", "operator": 1, "value": 1}]})), "props[0].operator: must be a string"),
        (base(json!({"props": [{"operator": "exists"}]})), "props[0].name: required"),
        (base(json!({"props": [{"name": "", "operator": "exists"}]})), "props[0].name: must be a non-empty string"),
        (base(json!({"props": [{"name": "a", "oprator": "exists"}]})), "props[0].oprator: unknown field"),
        (base(json!({"props": [{"name": "a", "operator": "equals"}]})), "props[0].value: required for equals"),
        (base(json!({"props": [{"name": "a", "value": {}}]})), "props[0].value: must be a string, number"),
        (base(json!({"props": [{"name": "a", "value": []}]})), "props[0].value: an empty list"),
        (base(json!({"props": [{"name": "a", "value": [1, [2]]}]})), "props[0].value[1]: must be a string"),
        (
            base(json!({"props": [{"name": "a", "operator": "less_than", "value": [1]}]})),
            "props[0].value: less_than takes one value, not a list",
        ),
        (
            base(json!({"props": [{"name": "a", "operator": "greater_than", "value": "many"}]})),
            "props[0].value: greater_than needs a number",
        ),
        (json!({"common_profile_properties": []}), "common_profile_properties: must be an object"),
        (json!({"common_profile_prop": {"profile_field": []}}), "common_profile_prop.profile_field: unknown field"),
        (
            json!({"common_profile_prop": {"profile_fields": [{"name": "a", "operator": "nope"}]}}),
            "common_profile_prop.profile_fields[0].operator: unknown operator \"nope\"",
        ),
        (
            json!({"common_profile_properties": {}, "common_profile_prop": {}}),
            "common_profile_prop: give either common_profile_properties or common_profile_prop",
        ),
    ];
    for (query, expected) in cases {
        let error = parse_error(query.clone());
        assert!(error.starts_with(expected), "{query}\n  gave: {error}\n  want: {expected}…");
    }
}

#[test]
fn parsing_never_panics_on_odd_json() {
    let odd = [
        json!(null),
        json!("x"),
        json!({"event_name": "a", "from": -1, "to": 1e300}),
        json!({"event_name": "a", "from": 99991231, "to": 99991231}),
        json!({"event_name": "a", "from": 10000101, "to": 10000101,
            "props": [{"name": "d", "value": "$D_99999999999999999999"}]}),
        json!({"event_name": "a", "from": u64::MAX, "to": i64::MIN}),
        json!({"common_profile_prop": {"profile_fields": [{"name": "a", "operator": "equals", "value": 1.5e308}]}}),
        json!({"common_profile_prop": {"profile_fields": null}, "session_properties": null}),
    ];
    let s = store();
    for q in odd {
        if let Ok(q) = Query::parse(&q) {
            let _ = (q.count_profiles(&s, now()), q.count_events(&s, now()));
        }
    }
}
