//! CleverTap's "Profile variables & custom key value pairs" payload: one request per user with `"profiles": {…}`,
//! or, for a broadcast message, batches of users with `"profiles": […]`; and the test request CleverTap sends
//! when a webhook is created.
//!
//! Payloads borrow everything (the recipients' profiles are not copied) and serialize straight to JSON:
//!
//! ```
//! use webhook_dispatcher::payload::{Payload, PayloadOptions, Recipient};
//! let profile = serde_json::json!({"plan": "gold"});
//! let profile = profile.as_object().unwrap();
//! let user = Recipient { email: Some("ada@example.com"), ..Recipient::new("__ada", profile) };
//! let key_values = [("PromoCode".to_owned(), "MT50".to_owned())];
//! let payload = Payload::single(1472124953, &key_values, &user, &PayloadOptions::default());
//! assert_eq!(payload.to_value()["profiles"]["email"], "ada@example.com");
//! ```

use std::num::NonZeroUsize;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// How many users a broadcast request carries at most. CleverTap does not document its batch size (its test
/// request shows 5 users); 100 is our choice, configurable through [`PayloadOptions::batch_size`].
pub const DEFAULT_BATCH_SIZE: NonZeroUsize = NonZeroUsize::new(100).expect("100 is not zero");

/// The campaign id (`targetId`) of the test request CleverTap sends when a webhook is created.
pub const TEST_TARGET_ID: u64 = 1234;

/// How many users the test request carries.
pub const TEST_PROFILE_COUNT: usize = 5;

/// Which per-user fields the payload carries: the checkboxes of CleverTap's "Profile variables & custom key value
/// pairs" body. The user's `name` and `phone` are not choosable: they are sent whenever known (lowercase casing).
///
/// Defaults to every field; in scenario files, omitted fields default to `true` (`{"push_token": false}` sends
/// everything but the push token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileFields {
    /// `email`.
    pub email: bool,
    /// `identity`.
    pub identity: bool,
    /// `objectId`: the CleverTap ID.
    pub object_id: bool,
    /// `profileData`: the custom profile properties.
    pub profile_data: bool,
    /// `event_properties`: the triggering event's properties (live-behaviour campaigns only).
    pub event_properties: bool,
    /// `push_token`.
    pub push_token: bool,
}

impl ProfileFields {
    /// Every field.
    pub const ALL: ProfileFields = ProfileFields {
        email: true,
        identity: true,
        object_id: true,
        profile_data: true,
        event_properties: true,
        push_token: true,
    };

    /// No choosable field.
    pub const NONE: ProfileFields = ProfileFields {
        email: false,
        identity: false,
        object_id: false,
        profile_data: false,
        event_properties: false,
        push_token: false,
    };
}

impl Default for ProfileFields {
    fn default() -> Self {
        Self::ALL
    }
}

/// The spelling of the per-user keys. CleverTap's own samples disagree (see the reference, §3.2 and §8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCasing {
    /// The newest documented sample: `key_values, email, identity, objectId, phone, name, profileData,
    /// event_properties`, and `push_token` (the spelling of the editor and of the test request).
    #[default]
    Lowercase,
    /// The older broadcast sample, exactly: `Email, Identity, ObjectId, ProfileData, Event_properties, Push_token`,
    /// with no per-user `key_values`, `name` or `phone`.
    Capitalised,
}

struct FieldNames {
    email: &'static str,
    identity: &'static str,
    object_id: &'static str,
    profile_data: &'static str,
    event_properties: &'static str,
    push_token: &'static str,
}

impl KeyCasing {
    fn names(self) -> &'static FieldNames {
        match self {
            KeyCasing::Lowercase => &FieldNames {
                email: "email",
                identity: "identity",
                object_id: "objectId",
                profile_data: "profileData",
                event_properties: "event_properties",
                push_token: "push_token",
            },
            KeyCasing::Capitalised => &FieldNames {
                email: "Email",
                identity: "Identity",
                object_id: "ObjectId",
                profile_data: "ProfileData",
                event_properties: "Event_properties",
                push_token: "Push_token",
            },
        }
    }
}

/// How payloads are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadOptions {
    /// The per-user fields to send.
    pub fields: ProfileFields,
    /// The spelling of the per-user keys.
    pub casing: KeyCasing,
    /// The most users in one broadcast request.
    pub batch_size: NonZeroUsize,
}

