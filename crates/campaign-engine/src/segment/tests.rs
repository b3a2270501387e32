//! Tests of reading, writing and evaluating segments, on a small store built here.

use clock::Timestamp;
use jiff::SignedDuration;
use serde_json::{Map, Value, json};

use super::{SavedSegments, Segment};
use crate::profile::IdentityKind;
use crate::query::Query;
use crate::store::MemoryStore;

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

/// `days` days and `hours` hours before [`now`].
fn ago(days: i64, hours: i64) -> Timestamp {
    now() - SignedDuration::from_hours(days * 24 + hours)
}

fn props(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn user(store: &mut MemoryStore, id: &str, properties: Value) {
    store.upload_profile((IdentityKind::Identity, id), &props(properties), ago(400, 0));
}

fn event(store: &mut MemoryStore, id: &str, name: &str, properties: Value, ts: Timestamp) {
    store.add_event((IdentityKind::Identity, id), name, props(properties), ts, now());
}

/// Six users in Pune and Mumbai with `Charged` events around the last 30 days.
fn store() -> MemoryStore {
    let mut s = MemoryStore::new();
    user(&mut s, "u1", json!({"City": "Pune", "Gender": "F"}));
    user(&mut s, "u2", json!({"City": "Pune", "Gender": "M"}));
    user(&mut s, "u3", json!({"City": "Mumbai", "Gender": "F"}));
    user(&mut s, "u4", json!({"City": "Pune", "Gender": "M"}));
    user(&mut s, "u5", json!({"City": "Pune", "Gender": "F"}));
    user(&mut s, "u6", json!({"City": "Mumbai", "Gender": "M"}));
    // u1: two big charges in the window.
    event(&mut s, "u1", "Charged", json!({"Amount": 200}), ago(10, 0));
    event(&mut s, "u1", "Charged", json!({"Amount": 150}), ago(2, 0));
    // u2: one big, one small.
    event(&mut s, "u2", "Charged", json!({"Amount": 50}), ago(6, 0));
    event(&mut s, "u2", "Charged", json!({"Amount": 150}), ago(5, 0));
    event(&mut s, "u2", "Tutorial Completed", json!({}), ago(1, 0));
    // u3: two big charges, but in Mumbai; the amount as a numeric string.
    event(&mut s, "u3", "Charged", json!({"Amount": "500"}), ago(20, 0));
    event(&mut s, "u3", "Charged", json!({"Amount": 500}), ago(3, 0));
    // u4: one big charge 40 days ago and one in the window.
    event(&mut s, "u4", "Charged", json!({"Amount": 300}), ago(40, 0));
    event(&mut s, "u4", "Charged", json!({"Amount": 300}), ago(3, 0));
    event(&mut s, "u4", "Tutorial Completed", json!({}), ago(45, 0));
    // u5: nothing. u6: two big charges spelled differently, items inside, no Amount on one.
    event(&mut s, "u6", "charged", json!({"Amount": 120, "Items": [{"Category": "books"}]}), ago(7, 0));
    event(&mut s, "u6", "CHARGED", json!({"Amount": 130, "Items": [{"Category": "toys"}]}), ago(8, 0));
    event(&mut s, "u6", "Charged", json!({"Items": [{"Category": "toys"}]}), ago(9, 0));
    s
}

fn read(json: Value, saved: &SavedSegments) -> Segment {
    Segment::parse(&json, saved).unwrap_or_else(|e| panic!("{e}"))
}

/// The identities of the profiles a segment selects, in the order first seen.
fn who_with(store: &MemoryStore, saved: &SavedSegments, json: Value) -> Vec<String> {
    let segment = read(json, saved);
    let ids: Vec<String> =
        segment.profiles(store, saved, now()).iter().map(|p| p.identity.clone().unwrap_or_default()).collect();
    assert_eq!(segment.count(store, saved, now()), ids.len(), "count agrees with profiles");
    assert_eq!(segment.estimate_reach(store, saved, now()), ids.len());
    for (profile, events) in store.profiles_with_events() {
        let id = profile.identity.clone().unwrap_or_default();
        assert_eq!(segment.holds(profile, events, saved, now()), ids.contains(&id), "holds agrees for {id}");
    }
    ids
}

fn who(store: &MemoryStore, json: Value) -> Vec<String> {
    who_with(store, &SavedSegments::new(), json)
}

fn charged(last_days: u32, measure: Value) -> Value {
    let mut did = json!({"event": "Charged", "last_days": last_days});
    if let Value::Object(m) = measure {
        did.as_object_mut().unwrap().extend(m);
    }
    json!({"did": did})
}

fn profile(name: &str, value: &str) -> Value {
    json!({"profile": {"name": name, "operator": "equals", "value": value}})
}

#[test]
fn did_charged_twice_in_the_last_30_days_with_amount_over_100() {
    let s = store();
    let did = json!({"did": {"event": "Charged", "last_days": 30,
        "where": [{"name": "Amount", "operator": "greater_than", "value": 100}],
        "count": {"operator": "greater_than_equals", "value": 2}}});
    assert_eq!(who(&s, did.clone()), ["u1", "u3", "u6"], "u6's names differ in case; u3's amount is a string");
    assert_eq!(who(&s, json!({"all": [profile("City", "Pune"), did]})), ["u1"]);
}

#[test]
fn did_without_a_measure_means_at_least_once() {
    let s = store();
    assert_eq!(who(&s, charged(30, json!({}))), ["u1", "u2", "u3", "u4", "u6"]);
    assert_eq!(who(&s, json!({"did": {"event": "tutorial completed", "ever": true}})), ["u2", "u4"]);
}

#[test]
fn did_not_do_excludes_users_who_did_it_in_the_window() {
    let s = store();
    let not_in_30 = json!({"did_not": {"event": "Tutorial Completed", "last_days": 30}});
    assert_eq!(who(&s, not_in_30), ["u1", "u3", "u4", "u5", "u6"], "u4 did it 45 days ago");
    let not_ever = json!({"did_not": {"event": "Tutorial Completed", "ever": true}});
    assert_eq!(who(&s, not_ever), ["u1", "u3", "u5", "u6"]);
    // Find People's example: did Charged in the last 30 days and did not do Tutorial Completed.
    let both = json!({"all": [charged(30, json!({})), {"did_not": {"event": "Tutorial Completed", "last_days": 30}}]});
    assert_eq!(who(&s, both), ["u1", "u3", "u4", "u6"]);
    let filtered = json!({"did_not": {"event": "Charged", "last_days": 30,
        "where": [{"name": "Amount", "operator": "less_than", "value": 100}]}});
    assert_eq!(who(&s, filtered), ["u1", "u3", "u4", "u5", "u6"], "only u2 made a charge under 100");
}

#[test]
fn last_days_is_a_rolling_window_ending_now_that_includes_the_current_day() {
    let mut s = MemoryStore::new();
    user(&mut s, "edge", json!({}));
    user(&mut s, "past", json!({}));
    user(&mut s, "today", json!({}));
    user(&mut s, "future", json!({}));
    event(&mut s, "edge", "Ping", json!({}), ago(7, 0));
    event(&mut s, "past", "Ping", json!({}), ago(7, 0) - SignedDuration::from_secs(1));
    event(&mut s, "today", "Ping", json!({}), now());
    event(&mut s, "future", "Ping", json!({}), now() + SignedDuration::from_secs(1));
    let ping = |window: Value| {
        let mut did = json!({"event": "Ping"});
        did.as_object_mut().unwrap().extend(window.as_object().unwrap().clone());
        json!({"did": did})
    };
    assert_eq!(who(&s, ping(json!({"last_days": 7}))), ["edge", "today"], "exactly 7 × 24 h back, up to now");
    assert_eq!(who(&s, ping(json!({"last_days": 1}))), ["today"]);
    assert_eq!(who(&s, ping(json!({"ever": true}))), ["edge", "past", "today", "future"]);
}

#[test]
fn between_includes_both_whole_utc_days() {
    let mut s = MemoryStore::new();
    for id in ["first", "last", "before", "after"] {
        user(&mut s, id, json!({}));
    }
    let at = |t: &str| t.parse::<Timestamp>().unwrap();
    event(&mut s, "first", "Ping", json!({}), at("2026-01-01T00:00:00Z"));
    event(&mut s, "last", "Ping", json!({}), at("2026-01-31T23:59:59.999Z"));
    event(&mut s, "before", "Ping", json!({}), at("2025-12-31T23:59:59Z"));
    event(&mut s, "after", "Ping", json!({}), at("2026-02-01T00:00:00Z"));
    let january = json!({"did": {"event": "Ping", "between": [20260101, "20260131"]}});
    assert_eq!(who(&s, january), ["first", "last"]);
}

#[test]
fn count_compares_with_every_operator() {
    let s = store();
    let count = |op: &str, n: u32| charged(30, json!({"count": {"operator": op, "value": n}}));
    // In the last 30 days: u1 2, u2 2, u3 2, u4 1, u6 3 charges; u5 none.
    assert_eq!(who(&s, count("equals", 2)), ["u1", "u2", "u3"]);
    assert_eq!(who(&s, count("not_equals", 2)), ["u4", "u6"], "u5 did not do it");
    assert_eq!(who(&s, count("greater_than", 2)), ["u6"]);
    assert_eq!(who(&s, count("greater_than_equals", 1)), ["u1", "u2", "u3", "u4", "u6"]);
    assert_eq!(who(&s, count("less_than", 2)), ["u4"]);
    assert_eq!(who(&s, count("less_than_equals", 2)), ["u1", "u2", "u3", "u4"]);
    assert_eq!(who(&s, count("equals", 0)), Vec::<String>::new(), "a count of 0 needs the include option");
}

#[test]
fn sum_of_a_property_totals_the_matching_events() {
    let s = store();
    let sum = |op: &str, n: f64| charged(30, json!({"sum": {"property": "Amount", "operator": op, "value": n}}));
    // Sums in the last 30 days: u1 350, u2 200, u3 1000, u4 300, u6 250.
    assert_eq!(who(&s, sum("greater_than", 300.0)), ["u1", "u3"]);
    assert_eq!(who(&s, sum("equals", 250.0)), ["u6"]);
    assert_eq!(who(&s, sum("less_than_equals", 250.0)), ["u2", "u6"]);
    let big = json!({"did": {"event": "Charged", "last_days": 30,
        "where": [{"name": "Amount", "operator": "greater_than", "value": 100}],
        "sum": {"property": "Amount", "operator": "equals", "value": 300}}});
    assert_eq!(who(&s, big), ["u4"], "filters choose the events summed: u2's 50 is left out");
}

#[test]
fn average_counts_missing_values_as_zero() {
    let s = store();
    let average = |filters: Value| {
        json!({"did": {"event": "Charged", "last_days": 30, "where": filters,
            "average": {"property": "Amount", "operator": "greater_than", "value": 100}}})
    };
    // u6: 120, 130 and a charge without Amount: (120 + 130 + 0) / 3 = 83.3.
    assert_eq!(who(&s, average(json!([]))), ["u1", "u3", "u4"]);
    let with_amount = average(json!([{"name": "Amount", "operator": "exists"}]));
    assert_eq!(who(&s, with_amount), ["u1", "u3", "u4", "u6"], "an exists filter skips the charge without Amount");
    let exactly = json!({"did": {"event": "Charged", "last_days": 30,
        "average": {"property": "Amount", "operator": "equals", "value": 100}}});
    assert_eq!(who(&s, exactly), ["u2"], "(50 + 150) / 2");
}

#[test]
fn include_users_who_did_not_do_the_event_for_less_than_comparisons() {
    let s = store();
    let fewer = |include: bool| {
        charged(
            30,
            json!({"count": {"operator": "less_than", "value": 2,
            "include_users_who_did_not_do_the_event": include}}),
        )
    };
    assert_eq!(who(&s, fewer(false)), ["u4"]);
    assert_eq!(who(&s, fewer(true)), ["u4", "u5"], "u5 never charged: a count of 0");
    let small_sum = charged(
        30,
        json!({"sum": {"property": "Amount", "operator": "less_than_equals", "value": 200,
        "include_users_who_did_not_do_the_event": true}}),
    );
    assert_eq!(who(&s, small_sum), ["u2", "u5"]);
    let small_average = charged(
        30,
        json!({"average": {"property": "Amount", "operator": "less_than", "value": 90,
        "include_users_who_did_not_do_the_event": true}}),
    );
    assert_eq!(who(&s, small_average), ["u5", "u6"], "no events average 0");
}

#[test]
fn where_filters_look_in_every_item_of_a_charged_event() {
    let s = store();
    let category = |c: &str| {
        json!({"did": {"event": "Charged", "ever": true,
            "where": [{"name": "Category", "operator": "equals", "value": c}]}})
    };
    assert_eq!(who(&s, category("books")), ["u6"]);
    let toys_twice = json!({"did": {"event": "Charged", "ever": true,
        "where": [{"name": "Category", "operator": "equals", "value": ["toys", "games"]}],
        "count": {"operator": "equals", "value": 2}}});
    assert_eq!(who(&s, toys_twice), ["u6"]);
}

#[test]
fn or_of_ands_nests() {
    let s = store();
    // (F AND charged > 100 twice in 30 days) OR (M AND did not charge in the last 4 days).
    let big_twice = json!({"did": {"event": "Charged", "last_days": 30,
        "where": [{"name": "Amount", "operator": "greater_than", "value": 100}],
        "count": {"operator": "greater_than_equals", "value": 2}}});
    let segment = json!({"any": [
        {"all": [profile("Gender", "F"), big_twice]},
        {"all": [profile("Gender", "M"), {"did_not": {"event": "Charged", "last_days": 4}}]}]});
    assert_eq!(who(&s, segment.clone()), ["u1", "u2", "u3", "u6"]);
    let in_pune = json!({"all": [profile("City", "Pune"), segment]});
    assert_eq!(who(&s, in_pune), ["u1", "u2"]);
}

#[test]
fn an_empty_all_is_everyone() {
    let s = store();
    assert_eq!(who(&s, json!({"all": []})), ["u1", "u2", "u3", "u4", "u5", "u6"]);
    assert_eq!(who(&s, json!({"any": [{"all": []}, profile("City", "Nowhere")]})).len(), 6);
}

fn saved_pune_buyers() -> SavedSegments {
    let mut saved = SavedSegments::new();
    let pune = read(profile("City", "Pune"), &saved);
    saved.save("pune", "Pune", pune).unwrap();
    let buyers = read(json!({"all": [{"include_segment": "pune"}, charged(30, json!({}))]}), &saved);
    saved.save("pune-buyers", "Pune buyers", buyers).unwrap();
    saved
}

#[test]
fn including_a_saved_segment_selects_its_members() {
    let (s, saved) = (store(), saved_pune_buyers());
    assert_eq!(who_with(&s, &saved, json!({"include_segment": "pune"})), ["u1", "u2", "u4", "u5"]);
    assert_eq!(who_with(&s, &saved, json!({"include_segment": "pune-buyers"})), ["u1", "u2", "u4"]);
    assert_eq!(saved.get("pune-buyers").map(|s| s.name.as_str()), Some("Pune buyers"));
}

#[test]
fn excluding_a_saved_segment_removes_its_members() {
    let (s, saved) = (store(), saved_pune_buyers());
    assert_eq!(who_with(&s, &saved, json!({"exclude_segment": "pune-buyers"})), ["u3", "u5", "u6"]);
    let include_and_exclude = json!({"all": [{"include_segment": "pune"}, {"exclude_segment": "pune-buyers"}]});
    assert_eq!(who_with(&s, &saved, include_and_exclude), ["u5"]);
}

#[test]
fn a_reference_to_an_unknown_segment_names_the_field() {
    let saved = saved_pune_buyers();
    let json = json!({"all": [profile("City", "Pune"), {"any": [{"exclude_segment": "vip"}]}]});
    let error = Segment::parse(&json, &saved).unwrap_err();
    assert_eq!(error.path, "all[1].any[0].exclude_segment");
    assert_eq!(error.message, "no saved segment has id \"vip\"; the saved segments are \"pune\", \"pune-buyers\"");
    // A segment read without the registry (serde) is refused when saved, naming the same field.
    let unchecked: Segment = serde_json::from_value(json).unwrap();
    let mut saved = saved;
    let error = saved.save("x", "X", unchecked).unwrap_err();
    assert_eq!(error.path, "all[1].any[0].exclude_segment");
    assert!(saved.get("x").is_none());
}

#[test]
fn a_cycle_of_saved_segments_is_refused() {
    let mut saved = saved_pune_buyers();
    let c = read(json!({"any": [{"include_segment": "pune-buyers"}]}), &saved);
    saved.save("c", "C", c).unwrap();
    // pune -> c -> pune-buyers -> pune.
    let back = read(json!({"all": [profile("City", "Pune"), {"exclude_segment": "c"}]}), &saved);
    let error = saved.save("pune", "Pune", back).unwrap_err();
    assert_eq!(error.path, "all[1].exclude_segment");
    assert_eq!(
        error.message,
        "refers back to \"pune\": \"pune\" -> \"c\" -> \"pune-buyers\" -> \"pune\"; saved segments cannot form a cycle"
    );
    let itself = read(json!({"include_segment": "c"}), &saved);
    let error = saved.save("c", "C", itself).unwrap_err();
    assert_eq!(
        (error.path.as_str(), error.message.as_str()),
        ("include_segment", "segment \"c\" cannot include or exclude itself")
    );
    assert_eq!(saved.get("pune").map(|s| s.segment.clone()), Some(read(profile("City", "Pune"), &saved)), "unchanged");
    // Replacing a segment without a cycle is fine.
    saved.save("c", "C", read(profile("City", "Mumbai"), &saved)).unwrap();
    assert_eq!(who_with(&store(), &saved, json!({"include_segment": "c"})), ["u3", "u6"]);
}

#[test]
fn a_cql_query_targets_the_same_users_as_its_segment() {
    let s = store();
    let queries = [
        json!({"event_name": "Charged", "from": 20260201, "to": 20260228,
            "event_properties": [{"name": "Amount", "operator": "greater_than", "value": 100}],
            "common_profile_properties": {"profile_fields": [{"name": "City", "operator": "equals", "value": "Pune"}]}}),
        json!({"event_name": "charged", "from": 20260101, "to": 20260301,
            "event_properties": [{"name": "Category", "operator": "equals", "value": "toys"}]}),
        json!({"common_profile_prop": {"profile_fields": [{"name": "Gender", "value": "F"}]}}),
        json!({"event_name": "Tutorial Completed", "from": 20260101, "to": 20260131}),
        json!({}),
    ];
    let saved = SavedSegments::new();
    for json in queries {
        let query = Query::parse(&json).unwrap();
        let by_query: Vec<String> =
            query.profiles(&s, now()).iter().map(|p| p.identity.clone().unwrap_or_default()).collect();
        assert_eq!(who(&s, Segment::from(&query).to_json()), by_query, "{json}");
        assert_eq!(who(&s, json!({"cql": json})), by_query, "{json}");
        assert!(Segment::from(&query).count(&s, &saved, now()) == by_query.len());
    }
    let pune_charged = Query::parse(&json!({"event_name": "Charged", "from": 20260201, "to": 20260228,
        "common_profile_properties": {"profile_fields": [{"name": "City", "operator": "equals", "value": "Pune"}]}}))
    .unwrap();
    assert_eq!(
        Segment::from(&pune_charged).to_json(),
        json!({"all": [
            {"profile": {"name": "City", "operator": "equals", "value": "Pune"}},
            {"did": {"event": "Charged", "between": [20260201, 20260228]}}]})
    );
}

#[test]
fn segments_write_back_in_the_shape_they_were_read() {
    let saved = saved_pune_buyers();
    let canonical = json!({"all": [
        {"profile": {"name": "City", "operator": "equals", "value": ["Pune", "Mumbai"]}},
        {"profile": {"name": "Age", "operator": "exists"}},
        {"did": {"event": "Charged", "last_days": 30,
            "where": [{"name": "Amount", "operator": "greater_than", "value": 100.5}],
            "count": {"operator": "greater_than_equals", "value": 2}}},
        {"any": [
            {"did_not": {"event": "App Launched", "between": [20260101, 20260131]}},
            {"did": {"event": "Charged", "ever": true,
                "sum": {"property": "Amount", "operator": "less_than", "value": 50,
                    "include_users_who_did_not_do_the_event": true}}},
            {"did": {"event": "Charged", "ever": true,
                "average": {"property": "Amount", "operator": "not_equals", "value": 12.25}}}]},
        {"include_segment": "pune"},
        {"exclude_segment": "pune-buyers"},
        {"profile": {"name": "Vip", "operator": "equals", "value": true}},
        {"cql": {"event_name": "Viewed", "from": 20260101, "to": "20260131", "props": []}}]});
    let segment = read(canonical.clone(), &saved);
    assert_eq!(segment.to_json(), canonical);
    assert_eq!(read(segment.to_json(), &saved), segment);
    assert_eq!(serde_json::to_value(&segment).unwrap(), canonical, "serde writes the same");
    assert_eq!(serde_json::from_value::<Segment>(canonical).unwrap(), segment, "serde reads the same");
    // Defaults are written out: a filter without operator is equals; a one-value list is its value.
    let short = read(json!({"profile": {"name": "City", "value": ["Pune"]}}), &saved);
    assert_eq!(short.to_json(), profile("City", "Pune"));
}

#[test]
fn every_parse_error_names_its_field() {
    let saved = SavedSegments::new();
    let did = |extra: Value| {
        let mut d = json!({"event": "Charged", "last_days": 30});
        d.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"all": [profile("City", "Pune"), {"did": d}]})
    };
    let operators = "equals, not_equals, greater_than, greater_than_equals, less_than, less_than_equals";
    let cases = [
        (json!([]), "segment: must be an object with one of all, any, did"),
        (json!({}), "segment: is empty; give one of all, any"),
        (json!({"every": []}), "every: unknown key; a segment is one of all, any"),
        (json!({"all": [], "any": []}), "segment: has all and any; give one key per segment"),
        (json!({"all": [{"all": [], "nope": 1}]}), "all[0].nope: unknown key"),
        (json!({"all": {}}), "all: must be a list of segments, not an object"),
        (json!({"any": []}), "any: an empty any matches no one"),
        (json!({"any": [3]}), "any[0]: must be an object"),
        (
            did(json!({"count": {"operator": "gt", "value": 2}})),
            &format!("all[1].did.count.operator: unknown operator \"gt\"; the operators are {operators}"),
        ),
        (did(json!({"count": {"operator": 1, "value": 2}})), "all[1].did.count.operator: must be a string"),
        (did(json!({"count": {"value": 2}})), "all[1].did.count.operator: required"),
        (did(json!({"count": {"operator": "equals"}})), "all[1].did.count.value: required"),
        (did(json!({"count": {"operator": "equals", "value": "2"}})), "all[1].did.count.value: must be a number"),
        (did(json!({"count": {"operator": "equals", "value": 1.5}})), "all[1].did.count.value: 1.5 is not a count"),
        (did(json!({"count": {"operator": "equals", "value": -1}})), "all[1].did.count.value: -1 is not a count"),
        (
            did(json!({"count": {"operator": "equals", "value": 1, "property": "A"}})),
            "all[1].did.count.property: unknown key",
        ),
        (did(json!({"count": []})), "all[1].did.count: must be an object"),
        (did(json!({"sum": {"operator": "equals", "value": 1}})), "all[1].did.sum.property: required"),
        (
            did(json!({"average": {"property": 3, "operator": "equals", "value": 1}})),
            "all[1].did.average.property: must be",
        ),
        (
            did(
                json!({"count": {"operator": "greater_than", "value": 1, "include_users_who_did_not_do_the_event": true}}),
            ),
            "all[1].did.count.include_users_who_did_not_do_the_event: only with less_than or less_than_equals",
        ),
        (
            did(json!({"count": {"operator": "less_than", "value": 1, "include_users_who_did_not_do_the_event": 1}})),
            "all[1].did.count.include_users_who_did_not_do_the_event: must be true or false",
        ),
        (
            did(json!({"count": {"operator": "less_than", "value": 1}, "sum": {}})),
            "all[1].did.sum: give one of count, sum or average, not count too",
        ),
        (did(json!({"event": ""})), "all[1].did.event: must be a non-empty string"),
        (json!({"did": {"last_days": 3}}), "did.event: required"),
        (json!({"did": {"event": "Charged"}}), "did: needs a window"),
        (did(json!({"ever": true})), "all[1].did.ever: give one window, not last_days too"),
        (did(json!({"last_days": 0})), "all[1].did.last_days: 0 is not a number of days"),
        (did(json!({"last_days": 36526})), "all[1].did.last_days: 36526 is not a number of days"),
        (did(json!({"last_days": "30"})), "all[1].did.last_days: \"30\" is not a number of days"),
        (json!({"did": {"event": "A", "ever": false}}), "did.ever: must be true"),
        (json!({"did": {"event": "A", "between": [20260101]}}), "did.between: must be [from, to]"),
        (json!({"did": {"event": "A", "between": [20260101, 20260230]}}), "did.between[1]: 20260230 is not a date"),
        (json!({"did": {"event": "A", "between": [20260201, 20260101]}}), "did.between[1]: 2026-01-01 is before"),
        (did(json!({"where": {}})), "all[1].did.where: must be a list"),
        (
            did(json!({"where": [{"name": "Amount", "operator": "bigger", "value": 1}]})),
            "all[1].did.where[0].operator: unknown operator \"bigger\"",
        ),
        (did(json!({"when": 1})), "all[1].did.when: unknown key; did has event"),
        (
            json!({"did_not": {"event": "A", "ever": true, "count": {}}}),
            "did_not.count: did_not takes no count, sum or average",
        ),
        (json!({"did_not": {"event": "A", "ever": true, "x": 1}}), "did_not.x: unknown key; did_not has event"),
        (json!({"profile": {"name": "City", "operator": "is"}}), "profile.operator: unknown operator \"is\""),
        (json!({"any": [{"profile": []}]}), "any[0].profile: must be a {"),
        (json!({"include_segment": 7}), "include_segment: must be a saved segment's id"),
        (json!({"exclude_segment": " "}), "exclude_segment: must be a saved segment's id"),
        (json!({"include_segment": "vip"}), "include_segment: no saved segment has id \"vip\"; there are no saved"),
        (json!({"all": [{"cql": []}]}), "all[0].cql: must be a JSON object"),
        (
            json!({"all": [{"cql": {"event_name": "A", "from": 20260101, "to": 20260101, "props": [{"name": "x"}]}}]}),
            "all[0].cql.props[0].value: required for equals",
        ),
    ];
    for (json, expected) in cases {
        let error = match Segment::parse(&json, &saved) {
            Ok(s) => panic!("{json} parsed as {s:?}"),
            Err(e) => e.to_string(),
        };
        assert!(error.starts_with(expected), "{json}\n  gave: {error}\n  want: {expected}…");
    }
}

