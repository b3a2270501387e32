//! Expectations checked against what happened: History entries, campaign reports, a delivery's attempts and the
//! pipeline's counts, each turned into expected and actual JSON values and compared, with a line per difference.

use std::collections::{BTreeMap, HashMap};

use campaign_engine::profile::IdentityKind;
use clock::Timestamp;
use inkit_mock::EntryKind;
use serde_json::{Map, Value, json};
use webhook_dispatcher::delivery::{DeliveryState, OutboxEntry};

use super::format::{AttemptsExpect, ExpectKind, Expectation, HistoryExpect, offset};
use super::source::Loc;
use crate::bridge::lock;
use crate::pipeline::Pipeline;

/// One expectation's result.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    /// `file:line: field` of the expectation or step.
    pub location: String,
    pub expected: Value,
    pub actual: Value,
    pub passed: bool,
    /// One line per difference, when it failed.
    pub diff: Vec<String>,
}

impl Check {
    /// Compares `expected` with `actual`.
    pub fn compare(name: impl Into<String>, loc: &Loc, expected: Value, actual: Value) -> Check {
        let diff = diff(&expected, &actual);
        Check { name: name.into(), location: loc.to_string(), passed: diff.is_empty(), expected, actual, diff }
    }

    /// A check that failed for a reason that is not a difference of values (a step that went wrong).
    pub fn failed(name: impl Into<String>, loc: &Loc, expected: Value, actual: Value, why: String) -> Check {
        Check { name: name.into(), location: loc.to_string(), passed: false, expected, actual, diff: vec![why] }
    }
}

/// What the checks need besides the pipeline: the start, and the ids the campaigns got when saved.
pub struct Context<'a> {
    pub start: Timestamp,
    pub campaign_ids: &'a HashMap<String, u64>,
}

/// Checks one expectation against the pipeline as it is now.
pub fn check(e: &Expectation, pipeline: &Pipeline, cx: &Context<'_>) -> Check {
    let result = match &e.kind {
        ExpectKind::History(h) => Ok(history(h, pipeline)),
        ExpectKind::Report { campaign, run, figures } => report(campaign, *run, figures, pipeline, cx),
        ExpectKind::Attempts(a) => attempts(a, pipeline, cx),
        ExpectKind::Counts(expected) => Ok(counts(expected, pipeline)),
    };
    match result {
        Ok((expected, actual)) => Check::compare(&e.name, &e.loc, expected, actual),
        Err((expected, why)) => Check::failed(&e.name, &e.loc, expected, Value::Null, why),
    }
}

type Outcome = Result<(Value, Value), (Value, String)>;

fn history(h: &HistoryExpect, pipeline: &Pipeline) -> (Value, Value) {
    let now = pipeline.now();
    let kind = match h.kind.as_str() {
        "render" => Some(EntryKind::Render),
        "test" => Some(EntryKind::Test),
        _ => None,
    };
    let mut entries = pipeline.inkit.entries_where(|e| kind.is_none_or(|k| e.kind == k));
    entries.sort_by_key(|e| e.seq);
    let matched: Vec<Value> = entries
        .iter()
        .map(|e| e.history_json(now))
        .filter(|e| h.filter.iter().all(|(field, want)| same(&field_of(e, field), want)))
        .collect();
    let mut expected = Map::new();
    let mut actual = Map::new();
    if let Some(n) = h.count {
        expected.insert("count".into(), json!(n));
        actual.insert("count".into(), json!(matched.len()));
    }
    if let Some(n) = h.duplicates {
        expected.insert("duplicates".into(), json!(n));
        actual.insert("duplicates".into(), json!(matched.iter().filter(|e| !e["duplicate_of"].is_null()).count()));
    }
    if let Some(params) = &h.merge_parameters {
        expected.insert("merge_parameters".into(), Value::Object(params.clone()));
        actual.insert("merge_parameters".into(), common(matched.iter().map(|e| e["merge_parameters"].clone())));
    }
    if let Some(fields) = &h.fields {
        expected.insert("fields".into(), Value::Object(fields.clone()));
        let mut got = Map::new();
        for key in fields.keys() {
            got.insert(key.clone(), common(matched.iter().map(|e| field_of(e, key))));
        }
        actual.insert("fields".into(), Value::Object(got));
    }
    (Value::Object(expected), Value::Object(actual))
}

