//! CleverTap's `POST /1/upload`: each record checked the way CleverTap checks it, with its per-record error codes
//! and messages, and the answer it gives (`{"status","processed","unprocessed"}`). Pure functions: no I/O, and
//! the current time is passed in.
//!
//! The engine calls [`validate_upload`] on a whole `{"d":[…]}` body, applies [`Validated::records`], and answers
//! with [`Validated::outcome`] (or [`UploadError::envelope`] when the body itself is unusable). Fixture files
//! go through [`parse_lines`] first.
//!
//! Messages quoted from real CleverTap answers are marked as such on [`validate`]; the others are ours, written
//! in CleverTap's style (`"<what> is incorrect. <why>."`), because the public material gives only the meaning of
//! their code.

use std::sync::LazyLock;

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::event::Event;
use crate::journal::JournalError;
use crate::profile::{IdentityKind, date_value};

/// Records in one upload: CleverTap's current limit for events and profiles (older pages said 100).
pub const MAX_RECORDS: usize = 1000;
/// Longest property key or event name, in characters.
pub const MAX_KEY_CHARS: usize = 120;
/// Longest identity, in characters (CleverTap: "… is necessary under 120 chars to identify the user").
pub const MAX_IDENTITY_CHARS: usize = 120;
/// Longest string value, in bytes.
pub const MAX_VALUE_BYTES: usize = 512;
/// Most properties in one event (`evtData`).
pub const MAX_EVENT_PROPERTIES: usize = 256;
/// Most custom (non-system) properties in one profile record.
pub const MAX_CUSTOM_PROFILE_PROPERTIES: usize = 256;
/// Most items in a multi-value (an array value).
pub const MAX_MULTI_VALUES: usize = 100;
/// Deepest nesting of arrays and objects in an event property. Ours: CleverTap's limit is not public, this one
/// only keeps validation bounded (Charged's `Items` need 2).
pub const MAX_NESTING: usize = 8;
/// A `ts` above this is refused as milliseconds: 10^11 seconds is the year 5138, 10^11 milliseconds is 1973.
pub const MILLISECONDS_ABOVE: i64 = 100_000_000_000;

/// Event names CleverTap raises itself and refuses in uploads (code 513), compared with [`Event::key`].
pub const RESERVED_EVENT_NAMES: [&str; 16] = [
    "Notification Sent",
    "Notification Viewed",
    "Notification Clicked",
    "Notification Delivered",
    "Notification Replied",
    "UTM Visited",
    "App Launched",
    "App Uninstalled",
    "App Version Changed",
    "Stayed",
    "Reply Sent",
    "Experiment Rendered",
    "Reachable By",
    "Identity Reset",
    "Identity Set",
    "Identity Error",
];

/// Characters refused in event names and property keys; profile keys also refuse `#`.
pub const PROHIBITED_CHARS: [char; 13] = ['%', '>', '<', '!', '|', '&', '.', ':', ';', '$', '\'', '"', '\\'];

/// Profile properties CleverTap defines itself; they do not count towards [`MAX_CUSTOM_PROFILE_PROPERTIES`].
const SYSTEM_PROFILE_KEYS: [&str; 17] = [
    "Name",
    "Email",
    "Phone",
    "Gender",
    "DOB",
    "Employed",
    "Education",
    "Married",
    "Age",
    "Photo",
    "Tz",
    "Identity",
    "MSG-email",
    "MSG-push",
    "MSG-sms",
    "MSG-whatsapp",
    "MSG-dndPhone",
];

/// One valid upload record, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// `"type":"profile"`: properties to merge into the user's profile ([`crate::profile::Profile::merge`]).
    Profile {
        /// The identity the record names its user by: the first of `identity`, `objectId`, `FBID`, `GPID`
        /// ([`IdentityKind::ALL`] order) that the record gives. Numeric identities are kept as their decimal text.
        who: (IdentityKind, String),
        /// The record's other identities, in the same order, for the engine to link to the same user.
        also: Vec<(IdentityKind, String)>,
        /// `profileData` as uploaded: dates stay `"$D_<epoch seconds>"`, `null` means "remove".
        properties: Map<String, Value>,
        /// The record's `ts`, or the `now` given to [`validate`] when it has none (CleverTap's default).
        ts: Timestamp,
    },
    /// `"type":"event"`: something the user did.
    Event {
        /// As for profiles.
        who: (IdentityKind, String),
        /// As for profiles.
        also: Vec<(IdentityKind, String)>,
        /// `evtName` as uploaded (compare names with [`Event::key`]).
        name: String,
        /// `evtData` as uploaded.
        properties: Map<String, Value>,
        /// As for profiles.
        ts: Timestamp,
    },
}

impl Record {
    /// The identity the record names its user by.
    pub fn who(&self) -> (IdentityKind, &str) {
        match self {
            Record::Profile { who, .. } | Record::Event { who, .. } => (who.0, &who.1),
        }
    }

    /// When the record happened.
    pub fn ts(&self) -> Timestamp {
        match self {
            Record::Profile { ts, .. } | Record::Event { ts, .. } => *ts,
        }
    }
}

/// Why CleverTap refuses one record: its code (509–555) and message. The message is CleverTap's own text
/// without the `"Skipped record number : N"` suffix, which [`RecordError::numbered`] adds.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{code}: {message}")]
pub struct RecordError {
    pub code: u16,
    pub message: String,
}

impl RecordError {
    fn new(code: u16, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// The message as CleverTap answers it for record `number` (1-based): glued to
    /// `"Skipped record number : <number>"` with no separator of its own, as CleverTap does.
    pub fn numbered(&self, number: usize) -> String {
        format!("{}Skipped record number : {number}", self.message)
    }
}

/// `status` of an upload answer and of each refused record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    /// Every record was processed.
    Success,
    /// Some were, some were not.
    Partial,
    /// None was (and always the status of an [`Unprocessed`] record).
    Fail,
}

/// One refused record in an upload answer: `{"status":"fail","code":…,"error":"…","record":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unprocessed {
    /// Always [`UploadStatus::Fail`].
    pub status: UploadStatus,
    pub code: u16,
    /// The message with its `"Skipped record number : N"` suffix.
    pub error: String,
    /// The record exactly as uploaded.
    pub record: Value,
    /// The record's number in `d` (1-based); not part of CleverTap's answer (0 when read back from JSON).
    #[serde(skip)]
    pub number: usize,
}

