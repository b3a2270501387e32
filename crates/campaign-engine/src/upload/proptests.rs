//! Property tests of the upload parser: no input makes it panic, a valid generated record is accepted as it was
//! written, and the same record with one field broken is refused with CleverTap's code for that field.
//!
//! Cases per property are kept small for the debug test run; `PROPTEST_CASES=10000` raises them all.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::*;

/// `cases` unless `PROPTEST_CASES` is set.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().expect("a valid instant")
}

/// The names a record's validation looks at, so that arbitrary JSON often reaches deep into it.
const FIELD_NAMES: [&str; 22] = [
    "d",
    "type",
    "identity",
    "objectId",
    "FBID",
    "GPID",
    "ts",
    "evtName",
    "evtData",
    "profileData",
    "Email",
    "Phone",
    "Gender",
    "Employed",
    "Education",
    "Married",
    "Age",
    "DOB",
    "Items",
    "Name",
    "MSG-sms",
    "Tz",
];

/// Text the checks care about: field names, record types, dates, blanks, prohibited characters, and anything.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(FIELD_NAMES.to_vec()).prop_map(str::to_owned),
        1 => select(vec!["event", "profile", "token", "Event", "M", "Y", "N", "College", "a@b.co", "+14155550100"])
            .prop_map(str::to_owned),
        1 => any::<i64>().prop_map(|s| format!("$D_{s}")),
        1 => "[ %><!|&.:;$'\"\\\\#\u{2028}a-z]{0,8}",
        2 => any::<String>(),
        1 => (0..600_usize).prop_map(|n| "é".repeat(n)),
    ]
}

/// Any JSON value, leaning towards the names and values an upload holds.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("JSON has no NaN or infinity", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A record-shaped object: a type, some identities, a `ts`, and an event's or profile's fields, each of which may
/// be anything.
fn record_like() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just(json!("event")), Just(json!("profile")), json_value()],
        prop::collection::btree_map(select(FIELD_NAMES.to_vec()), json_value(), 0..6),
        prop::collection::btree_map(text(), json_value(), 0..4),
    )
        .prop_map(|(kind, fields, data)| {
            let mut record: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            record.insert("type".into(), kind);
            let data = Value::Object(data.into_iter().collect());
            record.entry("evtData").or_insert_with(|| data.clone());
            record.entry("profileData").or_insert(data);
            Value::Object(record)
        })
}

/// Characters a property key or event name may hold: anything but the prohibited ones, `#` and blanks at the ends.
fn name() -> impl Strategy<Value = String> {
    "[^%><!|&.:;$'\"\\\\#\\s][^%><!|&.:;$'\"\\\\#]{0,30}"
        .prop_filter("not a system profile field", |k| !SYSTEM_PROFILE_KEYS.contains(&k.as_str()))
}

/// A string value within the limits: at most 512 bytes, and a valid date if it starts with `$D_`.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^$]{0,40}",
        (-10_000_000_000_i64..10_000_000_000).prop_map(|s| format!("$D_{s}")),
        (0..=MAX_VALUE_BYTES).prop_map(|n| "a".repeat(n)),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("JSON has no NaN or infinity", |f| serde_json::Number::from_f64(f).map(Value::Number)),
    ]
}

/// A valid event property value: scalars, and lists and objects nested within the limit.
fn event_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        string_value().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(name(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid custom profile value: a scalar, or a multi-value (a list of strings).
fn profile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        string_value().prop_map(Value::from),
        prop::collection::vec(string_value().prop_map(Value::from), 0..5).prop_map(Value::Array),
    ]
}