#[test]
fn parsing_and_evaluating_never_panic_on_odd_json() {
    let odd = [
        json!(null),
        json!("all"),
        json!({"all": [null, {}]}),
        json!({"did": {"event": "A", "last_days": u64::MAX}}),
        json!({"did": {"event": "A", "last_days": 36525, "sum": {"property": "Amount", "operator": "less_than",
            "value": -1e308, "include_users_who_did_not_do_the_event": true}}}),
        json!({"did": {"event": "A", "between": [10000101, 99991231]}}),
        json!({"did": {"event": "A", "between": [-1, 1e300]}}),
        json!({"did": {"event": "A", "ever": true, "count": {"operator": "equals", "value": 4294967295_u32}}}),
        json!({"did": {"event": "A", "ever": true, "count": {"operator": "equals", "value": 1e300}}}),
        json!({"did": {"event": "Charged", "ever": true, "average": {"property": "Items", "operator": "equals",
            "value": 1.5e308}}}),
        json!({"any": [{"any": [{"any": [{"all": [{"did_not": {"event": " x ", "ever": true}}]}]}]}]}),
        json!({"cql": {"event_name": "a", "from": u64::MAX, "to": i64::MIN}}),
    ];
    let (s, saved) = (store(), SavedSegments::new());
    for json in odd {
        if let Ok(segment) = Segment::parse(&json, &saved) {
            let _ = segment.count(&s, &saved, now());
            assert_eq!(read(segment.to_json(), &saved), segment, "{json}");
        }
    }
    let far_future = Timestamp::MAX;
    let segment = read(json!({"did": {"event": "Charged", "last_days": 36525}}), &saved);
    assert_eq!(segment.count(&s, &saved, far_future), 0);
    assert_eq!(segment.count(&s, &saved, Timestamp::MIN), 0);
}

