//! A campaign as JSON: the body of CleverTap's `POST /1/targets/create.json` for a webhook campaign, and
//! the fields our own campaign API adds for what the targets API cannot express (live triggers, control
//! group, limits, throttle). Every error names the field.
//!
//! The targets fields: `name` (required), `target_mode` (`"webhook"`, also `"webhooks"`),
//! `webhook_endpoint_name` (required), `where` (CQL; `{}` is everyone) or `segment` (`"all"`, or a segment of
//! the dashboard's model: see [`crate::segment`]), `when`,
//! `content` (`{"body": LIQUID, "format": "json"|"text"}`) or `webhook_key_value` (CleverTap's payload with
//! these pairs; the default when neither is given), `webhook_fields`, `respect_frequency_caps`,
//! `conversion_goal` (`{"event_name", "filter_type": {"event_property": [{"property_name", "operator",
//! "property_value"}]}, "conversion_time": "1D"}`), `labels`, `estimate_only`.
//!
//! Push fields the official Node library requires on every create (`devices`, a list of strings, and
//! `content.title`, a string) are accepted and ignored: a webhook has no devices and no title, and refusing
//! them would make the library unusable for webhook campaigns.
//!
//! Our additions: `trigger` (a live trigger, see [`LiveTrigger::parse`]) with `start` / `end`
//! (`"YYYYMMDD HH:MM"` in the account's zone), `control_group` (percent), `targeting_cap`, `limit`
//! ([`UserLimit::parse`]), `throttle` (`{"per_minute": N}`), `dnd` for live campaigns (as `when.dnd` of a
//! scheduled one, with `from` and `to`), `draft` (save without publishing).

use std::time::Duration;

use clock::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use super::audience::{ControlGroup, TargetingCap};
use super::content::{Content, key_values};
use super::goal::Goal;
use super::limits::UserLimit;
use super::live::{EventMatch, LiveTrigger};
use super::target::Target;
use super::throttle::Throttle;
use super::{Campaign, When};
use crate::FieldError;
use crate::event::Event;
use crate::field_error::{kind, known_keys};
use crate::query::Query;
use crate::query::parse::filters;
use crate::schedule::{Dnd, Schedule};
use crate::segment::{SavedSegments, Segment};

const FIELDS: &[&str] = &[
    "name",
    "target_mode",
    "webhook_endpoint_name",
    "where",
    "segment",
    "when",
    "content",
    "webhook_key_value",
    "webhook_fields",
    "respect_frequency_caps",
    "conversion_goal",
    "labels",
    "estimate_only",
    "devices",
    "trigger",
    "start",
    "end",
    "control_group",
    "targeting_cap",
    "limit",
    "throttle",
    "dnd",
    "draft",
];

/// A campaign read from JSON, with what the request asked to do with it.
#[derive(Debug, Clone)]
pub struct CampaignSpec {
    pub campaign: Campaign,
    /// `estimate_only`: answer the estimated reach, save nothing.
    pub estimate_only: bool,
}