/// Valid values of CleverTap's system profile fields.
fn system_fields() -> impl Strategy<Value = Map<String, Value>> {
    let field =
        |key: &'static str, value: BoxedStrategy<Value>| proptest::option::of(value).prop_map(move |v| (key, v));
    (
        field(
            "Email",
            "[a-z0-9]{1,8}([._%+-][a-z0-9]{1,4})?@[a-z0-9]{1,8}(-[a-z0-9]{1,4})?\\.[a-z]{2,6}"
                .prop_map(Value::from)
                .boxed(),
        ),
        field("Phone", "\\+[0-9]{7,15}".prop_map(Value::from).boxed()),
        field("Gender", select(vec!["M", "F", "O", "Male", "Female", "Others"]).prop_map(Value::from).boxed()),
        field("Employed", select(vec!["Y", "N"]).prop_map(Value::from).boxed()),
        field("Education", select(vec!["School", "College", "Graduate"]).prop_map(Value::from).boxed()),
        field("Married", select(vec!["Y", "N"]).prop_map(Value::from).boxed()),
        field(
            "Age",
            prop_oneof![(0..=150_i64).prop_map(Value::from), (0..=150_i64).prop_map(|a| Value::from(a.to_string()))]
                .boxed(),
        ),
        field(
            "DOB",
            prop_oneof![
                (-3_000_000_000_i64..3_000_000_000).prop_map(Value::from),
                (-3_000_000_000_i64..3_000_000_000).prop_map(|s| Value::from(format!("$D_{s}"))),
            ]
            .boxed(),
        ),
    )
        .prop_map(|fields| {
            let (a, b, c, d, e, f, g, h) = fields;
            [a, b, c, d, e, f, g, h].into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect()
        })
}

/// An identity that can name a user: a non-blank string of at most 120 characters, or an integer.
fn identity() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[^\\s]{1,3}[^\\n]{0,40}".prop_map(Value::from),
        "\\PC{120}".prop_filter("not blank", |s| !s.trim().is_empty()).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
    ]
}

/// A valid record: an event or a profile, named by one to four identities, with or without `ts`.
fn valid_record() -> impl Strategy<Value = Value> {
    let identities = (
        proptest::option::of(identity()),
        proptest::option::of("[^\\s][^\\n]{0,40}".prop_map(Value::from)),
        proptest::option::of(identity()),
        proptest::option::of(identity()),
    )
        .prop_filter("at least one identity", |ids| {
            ids.0.is_some() || ids.1.is_some() || ids.2.is_some() || ids.3.is_some()
        });
    let event = (
        name().prop_filter("not a reserved event", |n| {
            RESERVED_EVENT_NAMES.iter().all(|r| Event::key(r) != Event::key(n))
        }),
        prop::collection::btree_map(name(), event_value(), 0..6),
    )
        .prop_map(|(name, data)| json!({"type": "event", "evtName": name, "evtData": Map::from_iter(data)}));
    let profile =
        (prop::collection::btree_map(name(), profile_value(), 0..6), system_fields()).prop_map(|(custom, system)| {
            let mut data: Map<String, Value> = custom.into_iter().collect();
            data.extend(system);
            json!({"type": "profile", "profileData": data})
        });
    (prop_oneof![event, profile], identities, proptest::option::of(1..=MILLISECONDS_ABOVE)).prop_map(
        |(mut record, (identity, object_id, fbid, gpid), ts)| {
            let fields = record.as_object_mut().expect("an object");
            for (key, value) in [("identity", identity), ("objectId", object_id), ("FBID", fbid), ("GPID", gpid)] {
                if let Some(value) = value {
                    fields.insert(key.into(), value);
                }
            }
            if let Some(ts) = ts {
                fields.insert("ts".into(), ts.into());
            }
            record
        },
    )
}