/// The value every item has, a list of the different values when they differ, or null when there are none.
fn common(values: impl Iterator<Item = Value>) -> Value {
    let mut distinct: Vec<Value> = Vec::new();
    for v in values {
        if !distinct.contains(&v) {
            distinct.push(v);
        }
    }
    match distinct.len() {
        0 => Value::Null,
        1 => distinct.pop().unwrap_or(Value::Null),
        _ => json!({"different values in the matched entries": distinct}),
    }
}

/// A History entry's field: `template_id`, `merge_parameters.email`, `request_headers.idempotency-key`, or
/// `duplicate` (whether it is marked as a duplicate).
fn field_of(entry: &Value, field: &str) -> Value {
    if field == "duplicate" {
        return Value::Bool(!entry["duplicate_of"].is_null());
    }
    match field.split_once('.') {
        Some((outer, inner)) if entry.get(outer).is_some_and(Value::is_object) => {
            entry[outer].get(inner).cloned().unwrap_or(Value::Null)
        }
        _ => entry.get(field).cloned().unwrap_or(Value::Null),
    }
}

fn campaign_id(key: &str, cx: &Context<'_>) -> Result<u64, String> {
    cx.campaign_ids.get(key).copied().ok_or_else(|| format!("campaign {key:?} was not saved"))
}

fn report(
    campaign: &str,
    run: Option<u32>,
    figures: &Map<String, Value>,
    pipeline: &Pipeline,
    cx: &Context<'_>,
) -> Outcome {
    let expected = Value::Object(figures.clone());
    let id = campaign_id(campaign, cx).map_err(|why| (expected.clone(), why))?;
    let engine = lock(&pipeline.engine);
    let report = engine.report(id).map_err(|e| (expected.clone(), e.to_string()))?;
    let figures_of = match run {
        Some(r) => match report.runs.get(&r) {
            Some(one) => one.clone(),
            None => {
                let runs: Vec<String> = report.runs.keys().map(u32::to_string).collect();
                let why = format!("campaign {campaign} has no run {r}; its runs are [{}]", runs.join(", "));
                return Err((expected, why));
            }
        },
        None => report.total(),
    };
    let mut all = match serde_json::to_value(&figures_of) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    all.insert("dropped_total".into(), json!(figures_of.dropped.values().sum::<u64>()));
    all.insert("failed_total".into(), json!(figures_of.failed.values().sum::<u64>()));
    all.insert("not_sent_total".into(), json!(figures_of.not_sent.values().sum::<u64>()));
    all.insert("in_flight".into(), json!(figures_of.in_flight()));
    all.insert("runs".into(), json!(report.runs.len()));
    if let Ok(status) = engine.status(id) {
        all.insert("status".into(), json!(status.label().to_lowercase()));
    }
    let actual: Map<String, Value> =
        figures.keys().map(|k| (k.clone(), all.get(k).cloned().unwrap_or(Value::Null))).collect();
    let mut expected = figures.clone();
    if let Some(Value::String(s)) = expected.get_mut("status") {
        *s = s.to_lowercase();
    }
    Ok((Value::Object(expected), Value::Object(actual)))
}

/// Every delivery that reached inkit-mock at least once, found by the delivery id each attempt carries.
fn deliveries_seen(pipeline: &Pipeline) -> Vec<OutboxEntry> {
    let mut ids: Vec<String> = Vec::new();
    let (journal, _, _) = pipeline.inkit.journal.recent(usize::MAX, None, None);
    for request in &journal {
        for (name, value) in request.headers.iter() {
            if name.eq_ignore_ascii_case("x-tapink-delivery-id") && !ids.iter().any(|i| i == value) {
                ids.push(value.to_owned());
            }
        }
    }
    for e in pipeline.inkit.entries_where(|e| e.kind == EntryKind::Render) {
        if let Some(id) = e.request_headers.get("x-tapink-delivery-id")
            && !ids.contains(id)
        {
            ids.push(id.clone());
        }
    }
    ids.iter().filter_map(|id| pipeline.dispatcher.outbox().get(id).ok().flatten()).collect()
}