impl Default for PayloadOptions {
    fn default() -> Self {
        Self { fields: ProfileFields::ALL, casing: KeyCasing::Lowercase, batch_size: DEFAULT_BATCH_SIZE }
    }
}

impl PayloadOptions {
    /// The default options with these fields.
    pub fn with_fields(fields: ProfileFields) -> Self {
        Self { fields, ..Self::default() }
    }
}

/// One user of a payload, borrowed from wherever the dispatcher keeps users: nothing is copied, the payload
/// serializes straight from these references. Absent values (`None`) are left out of the payload, as are the
/// fields [`ProfileFields`] does not select.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    /// `identity`.
    pub identity: Option<&'a str>,
    /// `email`.
    pub email: Option<&'a str>,
    /// `objectId`: the CleverTap ID, which every user has.
    pub object_id: &'a str,
    /// `name`.
    pub name: Option<&'a str>,
    /// `phone`.
    pub phone: Option<&'a str>,
    /// `profileData`: the custom profile properties, sent as they are.
    pub profile: &'a Map<String, Value>,
    /// `event_properties`: the triggering event's properties (live-behaviour campaigns).
    pub event_properties: Option<&'a Map<String, Value>>,
    /// `push_token`.
    pub push_token: Option<&'a str>,
}

impl<'a> Recipient<'a> {
    /// A user known only by CleverTap ID and custom properties; set the other fields with struct update syntax.
    pub fn new(object_id: &'a str, profile: &'a Map<String, Value>) -> Self {
        Self {
            identity: None,
            email: None,
            object_id,
            name: None,
            phone: None,
            profile,
            event_properties: None,
            push_token: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Profiles<'a> {
    /// Non-broadcast: `"profiles": {…}`.
    One(&'a Recipient<'a>),
    /// Broadcast: `"profiles": […]`.
    Batch(&'a [Recipient<'a>]),
}

/// One request body: `{"targetId": …, "key_values": {…}, "profiles": …}`.
///
/// `key_values` are the campaign's key-value pairs, already rendered; they are sent at the top level and, in
/// lowercase casing, again in each user (as in CleverTap's newest sample). When a key repeats, the last value
/// wins.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    target_id: u64,
    key_values: &'a [(String, String)],
    profiles: Profiles<'a>,
    fields: ProfileFields,
    casing: KeyCasing,
}

impl<'a> Payload<'a> {
    /// The non-broadcast request for one user: `"profiles"` is that user's object.
    pub fn single(
        target_id: u64,
        key_values: &'a [(String, String)],
        recipient: &'a Recipient<'a>,
        options: &PayloadOptions,
    ) -> Self {
        Self {
            target_id,
            key_values,
            profiles: Profiles::One(recipient),
            fields: options.fields,
            casing: options.casing,
        }
    }

    /// The broadcast requests for `recipients`: `"profiles"` is an array of at most `options.batch_size` users.
    /// No recipients, no requests.
    pub fn broadcast(
        target_id: u64,
        key_values: &'a [(String, String)],
        recipients: &'a [Recipient<'a>],
        options: &PayloadOptions,
    ) -> impl ExactSizeIterator<Item = Payload<'a>> + 'a {
        let PayloadOptions { fields, casing, batch_size } = *options;
        recipients.chunks(batch_size.get()).map(move |batch| Self {
            target_id,
            key_values,
            profiles: Profiles::Batch(batch),
            fields,
            casing,
        })
    }

    /// Whether `"profiles"` is an array (broadcast) rather than one user's object.
    pub fn is_broadcast(&self) -> bool {
        matches!(self.profiles, Profiles::Batch(_))
    }

    /// How many users the request carries.
    pub fn profile_count(&self) -> usize {
        match self.profiles {
            Profiles::One(_) => 1,
            Profiles::Batch(batch) => batch.len(),
        }
    }

    /// The body as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a payload has string keys and JSON values only, so it serializes")
    }

    /// The body as a JSON value (for previews and tests).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a payload has string keys and JSON values only, so it serializes")
    }

    fn user(&self, recipient: &'a Recipient<'a>) -> ProfileJson<'a> {
        ProfileJson { recipient, key_values: self.key_values, fields: self.fields, casing: self.casing }
    }
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("targetId", &self.target_id)?;
        map.serialize_entry("key_values", &KeyValues(self.key_values))?;
        match self.profiles {
            Profiles::One(recipient) => map.serialize_entry("profiles", &self.user(recipient))?,
            Profiles::Batch(batch) => map.serialize_entry("profiles", &ProfileList { payload: self, batch })?,
        }
        map.end()
    }
}