/// Reads a campaign. `id` and `now` become its id and creation time; unless `draft` is set it is published
/// at `now`. `zone` is the account's, for `start` and `end`.
pub fn parse_campaign(
    json: &Value,
    id: u64,
    now: Timestamp,
    zone: &TimeZone,
    saved: &SavedSegments,
) -> Result<CampaignSpec, FieldError> {
    let Value::Object(o) = json else {
        return Err(FieldError::new("body", format!("must be a JSON object, not {}", kind(json))));
    };
    known_keys(o, "", FIELDS)?;
    let name = match o.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        Some(Value::String(_)) | None => return Err(FieldError::new("name", "is required")),
        Some(other) => return Err(FieldError::new("name", format!("must be a string, not {}", kind(other)))),
    };
    match o.get("target_mode") {
        None => {}
        Some(Value::String(m)) if m == "webhook" || m == "webhooks" => {}
        Some(other) => {
            return Err(FieldError::new(
                "target_mode",
                format!("must be \"webhook\" (tapink simulates the webhook channel), not {other}"),
            ));
        }
    }
    let webhook = match o.get("webhook_endpoint_name") {
        Some(Value::String(w)) if !w.trim().is_empty() => w.clone(),
        _ => return Err(FieldError::new("webhook_endpoint_name", "is required: the name of a webhook")),
    };
    let target = target(o, saved)?;
    let content = match (o.get("content"), o.get("webhook_key_value")) {
        (Some(_), Some(_)) => return Err(FieldError::new("content", "give content or webhook_key_value, not both")),
        (Some(c), None) => Content::parse(&without_push_title(c)?, "content")?,
        (None, Some(Value::Object(pairs))) => {
            Content::KeyValues { key_values: key_values(pairs, "webhook_key_value")? }
        }
        (None, Some(other)) => {
            return Err(FieldError::new("webhook_key_value", format!("must be an object, not {}", kind(other))));
        }
        (None, None) => Content::KeyValues { key_values: Vec::new() },
    };
    if let Some(fields) = o.get("webhook_fields") {
        webhook_fields(fields)?;
    }
    if let Some(devices) = o.get("devices") {
        labels(devices, "devices")?;
    }
    let when = match (o.get("trigger"), o.get("when")) {
        (Some(_), Some(_)) => return Err(FieldError::new("trigger", "a live campaign has a trigger, not a when")),
        (Some(trigger), None) => When::Live {
            trigger: LiveTrigger::parse(trigger, "trigger")?,
            start: optional(o, "start", |v, p| instant(v, p, zone))?,
            end: optional(o, "end", |v, p| instant(v, p, zone))?,
            dnd: optional(o, "dnd", Dnd::parse)?,
        },
        (None, when) => {
            if let Some(key) = ["start", "end"].into_iter().find(|k| o.contains_key(*k)) {
                return Err(FieldError::new(key, "only a live campaign (with a trigger) has a start and end"));
            }
            if o.contains_key("dnd") {
                return Err(FieldError::new("dnd", "a scheduled campaign's DND goes in when.dnd"));
            }
            When::Scheduled(match when {
                Some(w) => Schedule::parse(w, "when")?,
                None => Schedule::default(),
            })
        }
    };
    let campaign = Campaign {
        id,
        name,
        labels: optional(o, "labels", labels)?.unwrap_or_default(),
        webhook,
        content,
        target,
        control_group: optional(o, "control_group", |v, p| ControlGroup::new(whole(v, p)?, p))?,
        targeting_cap: optional(o, "targeting_cap", |v, p| TargetingCap::new(whole(v, p)?, p))?,
        when,
        limit: optional(o, "limit", UserLimit::parse)?.unwrap_or_default(),
        respect_frequency_caps: optional(o, "respect_frequency_caps", boolean)?.unwrap_or(true),
        throttle: optional(o, "throttle", throttle)?,
        goal: optional(o, "conversion_goal", conversion_goal)?,
        created_at: now,
        published_at: if optional(o, "draft", boolean)?.unwrap_or(false) { None } else { Some(now) },
        stopped_at: None,
    };
    Ok(CampaignSpec { campaign, estimate_only: optional(o, "estimate_only", boolean)?.unwrap_or(false) })
}

fn optional<T>(
    o: &Map<String, Value>,
    key: &str,
    read: impl FnOnce(&Value, &str) -> Result<T, FieldError>,
) -> Result<Option<T>, FieldError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(v, key).map(Some),
    }
}

fn target(o: &Map<String, Value>, saved: &SavedSegments) -> Result<Target, FieldError> {
    match (o.get("where"), o.get("segment")) {
        (Some(_), Some(_)) => Err(FieldError::new("where", "give where or segment, not both")),
        (Some(Value::Object(w)), None) if w.is_empty() => Ok(Target::All),
        (Some(w), None) => Ok(Target::Query(Query::parse(w).map_err(|e| within("where", e))?)),
        (None, Some(Value::String(s))) if s == "all" => Ok(Target::All),
        (None, Some(segment @ Value::Object(_))) => {
            Ok(Target::Segment(Segment::parse(segment, saved).map_err(|e| within("segment", e))?))
        }
        (None, Some(other)) => {
            Err(FieldError::new("segment", format!("must be \"all\" or a segment object (docs: segment), not {other}")))
        }
        (None, None) => Err(FieldError::new("where", "is required: a query (or {} for everyone), or segment \"all\"")),
    }
}

/// `content` without the push `title` the Node library requires (a string, ignored by a webhook).
fn without_push_title(content: &Value) -> Result<Value, FieldError> {
    let mut content = content.clone();
    if let Value::Object(o) = &mut content
        && let Some(title) = o.remove("title")
        && !title.is_string()
    {
        return Err(FieldError::new("content.title", format!("must be a string, not {}", kind(&title))));
    }
    Ok(content)
}

/// A query error, with its path put under `prefix`.
fn within(prefix: &str, error: FieldError) -> FieldError {
    let path = if error.path == "query" { prefix.to_owned() } else { format!("{prefix}.{}", error.path) };
    FieldError::new(path, error.message)
}

fn webhook_fields(value: &Value) -> Result<(), FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::new("webhook_fields", format!("must be a list, not {}", kind(value))));
    };
    for (i, item) in items.iter().enumerate() {
        if !matches!(item.as_str(), Some("profile-attributes" | "tokens" | "identities")) {
            return Err(FieldError::new(
                format!("webhook_fields[{i}]"),
                "must be \"profile-attributes\", \"tokens\" or \"identities\"",
            ));
        }
    }
    Ok(())
}