fn attempts(a: &AttemptsExpect, pipeline: &Pipeline, cx: &Context<'_>) -> Outcome {
    let mut expected = Map::new();
    if let Some(n) = a.count {
        expected.insert("count".into(), json!(n));
    }
    if let Some(times) = &a.times {
        expected.insert("times".into(), times.iter().map(|t| json!(offset(cx.start, *t))).collect());
    }
    if let Some(statuses) = &a.statuses {
        expected.insert("statuses".into(), Value::Array(statuses.clone()));
    }
    if let Some(state) = &a.state {
        expected.insert("state".into(), json!(state));
    }
    let expected = Value::Object(expected);
    let id = campaign_id(&a.campaign, cx).map_err(|why| (expected.clone(), why))?;
    let known = lock(&pipeline.engine).store().find(IdentityKind::Identity, &a.identity).is_some();
    if !known {
        return Err((expected, format!("no profile with identity {:?} was uploaded", a.identity)));
    }
    let run_tag = a.run.map(|r| format!("{id}-r{r}-"));
    let mut mine: Vec<OutboxEntry> = deliveries_seen(pipeline)
        .into_iter()
        .filter(|d| d.delivery.campaign_id == id && d.delivery.identity.as_deref() == Some(a.identity.as_str()))
        .filter(|d| run_tag.as_ref().is_none_or(|tag| d.delivery.id.starts_with(tag.as_str())))
        .collect();
    mine.sort_by(|x, y| (x.delivery.created_at, &x.delivery.id).cmp(&(y.delivery.created_at, &y.delivery.id)));
    let chosen = match (a.nth, mine.len()) {
        (_, 0) => {
            let why = format!("no delivery of {} to {} reached Inkit", a.campaign, a.identity);
            return Err((expected, why));
        }
        (Some(n), len) if n > len => {
            return Err((
                expected,
                format!("{len} deliveries of {} to {} reached Inkit; there is no number {n}", a.campaign, a.identity),
            ));
        }
        (Some(n), _) => &mine[n - 1],
        (None, 1) => &mine[0],
        (None, len) => {
            let ids: Vec<&str> = mine.iter().map(|d| d.delivery.id.as_str()).collect();
            let why = format!("{len} deliveries match ({}): say which with run or nth", ids.join(", "));
            return Err((expected, why));
        }
    };
    let mut actual = Map::new();
    let keys: Vec<String> = expected.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    for key in keys {
        let value = match key.as_str() {
            "count" => json!(chosen.attempts.len()),
            "times" => chosen.attempts.iter().map(|t| json!(offset(cx.start, t.started_at))).collect(),
            "statuses" => chosen
                .attempts
                .iter()
                .map(|t| match (t.status, &t.error) {
                    (Some(status), _) => json!(status),
                    (None, Some(error)) => json!(error),
                    (None, None) => Value::Null,
                })
                .collect(),
            "state" => json!(match chosen.state {
                DeliveryState::Pending { .. } => "pending",
                DeliveryState::Delivered { .. } => "delivered",
                DeliveryState::DeadLetter { .. } => "dead_letter",
                DeliveryState::NotSent { .. } => "not_sent",
            }),
            _ => Value::Null,
        };
        actual.insert(key, value);
    }
    Ok((expected, Value::Object(actual)))
}