impl Unprocessed {
    /// Record `number` (1-based), refused for `error`.
    pub fn new(number: usize, error: &RecordError, record: Value) -> Self {
        Self { status: UploadStatus::Fail, code: error.code, error: error.numbered(number), record, number }
    }
}

/// CleverTap's answer to an upload (sent with HTTP 200 even when every record fails):
/// `{"status":"success","processed":1,"unprocessed":[]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadOutcome {
    pub status: UploadStatus,
    pub processed: usize,
    /// In record order.
    pub unprocessed: Vec<Unprocessed>,
}

impl UploadOutcome {
    /// The answer for `processed` records applied and `unprocessed` refused.
    pub fn new(processed: usize, mut unprocessed: Vec<Unprocessed>) -> Self {
        unprocessed.sort_by_key(|u| u.number);
        Self { status: status_of(processed, unprocessed.len()), processed, unprocessed }
    }

    /// Moves record `number` (1-based), counted as processed, to the refused ones: for the engine when a record
    /// that passed validation cannot be applied after all.
    pub fn reject(&mut self, number: usize, error: &RecordError, record: Value) {
        self.processed = self.processed.saturating_sub(1);
        let at = self.unprocessed.partition_point(|u| u.number <= number);
        self.unprocessed.insert(at, Unprocessed::new(number, error, record));
        self.status = status_of(self.processed, self.unprocessed.len());
    }
}

fn status_of(processed: usize, unprocessed: usize) -> UploadStatus {
    match (processed, unprocessed) {
        (_, 0) => UploadStatus::Success,
        (0, _) => UploadStatus::Fail,
        _ => UploadStatus::Partial,
    }
}

/// An upload body checked: the valid records to apply, and the answer to give once they are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// Each valid record with its number in `d` (1-based, as CleverTap counts), in upload order.
    pub records: Vec<(usize, Record)>,
    /// The answer, counting every record in `records` as processed; use [`UploadOutcome::reject`] for any that
    /// the engine then fails to apply.
    pub outcome: UploadOutcome,
}

/// An upload refused as a whole, nothing of it applied: HTTP 400 with CleverTap's error envelope
/// ([`UploadError::envelope`]) for a body that is not an upload, 500 when the engine could not store it.
/// The messages are ours: CleverTap's text for these cases is not public.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UploadError {
    #[error("Request body is incorrect. It needs to be a JSON object with the records in \"d\".")]
    NotAnObject,
    #[error("Some mandatory parameter was missing. The records need to be in \"d\".")]
    MissingRecords,
    #[error("Request body is incorrect. \"d\" needs to be an array of records.")]
    RecordsNotAnArray,
    #[error("Too many records. At most 1000 records can be uploaded at once, got {0}.")]
    TooManyRecords(usize),
    /// The body was valid, but the engine could not write it to its journal, so nothing was applied; the same
    /// upload can be sent again.
    #[error("The upload could not be stored, nothing was applied; try again. {0}")]
    NotStored(#[source] JournalError),
}

/// CleverTap's error envelope, fields in its order: `{"status":"fail","error":"…","code":400}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// Always [`UploadStatus::Fail`].
    pub status: UploadStatus,
    pub error: String,
    pub code: u16,
}

impl UploadError {
    /// The HTTP status and envelope code: 400, or 500 when the upload could not be stored.
    pub fn code(&self) -> u16 {
        match self {
            UploadError::NotStored(_) => 500,
            _ => 400,
        }
    }

    /// The answer, as a struct that serializes with CleverTap's field order.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope { status: UploadStatus::Fail, error: self.to_string(), code: self.code() }
    }

    /// The answer as JSON: `{"status":"fail","error":"…","code":400}`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("status".into(), Value::from("fail"));
        map.insert("error".into(), Value::from(self.to_string()));
        map.insert("code".into(), Value::from(self.code()));
        Value::Object(map)
    }
}

/// Checks a whole upload body `{"d":[record, …]}`: the body's shape and size first (an [`UploadError`]), then
/// each record with [`validate`]. Records without `ts` get `now`.
pub fn validate_upload(body: &Value, now: Timestamp) -> Result<Validated, UploadError> {
    let body = body.as_object().ok_or(UploadError::NotAnObject)?;
    let d = body.get("d").ok_or(UploadError::MissingRecords)?;
    let d = d.as_array().ok_or(UploadError::RecordsNotAnArray)?;
    if d.len() > MAX_RECORDS {
        return Err(UploadError::TooManyRecords(d.len()));
    }
    let mut records = Vec::with_capacity(d.len());
    let mut unprocessed = Vec::new();
    for (index, record) in d.iter().enumerate() {
        let number = index + 1;
        match validate(record, now) {
            Ok(valid) => records.push((number, valid)),
            Err(error) => unprocessed.push(Unprocessed::new(number, &error, record.clone())),
        }
    }
    let outcome = UploadOutcome::new(records.len(), unprocessed);
    Ok(Validated { records, outcome })
}