fn labels(value: &Value, path: &str) -> Result<Vec<String>, FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::new(path, format!("must be a list of strings, not {}", kind(value))));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().map(str::to_owned).ok_or_else(|| FieldError::new(format!("{path}[{i}]"), "must be a string"))
        })
        .collect()
}

fn boolean(value: &Value, path: &str) -> Result<bool, FieldError> {
    value.as_bool().ok_or_else(|| FieldError::new(path, format!("must be true or false, not {}", kind(value))))
}

fn whole(value: &Value, path: &str) -> Result<u64, FieldError> {
    value.as_u64().ok_or_else(|| FieldError::new(path, format!("must be a whole number, not {value}")))
}

fn throttle(value: &Value, path: &str) -> Result<Throttle, FieldError> {
    let Value::Object(o) = value else {
        return Err(FieldError::new(path, "must be an object {\"per_minute\": N}"));
    };
    known_keys(o, path, &["per_minute"])?;
    match o.get("per_minute").and_then(Value::as_u64) {
        Some(n @ 1..=1_000_000) => Ok(Throttle { per_minute: n as u32 }),
        _ => Err(FieldError::new(format!("{path}.per_minute"), "must be a whole number from 1 to 1000000")),
    }
}

/// `"YYYYMMDD HH:MM"` in the account's zone.
pub(crate) fn instant(value: &Value, path: &str, zone: &TimeZone) -> Result<Timestamp, FieldError> {
    let bad = || FieldError::new(path, format!("must be a date and time \"YYYYMMDD HH:MM\", not {value}"));
    let text = value.as_str().ok_or_else(bad)?;
    let datetime = DateTime::strptime("%Y%m%d %H:%M", text).map_err(|_| bad())?;
    datetime.to_zoned(zone.clone()).map(|z| z.timestamp()).map_err(|_| bad())
}

/// The API's conversion goal: `event_name`, `filter_type.event_property` and `conversion_time` (`"1D"`,
/// `"12H"`, `"30M"`); `revenue_property` is accepted and not used.
fn conversion_goal(value: &Value, path: &str) -> Result<Goal, FieldError> {
    let Value::Object(o) = value else {
        return Err(FieldError::new(path, format!("must be an object, not {}", kind(value))));
    };
    known_keys(o, path, &["event_name", "filter_type", "conversion_time", "revenue_property"])?;
    let name = match o.get("event_name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        _ => return Err(FieldError::new(format!("{path}.event_name"), "is required")),
    };
    let mut event_filters = Vec::new();
    if let Some(filter_type) = o.get("filter_type") {
        let p = format!("{path}.filter_type");
        let Value::Object(f) = filter_type else { return Err(FieldError::new(p, "must be an object")) };
        if let Some(props) = f.get("event_property") {
            let p = format!("{p}.event_property");
            let Value::Array(items) = props else { return Err(FieldError::new(p, "must be a list")) };
            let cql: Vec<Value> = items
                .iter()
                .map(|item| {
                    json!({"name": item.get("property_name"), "operator": item.get("operator").unwrap_or(&json!("equals")),
                           "value": item.get("property_value")})
                })
                .collect();
            event_filters = filters(&Value::Array(cql), &p)?;
        }
    }
    let within = match o.get("conversion_time") {
        Some(Value::String(t)) => conversion_time(t).ok_or_else(|| {
            FieldError::new(
                format!("{path}.conversion_time"),
                format!("must be like \"1D\", \"12H\" or \"30M\", not {t:?}"),
            )
        })?,
        _ => return Err(FieldError::new(format!("{path}.conversion_time"), "is required, like \"1D\"")),
    };
    Ok(Goal { event: EventMatch { key: Event::key(&name), name, filters: event_filters }, within })
}

