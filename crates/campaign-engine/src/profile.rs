//! A user's profile as CleverTap keeps it: identities, and properties by CleverTap name (system ones such as
//! `Name`, `Email`, `Phone`, `DOB`, `Tz`, and custom ones), with CleverTap's value types.

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::name::Names;
use crate::properties::Properties;

/// The ways an upload record can name its user (CleverTap accepts any one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdentityKind {
    #[serde(rename = "identity")]
    Identity,
    #[serde(rename = "objectId")]
    ObjectId,
    #[serde(rename = "FBID")]
    Fbid,
    #[serde(rename = "GPID")]
    Gpid,
}

impl IdentityKind {
    /// In the order an upload record's keys are tried.
    pub const ALL: [IdentityKind; 4] =
        [IdentityKind::Identity, IdentityKind::ObjectId, IdentityKind::Fbid, IdentityKind::Gpid];

    /// The key as it appears in upload records and queries.
    pub fn key(self) -> &'static str {
        match self {
            IdentityKind::Identity => "identity",
            IdentityKind::ObjectId => "objectId",
            IdentityKind::Fbid => "FBID",
            IdentityKind::Gpid => "GPID",
        }
    }
}

/// One user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The CleverTap ID: the `objectId` the user was first seen with, or one made for them.
    pub object_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpid: Option<String>,
    /// Properties by CleverTap name. Dates are kept as CleverTap writes them (`"$D_<epoch seconds>"`);
    /// multi-values are arrays of strings.
    pub properties: Properties,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Profile {
    /// The identity of `kind`, if the profile has one.
    pub fn id_of(&self, kind: IdentityKind) -> Option<&str> {
        match kind {
            IdentityKind::Identity => self.identity.as_deref(),
            IdentityKind::ObjectId => Some(&self.object_id),
            IdentityKind::Fbid => self.fbid.as_deref(),
            IdentityKind::Gpid => self.gpid.as_deref(),
        }
    }

    /// The profile's email, from its `Email` property.
    pub fn email(&self) -> Option<&str> {
        self.properties.get("Email").and_then(Value::as_str)
    }

    /// Merges an upload's properties into the profile: each key given replaces the stored value (a `null`
    /// removes it), keys not given are kept, as CleverTap's profile upload does. New keys are interned in `names`.
    pub fn merge(&mut self, properties: &Map<String, Value>, at: Timestamp, names: &mut Names) {
        self.properties.merge(properties, names);
        self.updated_at = at;
    }

    /// A date property (`"$D_<epoch seconds>"`, or epoch seconds as a number) as an instant.
    pub fn date(&self, key: &str) -> Option<Timestamp> {
        date_value(self.properties.get(key)?)
    }
}

/// A CleverTap date value as an instant: `"$D_<epoch seconds>"`, or a number of epoch seconds.
pub fn date_value(value: &Value) -> Option<Timestamp> {
    let secs = match value {
        Value::String(s) => s.strip_prefix("$D_")?.parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    Timestamp::from_second(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile() -> Profile {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        Profile {
            object_id: "o1".into(),
            identity: Some("u1".into()),
            fbid: None,
            gpid: None,
            properties: json!({"Name": "Ada", "Tier": "gold"}).as_object().unwrap().clone().into(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn an_upload_replaces_given_keys_keeps_others_and_null_removes() {
        let mut p = profile();
        let later: Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
        let mut names = Names::default();
        p.merge(json!({"Name": "Ada L.", "Tier": null, "City": "Paris"}).as_object().unwrap(), later, &mut names);
        assert_eq!(Value::from(&p.properties), json!({"Name": "Ada L.", "City": "Paris"}));
        assert_eq!(p.updated_at, later);
    }

    #[test]
    fn clevertap_dates_read_as_instants() {
        assert_eq!(date_value(&json!("$D_1685375700")).map(|t| t.as_second()), Some(1_685_375_700));
        assert_eq!(date_value(&json!(1685375700)).map(|t| t.as_second()), Some(1_685_375_700));
        assert_eq!(date_value(&json!("2023-05-29")), None);
    }
}