/// Key-value pairs as a JSON object; a repeated key keeps its last value.
struct KeyValues<'a>(&'a [(String, String)]);

impl Serialize for KeyValues<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pairs = self.0;
        let mut map = serializer.serialize_map(None)?;
        for (i, (key, value)) in pairs.iter().enumerate() {
            if pairs[i + 1..].iter().any(|(later, _)| later == key) {
                continue;
            }
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

struct ProfileList<'p, 'a> {
    payload: &'p Payload<'a>,
    batch: &'a [Recipient<'a>],
}

impl Serialize for ProfileList<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.batch.len()))?;
        for recipient in self.batch {
            seq.serialize_element(&self.payload.user(recipient))?;
        }
        seq.end()
    }
}

/// One user's object, in the order of CleverTap's samples.
struct ProfileJson<'a> {
    recipient: &'a Recipient<'a>,
    key_values: &'a [(String, String)],
    fields: ProfileFields,
    casing: KeyCasing,
}

impl Serialize for ProfileJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (r, fields, names) = (self.recipient, self.fields, self.casing.names());
        let lowercase = self.casing == KeyCasing::Lowercase;
        let mut map = serializer.serialize_map(None)?;
        if lowercase {
            map.serialize_entry("key_values", &KeyValues(self.key_values))?;
        }
        if fields.email
            && let Some(email) = r.email
        {
            map.serialize_entry(names.email, email)?;
        }
        if fields.identity
            && let Some(identity) = r.identity
        {
            map.serialize_entry(names.identity, identity)?;
        }
        if fields.object_id {
            map.serialize_entry(names.object_id, r.object_id)?;
        }
        if lowercase {
            if let Some(phone) = r.phone {
                map.serialize_entry("phone", phone)?;
            }
            if let Some(name) = r.name {
                map.serialize_entry("name", name)?;
            }
        }
        if fields.profile_data {
            map.serialize_entry(names.profile_data, r.profile)?;
        }
        if fields.event_properties
            && let Some(event) = r.event_properties
        {
            map.serialize_entry(names.event_properties, event)?;
        }
        if fields.push_token
            && let Some(token) = r.push_token
        {
            map.serialize_entry(names.push_token, token)?;
        }
        map.end()
    }
}

