//! The body renderer against CleverTap's documented behaviour.

use serde_json::{Map, Value, json};

use super::*;

/// The seed walkthrough's body, as `tapink preview` and the tests use it.
const SEED_BODY: &str = include_str!("../../../../fixtures/bodies/seed.json");

fn profile(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

fn render_json(source: &str, p: &Map<String, Value>) -> Result<String, RenderError> {
    BodyTemplate::compile(source, ContentFormat::Json).expect("compiles").render(&RenderInput::for_profile(p))
}

fn merge_parameters(body: &str) -> Value {
    serde_json::from_str::<Value>(body).expect("valid JSON")["merge_parameters"].clone()
}

#[test]
fn the_seed_body_renders_as_written_with_system_properties_in_any_case() {
    let p = profile(json!({"Name": "Ada Lovelace", "Email": "ada@example.com", "Phone": "+14155550100"}));
    let body = render_json(SEED_BODY, &p).unwrap();
    assert_eq!(
        merge_parameters(&body),
        json!({"Name": "Ada Lovelace", "email": "ada@example.com", "phone number": "+14155550100"})
    );
}

#[test]
fn a_missing_value_takes_its_default_or_renders_blank() {
    let p = profile(json!({"Email": "x@y.z"}));
    assert_eq!(
        merge_parameters(&render_json(SEED_BODY, &p).unwrap()),
        json!({"Name": "test", "email": "x@y.z", "phone number": "-"})
    );
    let body = render_json(r#"{"a": "{{ Profile.Nickname }}", "b": "{{ Nope.at.all }}"}"#, &p).unwrap();
    assert_eq!(body, r#"{"a": "", "b": ""}"#);
}

#[test]
fn values_that_need_escaping_keep_the_body_valid_json_and_round_trip() {
    for name in
        ["O\"Brien", "back\\slash", "line\nbreak\ttab", "ctrl\u{1}\u{1f}", "emoji 🎉 日本", "</script>", "\u{2028}"]
    {
        let p = profile(json!({"Name": name}));
        let body = render_json(SEED_BODY, &p).unwrap();
        assert_eq!(merge_parameters(&body)["Name"], name, "{body}");
    }
}

#[test]
fn a_value_outside_a_string_that_breaks_json_fails_naming_line_and_column() {
    let p = profile(json!({"Age": "twelve"}));
    let err = render_json("{\n  \"age\": {{ Profile.Age }}\n}", &p).unwrap_err();
    match err {
        RenderError::InvalidJson { position, .. } => assert_eq!(position.line, 2, "{position}"),
        other => panic!("expected InvalidJson, got {other:?}"),
    }
    let ok = render_json("{\"age\": {{ Profile.Age }}}", &profile(json!({"Age": 12}))).unwrap();
    assert_eq!(ok, r#"{"age": 12}"#);
}

#[test]
fn abort_stops_the_message_as_liquid_logic_aborted() {
    let src = r#"{% if Profile.Email == blank %}{% abort %}{% endif %}{"e": "{{ Profile.Email }}"}"#;
    assert_eq!(render_json(src, &profile(json!({}))).unwrap_err(), RenderError::Aborted);
    assert_eq!(render_json(src, &profile(json!({"Email": "a@b"}))).unwrap(), r#"{"e": "a@b"}"#);
}

#[test]
fn clevertap_dates_render_as_date_and_time_and_work_with_the_date_filter() {
    let p = profile(json!({"DOB": "$D_1685375700"}));
    let body = render_json(r#"{"d": "{{ Profile.DOB }}", "y": "{{ Profile.DOB | date: "%Y" }}"}"#, &p).unwrap();
    assert_eq!(body, r#"{"d": "2023-05-29 15:55:00", "y": "2023"}"#);
}

#[test]
fn events_campaigns_and_bracket_names_resolve() {
    let p = profile(json!({"Name": "Ada"}));
    let event = profile(json!({"Product name": "Lamp", "Amount": 30}));
    let campaign = json!({"campaignId": 1700000001, "name": "Spring"});
    let body = BodyTemplate::compile(
        r#"{"p": "{{ Event["Product name"] }}", "a": {{ Event.Amount | plus: 1 }}, "c": "{{ Campaign.campaignId }}/{{ Campaign.name }}"}"#,
        ContentFormat::Json,
    )
    .unwrap()
    .render(&RenderInput { profile: &p, event: Some(&event), campaign: &campaign })
    .unwrap();
    assert_eq!(body, r#"{"p": "Lamp", "a": 31, "c": "1700000001/Spring"}"#);
}

#[test]
fn control_flow_and_loops_of_the_reference_work() {
    let p = profile(json!({"Name": "Ada", "Tags": ["a", "b", "c"], "Score": 42}));
    let src = r#"{% if Profile.Score > 25 %}high{% elsif Profile.Score > 10 %}mid{% else %}low{% endif %} {% for t in Profile.Tags limit: 2 %}{{ t | upcase }}{% endfor %} {% case Profile.Name %}{% when "Ada" %}hi Ada{% else %}hi{% endcase %} {% unless Profile.Missing %}none{% endunless %} {% assign n = Profile.Name | downcase %}{{ n }}"#;
    let out = BodyTemplate::compile(src, ContentFormat::Text).unwrap().render(&RenderInput::for_profile(&p)).unwrap();
    assert_eq!(out, "high AB hi Ada none ada");
}

#[test]
fn a_syntax_error_is_reported_at_compile_time_with_line_and_column() {
    let err = BodyTemplate::compile("{\n  \"a\": \"{{ Profile.name | }}\"\n}", ContentFormat::Json).unwrap_err();
    let position = err.position.expect("a position");
    assert_eq!(position.line, 2, "{err}");
    let err = BodyTemplate::compile("{% if x %}no end", ContentFormat::Text).unwrap_err();
    assert!(err.to_string().contains("Liquid syntax error"), "{err}");
}

#[test]
fn text_bodies_are_not_escaped_or_checked() {
    let p = profile(json!({"Name": "O\"Brien"}));
    let out = BodyTemplate::compile("Hi {{ Profile.Name }}!", ContentFormat::Text)
        .unwrap()
        .render(&RenderInput::for_profile(&p));
    assert_eq!(out.unwrap(), "Hi O\"Brien!");
}

#[test]
fn the_seed_body_takes_the_fast_path_and_bodies_with_tags_do_not() {
    assert!(BodyTemplate::compile(SEED_BODY, ContentFormat::Json).unwrap().is_fast());
    assert!(!BodyTemplate::compile("{% if x %}a{% endif %}", ContentFormat::Text).unwrap().is_fast());
    assert!(!BodyTemplate::compile("{{ Profile.Name | upcase }}", ContentFormat::Text).unwrap().is_fast());
}

#[test]
fn the_fast_path_renders_exactly_what_the_liquid_path_renders() {
    let bodies = [
        SEED_BODY,
        r#"{"a": "{{ Profile.Name }}", "n": {{ Profile.Score | default: 0 }}, "d": "{{ Profile.DOB | default: 'none' }}"}"#,
        r#"{"e": "{{ Event["Product name"] | default: "?" }}", "c": "{{ Campaign.campaignId }}", "x": "{{ Other.thing }}"}"#,
        r#"{"nested": "{{ Profile.Address.city | default: "-" }}", "first": "{{ Profile.Tags[0] }}", "bool": {{ Profile.Vip | default: 0 }}}"#,
        "Hello {{ Profile.name | default: \"there\" }}, score {{ Profile.Score }}",
    ];
    let profiles = [
        json!({}),
        json!({"Name": "Ada", "Score": 3, "DOB": "$D_1685375700", "Vip": true}),
        json!({"name": "lower", "Score": 3.5, "DOB": "", "Vip": false, "Address": {"city": "Paris"}, "Tags": ["x", "y"]}),
        json!({"NAME": "O\"Brien\\\n\u{1}", "Score": null, "DOB": "$D_notanumber", "Tags": []}),
        json!({"Name": "", "Score": -7, "Address": "not an object", "Vip": 0}),
        json!({"Name": "日本 🎉", "Score": 12345678901_i64, "Tags": [1, 2], "Address": {"city": null}}),
    ];
    let event = profile(json!({"Product name": "Lamp \"XL\""}));
    let campaign = json!({"campaignId": 1700000001, "name": "Spring"});
    for source in bodies {
        let format = if source.starts_with('{') { ContentFormat::Json } else { ContentFormat::Text };
        let body = BodyTemplate::compile(source, format).unwrap();
        assert!(body.is_fast(), "{source}");
        for p in &profiles {
            let p = profile(p.clone());
            let input = RenderInput { profile: &p, event: Some(&event), campaign: &campaign };
            let (fast, slow) = (body.render(&input), body.render_with_liquid(&input));
            let same = match (&fast, &slow) {
                (Ok(a), Ok(b)) => a == b,
                (Err(RenderError::InvalidJson { .. }), Err(RenderError::InvalidJson { .. })) => true,
                (Err(RenderError::Liquid(a)), Err(RenderError::Liquid(b))) => b.starts_with(a.as_str()),
                _ => false,
            };
            assert!(same, "{source}\nprofile {p:?}\nfast   {fast:?}\nliquid {slow:?}");
        }
    }
}

#[test]
fn an_object_prints_its_fields_in_key_order_on_every_render() {
    // Found by the property tests: objects printed in the `liquid` crate's `HashMap` order, which changes from
    // one render to the next, so the same delivery could get a different body on a retry.
    let p = profile(json!({"Name": "Ada"}));
    let fields: Map<String, Value> = (0..8).map(|i| (format!("k{i}"), json!(i))).collect();
    let event = profile(json!({"Item": fields, "List": [{"b": 1, "a": 2}]}));
    let input = RenderInput { profile: &p, event: Some(&event), campaign: &Value::Null };
    let sources = [
        r#"{"fast": "{{ Event.Item }} {{ Event.List }}"}"#,
        r#"{"filtered": "{{ Event.Item | default: 'x' }} {{ Event.List | default: 'x' }}"}{% comment %}liquid path{% endcomment %}"#,
    ];
    for source in sources {
        let body = BodyTemplate::compile(source, ContentFormat::Json).unwrap();
        for _ in 0..20 {
            let rendered: Value = serde_json::from_str(&body.render(&input).unwrap()).unwrap();
            let text = rendered.as_object().unwrap().values().next().unwrap().clone();
            assert_eq!(text, json!("k00k11k22k33k44k55k66k77 a2b1"), "{source}");
        }
    }
}

#[test]
fn a_null_property_renders_like_a_missing_one_when_indexed_into() {
    // Found by the property tests: `{{ Profile.Tags[0] }}` with `"Tags": null` rendered blank on the fast path
    // but failed with "Unknown index" on the `liquid` path.
    let p = profile(json!({"Tags": null, "Address": null, "List": [null]}));
    let source = r#"{"t": "{{ Profile.Tags[0] }}", "c": "{{ Profile.Address.city | default: "-" }}", "l": "{{ Profile.List[0].x }}"}"#;
    let body = BodyTemplate::compile(source, ContentFormat::Json).unwrap();
    let input = RenderInput::for_profile(&p);
    assert_eq!(body.render(&input).unwrap(), r#"{"t": "", "c": "-", "l": ""}"#);
    assert_eq!(body.render_with_liquid(&input).unwrap(), r#"{"t": "", "c": "-", "l": ""}"#);
}

#[test]
fn a_name_looked_up_in_a_list_fails_on_both_paths() {
    // Found by the property tests: `{{ Profile.Address.city }}` with a list for `Address` rendered blank on the
    // fast path but failed with "Unknown index" on the `liquid` path.
    let p = profile(json!({"Address": ["a", "b"]}));
    let body = BodyTemplate::compile(r#"{"c": "{{ Profile.Address.city }}"}"#, ContentFormat::Json).unwrap();
    assert!(body.is_fast());
    let input = RenderInput::for_profile(&p);
    let (Err(RenderError::Liquid(fast)), Err(RenderError::Liquid(liquid))) =
        (body.render(&input), body.render_with_liquid(&input))
    else {
        panic!("both paths fail with a Liquid error");
    };
    assert!(liquid.starts_with(&fast), "fast {fast:?}\nliquid {liquid:?}");
    assert!(fast.contains("requested index=city"), "{fast}");
}

#[test]
fn a_date_before_year_0_prints_as_written_on_both_paths() {
    // Found by the property tests: years -1 to -999 printed as written, years before -999 as dates.
    for (value, printed) in [
        ("$D_-62167219200", "0000-01-01 00:00:00"),
        ("$D_-62167219201", "$D_-62167219201"),
        ("$D_-93692592001", "$D_-93692592001"),
    ] {
        let p = profile(json!({"When": value}));
        let body = BodyTemplate::compile(r#"{"w": "{{ Profile.When }}"}"#, ContentFormat::Json).unwrap();
        let input = RenderInput::for_profile(&p);
        let want = format!(r#"{{"w": "{printed}"}}"#);
        assert_eq!(body.render(&input).unwrap(), want);
        assert_eq!(body.render_with_liquid(&input).unwrap(), want);
    }
}

#[test]
fn an_integer_beyond_64_bits_is_a_syntax_error_not_a_panic() {
    // Found by the `liquid_json_body` fuzz target: the `liquid` crate panicked converting such a literal
    // ("Grammar ensures matches are parseable as integers."), so saving this body crashed.
    let source = "{\n  \"t\": \"{{ Profile.Tags[99999999999999999999] }}\"\n}";
    for format in [ContentFormat::Json, ContentFormat::Text] {
        let err = BodyTemplate::compile(source, format).unwrap_err();
        assert_eq!(err.position, Some(Position { line: 2, column: 25 }), "{err}");
        assert_eq!(
            err.to_string(),
            "Liquid syntax error at line 2 column 25: the integer 99999999999999999999 does not fit in 64 bits"
        );
    }
    // Where the digits are not a literal, the `liquid` crate does not convert them: left to it.
    for source in [
        "{% comment %}{{ 99999999999999999999 }}{% endcomment %}",
        "{% raw %}{{ 99999999999999999999 }}{% endraw %}",
        "{{ 99999999999999999999.5 }}",
    ] {
        assert!(BodyTemplate::compile(source, ContentFormat::Text).is_ok(), "{source}");
    }
    let p = profile(json!({"N": 1}));
    let ok = BodyTemplate::compile("{{ Profile.N | plus: 9223372036854775806 }}", ContentFormat::Text).unwrap();
    assert_eq!(ok.render(&RenderInput::for_profile(&p)).unwrap(), "9223372036854775807");
}

#[test]
fn a_syntax_error_after_multibyte_text_on_its_line_is_reported_not_a_panic() {
    // Found by the `liquid_json_body` fuzz target: the `liquid` crate re-reads the failing line from a character
    // count used as a byte offset, and panicked ("`LiquidParser::parse` should fail in InvalidLiquidTokens.")
    // when that cut made the rest valid.
    for source in
        ["{{\"日日\"}}{{\"}}", "{{\"\u{FFFD}\u{FFFD}\"}}{{\"}}", "{\"a\": \"€ {{ \"x\" | append: \"ü\" }} {{ | }}\"}"]
    {
        let err = BodyTemplate::compile(source, ContentFormat::Text).unwrap_err();
        assert!(err.position.is_some_and(|p| p.line == 1), "{source}: {err}");
    }
    let p = profile(json!({"Name": "Zoë"}));
    let ok =
        BodyTemplate::compile(r#"{"n": "日本 {{ Profile.Name | append: "さん" }}"}"#, ContentFormat::Json).unwrap();
    assert_eq!(ok.render(&RenderInput::for_profile(&p)).unwrap(), r#"{"n": "日本 Zoëさん"}"#);
}

#[test]
fn a_date_format_with_a_non_ascii_directive_prints_it_as_written_not_a_panic() {
    // Found by the `liquid_json_body` fuzz target: the `liquid` crate's `date` filter sliced an unknown
    // directive such as `%é` by bytes and panicked while rendering, for every user of the campaign.
    let p = profile(json!({"DOB": "$D_1685375700", "Fmt": "%Y年%m月 %é"}));
    let body = BodyTemplate::compile(
        r#"{"a": "{{ Profile.DOB | date: "%d %é %-ü %:ö" }}", "b": "{{ Profile.DOB | date: Profile.Fmt }}"}"#,
        ContentFormat::Json,
    )
    .unwrap();
    assert_eq!(body.render(&RenderInput::for_profile(&p)).unwrap(), r#"{"a": "29 %é %-ü %:ö", "b": "2023年05月 %é"}"#);
    let invalid = BodyTemplate::compile(r#"{{ Profile.DOB | date: "%Y %8" }}"#, ContentFormat::Text).unwrap();
    assert!(matches!(invalid.render(&RenderInput::for_profile(&p)), Err(RenderError::Liquid(_))));
}