fn counts(expected: &Map<String, Value>, pipeline: &Pipeline) -> (Value, Value) {
    let settled = pipeline.sink.settled();
    let outbox = pipeline.dispatcher.outbox().counts();
    let (_, routes) = pipeline.inkit.journal.counts();
    let mut requests = 0;
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for c in routes.iter().filter(|(route, _)| !route.contains("/__admin")).map(|(_, c)| c) {
        requests += c.total;
        for (status, n) in &c.by_status {
            *by_status.entry(status.to_string()).or_default() += n;
        }
    }
    let entries = pipeline.inkit.entries_where(|_| true);
    let mut actual = Map::new();
    for key in expected.keys() {
        let value = match key.as_str() {
            "delivered" => json!(settled.delivered),
            "failed" => json!(settled.failed),
            "not_sent" => json!(settled.not_sent),
            "retried" => json!(settled.retried),
            "pending" => json!(outbox.pending + outbox.taken),
            "dead_letters" => json!(outbox.dead_letter),
            "requests" => json!(requests),
            "requests_by_status" => json!(by_status),
            "history" => json!(entries.iter().filter(|e| e.kind == EntryKind::Render).count()),
            "tests" => json!(entries.iter().filter(|e| e.kind == EntryKind::Test).count()),
            "duplicates" => json!(entries.iter().filter(|e| e.duplicate_of.is_some()).count()),
            _ => Value::Null,
        };
        actual.insert(key.clone(), value);
    }
    (Value::Object(expected.clone()), Value::Object(actual))
}

// ---------------------------------------------------------------------------------------------------------------
// Comparing JSON values
// ---------------------------------------------------------------------------------------------------------------

/// Equal as JSON values, numbers by value (`3` equals `3.0`).
pub fn same(a: &Value, b: &Value) -> bool {
    diff(a, b).is_empty()
}

/// One line per difference between `expected` and `actual`, naming the path (`merge_parameters.Name`,
/// `times[2]`); empty when they are the same.
pub fn diff(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(expected, actual, "", &mut out);
    out
}

fn at(path: &str) -> &str {
    if path.is_empty() { "the value" } else { path }
}

fn child(path: &str, key: &str) -> String {
    let key = if key.is_empty() || key.contains(['.', ' ', '[', '"']) { format!("{key:?}") } else { key.to_owned() };
    if path.is_empty() { key } else { format!("{path}.{key}") }
}

fn walk(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => walk(ev, av, &child(path, k), out),
                    None => out.push(format!("{}: expected {}, but it is missing", child(path, k), ev)),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{}: not expected, but got {}", child(path, k), av));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for i in 0..e.len().max(a.len()) {
                let p = format!("{path}[{i}]");
                match (e.get(i), a.get(i)) {
                    (Some(ev), Some(av)) => walk(ev, av, &p, out),
                    (Some(ev), None) => out.push(format!("{p}: expected {ev}, but the list ends")),
                    (None, Some(av)) => out.push(format!("{p}: not expected, but got {av}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if e != a && e.as_f64() != a.as_f64() {
                out.push(format!("{}: expected {e}, got {a}", at(path)));
            }
        }
        (e, a) => {
            if e != a {
                out.push(format!("{}: expected {e}, got {a}", at(path)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_names_each_path_that_differs() {
        let expected = json!({"Name": "Ada", "email": "ada@example.com", "phone number": "-", "n": 3, "list": [1, 2]});
        let actual = json!({"Name": "test", "email": "ada@example.com", "extra": true, "n": 3.0, "list": [1, 2, 5]});
        assert_eq!(
            diff(&expected, &actual),
            [
                "Name: expected \"Ada\", got \"test\"",
                "list[2]: not expected, but got 5",
                "\"phone number\": expected \"-\", but it is missing",
                "extra: not expected, but got true",
            ]
        );
        assert!(diff(&json!({"a": [1, {"b": null}]}), &json!({"a": [1.0, {"b": null}]})).is_empty());
        assert_eq!(diff(&json!(1), &json!("1")), ["the value: expected 1, got \"1\""]);
    }

    #[test]
    fn history_fields_are_read_by_path() {
        let entry =
            json!({"template_id": "tmpl_x", "merge_parameters": {"phone number": "+1"}, "duplicate_of": "rend_1"});
        assert_eq!(field_of(&entry, "merge_parameters.phone number"), json!("+1"));
        assert_eq!(field_of(&entry, "template_id"), json!("tmpl_x"));
        assert_eq!(field_of(&entry, "duplicate"), json!(true));
        assert_eq!(field_of(&entry, "nope.x"), Value::Null);
        assert_eq!(common([json!(1), json!(1)].into_iter()), json!(1));
        assert_eq!(common(std::iter::empty()), Value::Null);
    }
}
