//! Property tests of JSON-safe rendering: whatever a profile, event or campaign holds, a JSON body whose outputs
//! sit inside string literals renders to valid JSON that gives the values back as CleverTap prints them.
//!
//! The expected text of each output is worked out here from CleverTap's rules (see [`printed`] and [`expected`]),
//! not by the renderer. Cases per property are kept small for the debug test run; `PROPTEST_CASES=10000` raises
//! them all.

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

/// The seed walkthrough's body (`fixtures/bodies/seed.json`).
const SEED_BODY: &str = include_str!("../../../../fixtures/bodies/seed.json");

/// Text that tries to break a JSON body: quotes, backslashes, control characters, U+2028/2029, Liquid and
/// HTML syntax, CleverTap dates (valid and not), blanks, and any Unicode at all.
fn nasty_text() -> impl Strategy<Value = String> {
    let pieces = vec![
        "\"",
        "\\",
        "\\\"",
        "\\u0000",
        "\n",
        "\r\n",
        "\t",
        "\u{0}",
        "\u{1f}",
        "\u{7f}",
        "\u{2028}",
        "\u{2029}",
        "{{",
        "}}",
        "{%",
        "%}",
        "$D_",
        "</script>",
        "🎉",
        "日本",
        "\u{feff}",
        "\u{10ffff}",
        " ",
        "a",
        "'",
    ];
    prop_oneof![
        3 => any::<String>(),
        3 => prop::collection::vec(select(pieces), 0..8).prop_map(|p| p.concat()),
        1 => (-100_000_000_000_i64..100_000_000_000).prop_map(|s| format!("$D_{s}")),
        1 => any::<i64>().prop_map(|s| format!("$D_{s}")),
        1 => Just(String::new()),
        1 => Just("  ".to_owned()),
    ]
}

/// A JSON number, whole (any `i64` or `u64`) or fractional (any finite `f64`).
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("JSON has no NaN or infinity", |f| serde_json::Number::from_f64(f).map(Value::Number)),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => nasty_text().prop_map(Value::from),
        2 => number(),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
}