fn conversion_time(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let scale = match unit {
        "D" | "d" => 86_400,
        "H" | "h" => 3_600,
        "M" | "m" => 60,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(scale)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::content::BodyFormat;

    fn parse(v: Value) -> Result<CampaignSpec, FieldError> {
        parse_campaign(
            &v,
            1_800_000_000,
            Timestamp::from_second(1_800_000_000).unwrap(),
            &TimeZone::UTC,
            &SavedSegments::new(),
        )
    }

    fn err(v: Value) -> String {
        parse(v).unwrap_err().to_string()
    }

    #[test]
    fn a_targets_api_webhook_campaign_reads_with_clevertaps_fields() {
        let spec = parse(json!({
            "name": "Mailer", "target_mode": "webhooks", "webhook_endpoint_name": "inkit",
            "where": {"common_profile_properties": {"profile_fields": [{"name": "City", "value": "Paris"}]}},
            "when": "now", "content": {"body": "{\"name\": \"{{ Profile.name }}\"}"},
            "conversion_goal": {"event_name": "Charged", "conversion_time": "1D",
                                "filter_type": {"event_property": [{"property_name": "Amount", "operator": "greater_than", "property_value": 10}]}},
            "estimate_only": true, "labels": ["direct mail"]
        }))
        .unwrap();
        assert!(spec.estimate_only);
        let c = spec.campaign;
        assert_eq!((c.name.as_str(), c.webhook.as_str(), c.labels.len()), ("Mailer", "inkit", 1));
        assert!(matches!(c.target, Target::Query(_)));
        assert_eq!(c.goal.unwrap().within, Duration::from_secs(86_400));
        assert!(c.published_at.is_some());
    }

    #[test]
    fn the_push_fields_the_node_library_requires_are_accepted_and_ignored() {
        let spec = parse(json!({
            "name": "Mailer", "webhook_endpoint_name": "inkit", "segment": "all", "devices": ["android", "ios"],
            "content": {"title": "Hello", "body": "{\"a\": 1}"}
        }))
        .unwrap();
        assert_eq!(spec.campaign.content, Content::CustomBody { body: "{\"a\": 1}".into(), format: BodyFormat::Json });
        let base = || json!({"name": "x", "webhook_endpoint_name": "inkit", "where": {}});
        let mut bad = base();
        bad["devices"] = json!("ios");
        assert_eq!(err(bad), "devices: must be a list of strings, not a string");
        let mut bad = base();
        bad["content"] = json!({"title": 1, "body": "x"});
        assert_eq!(err(bad), "content.title: must be a string, not a number");
    }

    #[test]
    fn a_live_campaign_reads_its_trigger_window_and_limits() {
        let spec = parse(json!({
            "name": "Cart", "webhook_endpoint_name": "inkit", "segment": "all",
            "trigger": {"action": {"event": "Added To Cart"}, "delay": {"value": 10, "unit": "minutes"}},
            "start": "20270101 00:00", "end": "20270201 00:00",
            "limit": {"at_most": 1}, "control_group": 10, "throttle": {"per_minute": 500}, "draft": true
        }))
        .unwrap();
        let c = spec.campaign;
        assert!(matches!(c.when, When::Live { start: Some(_), end: Some(_), .. }));
        assert_eq!((c.limit, c.control_group.map(|g| g.percent)), (UserLimit::AtMost(1), Some(10)));
        assert!(c.published_at.is_none(), "a draft is not published");
    }

    #[test]
    fn every_bad_field_is_named() {
        let base = || json!({"name": "x", "webhook_endpoint_name": "inkit", "where": {}});
        let with = |key: &str, value: Value| {
            let mut v = base();
            v[key] = value;
            v
        };
        assert_eq!(err(json!({"webhook_endpoint_name": "inkit", "where": {}})), "name: is required");
        assert_eq!(err(json!({"name": "x", "where": {}})), "webhook_endpoint_name: is required: the name of a webhook");
        assert_eq!(
            err(json!({"name": "x", "webhook_endpoint_name": "inkit"})),
            "where: is required: a query (or {} for everyone), or segment \"all\""
        );
        assert_eq!(
            err(with("target_mode", json!("push"))),
            "target_mode: must be \"webhook\" (tapink simulates the webhook channel), not \"push\""
        );
        assert_eq!(
            err(with("colour", json!(1))),
            "colour: unknown field; the fields are ".to_owned() + &FIELDS.join(", ")
        );
        assert!(err(with("where", json!({"event_name": "Charged", "from": 20260101, "to": 20260102, "event_properties": [{"name": "a", "operator": "gt"}]}))).starts_with("where.event_properties[0].operator"));
        assert_eq!(err(with("control_group", json!(100))), "control_group: must be a percentage from 2 to 99, not 100");
        assert_eq!(
            err(with("targeting_cap", json!(50))),
            "targeting_cap: must be 100 or more (CleverTap's minimum), not 50"
        );
        assert_eq!(
            err(with("throttle", json!({"per_minute": 0}))),
            "throttle.per_minute: must be a whole number from 1 to 1000000"
        );
        assert_eq!(
            err(with("start", json!("20270101 00:00"))),
            "start: only a live campaign (with a trigger) has a start and end"
        );
        assert_eq!(
            err(with("webhook_fields", json!(["emails"]))),
            "webhook_fields[0]: must be \"profile-attributes\", \"tokens\" or \"identities\""
        );
        assert_eq!(
            err(with("conversion_goal", json!({"event_name": "Charged", "conversion_time": "1W"}))),
            "conversion_goal.conversion_time: must be like \"1D\", \"12H\" or \"30M\", not \"1W\""
        );
        assert_eq!(err(json!([1])), "body: must be a JSON object, not a list");
    }
}
