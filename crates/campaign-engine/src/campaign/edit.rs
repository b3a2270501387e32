//! An edit of a saved campaign: the fields to change, given as a JSON merge patch (RFC 7396) of the campaign's
//! JSON as saved, and which fields an edited campaign changes, each with the part of the campaign it belongs to,
//! for the edit rules of its status ([`Status::allows`](super::lifecycle::Status::allows)).

use serde_json::{Map, Value};

use super::lifecycle::Part;
use super::{Campaign, When};
use crate::FieldError;
use crate::field_error::kind;

/// Fields an edit cannot set: publication has its own operation, and an estimate saves nothing.
const NOT_EDITABLE: &[(&str, &str)] = &[
    ("draft", "an edit does not publish or unpublish: publish a draft with POST /tapink/v1/campaigns/{id}/publish"),
    ("estimate_only", "an edit saves its changes; estimate a campaign with POST /tapink/v1/campaigns"),
];

/// The campaign's JSON with `changes` applied as a JSON merge patch: each field of `changes` replaces the
/// saved one, `null` removes it, and objects are merged field by field (so `{"content": {"body": …}}` keeps the
/// content's `format`). `changes` must be an object, and cannot set `draft` or `estimate_only`.
pub fn merge(saved: &Value, changes: &Value) -> Result<Value, FieldError> {
    let Value::Object(fields) = changes else {
        return Err(FieldError::new(
            "body",
            format!("must be an object of the fields to change, not {}", kind(changes)),
        ));
    };
    if let Some((key, why)) = NOT_EDITABLE.iter().find(|(key, _)| fields.contains_key(*key)) {
        return Err(FieldError::new(*key, *why));
    }
    let mut merged = saved.clone();
    merge_patch(&mut merged, changes);
    Ok(merged)
}

/// RFC 7396, section 2.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The fields in which `new` differs from `old`, by the JSON name the edit gave them (`json` is the edited
/// campaign's JSON: it tells `where` from `segment` and `content` from `webhook_key_value`), with the part of the
/// campaign each belongs to. Ids, creation, publication and stop are not compared: an edit keeps them.
pub fn changed_fields(old: &Campaign, new: &Campaign, json: &Value) -> Vec<(&'static str, Part)> {
    let Campaign {
        id: _,
        name,
        labels,
        webhook,
        content,
        target,
        control_group,
        targeting_cap,
        when,
        limit,
        respect_frequency_caps,
        throttle,
        goal,
        created_at: _,
        published_at: _,
        stopped_at: _,
    } = new;
    let either = |first: &'static str, second: &'static str| if json.get(second).is_some() { second } else { first };
    let mut changed = vec![
        ("name", Part::Name, *name != old.name),
        ("labels", Part::Name, *labels != old.labels),
        ("webhook_endpoint_name", Part::What, *webhook != old.webhook),
        (either("content", "webhook_key_value"), Part::What, *content != old.content),
        (either("where", "segment"), Part::Who, *target != old.target),
        ("control_group", Part::Who, *control_group != old.control_group),
        ("targeting_cap", Part::Who, *targeting_cap != old.targeting_cap),
        ("limit", Part::When, *limit != old.limit),
        ("respect_frequency_caps", Part::When, *respect_frequency_caps != old.respect_frequency_caps),
        ("throttle", Part::When, *throttle != old.throttle),
        ("conversion_goal", Part::When, *goal != old.goal),
    ];
    match (&old.when, when) {
        (When::Scheduled(a), When::Scheduled(b)) => changed.push(("when", Part::When, a != b)),
        (
            When::Live { trigger: t1, start: s1, end: e1, dnd: d1 },
            When::Live { trigger: t2, start: s2, end: e2, dnd: d2 },
        ) => changed.extend([
            ("trigger", Part::When, t1 != t2),
            ("start", Part::When, s1 != s2),
            ("end", Part::When, e1 != e2),
            ("dnd", Part::When, d1 != d2),
        ]),
        (_, When::Live { .. }) => changed.push(("trigger", Part::When, true)),
        (_, When::Scheduled(_)) => changed.push(("when", Part::When, true)),
    }
    changed.into_iter().filter(|(_, _, differs)| *differs).map(|(field, part, _)| (field, part)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::spec::parse_campaign;
    use crate::segment::SavedSegments;
    use clock::Timestamp;
    use serde_json::json;

    fn read(json: &Value) -> Campaign {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        parse_campaign(json, 7, now, &jiff::tz::TimeZone::UTC, &SavedSegments::new()).unwrap().campaign
    }

    #[test]
    fn a_merge_patch_replaces_fields_merges_objects_and_removes_nulls() {
        let saved = json!({"name": "A", "where": {}, "content": {"body": "x", "format": "text"}, "labels": ["l"]});
        let merged = merge(&saved, &json!({"name": "B", "content": {"body": "y"}, "labels": null})).unwrap();
        assert_eq!(merged, json!({"name": "B", "where": {}, "content": {"body": "y", "format": "text"}}));
        assert_eq!(
            merge(&saved, &json!([1])).unwrap_err().to_string(),
            "body: must be an object of the fields to change, not a list"
        );
        assert!(
            merge(&saved, &json!({"draft": false}))
                .unwrap_err()
                .to_string()
                .starts_with("draft: an edit does not publish")
        );
    }

    #[test]
    fn changed_fields_name_each_field_that_differs_with_its_part() {
        let old = json!({"name": "A", "webhook_endpoint_name": "w", "where": {},
                         "trigger": {"action": {"event": "Charged"}}, "content": {"body": "x"}});
        let new = merge(
            &old,
            &json!({"name": "B", "content": {"body": "y"}, "end": "20270101 00:00",
                                      "where": null, "segment": "all"}),
        )
        .unwrap();
        let changed = changed_fields(&read(&old), &read(&new), &new);
        assert_eq!(
            changed,
            [("name", Part::Name), ("content", Part::What), ("end", Part::When)],
            "all = {{}}: no change"
        );
        let scheduled = merge(&old, &json!({"trigger": null, "when": "now"})).unwrap();
        assert_eq!(changed_fields(&read(&old), &read(&scheduled), &scheduled), [("when", Part::When)]);
    }
}