/// Any JSON value: scalars, and lists and objects nested a few levels.
fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(nasty_text(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object that may have a `city`, next to other keys.
fn address() -> impl Strategy<Value = Value> {
    (proptest::option::of(value()), prop::collection::btree_map(nasty_text(), value(), 0..3)).prop_map(
        |(city, other)| {
            let mut map: Map<String, Value> = other.into_iter().collect();
            match city {
                Some(city) => map.insert("city".into(), city),
                None => map.remove("city"),
            };
            Value::Object(map)
        },
    )
}

/// The values the bodies below read, each absent (`None`) or present, and where they sit.
#[derive(Debug, Clone)]
struct Input {
    name: Option<Value>,
    email: Option<Value>,
    phone: Option<Value>,
    nickname: Option<Value>,
    address: Option<Value>,
    tags: Option<Value>,
    product: Option<Value>,
    campaign_name: Option<Value>,
    campaign_id: Value,
    profile: Map<String, Value>,
    event: Map<String, Value>,
    campaign: Value,
}

impl Input {
    fn render(&self) -> RenderInput<'_> {
        RenderInput { profile: &self.profile, event: Some(&self.event), campaign: &self.campaign }
    }
}

prop_compose! {
    /// A profile holding the bodies' properties (system ones under any spelling CleverTap matches, as
    /// `Profile.name` finds `NAME`) and unrelated ones; an event; a campaign. `address` and `tags` say what
    /// those two may hold.
    fn input(address: BoxedStrategy<Value>, tags: BoxedStrategy<Value>)(
        (name, name_key) in (proptest::option::of(value()), select(vec!["Name", "name", "NAME", "nAmE"])),
        (email, email_key) in (proptest::option::of(value()), select(vec!["Email", "email", "EMAIL"])),
        (phone, phone_key) in (proptest::option::of(value()), select(vec!["Phone", "phone"])),
        nickname in proptest::option::of(value()),
        address in proptest::option::of(prop_oneof![3 => address, 1 => Just(Value::Null)]),
        tags in proptest::option::of(prop_oneof![3 => tags, 1 => Just(Value::Null)]),
        product in proptest::option::of(value()),
        campaign_name in proptest::option::of(value()),
        campaign_id in value(),
        // Unrelated properties: prefixed so that none is spelled like one the bodies read.
        extra in prop::collection::btree_map("x-.{0,6}", value(), 0..3),
    ) -> Input {
        let mut profile: Map<String, Value> = extra.into_iter().collect();
        let slots = [
            (name_key, &name),
            (email_key, &email),
            (phone_key, &phone),
            ("Nickname", &nickname),
            ("Address", &address),
            ("Tags", &tags),
        ];
        for (key, slot) in slots {
            if let Some(v) = slot {
                profile.insert(key.to_owned(), v.clone());
            }
        }
        let mut event = Map::new();
        if let Some(p) = &product {
            event.insert("Product name".into(), p.clone());
        }
        let mut campaign = Map::new();
        campaign.insert("campaignId".into(), campaign_id.clone());
        if let Some(n) = &campaign_name {
            campaign.insert("name".into(), n.clone());
        }
        Input {
            name, email, phone, nickname, address, tags, product, campaign_name, campaign_id,
            profile, event, campaign: Value::Object(campaign),
        }
    }
}

/// Any values in every place, lists and objects included where the bodies index into them.
fn any_input() -> impl Strategy<Value = Input> {
    input(value().boxed(), value().boxed())
}

/// Values of the shapes the bodies expect: `Address` an object, `Tags` a list (or absent, or null).
fn well_shaped_input() -> impl Strategy<Value = Input> {
    input(address().boxed(), prop::collection::vec(value(), 0..4).prop_map(Value::Array).boxed())
}

/// A CleverTap date, `$D_<epoch seconds>`, as CleverTap's Liquid prints it: `YYYY-MM-DD HH:MM:SS`, UTC. Only
/// from year 0 on: before that Liquid has no date, and the text prints as written.
fn printed_date(s: &str) -> Option<String> {
    const YEAR_0: i64 = -62_167_219_200;
    let seconds: i64 = s.strip_prefix("$D_")?.parse().ok()?;
    let time = jiff::Timestamp::from_second(seconds).ok().filter(|_| seconds >= YEAR_0)?;
    Some(time.strftime("%Y-%m-%d %H:%M:%S").to_string())
}

/// How CleverTap prints a value: a string as it is (a date as a date), a number or boolean as its text, null as
/// nothing, a list's items one after another, an object's keys and values one after another, in key order.
fn printed(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.as_f64().map(|f| f.to_string()).unwrap_or_default(),
        },
        Value::String(s) => printed_date(s).unwrap_or_else(|| s.clone()),
        Value::Array(items) => items.iter().map(printed).collect(),
        Value::Object(fields) => fields.iter().map(|(k, v)| format!("{k}{}", printed(v))).collect(),
    }
}

/// What `{{ x }}` (or `{{ x | default: d }}`) prints: the default when the value is missing, null, false or
/// empty; otherwise the value.
fn expected(v: Option<&Value>, default: Option<&str>) -> String {
    let takes_default = match v {
        None | Some(Value::Null | Value::Bool(false)) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    };
    match (default, takes_default) {
        (Some(d), true) => d.to_owned(),
        _ => v.map(printed).unwrap_or_default(),
    }
}

/// Liquid's truthiness: anything but nil and false.
fn truthy(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null | Value::Bool(false)))
}

/// `v[key]`, missing when `v` is missing or null.
fn field<'v>(v: Option<&'v Value>, key: &str) -> Option<&'v Value> {
    v.and_then(|v| v.get(key))
}

/// Text around outputs, an escaped quote either side of one, every root (and one that is not a root).
const TEXT_BODY: &str = r#"{"greeting": "Dear {{ Profile.Name }},\n\"{{ Profile.Nickname | default: 'friend' }}\" é", "product": "{{ Event["Product name"] | default: "?" }}", "campaign": "{{ Campaign.campaignId }}/{{ Campaign.name }}", "unknown": "{{ Nope.at.all }}{{ Profile.Missing }}"}"#;