/// Checks one upload record, in this order, the first problem found deciding the answer:
///
/// | Code | Check | Message |
/// |---|---|---|
/// | 524 | an object whose `type` is `event` or `profile` (`token` records are not simulated) | ours |
/// | 526 | `objectId`, when given, a non-empty string of at most 120 characters | ours |
/// | 523 | one of `identity`, `objectId`, `FBID`, `GPID`: a non-blank string or integer, ≤ 120 characters | CleverTap's |
/// | 525 | `ts`, when given, integer epoch seconds above 0 (above 10^11: milliseconds) | CleverTap's (+ ms hint) |
/// | 509 | events: `evtName` a non-blank string | ours |
/// | 512 | events: the name at most 120 characters without prohibited characters; `evtData` an object | ours |
/// | 513 | events: not a reserved name ([`RESERVED_EVENT_NAMES`], ignoring case and spaces) | CleverTap's |
/// | 522 | events: at most 256 properties; profiles: at most 256 custom properties | ours |
/// | 512 | keys, values and nesting (below) | ours |
/// | 514–520 | profiles: `Gender`, `Email`, `Phone`, `Employed`, `Education`, `Married`, `Age` | CleverTap's |
///
/// Keys: non-blank, at most 120 characters, none of [`PROHIBITED_CHARS`] (and no `#` in profile keys). Values:
/// strings at most 512 bytes, strings starting `$D_` valid dates. Profiles: `profileData` an object, values
/// scalars or multi-values (arrays of at most 100 strings), `DOB` a date (`"$D_<epoch seconds>"` or epoch
/// seconds); `null` (removal) always passes. Events: arrays of at most 100 items and objects, nested at most
/// [`MAX_NESTING`] deep. CleverTap has no public code for a bad profile key or value; we answer those with
/// 512 ("invalid structure") and a `"Profile data is incorrect. …"` message, and a too-large profile with 522.
///
/// CleverTap's own messages come from recorded api.clevertap.com answers (the `clevertap-ruby` cassettes,
/// 2017–2018, and for 513 a 2024 answer quoted in RudderStack's server tests).
pub fn validate(record: &Value, now: Timestamp) -> Result<Record, RecordError> {
    let Some(record) = record.as_object() else {
        return Err(RecordError::new(524, NEITHER_EVENT_NOR_PROFILE));
    };
    let is_event = match record.get("type").and_then(Value::as_str) {
        Some("event") => true,
        Some("profile") => false,
        _ => return Err(RecordError::new(524, NEITHER_EVENT_NOR_PROFILE)),
    };
    let (who, also) = identities(record)?;
    let ts = timestamp(record.get("ts"), now)?;
    if is_event {
        let (name, properties) = event(record)?;
        Ok(Record::Event { who, also, name, properties, ts })
    } else {
        let properties = profile(record)?;
        Ok(Record::Profile { who, also, properties, ts })
    }
}

const NEITHER_EVENT_NOR_PROFILE: &str = "Record type is incorrect. type needs to be event/profile. ";
const MISSING_IDENTITY: &str =
    "'identity' or 'fbId' or 'gpId' or 'objectId' is necessary under 120 chars to identify the user. ";
const INVALID_OBJECT_ID: &str = "objectId is incorrect. objectId needs to be a non-empty string under 120 chars. ";
const NOT_EPOCH: &str = "Timestamp should be present in the Unix Epoch format. ";
const LOOKS_LIKE_MILLISECONDS: &str =
    "Timestamp should be present in the Unix Epoch format. It looks like milliseconds, not seconds. ";
const EVENT_NAME_MANDATORY: &str = "Event Name is mandatory. evtName needs to be a non-empty string. ";
const RESTRICTED_EVENT: &str = "Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event. ";

/// The record's identities in [`IdentityKind::ALL`] order: the first names the user, the rest are linked.
fn identities(record: &Map<String, Value>) -> Result<IdentityList, RecordError> {
    let mut found = Vec::new();
    for kind in IdentityKind::ALL {
        let Some(value) = record.get(kind.key()) else { continue };
        if kind == IdentityKind::ObjectId {
            match value {
                Value::Null => {}
                Value::String(id) if !id.trim().is_empty() && id.chars().count() <= MAX_IDENTITY_CHARS => {
                    found.push((kind, id.clone()));
                }
                _ => return Err(RecordError::new(526, INVALID_OBJECT_ID)),
            }
        } else if let Some(id) = identity_text(value) {
            found.push((kind, id));
        }
    }
    let mut found = found.into_iter();
    let who = found.next().ok_or_else(|| RecordError::new(523, MISSING_IDENTITY))?;
    Ok((who, found.collect()))
}

type IdentityList = ((IdentityKind, String), Vec<(IdentityKind, String)>);

/// An identity as text, if the value can name a user: a non-blank string or an integer, under the length limit.
fn identity_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => return None,
    };
    (!text.trim().is_empty() && text.chars().count() <= MAX_IDENTITY_CHARS).then_some(text)
}

/// `ts`: integer epoch seconds after 1970, or `now` when absent.
fn timestamp(ts: Option<&Value>, now: Timestamp) -> Result<Timestamp, RecordError> {
    let Some(ts) = ts else { return Ok(now) };
    let seconds = match ts {
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX)),
        _ => None,
    };
    let Some(seconds) = seconds else { return Err(RecordError::new(525, NOT_EPOCH)) };
    if seconds > MILLISECONDS_ABOVE {
        return Err(RecordError::new(525, LOOKS_LIKE_MILLISECONDS));
    }
    if seconds <= 0 {
        return Err(RecordError::new(525, NOT_EPOCH));
    }
    Timestamp::from_second(seconds).map_err(|_| RecordError::new(525, NOT_EPOCH))
}

fn event_name_error(detail: &str) -> RecordError {
    RecordError::new(512, format!("Event Name is incorrect. {detail}. "))
}

fn event_data_error(detail: &str) -> RecordError {
    RecordError::new(512, format!("Event data is incorrect. {detail}. "))
}

/// An event's name and properties.
fn event(record: &Map<String, Value>) -> Result<(String, Map<String, Value>), RecordError> {
    let name = match record.get("evtName") {
        None | Some(Value::Null) => return Err(RecordError::new(509, EVENT_NAME_MANDATORY)),
        Some(Value::String(name)) if name.trim().is_empty() => {
            return Err(RecordError::new(509, EVENT_NAME_MANDATORY));
        }
        Some(Value::String(name)) => name,
        Some(_) => return Err(event_name_error("evtName needs to be a string")),
    };
    if name.chars().count() > MAX_KEY_CHARS {
        return Err(event_name_error(&format!("'{}' is longer than {MAX_KEY_CHARS} characters", shown(name))));
    }
    if let Some(c) = name.chars().find(|c| PROHIBITED_CHARS.contains(c)) {
        return Err(event_name_error(&format!("'{}' contains the prohibited character '{c}'", shown(name))));
    }
    // The reserved names' keys, worked out once rather than for every event uploaded.
    static RESERVED_KEYS: LazyLock<[String; RESERVED_EVENT_NAMES.len()]> =
        LazyLock::new(|| RESERVED_EVENT_NAMES.map(Event::key));
    if RESERVED_KEYS.contains(&Event::key(name)) {
        return Err(RecordError::new(513, RESTRICTED_EVENT));
    }
    let Some(Value::Object(data)) = record.get("evtData") else {
        return Err(event_data_error("evtData needs to be an object"));
    };
    if data.len() > MAX_EVENT_PROPERTIES {
        let message = format!(
            "Event properties limit exceeded. An event can have at most {MAX_EVENT_PROPERTIES} properties, got {}. ",
            data.len()
        );
        return Err(RecordError::new(522, message));
    }
    for (key, value) in data {
        if let Some(problem) = key_problem(key, false) {
            return Err(event_data_error(&problem));
        }
        event_value(key, value, 1).map_err(|detail| event_data_error(&detail))?;
    }
    Ok((name.clone(), data.clone()))
}