/// One field of a valid record broken, and the code CleverTap answers for it.
#[derive(Debug, Clone)]
enum Breakage {
    /// 524: `type` neither `event` nor `profile`, or the record not an object.
    Type(Value),
    /// 526: an `objectId` that is not a non-empty string of at most 120 characters.
    ObjectId(Value),
    /// 523: no identity that can name a user.
    NoIdentity(Value),
    /// 525: `ts` not epoch seconds.
    Ts(Value),
    /// 509: events: no name, or a blank one.
    NoEventName(Option<Value>),
    /// 512: events: a name too long, with a prohibited character, or not a string.
    EventName(Value),
    /// 513: events: a name CleverTap raises itself.
    ReservedEventName(String),
    /// 522: more than 256 properties.
    TooManyProperties,
    /// 512: a property key empty, too long or with a prohibited character.
    Key(String),
    /// 512: a property value too long, a bad `$D_` date, a list too long, nested too deep, or (profiles) an object.
    Value(Value),
    /// 512: `evtData` / `profileData` not an object.
    Data(Value),
    /// 514–520, 512 for `DOB`: a system profile field with a value CleverTap refuses.
    SystemField(&'static str, Value, u16),
}

fn breakage() -> impl Strategy<Value = Breakage> {
    let too_long = || "x".repeat(MAX_KEY_CHARS + 1);
    let mut nested = json!(1);
    for _ in 0..=MAX_NESTING {
        nested = json!([nested]);
    }
    prop_oneof![
        select(vec![json!("token"), json!("Event"), json!("PROFILE"), json!(null), json!(1), json!(["event"])])
            .prop_map(Breakage::Type),
        select(vec![json!(""), json!(42), json!(true), json!([]), json!("o".repeat(MAX_IDENTITY_CHARS + 1))])
            .prop_map(Breakage::ObjectId),
        select(vec![json!(""), json!("   "), json!(true), json!(1.5), json!(null), json!("i".repeat(121))])
            .prop_map(Breakage::NoIdentity),
        prop_oneof![
            Just(json!(0)),
            (i64::MIN..=0).prop_map(Value::from),
            (MILLISECONDS_ABOVE + 1..).prop_map(Value::from),
            Just(json!(u64::MAX)),
            Just(json!("1700000000")),
            Just(json!(1.7e9)),
            Just(json!(null)),
        ]
        .prop_map(Breakage::Ts),
        select(vec![None, Some(json!(null)), Some(json!("")), Some(json!(" \t"))]).prop_map(Breakage::NoEventName),
        prop_oneof![
            Just(json!(too_long())),
            select(PROHIBITED_CHARS.to_vec()).prop_map(|c| json!(format!("Bad{c}name"))),
            Just(json!(42)),
            Just(json!(["Viewed"])),
        ]
        .prop_map(Breakage::EventName),
        (select(RESERVED_EVENT_NAMES.to_vec()), any::<bool>()).prop_map(|(n, odd)| Breakage::ReservedEventName(
            if odd { n.to_uppercase().replace(' ', "  ") } else { n.to_owned() }
        )),
        Just(Breakage::TooManyProperties),
        prop_oneof![
            Just(String::new()),
            Just("  ".to_owned()),
            Just(too_long()),
            select(PROHIBITED_CHARS.to_vec()).prop_map(|c| format!("key{c}")),
            Just("#hash".to_owned()),
        ]
        .prop_map(Breakage::Key),
        prop_oneof![
            Just(json!("v".repeat(MAX_VALUE_BYTES + 1))),
            Just(json!("$D_soon")),
            Just(json!(vec!["a"; MAX_MULTI_VALUES + 1])),
            Just(nested),
        ]
        .prop_map(Breakage::Value),
        select(vec![json!(null), json!([]), json!("{}"), json!(1)]).prop_map(Breakage::Data),
        prop_oneof![
            Just(("Gender", json!("X"), 514)),
            Just(("Email", json!("not an address"), 515)),
            Just(("Phone", json!("4155550100"), 516)),
            Just(("Employed", json!("yes"), 517)),
            Just(("Education", json!("PhD"), 518)),
            Just(("Married", json!(true), 519)),
            Just(("Age", json!(151), 520)),
            Just(("Age", json!("old"), 520)),
            Just(("DOB", json!("1990-01-01"), 512)),
        ]
        .prop_map(|(k, v, code)| Breakage::SystemField(k, v, code)),
    ]
}

/// `record` with `breakage` applied, and the code it must be refused with; `None` when the breakage does not
/// apply to this kind of record (an event name on a profile, say).
fn broken(record: &Value, breakage: &Breakage) -> Option<(Value, u16)> {
    let mut record = record.clone();
    let fields = record.as_object_mut().expect("an object");
    let is_event = fields["type"] == "event";
    let data_key = if is_event { "evtData" } else { "profileData" };
    let code = match breakage {
        Breakage::Type(kind) if kind.is_array() => {
            return Some((Value::Array(vec![record]), 524));
        }
        Breakage::Type(kind) => {
            fields.insert("type".into(), kind.clone());
            524
        }
        Breakage::ObjectId(id) => {
            fields.insert("objectId".into(), id.clone());
            526
        }
        Breakage::NoIdentity(id) => {
            fields.remove("objectId");
            for key in ["identity", "FBID", "GPID"] {
                fields.insert(key.into(), id.clone());
            }
            523
        }
        Breakage::Ts(ts) => {
            fields.insert("ts".into(), ts.clone());
            525
        }
        Breakage::NoEventName(name) if is_event => {
            match name {
                Some(name) => fields.insert("evtName".into(), name.clone()),
                None => fields.remove("evtName"),
            };
            509
        }
        Breakage::EventName(name) if is_event => {
            fields.insert("evtName".into(), name.clone());
            512
        }
        Breakage::ReservedEventName(name) if is_event => {
            fields.insert("evtName".into(), name.clone().into());
            513
        }
        Breakage::TooManyProperties => {
            let data = fields.get_mut(data_key)?.as_object_mut()?;
            for i in 0..=MAX_EVENT_PROPERTIES {
                data.insert(format!("extra {i}"), json!(i));
            }
            522
        }
        // `#` is refused in profile keys only.
        Breakage::Key(key) if !(is_event && key == "#hash") => {
            fields.get_mut(data_key)?.as_object_mut()?.insert(key.clone(), json!(1));
            512
        }
        Breakage::Value(value) => {
            fields.get_mut(data_key)?.as_object_mut()?.insert("broken value".into(), value.clone());
            512
        }
        Breakage::Data(data) => {
            fields.insert(data_key.into(), data.clone());
            512
        }
        Breakage::SystemField(key, value, code) if !is_event => {
            fields.get_mut(data_key)?.as_object_mut()?.insert((*key).into(), value.clone());
            *code
        }
        _ => return None,
    };
    Some((record, code))
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn validate_upload_never_panics_and_accounts_for_every_record(
        records in prop::collection::vec(prop_oneof![record_like(), json_value()], 0..8),
    ) {
        let body = json!({ "d": records });
        let checked = validate_upload(&body, now()).expect("a body with d as a list");
        prop_assert_eq!(checked.records.len() + checked.outcome.unprocessed.len(), records.len());
        prop_assert_eq!(checked.outcome.processed, checked.records.len());
        for refused in &checked.outcome.unprocessed {
            prop_assert_eq!(&refused.record, &records[refused.number - 1]);
            prop_assert!((509..=555).contains(&refused.code), "{:?}", refused);
            let suffix = format!("Skipped record number : {}", refused.number);
            prop_assert!(refused.error.ends_with(&suffix), "{:?}", refused);
        }
        // A refusal is the same whether the record comes alone or in an upload.
        for (i, record) in records.iter().enumerate() {
            let alone = validate(record, now()).err().map(|e| e.code);
            let within = checked.outcome.unprocessed.iter().find(|u| u.number == i + 1).map(|u| u.code);
            prop_assert_eq!(alone, within);
        }
    }

    #[test]
    fn validate_upload_never_panics_on_any_body(body in json_value()) {
        let _ = validate_upload(&body, now());
        let _ = validate(&body, now());
    }

    #[test]
    fn a_valid_record_is_accepted_as_written(record in valid_record()) {
        let valid = validate(&record, now());
        let valid = valid.map_err(|e| TestCaseError::fail(format!("refused {e}: {record}")))?;
        let fields = record.as_object().expect("an object");
        let first = IdentityKind::ALL.into_iter().find(|kind| fields.contains_key(kind.key())).expect("an identity");
        let (kind, id) = valid.who();
        prop_assert_eq!(kind, first);
        let written = &fields[first.key()];
        prop_assert_eq!(id, written.as_str().map_or_else(|| written.to_string(), str::to_owned));
        let ts = fields.get("ts").and_then(Value::as_i64);
        prop_assert_eq!(valid.ts().as_second(), ts.unwrap_or(now().as_second()));
        match valid {
            Record::Event { name, properties, .. } => {
                prop_assert_eq!(Some(name.as_str()), fields["evtName"].as_str());
                prop_assert_eq!(Some(&properties), fields["evtData"].as_object());
            }
            Record::Profile { properties, .. } => {
                prop_assert_eq!(Some(&properties), fields["profileData"].as_object());
            }
        }
    }

    #[test]
    fn a_record_with_one_field_broken_is_refused_with_its_code(record in valid_record(), breakage in breakage()) {
        let Some((record, code)) = broken(&record, &breakage) else { return Ok(()) };
        match validate(&record, now()) {
            Ok(valid) => prop_assert!(false, "accepted {:?}: {}", valid, record),
            Err(error) => prop_assert_eq!(error.code, code, "{}: {}", error, record),
        }
        let answer = validate_upload(&json!({ "d": [record] }), now()).expect("a body with d as a list").outcome;
        prop_assert_eq!(answer.status, UploadStatus::Fail);
        prop_assert_eq!(answer.unprocessed[0].code, code);
    }
}

/// A line of a fixture file: a record, a comment, a blank line, or text that may not be JSON at all.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => valid_record().prop_map(|r| r.to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => "[ \t]*#[^\n\r]{0,20}",
        1 => "[ \t]{0,3}",
        1 => "[^\n\r]{0,30}",
        1 => "[{}\\[\\]\",:0-9a-z \\\\]{0,20}",
    ]
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn parse_lines_never_panics_and_names_a_line_of_the_text(
        lines in prop::collection::vec(line(), 0..8),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let text = format!("{}{}", if bom { "\u{feff}" } else { "" }, lines.join(if crlf { "\r\n" } else { "\n" }));
        match parse_lines(&text) {
            // A document with `d` comes back as it is (`{"d": null}` too: `validate_upload` refuses that one).
            Ok(body) => {
                prop_assert!(body.get("d").is_some(), "{}", body);
                let _ = validate_upload(&body, now());
            }
            Err(LineError::Syntax { line, column, .. }) => {
                prop_assert!(line >= 1 && line <= text.lines().count().max(1), "line {} of {:?}", line, text);
                prop_assert!(column <= text.lines().nth(line - 1).map_or(0, str::len) + 1, "column {} of {:?}", column, text);
            }
        }
    }

    #[test]
    fn parse_lines_never_panics_on_any_text(text in any::<String>()) {
        let _ = parse_lines(&text);
    }

    #[test]
    fn records_one_per_line_with_comments_between_come_back_in_order(
        records in prop::collection::vec(valid_record(), 0..6),
        comments in prop::collection::vec(proptest::option::of("#[^\n\r]{0,20}"), 6),
    ) {
        let mut text = String::new();
        for (record, comment) in records.iter().zip(&comments) {
            if let Some(comment) = comment {
                text.push_str(comment);
                text.push('\n');
            }
            text.push_str(&record.to_string());
            text.push('\n');
        }
        // Each record as serde_json reads it back: without its `float_roundtrip` feature, a float with a large
        // exponent may come back one ulp away from the one written, whoever parses it.
        let read_back: Vec<Value> = records.iter().map(|r| serde_json::from_str(&r.to_string()).expect("JSON")).collect();
        prop_assert_eq!(parse_lines(&text), Ok(json!({ "d": read_back })));
    }
}