/// The body CleverTap sends when a webhook is created (it saves the webhook only if the endpoint answers
/// 200 OK): `{"is_test": true, "targetId": 1234, "key_values": {…}, "profiles": [5 × {"Identity": "UserId",
/// "Email": "[email]", "push_token": "Token"}]}`. The reference shows the first user only; the five are alike.
pub fn test_request(key_values: &[(String, String)]) -> Value {
    let mut pairs = Map::new();
    for (key, value) in key_values {
        pairs.insert(key.clone(), Value::String(value.clone()));
    }
    let user = serde_json::json!({"Identity": "UserId", "Email": "[email]", "push_token": "Token"});
    serde_json::json!({
        "is_test": true,
        "targetId": TEST_TARGET_ID,
        "key_values": pairs,
        "profiles": vec![user; TEST_PROFILE_COUNT],
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn promo() -> Vec<(String, String)> {
        vec![("PromoCode".to_owned(), "MT50".to_owned()), ("PowerUser".to_owned(), "true".to_owned())]
    }

    fn jack<'a>(profile: &'a Map<String, Value>, event: Option<&'a Map<String, Value>>) -> Recipient<'a> {
        Recipient {
            identity: Some("foo"),
            email: Some("jack@gmail.com"),
            object_id: "-g55b74fb1030740e4a4931910a8abb862",
            name: Some("Jack"),
            phone: Some("+14155550100"),
            profile,
            event_properties: event,
            push_token: Some("19403aa5d3bb"),
        }
    }

    #[test]
    fn a_non_broadcast_payload_without_event_properties_is_one_user_object() {
        let profile = object(json!({"Last Score": 308, "Replayed": true}));
        let kv = promo();
        let user = jack(&profile, None);
        let payload = Payload::single(1472124953, &kv, &user, &PayloadOptions::default());
        assert!(!payload.is_broadcast());
        assert_eq!(payload.profile_count(), 1);
        assert_eq!(
            payload.to_value(),
            json!({
                "targetId": 1472124953,
                "key_values": {"PromoCode": "MT50", "PowerUser": "true"},
                "profiles": {
                    "key_values": {"PromoCode": "MT50", "PowerUser": "true"},
                    "email": "jack@gmail.com",
                    "identity": "foo",
                    "objectId": "-g55b74fb1030740e4a4931910a8abb862",
                    "phone": "+14155550100",
                    "name": "Jack",
                    "profileData": {"Last Score": 308, "Replayed": true},
                    "push_token": "19403aa5d3bb"
                }
            })
        );
    }

    #[test]
    fn a_non_broadcast_payload_with_event_properties_carries_them() {
        let profile = object(json!({"customer type": "gold"}));
        let event = object(json!({"Product Id": 1, "CT Source": "Mobile"}));
        let kv = vec![("SomeKey1".to_owned(), "SomeValue1".to_owned())];
        let user = Recipient { name: None, phone: None, push_token: None, ..jack(&profile, Some(&event)) };
        let payload = Payload::single(1659684581, &kv, &user, &PayloadOptions::default());
        assert_eq!(
            payload.to_value(),
            json!({
                "targetId": 1659684581,
                "key_values": {"SomeKey1": "SomeValue1"},
                "profiles": {
                    "key_values": {"SomeKey1": "SomeValue1"},
                    "email": "jack@gmail.com",
                    "identity": "foo",
                    "objectId": "-g55b74fb1030740e4a4931910a8abb862",
                    "profileData": {"customer type": "gold"},
                    "event_properties": {"Product Id": 1, "CT Source": "Mobile"}
                }
            })
        );
    }

    #[test]
    fn the_json_text_follows_the_samples_key_order() {
        let profile = Map::new();
        let kv = promo();
        let user = jack(&profile, None);
        let text = Payload::single(7, &kv, &user, &PayloadOptions::default()).to_json();
        assert!(
            text.starts_with(
                r#"{"targetId":7,"key_values":{"PromoCode":"MT50","PowerUser":"true"},"profiles":{"key_values""#
            ),
            "{text}"
        );
        let order: Vec<usize> =
            ["\"email\"", "\"identity\"", "\"objectId\"", "\"phone\"", "\"name\"", "\"profileData\""]
                .iter()
                .map(|k| text.find(k).expect("key present"))
                .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn broadcast_chunks_250_users_into_100_100_and_50() {
        let profile = object(json!({"plan": "gold"}));
        let ids: Vec<String> = (0..250).map(|i| format!("__user{i}")).collect();
        let users: Vec<Recipient<'_>> = ids.iter().map(|id| Recipient::new(id, &profile)).collect();
        let kv = promo();
        let batches: Vec<Payload<'_>> = Payload::broadcast(42, &kv, &users, &PayloadOptions::default()).collect();
        assert_eq!(batches.iter().map(Payload::profile_count).collect::<Vec<_>>(), [100, 100, 50]);
        for (n, batch) in batches.iter().enumerate() {
            assert!(batch.is_broadcast());
            let value = batch.to_value();
            assert_eq!(value["targetId"], 42);
            assert_eq!(value["key_values"], json!({"PromoCode": "MT50", "PowerUser": "true"}));
            let profiles = value["profiles"].as_array().expect("an array");
            assert_eq!(profiles.len(), batch.profile_count());
            assert_eq!(profiles[0]["objectId"], format!("__user{}", n * 100));
            assert_eq!(profiles[0]["profileData"], json!({"plan": "gold"}));
        }
    }

    #[test]
    fn broadcast_batch_size_is_configurable_and_no_users_means_no_requests() {
        let profile = Map::new();
        let users: Vec<Recipient<'_>> = (0..5).map(|_| Recipient::new("__x", &profile)).collect();
        let options =
            PayloadOptions { batch_size: NonZeroUsize::new(2).expect("not zero"), ..PayloadOptions::default() };
        let sizes: Vec<usize> = Payload::broadcast(1, &[], &users, &options).map(|p| p.profile_count()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(Payload::broadcast(1, &[], &[], &options).len(), 0);
        assert_eq!(DEFAULT_BATCH_SIZE.get(), 100);
    }

    #[test]
    fn a_one_user_broadcast_still_sends_an_array() {
        let profile = Map::new();
        let users = [Recipient::new("__solo", &profile)];
        let batch = Payload::broadcast(1, &[], &users, &PayloadOptions::default()).next().expect("one batch");
        assert_eq!(batch.to_value()["profiles"], json!([{"key_values": {}, "objectId": "__solo", "profileData": {}}]));
    }

    #[test]
    fn capitalised_casing_reproduces_the_older_broadcast_sample() {
        let profile = object(json!({"Last Score": 308, "High Score": 308, "Replayed": true}));
        let event = object(json!({"Score": 1200, "Game Mode": "Practice", "Rating": 1}));
        let kv = promo();
        let users = [jack(&profile, Some(&event))];
        let options = PayloadOptions { casing: KeyCasing::Capitalised, ..PayloadOptions::default() };
        let batch = Payload::broadcast(1472124953, &kv, &users, &options).next().expect("one batch");
        assert_eq!(
            batch.to_value(),
            json!({
                "targetId": 1472124953,
                "key_values": {"PromoCode": "MT50", "PowerUser": "true"},
                "profiles": [{
                    "Email": "jack@gmail.com",
                    "Identity": "foo",
                    "ObjectId": "-g55b74fb1030740e4a4931910a8abb862",
                    "ProfileData": {"Last Score": 308, "High Score": 308, "Replayed": true},
                    "Event_properties": {"Score": 1200, "Game Mode": "Practice", "Rating": 1},
                    "Push_token": "19403aa5d3bb"
                }]
            })
        );
    }

    #[test]
    fn fields_not_chosen_are_left_out() {
        let profile = object(json!({"secret plan": "gold"}));
        let event = object(json!({"Score": 1}));
        let kv = promo();
        let user = jack(&profile, Some(&event));
        let only_email = PayloadOptions::with_fields(ProfileFields { email: true, ..ProfileFields::NONE });
        assert_eq!(
            Payload::single(1, &kv, &user, &only_email).to_value()["profiles"],
            json!({
                "key_values": {"PromoCode": "MT50", "PowerUser": "true"},
                "email": "jack@gmail.com",
                "phone": "+14155550100",
                "name": "Jack"
            })
        );
        let all_but_data =
            ProfileFields { profile_data: false, event_properties: false, push_token: false, ..ProfileFields::ALL };
        let value = Payload::single(1, &kv, &user, &PayloadOptions::with_fields(all_but_data)).to_value();
        let keys: Vec<&str> = value["profiles"].as_object().expect("an object").keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 6, "{keys:?}");
        for absent in ["profileData", "event_properties", "push_token"] {
            assert!(!keys.contains(&absent), "{absent} in {keys:?}");
        }
    }

    #[test]
    fn absent_values_are_left_out_even_when_chosen() {
        let profile = Map::new();
        let user = Recipient::new("__anon", &profile);
        assert_eq!(
            Payload::single(1, &[], &user, &PayloadOptions::default()).to_value(),
            json!({"targetId": 1, "key_values": {}, "profiles": {"key_values": {}, "objectId": "__anon", "profileData": {}}})
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let profile = Map::new();
        let user = Recipient::new("__x", &profile);
        let kv =
            vec![("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned()), ("a".to_owned(), "3".to_owned())];
        let payload = Payload::single(1, &kv, &user, &PayloadOptions::default());
        assert_eq!(payload.to_value()["key_values"], json!({"a": "3", "b": "2"}));
        assert_eq!(payload.to_json().matches("\"a\"").count(), 2, "once at the top, once in the user");
    }

    #[test]
    fn the_test_request_has_the_documented_shape() {
        let kv = vec![("key".to_owned(), "value".to_owned())];
        let user = json!({"Identity": "UserId", "Email": "[email]", "push_token": "Token"});
        assert_eq!(
            test_request(&kv),
            json!({
                "is_test": true,
                "targetId": 1234,
                "key_values": {"key": "value"},
                "profiles": [user, user, user, user, user]
            })
        );
        assert_eq!(test_request(&[])["key_values"], json!({}));
    }

    #[test]
    fn profile_fields_from_a_scenario_default_to_all_and_refuse_unknown_names() {
        let fields: ProfileFields = serde_json::from_value(json!({"push_token": false})).expect("valid");
        assert_eq!(fields, ProfileFields { push_token: false, ..ProfileFields::ALL });
        assert!(serde_json::from_value::<ProfileFields>(json!({"phone": true})).is_err());
        let casing: KeyCasing = serde_json::from_value(json!("capitalised")).expect("valid");
        assert_eq!(casing, KeyCasing::Capitalised);
    }
}