/// Problems with an event property value (`key` is the top-level property it is in).
fn event_value(key: &str, value: &Value, depth: usize) -> Result<(), String> {
    match value {
        Value::String(text) => string_problem(key, text).map_or(Ok(()), Err),
        Value::Array(items) => {
            nesting(key, depth)?;
            if items.len() > MAX_MULTI_VALUES {
                return Err(format!("'{}' has {} items, at most {MAX_MULTI_VALUES}", shown(key), items.len()));
            }
            items.iter().try_for_each(|item| event_value(key, item, depth + 1))
        }
        Value::Object(fields) => {
            nesting(key, depth)?;
            fields.iter().try_for_each(|(inner, value)| match key_problem(inner, false) {
                Some(problem) => Err(problem),
                None => event_value(key, value, depth + 1),
            })
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn nesting(key: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_NESTING {
        return Err(format!("'{}' is nested more than {MAX_NESTING} levels deep", shown(key)));
    }
    Ok(())
}

fn profile_error(detail: &str) -> RecordError {
    RecordError::new(512, format!("Profile data is incorrect. {detail}."))
}

/// A profile's properties.
fn profile(record: &Map<String, Value>) -> Result<Map<String, Value>, RecordError> {
    let Some(Value::Object(data)) = record.get("profileData") else {
        return Err(profile_error("profileData needs to be an object"));
    };
    let custom = data.keys().filter(|key| !SYSTEM_PROFILE_KEYS.contains(&key.as_str())).count();
    if custom > MAX_CUSTOM_PROFILE_PROPERTIES {
        let message = format!(
            "Profile data is incorrect. Profile properties limit exceeded. A profile can have at most \
             {MAX_CUSTOM_PROFILE_PROPERTIES} custom properties, got {custom}."
        );
        return Err(RecordError::new(522, message));
    }
    for (key, value) in data {
        if let Some(problem) = key_problem(key, true) {
            return Err(profile_error(&problem));
        }
        if value.is_null() {
            continue;
        }
        system_field(key, value)?;
        profile_value(key, value).map_err(|detail| profile_error(&detail))?;
    }
    Ok(data.clone())
}

/// CleverTap's checks of its system profile fields (`value` is not null).
fn system_field(key: &str, value: &Value) -> Result<(), RecordError> {
    let text = value.as_str();
    let is = |allowed: &[&str]| text.is_some_and(|t| allowed.contains(&t));
    let (valid, code, message) = match key {
        "Email" => (text.is_some_and(valid_email), 515, "Profile data is incorrect. Email is not valid."),
        "Phone" => (text.is_some_and(valid_phone), 516, "Profile data is incorrect. Phone number is not valid."),
        "Gender" => (
            is(&["M", "F", "O", "Male", "Female", "Others"]),
            514,
            "Profile data is incorrect. Gender needs to be M/F.",
        ),
        "Employed" => (is(&["Y", "N"]), 517, "Profile data is incorrect. Employed needs to be Y/N."),
        "Education" => (
            is(&["School", "College", "Graduate"]),
            518,
            "Profile data is incorrect. Education needs to be School/College/Graduate..",
        ),
        "Married" => (is(&["Y", "N"]), 519, "Profile data is incorrect. Married needs to be Y/N."),
        "Age" => (valid_age(value), 520, "Profile data is incorrect. Age is invalid."),
        "DOB" => (
            date_value(value).is_some(),
            512,
            "Profile data is incorrect. DOB needs to be a date ($D_<epoch seconds>) or epoch seconds.",
        ),
        _ => return Ok(()),
    };
    if valid { Ok(()) } else { Err(RecordError::new(code, message)) }
}

/// Problems with a profile property value: a scalar or a multi-value (array of strings).
fn profile_value(key: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::String(text) => string_problem(key, text).map_or(Ok(()), Err),
        Value::Array(items) => {
            if items.len() > MAX_MULTI_VALUES {
                return Err(format!("'{}' has {} values, at most {MAX_MULTI_VALUES}", shown(key), items.len()));
            }
            items.iter().try_for_each(|item| match item {
                Value::String(text) => string_problem(key, text).map_or(Ok(()), Err),
                _ => Err(format!("Multi-value '{}' needs to be a list of strings", shown(key))),
            })
        }
        Value::Object(_) => {
            Err(format!("Value of '{}' needs to be a string, number, boolean, date or list of strings", shown(key)))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// A property key's problem, if any.
fn key_problem(key: &str, is_profile: bool) -> Option<String> {
    if key.trim().is_empty() {
        return Some("A property key is empty".into());
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Some(format!("Key '{}' is longer than {MAX_KEY_CHARS} characters", shown(key)));
    }
    let prohibited = |c: &char| PROHIBITED_CHARS.contains(c) || (is_profile && *c == '#');
    key.chars().find(prohibited).map(|c| format!("Key '{}' contains the prohibited character '{c}'", shown(key)))
}

/// A string value's problem, if any: too long, or a malformed `$D_` date.
fn string_problem(key: &str, text: &str) -> Option<String> {
    if text.len() > MAX_VALUE_BYTES {
        return Some(format!("Value of '{}' is longer than {MAX_VALUE_BYTES} bytes", shown(key)));
    }
    if text.starts_with("$D_") && date_value(&Value::from(text)).is_none() {
        return Some(format!("Value of '{}' is not a valid date ($D_<epoch seconds>)", shown(key)));
    }
    None
}

/// A key as shown in a message: at most 40 characters.
fn shown(text: &str) -> String {
    const SHOWN: usize = 40;
    if text.chars().count() <= SHOWN {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(SHOWN).collect();
        short.push('…');
        short
    }
}

/// A plausible address: `local@domain.tld`, no spaces, domain labels of letters, digits and inner hyphens.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok
}

/// `+` then 7 to 15 digits (E.164: country code and number, at most 15 digits).
fn valid_phone(phone: &str) -> bool {
    phone
        .strip_prefix('+')
        .is_some_and(|digits| (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()))
}

/// A number from 0 to 150, or a string holding one (CleverTap accepts `"Age":"18"`).
fn valid_age(age: &Value) -> bool {
    let years = match age {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    years.is_some_and(|years| (0.0..=150.0).contains(&years))
}

/// A fixture file that is not valid upload JSON.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    /// JSON that does not parse; `line` and `column` are 1-based positions in the whole file.
    #[error("line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
}

impl LineError {
    fn at(line: usize, error: &serde_json::Error) -> Self {
        let full = error.to_string();
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        LineError::Syntax { line, column: error.column(), message }
    }
}

/// Reads a fixture file "in the upload format": a JSON object with `d` (returned as is), a single JSON record
/// (returned as `{"d":[record]}`), or JSON Lines, one record per line, blank lines and lines starting with `#`
/// skipped (returned as `{"d":[…]}`). Records are not checked here; [`validate_upload`] does that.
///
/// A malformed line is an error naming its line and column. When a line is only the start of a JSON value
/// spread over several lines (a pretty-printed document), the error is the document's own, at its position.
pub fn parse_lines(text: &str) -> Result<Value, LineError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The whole file as one document, comment lines blanked so that positions stay those of the file.
    let uncommented: Vec<&str> = text.lines().map(|line| if is_comment(line) { "" } else { line }).collect();
    let whole_error = match serde_json::from_str::<Value>(&uncommented.join("\n")) {
        Ok(Value::Object(document)) if document.contains_key("d") => return Ok(Value::Object(document)),
        Ok(record) => return Ok(upload_body(vec![record])),
        Err(error) => error,
    };
    let mut records = Vec::new();
    for (index, line) in uncommented.iter().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(record) => records.push(record),
            // The line opens a value the document parse went on reading past it: report where that one failed.
            Err(error) if error.classify() == serde_json::error::Category::Eof && whole_error.line() > number => {
                return Err(LineError::at(whole_error.line(), &whole_error));
            }
            Err(error) => return Err(LineError::at(number, &error)),
        }
    }
    Ok(upload_body(records))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

fn upload_body(records: Vec<Value>) -> Value {
    let mut body = Map::new();
    body.insert("d".into(), Value::Array(records));
    Value::Object(body)
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-03-01T12:00:00Z".parse().expect("a valid instant")
    }

    fn profile_with(data: Value) -> Value {
        json!({"type": "profile", "identity": "u1", "ts": 1_700_000_000, "profileData": data})
    }

    fn event_with(name: &str, data: Value) -> Value {
        json!({"type": "event", "identity": "u1", "ts": 1_700_000_000, "evtName": name, "evtData": data})
    }

    /// The refusal of `record`, as (code, message).
    fn refusal(record: &Value) -> (u16, String) {
        match validate(record, now()) {
            Ok(valid) => panic!("expected a refusal, got {valid:?}"),
            Err(error) => (error.code, error.message),
        }
    }

    fn refused(record: &Value, code: u16, message: &str) {
        assert_eq!(refusal(record), (code, message.to_owned()));
    }

    #[test]
    fn a_valid_profile_keeps_its_identity_properties_and_ts() {
        let record = json!({"type": "profile", "objectId": "-2ce3", "identity": "u1", "ts": 1_521_649_275,
            "profileData": {"Name": "Jack Montana", "Email": "jack@x.com", "Phone": "+14155551234", "Gender": "M",
                "MSG-sms": false, "Customer Type": "Platinum", "DOB": "$D_631152000", "Tags": ["a", "b"], "Old": null}});
        let Ok(Record::Profile { who, also, properties, ts }) = validate(&record, now()) else {
            panic!("expected a profile");
        };
        assert_eq!(who, (IdentityKind::Identity, "u1".to_owned()));
        assert_eq!(also, vec![(IdentityKind::ObjectId, "-2ce3".to_owned())]);
        assert_eq!(Some(&properties), record["profileData"].as_object());
        assert_eq!(ts.as_second(), 1_521_649_275);
    }

    #[test]
    fn a_valid_event_keeps_name_and_properties_and_defaults_ts_to_now() {
        let record = json!({"type": "event", "FBID": 6_264_372_124_u64, "evtName": "Charged",
            "evtData": {"Amount": 300, "Currency": "USD", "Items": [{"Category": "books", "Quantity": 1}]}});
        let Ok(Record::Event { who, name, properties, ts, .. }) = validate(&record, now()) else {
            panic!("expected an event");
        };
        assert_eq!(who, (IdentityKind::Fbid, "6264372124".to_owned()));
        assert_eq!(name, "Charged");
        assert_eq!(Some(&properties), record["evtData"].as_object());
        assert_eq!(ts, now());
    }

    #[test]
    fn code_509_event_without_name() {
        let mut record = event_with("x", json!({}));
        record.as_object_mut().map(|r| r.remove("evtName"));
        refused(&record, 509, "Event Name is mandatory. evtName needs to be a non-empty string. ");
        refused(&event_with("  ", json!({})), 509, "Event Name is mandatory. evtName needs to be a non-empty string. ");
    }

    #[test]
    fn code_512_event_data_not_an_object() {
        refused(&event_with("Viewed", json!([1])), 512, "Event data is incorrect. evtData needs to be an object. ");
        let mut record = event_with("Viewed", json!({}));
        record.as_object_mut().map(|r| r.remove("evtData"));
        refused(&record, 512, "Event data is incorrect. evtData needs to be an object. ");
    }

    #[test]
    fn code_512_prohibited_characters_in_event_names_and_keys() {
        refused(
            &event_with("Page.Viewed", json!({})),
            512,
            "Event Name is incorrect. 'Page.Viewed' contains the prohibited character '.'. ",
        );
        refused(
            &event_with("Viewed", json!({"a$b": 1})),
            512,
            "Event data is incorrect. Key 'a$b' contains the prohibited character '$'. ",
        );
        // `#` is refused only in profile keys.
        assert!(validate(&event_with("Viewed", json!({"a#b": 1})), now()).is_ok());
    }

    #[test]
    fn code_512_limits_on_keys_values_and_multi_values() {
        let long_key = "k".repeat(121);
        assert_eq!(refusal(&event_with("Viewed", json!({long_key: 1}))).0, 512);
        assert!(validate(&event_with("Viewed", json!({"k".repeat(120): 1})), now()).is_ok());
        refused(
            &event_with("Viewed", json!({"Note": "x".repeat(513)})),
            512,
            "Event data is incorrect. Value of 'Note' is longer than 512 bytes. ",
        );
        assert!(validate(&event_with("Viewed", json!({"Note": "x".repeat(512)})), now()).is_ok());
        refused(
            &profile_with(json!({"Tags": vec!["t"; 101]})),
            512,
            "Profile data is incorrect. 'Tags' has 101 values, at most 100.",
        );
        refused(
            &profile_with(json!({"Tags": ["a", 1]})),
            512,
            "Profile data is incorrect. Multi-value 'Tags' needs to be a list of strings.",
        );
    }

    #[test]
    fn code_512_profile_keys_refuse_hash_and_profile_data_must_be_an_object() {
        refused(
            &profile_with(json!({"Plan#": "gold"})),
            512,
            "Profile data is incorrect. Key 'Plan#' contains the prohibited character '#'.",
        );
        refused(&profile_with(json!("Ada")), 512, "Profile data is incorrect. profileData needs to be an object.");
    }

    #[test]
    fn code_513_reserved_event_names_ignoring_case_and_spaces() {
        let message = "Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event. ";
        refused(&event_with("App Launched", json!({})), 513, message);
        refused(&event_with("app launched", json!({})), 513, message);
        refused(&event_with("NotificationClicked", json!({})), 513, message);
        refused(&event_with(" UTM  visited ", json!({})), 513, message);
        assert!(validate(&event_with("App Launch", json!({})), now()).is_ok());
    }

    #[test]
    fn code_514_gender() {
        refused(&profile_with(json!({"Gender": "GG"})), 514, "Profile data is incorrect. Gender needs to be M/F.");
        for gender in ["M", "F", "O", "Male", "Female", "Others"] {
            assert!(validate(&profile_with(json!({ "Gender": gender })), now()).is_ok(), "{gender}");
        }
    }

    #[test]
    fn code_515_email() {
        refused(&profile_with(json!({"Email": "1234"})), 515, "Profile data is incorrect. Email is not valid.");
        for bad in ["a@b", "a b@x.com", "@x.com", "a@@x.com", "a@x..com", "a@-x.com"] {
            assert_eq!(refusal(&profile_with(json!({ "Email": bad }))).0, 515, "{bad}");
        }
        assert!(validate(&profile_with(json!({"Email": "jack.m+news@mail.example.co"})), now()).is_ok());
    }

    #[test]
    fn code_516_phone() {
        let message = "Profile data is incorrect. Phone number is not valid.";
        refused(&profile_with(json!({"Phone": "223"})), 516, message);
        refused(&profile_with(json!({"Phone": "14155551234"})), 516, message);
        refused(&profile_with(json!({"Phone": "+1 415 555"})), 516, message);
        refused(&profile_with(json!({"Phone": 14_155_551_234_u64})), 516, message);
        assert!(validate(&profile_with(json!({"Phone": "+35922333232"})), now()).is_ok());
    }

    #[test]
    fn code_517_employed() {
        refused(&profile_with(json!({"Employed": "223"})), 517, "Profile data is incorrect. Employed needs to be Y/N.");
    }

    #[test]
    fn code_518_education() {
        refused(
            &profile_with(json!({"Education": "223"})),
            518,
            "Profile data is incorrect. Education needs to be School/College/Graduate..",
        );
    }

    #[test]
    fn code_519_married() {
        refused(&profile_with(json!({"Married": "yes"})), 519, "Profile data is incorrect. Married needs to be Y/N.");
    }

    #[test]
    fn code_520_age() {
        let message = "Profile data is incorrect. Age is invalid.";
        refused(&profile_with(json!({"Age": "aa"})), 520, message);
        refused(&profile_with(json!({"Age": 151})), 520, message);
        refused(&profile_with(json!({"Age": -1})), 520, message);
        assert!(validate(&profile_with(json!({"Age": "18"})), now()).is_ok());
        assert!(validate(&profile_with(json!({"Age": 42})), now()).is_ok());
    }

    #[test]
    fn code_522_too_many_properties() {
        let many: Map<String, Value> = (0..257).map(|i| (format!("p{i}"), Value::from(i))).collect();
        refused(
            &event_with("Viewed", Value::Object(many.clone())),
            522,
            "Event properties limit exceeded. An event can have at most 256 properties, got 257. ",
        );
        refused(
            &profile_with(Value::Object(many)),
            522,
            "Profile data is incorrect. Profile properties limit exceeded. A profile can have at most 256 custom \
             properties, got 257.",
        );
        let enough: Map<String, Value> = (0..256).map(|i| (format!("p{i}"), Value::from(i))).collect();
        assert!(validate(&event_with("Viewed", Value::Object(enough)), now()).is_ok());
    }

    #[test]
    fn code_523_no_usable_identity() {
        let message =
            "'identity' or 'fbId' or 'gpId' or 'objectId' is necessary under 120 chars to identify the user. ";
        refused(&json!({"type": "event", "evtName": "Viewed", "evtData": {}}), 523, message);
        refused(&json!({"type": "event", "identity": "", "evtName": "Viewed", "evtData": {}}), 523, message);
        refused(&json!({"type": "profile", "GPID": "g".repeat(121), "profileData": {}}), 523, message);
        refused(&json!({"type": "profile", "identity": true, "profileData": {}}), 523, message);
    }

    #[test]
    fn code_524_neither_event_nor_profile() {
        let message = "Record type is incorrect. type needs to be event/profile. ";
        refused(&json!({"identity": "u1", "profileData": {}}), 524, message);
        refused(&json!({"type": "token", "identity": "u1"}), 524, message);
        refused(&json!({"type": "Event", "identity": "u1"}), 524, message);
        refused(&json!([1, 2]), 524, message);
    }

    #[test]
    fn code_525_timestamp_not_epoch_seconds() {
        let message = "Timestamp should be present in the Unix Epoch format. ";
        refused(&json!({"type": "profile", "identity": "u1", "ts": 0, "profileData": {}}), 525, message);
        refused(&json!({"type": "profile", "identity": "u1", "ts": "1700000000", "profileData": {}}), 525, message);
        refused(&json!({"type": "profile", "identity": "u1", "ts": 1.7e9, "profileData": {}}), 525, message);
        refused(&json!({"type": "profile", "identity": "u1", "ts": null, "profileData": {}}), 525, message);
    }

    #[test]
    fn milliseconds_timestamps_are_refused() {
        let message = "Timestamp should be present in the Unix Epoch format. It looks like milliseconds, not seconds. ";
        refused(
            &json!({"type": "event", "identity": "u1", "ts": 1_700_000_000_000_i64, "evtName": "V", "evtData": {}}),
            525,
            message,
        );
        refused(
            &json!({"type": "event", "identity": "u1", "ts": u64::MAX, "evtName": "V", "evtData": {}}),
            525,
            message,
        );
        assert!(
            validate(
                &json!({"type": "event", "identity": "u1", "ts": 100_000_000_000_i64, "evtName": "V", "evtData": {}}),
                now()
            )
            .is_ok()
        );
    }

    #[test]
    fn code_526_invalid_object_id() {
        let message = "objectId is incorrect. objectId needs to be a non-empty string under 120 chars. ";
        refused(&json!({"type": "profile", "objectId": "", "profileData": {}}), 526, message);
        refused(&json!({"type": "profile", "objectId": 42, "identity": "u1", "profileData": {}}), 526, message);
        assert!(
            validate(&json!({"type": "profile", "objectId": null, "identity": "u1", "profileData": {}}), now()).is_ok()
        );
    }

    #[test]
    fn dates_written_with_d_prefix_are_accepted_and_kept() {
        let record = profile_with(json!({"DOB": "$D_631152000", "Renewal": "$D_1685375700"}));
        let Ok(Record::Profile { properties, .. }) = validate(&record, now()) else { panic!("expected a profile") };
        assert_eq!(properties["DOB"], json!("$D_631152000"));
        assert!(validate(&profile_with(json!({"DOB": -86_400})), now()).is_ok());
        assert!(validate(&event_with("Renewed", json!({"On": "$D_1685375700"})), now()).is_ok());
        refused(
            &profile_with(json!({"DOB": "1990-01-01"})),
            512,
            "Profile data is incorrect. DOB needs to be a date ($D_<epoch seconds>) or epoch seconds.",
        );
        refused(
            &event_with("Renewed", json!({"On": "$D_soon"})),
            512,
            "Event data is incorrect. Value of 'On' is not a valid date ($D_<epoch seconds>). ",
        );
    }

    #[test]
    fn null_removes_system_fields_without_checking_them() {
        assert!(validate(&profile_with(json!({"Email": null, "Phone": null, "Age": null})), now()).is_ok());
    }

    #[test]
    fn skipped_record_suffix_uses_the_one_based_number() {
        let body = json!({"d": [profile_with(json!({})), profile_with(json!({"Email": "1234"}))]});
        let checked = validate_upload(&body, now()).expect("a valid body");
        assert_eq!(checked.outcome.unprocessed.len(), 1);
        assert_eq!(
            checked.outcome.unprocessed[0].error,
            "Profile data is incorrect. Email is not valid.Skipped record number : 2"
        );
        let error = RecordError::new(525, NOT_EPOCH);
        assert_eq!(
            error.numbered(7),
            "Timestamp should be present in the Unix Epoch format. Skipped record number : 7"
        );
    }

    #[test]
    fn all_valid_is_success_with_the_count() {
        let body = json!({"d": [profile_with(json!({"Name": "Ada"})), event_with("Viewed", json!({}))]});
        let checked = validate_upload(&body, now()).expect("a valid body");
        assert_eq!(checked.records.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(
            serde_json::to_string(&checked.outcome).ok(),
            Some(r#"{"status":"success","processed":2,"unprocessed":[]}"#.to_owned())
        );
    }

    #[test]
    fn some_valid_is_partial_and_echoes_the_original_record() {
        let bad = profile_with(json!({"Email": "1234", "Odd key": [1, {"x": null}]}));
        let body = json!({"d": [event_with("Viewed", json!({})), bad.clone()]});
        let checked = validate_upload(&body, now()).expect("a valid body");
        assert_eq!(checked.records.len(), 1);
        let answer = serde_json::to_value(&checked.outcome).expect("serializable");
        assert_eq!(
            answer,
            json!({"status": "partial", "processed": 1, "unprocessed": [{"status": "fail", "code": 515,
                "error": "Profile data is incorrect. Email is not valid.Skipped record number : 2", "record": bad}]})
        );
        let text = serde_json::to_string(&checked.outcome.unprocessed[0]).expect("serializable");
        assert!(text.starts_with(r#"{"status":"fail","code":515,"error":"#), "{text}");
    }

    #[test]
    fn none_valid_is_fail_with_zero_processed() {
        let body = json!({"d": [json!(1), json!({"type": "event"})]});
        let checked = validate_upload(&body, now()).expect("a valid body");
        assert!(checked.records.is_empty());
        assert_eq!(checked.outcome.status, UploadStatus::Fail);
        assert_eq!(checked.outcome.processed, 0);
        let codes: Vec<u16> = checked.outcome.unprocessed.iter().map(|u| u.code).collect();
        assert_eq!(codes, vec![524, 523]);
    }

    #[test]
    fn an_empty_upload_is_success() {
        let checked = validate_upload(&json!({"d": []}), now()).expect("a valid body");
        assert_eq!((checked.outcome.status, checked.outcome.processed), (UploadStatus::Success, 0));
    }

    #[test]
    fn rejecting_an_applied_record_keeps_order_and_recomputes_status() {
        let body = json!({"d": [event_with("A", json!({})), json!(null), event_with("C", json!({}))]});
        let mut outcome = validate_upload(&body, now()).expect("a valid body").outcome;
        assert_eq!(outcome.status, UploadStatus::Partial);
        outcome.reject(1, &RecordError::new(555, "Miscellaneous error. "), body["d"][0].clone());
        outcome.reject(3, &RecordError::new(555, "Miscellaneous error. "), body["d"][2].clone());
        assert_eq!(outcome.unprocessed.iter().map(|u| u.number).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!((outcome.status, outcome.processed), (UploadStatus::Fail, 0));
    }

    #[test]
    fn at_most_1000_records() {
        let record = event_with("Viewed", json!({}));
        let thousand = json!({"d": vec![record.clone(); 1000]});
        assert_eq!(validate_upload(&thousand, now()).map(|c| c.outcome.processed), Ok(1000));
        let too_many = json!({"d": vec![record; 1001]});
        let error = validate_upload(&too_many, now()).expect_err("too many records");
        assert_eq!(error, UploadError::TooManyRecords(1001));
        assert_eq!(
            serde_json::to_string(&error.envelope()).ok(),
            Some(
                r#"{"status":"fail","error":"Too many records. At most 1000 records can be uploaded at once, got 1001.","code":400}"#
                    .to_owned()
            )
        );
    }

    #[test]
    fn bodies_refused_as_a_whole_answer_with_the_error_envelope() {
        assert_eq!(validate_upload(&json!([]), now()).err(), Some(UploadError::NotAnObject));
        assert_eq!(validate_upload(&json!({"data": []}), now()).err(), Some(UploadError::MissingRecords));
        assert_eq!(validate_upload(&json!({"d": {}}), now()).err(), Some(UploadError::RecordsNotAnArray));
        assert_eq!(
            UploadError::MissingRecords.to_json(),
            json!({"status": "fail", "code": 400,
                "error": "Some mandatory parameter was missing. The records need to be in \"d\"."})
        );
    }

    #[test]
    fn odd_json_never_panics() {
        let huge = "x".repeat(1 << 20);
        let mut deep = json!("leaf");
        for level in 0..200 {
            deep = if level % 2 == 0 { json!([deep]) } else { json!({ "k": deep }) };
        }
        let odd = [
            json!(null),
            json!(0),
            json!(-1.5),
            json!(u64::MAX),
            json!("profile"),
            json!([[[[]]]]),
            json!({}),
            json!({"type": null}),
            json!({"type": ["event"]}),
            json!({"type": "event", "identity": huge.clone()}),
            json!({"type": "event", "identity": 1, "ts": i64::MIN, "evtName": "V", "evtData": {}}),
            json!({"type": "event", "identity": 1, "ts": -0.0, "evtName": "V", "evtData": {}}),
            json!({"type": "event", "identity": 1, "evtName": huge.clone(), "evtData": {}}),
            json!({"type": "event", "identity": 1, "evtName": {"a": 1}, "evtData": {}}),
            json!({"type": "event", "identity": 1, "evtName": "V", "evtData": {huge.clone(): huge.clone()}}),
            json!({"type": "event", "identity": 1, "evtName": "V", "evtData": {"deep": deep.clone()}}),
            json!({"type": "profile", "identity": -7, "profileData": {"Age": 1e308, "DOB": i64::MIN, "Tz": deep}}),
            json!({"type": "profile", "identity": "é".repeat(120), "profileData": {"Email": "é@é.é", "Phone": "+é"}}),
            json!({"type": "profile", "objectId": [], "profileData": null}),
            json!({"type": "profile", "GPID": 1, "profileData": {"": 1, " ": 2, "Age": "NaN", "Gender": 1}}),
        ];
        for record in &odd {
            let _ = validate(record, now());
        }
        let outcome = validate_upload(&json!({ "d": odd.to_vec() }), now()).expect("a valid body").outcome;
        assert_eq!(outcome.processed + outcome.unprocessed.len(), odd.len());
        for body in [json!(null), json!(1), json!("d"), json!({"d": null}), json!({"d": "[]"})] {
            assert!(validate_upload(&body, now()).is_err());
        }
    }

    #[test]
    fn json_lines_become_an_upload_body() {
        let text = "# fixtures\n\n{\"type\":\"profile\",\"identity\":\"u1\",\"profileData\":{}}\r\n   # indented comment\n\
                    {\"type\":\"event\",\"identity\":\"u1\",\"evtName\":\"V\",\"evtData\":{}}\n";
        let body = parse_lines(text).expect("valid lines");
        assert_eq!(body["d"].as_array().map(Vec::len), Some(2));
        assert_eq!(body["d"][1]["evtName"], json!("V"));
        assert_eq!(parse_lines("").ok(), Some(json!({"d": []})));
    }

    #[test]
    fn a_document_with_d_is_returned_as_is() {
        let text = "{\n  \"d\": [\n    {\"type\": \"profile\", \"identity\": \"u1\", \"profileData\": {}}\n  ]\n}\n";
        assert_eq!(
            parse_lines(text).ok(),
            Some(json!({"d": [{"type": "profile", "identity": "u1", "profileData": {}}]}))
        );
        let single = "{\"type\": \"profile\",\n \"identity\": \"u1\", \"profileData\": {}}";
        assert_eq!(
            parse_lines(single).ok(),
            Some(json!({"d": [{"type": "profile", "identity": "u1", "profileData": {}}]}))
        );
    }

    #[test]
    fn a_bad_line_is_named_by_line_and_column() {
        let text = "{\"type\":\"profile\",\"identity\":\"u1\",\"profileData\":{}}\n# comment\n{\"type\":\"event\",,}\n";
        assert_eq!(
            parse_lines(text),
            Err(LineError::Syntax { line: 3, column: 17, message: "key must be a string".into() })
        );
        let error = parse_lines(text).expect_err("a bad line");
        assert_eq!(error.to_string(), "line 3, column 17: key must be a string");
    }

    #[test]
    fn a_truncated_line_after_good_ones_is_named_by_its_own_line() {
        let text = "{\"type\":\"event\"}\n{\"type\":\"event\"}\n{\"type\":\n";
        let Err(LineError::Syntax { line, .. }) = parse_lines(text) else { panic!("expected an error") };
        assert_eq!(line, 3);
    }

    #[test]
    fn a_commented_pretty_printed_document_is_read_whole() {
        let text = "# two users\n{\n  \"d\": [\n    # the first\n    {\"type\": \"profile\"}\n  ]\n}\n";
        assert_eq!(parse_lines(text).ok(), Some(json!({"d": [{"type": "profile"}]})));
    }

    #[test]
    fn a_bad_pretty_printed_document_is_named_at_its_own_position() {
        let text = "{\n  \"d\": [\n    {\"type\": \"profile\"},\n  ]\n}\n";
        let Err(LineError::Syntax { line, column, .. }) = parse_lines(text) else { panic!("expected an error") };
        assert_eq!((line, column), (4, 3));
    }
}
