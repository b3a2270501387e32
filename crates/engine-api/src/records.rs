//! How profiles and events look in answers: the `record` of `/1/profile.json` (also each record of
//! `/1/profiles.json`) and each record of `/1/events.json`, in the shapes of CleverTap's clients.
//!
//! Profile: `{"identity", "email", "name", "phone", "objectId", "profileData", "events", "platformInfo"}` —
//! `identity`, `email`, `name` and `phone` only when the user has them; `profileData` holds every other
//! property (custom ones and system ones such as `Tz`, `Gender`, `DOB`, dates kept as `$D_…`); `events`
//! summarises what the user did, `{"Charged": {"count": 2, "first_seen": <epoch s>, "last_seen": <epoch s>}}`;
//! `platformInfo` is `[]` (no devices are modelled).
//!
//! Event: `{"objectId", "identity", "ts", "profileData", "event_props", "session_props"}` — `ts` in epoch seconds
//! as uploads give it, `profileData` the user's properties now, `session_props` `{}` (no sessions are modelled).

use campaign_engine::event::Event;
use campaign_engine::profile::Profile;
use serde_json::{Map, Value, json};

/// Properties shown at the top of a profile record rather than in `profileData`.
const TOP_LEVEL: [(&str, &str); 3] = [("Email", "email"), ("Name", "name"), ("Phone", "phone")];

/// A profile as `/1/profile.json` answers it; `events` are the user's, oldest first.
pub fn profile_record(profile: &Profile, events: &[Event]) -> Value {
    let mut record = Map::new();
    if let Some(identity) = &profile.identity {
        record.insert("identity".into(), Value::from(identity.as_str()));
    }
    for (property, key) in TOP_LEVEL {
        if let Some(value) = profile.properties.get(property) {
            record.insert(key.into(), value.clone());
        }
    }
    record.insert("objectId".into(), Value::from(profile.object_id.as_str()));
    let data: Map<String, Value> = profile
        .properties
        .iter()
        .filter(|(k, _)| *k != "Identity" && !TOP_LEVEL.iter().any(|(p, _)| p == k))
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    record.insert("profileData".into(), Value::Object(data));
    record.insert("events".into(), event_summary(events));
    record.insert("platformInfo".into(), Value::Array(Vec::new()));
    Value::Object(record)
}

/// `{name: {count, first_seen, last_seen}}`, names compared as CleverTap compares them and shown as first
/// uploaded.
fn event_summary(events: &[Event]) -> Value {
    let mut names: Vec<(String, String, u64, i64, i64)> = Vec::new();
    for event in events {
        let key = event.name.key();
        let ts = event.ts.as_second();
        match names.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, _, count, first, last)) => {
                *count += 1;
                *first = (*first).min(ts);
                *last = (*last).max(ts);
            }
            None => names.push((key.to_owned(), event.name.to_string(), 1, ts, ts)),
        }
    }
    let summary: Map<String, Value> = names
        .into_iter()
        .map(|(_, name, count, first, last)| (name, json!({"count": count, "first_seen": first, "last_seen": last})))
        .collect();
    Value::Object(summary)
}

/// An event as `/1/events.json` answers it, with `profile`, its user's.
pub fn event_record(profile: &Profile, event: &Event) -> Value {
    let mut record = Map::new();
    record.insert("objectId".into(), Value::from(profile.object_id.as_str()));
    if let Some(identity) = profile.identity.as_deref() {
        record.insert("identity".into(), Value::from(identity));
    }
    record.insert("ts".into(), Value::from(event.ts.as_second()));
    record.insert("profileData".into(), Value::from(&profile.properties));
    record.insert("event_props".into(), Value::from(&event.properties));
    record.insert("session_props".into(), Value::Object(Map::new()));
    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use campaign_engine::properties::Properties;
    use clock::Timestamp;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn ada() -> Profile {
        Profile {
            object_id: "obj-1".into(),
            identity: Some("u1".into()),
            fbid: None,
            gpid: None,
            properties: json!({"Name": "Ada", "Email": "ada@example.com", "Tz": "Europe/London", "Tier": "gold"})
                .as_object()
                .unwrap()
                .clone()
                .into(),
            created_at: at(1),
            updated_at: at(1),
        }
    }

    fn event(name: &str, ts: i64) -> Event {
        Event { name: name.into(), properties: Properties::new(), ts: at(ts) }
    }

    #[test]
    fn a_profile_record_has_system_fields_on_top_and_an_event_summary() {
        let events = [event("Charged", 100), event("App Opened", 150), event("charged", 200)];
        assert_eq!(
            profile_record(&ada(), &events),
            json!({"identity": "u1", "email": "ada@example.com", "name": "Ada", "objectId": "obj-1",
                   "profileData": {"Tz": "Europe/London", "Tier": "gold"},
                   "events": {"Charged": {"count": 2, "first_seen": 100, "last_seen": 200},
                              "App Opened": {"count": 1, "first_seen": 150, "last_seen": 150}},
                   "platformInfo": []})
        );
    }

    #[test]
    fn an_event_record_carries_its_user_and_properties() {
        let mut charged = event("Charged", 1_700_000_000);
        charged.properties = json!({"Amount": 30}).as_object().unwrap().clone().into();
        let record = event_record(&ada(), &charged);
        assert_eq!(record["identity"], "u1");
        assert_eq!(record["ts"], 1_700_000_000);
        assert_eq!(record["event_props"], json!({"Amount": 30}));
        assert_eq!(record["session_props"], json!({}));
        assert_eq!(record["profileData"]["Tier"], "gold");
        assert_eq!(record["objectId"], "obj-1");
    }
}