/// Paths into objects and lists, a top-level array, whole lists and objects printed.
const NESTED_BODY: &str = r#"[{"city": "{{ Profile.Address.city | default: "-" }}"}, "{{ Profile.Tags[0] }}", "{{ Profile.Tags[1] | default: 0 }}", "all: {{ Profile.Tags }}", "{{ Profile.Address }}"]"#;

/// Tags, whitespace control and an output in a key: this one renders on the `liquid` path.
const TAGS_BODY: &str = r#"{% assign greeting = "Hello" %}{"name": "{{- Profile.Name -}}", "nick": "{{ Profile.Nickname | default: "friend" }}", "k:{{ Profile.Email }}": "{% if Profile.Phone %}has phone{% else %}no phone{% endif %}", "g": "{{ greeting }}"}"#;

fn compiled(source: &str) -> BodyTemplate {
    BodyTemplate::compile(source, ContentFormat::Json).expect("the body compiles")
}

/// The rendered body, which must parse as JSON.
fn rendered_json(body: &BodyTemplate, input: &Input) -> Result<Value, TestCaseError> {
    let text = body.render(&input.render()).map_err(|e| TestCaseError::fail(format!("render failed: {e}")))?;
    serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn any_profile_renders_the_seed_body_to_json_that_gives_the_values_back(input in any_input()) {
        let body = compiled(SEED_BODY);
        prop_assert!(body.is_fast());
        let got = rendered_json(&body, &input)?;
        let want = json!({
            "merge_parameters": {
                "Name": expected(input.name.as_ref(), Some("test")),
                "email": expected(input.email.as_ref(), Some("-")),
                "phone number": expected(input.phone.as_ref(), Some("-")),
            },
            "template_id": "tmpl_SeedLetter000000000001",
            "description": "test",
        });
        prop_assert_eq!(got, want);
    }

    #[test]
    fn text_around_outputs_and_every_root_round_trip(input in any_input()) {
        let got = rendered_json(&compiled(TEXT_BODY), &input)?;
        let want = json!({
            "greeting": format!(
                "Dear {},\n\"{}\" é",
                expected(input.name.as_ref(), None),
                expected(input.nickname.as_ref(), Some("friend")),
            ),
            "product": expected(input.product.as_ref(), Some("?")),
            "campaign": format!(
                "{}/{}",
                expected(Some(&input.campaign_id), None),
                expected(input.campaign_name.as_ref(), None),
            ),
            "unknown": "",
        });
        prop_assert_eq!(got, want);
    }

    #[test]
    fn paths_into_objects_and_lists_round_trip(input in well_shaped_input()) {
        let got = rendered_json(&compiled(NESTED_BODY), &input)?;
        let tags = input.tags.as_ref();
        let want = json!([
            {"city": expected(field(input.address.as_ref(), "city"), Some("-"))},
            expected(tags.and_then(|t| t.get(0)), None),
            expected(tags.and_then(|t| t.get(1)), Some("0")),
            format!("all: {}", expected(tags, None)),
            expected(input.address.as_ref(), None),
        ]);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn bodies_with_tags_round_trip_on_the_liquid_path(input in any_input()) {
        let body = compiled(TAGS_BODY);
        prop_assert!(!body.is_fast());
        let got = rendered_json(&body, &input)?;
        let phone = if truthy(input.phone.as_ref()) { "has phone" } else { "no phone" };
        let mut want = Map::new();
        want.insert("name".into(), expected(input.name.as_ref(), None).into());
        want.insert("nick".into(), expected(input.nickname.as_ref(), Some("friend")).into());
        want.insert(format!("k:{}", expected(input.email.as_ref(), None)), phone.into());
        want.insert("g".into(), "Hello".into());
        prop_assert_eq!(got, Value::Object(want));
    }

    /// With values of any shape (a path into a number, say), a body either renders to valid JSON or fails with
    /// a Liquid error, the same on both paths, and the same every time.
    #[test]
    fn the_fast_and_liquid_paths_agree_and_never_give_invalid_json(input in any_input()) {
        for source in [SEED_BODY, TEXT_BODY, NESTED_BODY] {
            let body = compiled(source);
            prop_assert!(body.is_fast(), "{}", source);
            let fast = body.render(&input.render());
            let liquid = body.render_with_liquid(&input.render());
            prop_assert_eq!(&fast, &body.render(&input.render()), "rendering twice differs");
            match (&fast, &liquid) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(a, b);
                    prop_assert!(serde_json::from_str::<Value>(a).is_ok(), "not JSON: {}", a);
                }
                // The fast path's message is the start of the `liquid` crate's, which goes on with a backtrace.
                (Err(RenderError::Liquid(a)), Err(RenderError::Liquid(b))) => {
                    prop_assert!(b.starts_with(a.as_str()), "fast {:?}\nliquid {:?}", a, b);
                }
                _ => prop_assert!(false, "{}\nfast   {:?}\nliquid {:?}", source, fast, liquid),
            }
        }
    }
}