#[test]
fn a_plan_built_once_tests_one_user_as_the_segment_does() {
    let (s, saved) = (store(), saved_pune_buyers());
    let segment = read(
        json!({"all": [{"include_segment": "pune-buyers"}, charged(30, json!({"count":
        {"operator": "greater_than_equals", "value": 2}}))]}),
        &saved,
    );
    let plan = segment.plan(&saved, now());
    let members: Vec<&str> = s
        .profiles_with_events()
        .filter(|(p, events)| plan.holds(p, events))
        .filter_map(|(p, _)| p.identity.as_deref())
        .collect();
    assert_eq!(members, ["u1", "u2"]);
    assert_eq!(plan.count(&s), 2);
}

#[test]
fn a_store_read_in_parts_on_several_threads_keeps_the_order_first_seen() {
    let (s, saved) = (store(), SavedSegments::new());
    let tutorial = json!({"did": {"event": "Tutorial Completed", "ever": true}});
    let segment = read(json!({"any": [profile("Gender", "F"), tutorial]}), &saved);
    let plan = segment.plan(&saved, now());
    let in_parts = super::plan::in_parts(&s, 1, |skip, take| {
        let users = s.profiles_with_events().skip(skip).take(take);
        users.filter(|(p, events)| plan.holds(p, events)).filter_map(|(p, _)| p.identity.clone()).collect::<Vec<_>>()
    });
    assert_eq!(in_parts.concat(), ["u1", "u2", "u3", "u4", "u5"]);
    let sizes = super::plan::in_parts(&s, 1, |skip, take| s.profiles_with_events().skip(skip).take(take).count());
    assert_eq!(sizes.iter().sum::<usize>(), 6, "the parts cover every profile once");
}