/// Body source made of Liquid's and JSON's pieces, and text that is neither (the fuzz target's findings among
/// them: long integers, multi-byte text before an error, `date` formats with non-ASCII directives).
fn liquid_source() -> impl Strategy<Value = String> {
    let pieces = vec![
        "{{",
        "}}",
        "{%",
        "%}",
        "{{-",
        "-}}",
        "\"",
        "'",
        " ",
        "\n",
        "Profile.",
        "Name",
        "Tags",
        "[0]",
        "[",
        "]",
        ".",
        "|",
        " default: ",
        " date: ",
        "\"%é\"",
        "\"%Y\"",
        "%",
        "é",
        "日日",
        "99999999999999999999",
        "-",
        "1",
        "..",
        "(",
        ")",
        "if ",
        "endif",
        "for t in ",
        "endfor",
        "raw",
        "endraw",
        "comment",
        "endcomment",
        "assign x = ",
        "abort",
        "==",
        "blank",
        "nil",
        ",",
        ":",
        "{",
        "}",
    ];
    prop_oneof![
        4 => prop::collection::vec(select(pieces), 0..24).prop_map(|p| p.concat()),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(250))]

    /// Any source either compiles or is refused with a compile error, and a body that compiles renders or
    /// fails with a render error: the `liquid` crate's panics (found by fuzzing) do not get through.
    #[test]
    fn any_source_compiles_or_is_refused_and_renders_without_panicking(source in liquid_source(), input in any_input()) {
        for format in [ContentFormat::Json, ContentFormat::Text] {
            let Ok(body) = BodyTemplate::compile(&source, format) else { continue };
            if let Ok(text) = body.render(&input.render())
                && format == ContentFormat::Json
            {
                prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "not JSON: {}", text);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_escaped_string_parses_back_to_itself(s in nasty_text()) {
        let mut literal = String::from("\"");
        escape_json_string_into(&s, &mut literal);
        literal.push('"');
        prop_assert_eq!(serde_json::from_str::<String>(&literal).ok(), Some(s));
        prop_assert!(!literal.contains(['\u{2028}', '\u{2029}']), "U+2028/2029 stay escaped for JavaScript readers");
    }
}

#[test]
fn the_oracle_prints_as_clevertap_does() {
    // The rules the properties check against, on the values CleverTap's docs show.
    assert_eq!(printed(&json!("$D_1685375700")), "2023-05-29 15:55:00");
    assert_eq!(printed(&json!("$D_-62167219200")), "0000-01-01 00:00:00");
    assert_eq!(printed(&json!("$D_-62167219201")), "$D_-62167219201");
    assert_eq!(printed(&json!(3.5)), "3.5");
    assert_eq!(printed(&json!(-7)), "-7");
    assert_eq!(printed(&json!(["a", 1, null, true])), "a1true");
    assert_eq!(expected(Some(&json!(false)), Some("d")), "d");
    assert_eq!(expected(Some(&json!("  ")), Some("d")), "  ");
    assert_eq!(expected(None, None), "");
}
