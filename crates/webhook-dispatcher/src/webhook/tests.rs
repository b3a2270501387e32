//! Tests of the webhook as a whole (`Webhook::from_spec`, `Debug` without secrets, broadcasts), and the spec
//! builders the submodules' tests share.

use serde_json::{Value, json};

use super::*;

const INKIT: &str = r#"{
    "name": "Inkit",
    "method": "POST",
    "url": "http://127.0.0.1:8025/v1/generate",
    "content_type": "json",
    "headers": {"X-Inkit-API-Token": "tok_live_SECRET"},
    "auth": {"type": "none"}
}"#;

fn spec(value: Value) -> WebhookSpec {
    let mut base = json!({"name": "Inkit", "method": "POST", "url": "https://api.inkit.com/v1/generate"});
    if let (Some(base), Value::Object(overrides)) = (base.as_object_mut(), value) {
        base.extend(overrides);
    }
    serde_json::from_value(base).expect("a well-formed spec")
}

pub(super) fn build(value: Value) -> Result<Webhook, WebhookError> {
    Webhook::from_spec(spec(value))
}

/// The error for `value`, checking it names `field` in both `field()` and the message.
pub(super) fn refused(value: Value, field: &str) -> WebhookError {
    let err = build(value.clone()).expect_err(&format!("{value} should be refused"));
    assert_eq!(err.field(), field, "{err}");
    assert!(err.to_string().starts_with(&format!("{field}: ")), "{err}");
    err
}

pub(super) fn oauth(overrides: Value) -> Value {
    let mut auth = json!({"type": "oauth2_client_credentials", "token_url": "https://auth.example.com/token",
                          "client_id": "tapink", "client_secret": "s3cr3t"});
    if let (Some(auth), Value::Object(overrides)) = (auth.as_object_mut(), overrides) {
        for (k, v) in overrides {
            if v.is_null() {
                auth.remove(&k);
            } else {
                auth.insert(k, v);
            }
        }
    }
    auth
}

// --- the seed webhook and the spec's shape ---------------------------------------------------------------

#[test]
fn the_seed_inkit_webhook_is_accepted_as_written() {
    let spec: WebhookSpec = serde_json::from_str(INKIT).expect("parses");
    let webhook = Webhook::from_spec(spec).expect("valid");
    assert_eq!(webhook.name(), "Inkit");
    assert_eq!(webhook.method(), Method::Post);
    assert_eq!(webhook.url().as_str(), "http://127.0.0.1:8025/v1/generate");
    assert!(!webhook.url().is_personalized());
    assert_eq!(webhook.content_type(), ContentFormat::Json);
    assert_eq!(webhook.headers().len(), 1);
    assert_eq!(webhook.headers()[0].0.as_str(), "X-Inkit-API-Token");
    assert_eq!(webhook.headers()[0].1.as_str(), "tok_live_SECRET");
    assert_eq!(*webhook.auth(), Auth::None);
    assert_eq!(webhook.auth().authorization(), None);
}

#[test]
fn content_type_headers_and_auth_have_defaults() {
    let webhook = build(json!({})).expect("valid");
    assert_eq!(webhook.content_type(), ContentFormat::Json);
    assert!(webhook.headers().is_empty());
    assert_eq!(*webhook.auth(), Auth::None);
}

#[test]
fn unknown_fields_and_missing_required_fields_are_refused_by_the_parser() {
    let unknown = r#"{"name": "a", "method": "POST", "url": "http://h/", "timeout": 3}"#;
    let err = serde_json::from_str::<WebhookSpec>(unknown).expect_err("unknown field");
    assert!(err.to_string().contains("timeout"), "{err}");
    let err = serde_json::from_str::<WebhookSpec>(r#"{"name": "a", "method": "POST"}"#).expect_err("no url");
    assert!(err.to_string().contains("url"), "{err}");
    let auth = r#"{"name": "a", "method": "POST", "url": "http://h/", "auth": {"type": "none", "pin": "1"}}"#;
    let err = serde_json::from_str::<WebhookSpec>(auth).expect_err("unknown auth field");
    assert!(err.to_string().contains("pin"), "{err}");
    let err = serde_json::from_str::<WebhookSpec>(r#"{"name": "a", "method": "POST", "url": "http://h/", "auth": {}}"#)
        .expect_err("no auth type");
    assert!(err.to_string().contains("type"), "{err}");
}

#[test]
fn a_webhook_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Webhook>();
}

// --- name, method, content type --------------------------------------------------------------------------

#[test]
fn an_empty_or_blank_name_is_refused() {
    assert_eq!(refused(json!({"name": ""}), "name"), WebhookError::EmptyName);
    assert_eq!(refused(json!({"name": "  \t"}), "name"), WebhookError::EmptyName);
    assert_eq!(build(json!({"name": "  Inkit "})).expect("valid").name(), "Inkit");
}

#[test]
fn the_four_methods_are_accepted_in_any_case() {
    for (text, method) in
        [("POST", Method::Post), ("get", Method::Get), ("Put", Method::Put), ("DELETE", Method::Delete)]
    {
        assert_eq!(build(json!({"method": text})).expect("valid").method(), method);
        assert_eq!(method.to_string(), text.to_uppercase());
    }
}

#[test]
fn other_methods_are_refused() {
    for method in ["PATCH", "HEAD", "OPTIONS", "", "POSTX"] {
        assert_eq!(refused(json!({"method": method}), "method"), WebhookError::Method(method.to_owned()));
    }
    assert_eq!(
        refused(json!({"method": "PATCH"}), "method").to_string(),
        r#"method: "PATCH" is not one of POST, GET, PUT, DELETE"#
    );
}

#[test]
fn content_type_accepts_json_and_text_by_name_or_mime_type() {
    for (text, format) in [
        ("json", ContentFormat::Json),
        ("application/json", ContentFormat::Json),
        ("JSON", ContentFormat::Json),
        ("text", ContentFormat::Text),
        ("text/plain", ContentFormat::Text),
    ] {
        assert_eq!(build(json!({"content_type": text})).expect("valid").content_type(), format, "{text}");
    }
    let err = refused(json!({"content_type": "xml"}), "content_type");
    assert_eq!(err, WebhookError::ContentType("xml".to_owned()));
}

// --- Debug never shows secrets ----------------------------------------------------------------------------

#[test]
fn debug_output_never_shows_secrets() {
    let secrets = ["tok_live_SECRET", "pa55word", "s3cr3t", "b3arer", "T000/B000/XXXX", "ui_pw"];
    let specs = [
        json!({"url": "https://hooks.slack.com/services/T000/B000/XXXX", "headers": {"X-Inkit-API-Token": "tok_live_SECRET"},
               "auth": {"type": "basic", "user": "me", "password": "pa55word"}}),
        json!({"auth": {"type": "bearer", "token": "b3arer"}}),
        json!({"auth": oauth(json!({"token_url": "https://auth.example.com/T000/B000/XXXX?k=s3cr3t"}))}),
    ];
    for value in specs {
        let spec = spec(value);
        let webhook = Webhook::from_spec(spec.clone()).expect("valid");
        let shown = [
            format!("{spec:?}"),
            format!("{webhook:?}"),
            format!("{webhook:#?}"),
            format!("{:?}", webhook.auth().authorization()),
            format!("{:?}", webhook.auth().token_request()),
        ];
        for text in shown {
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} shown in {text}");
            }
        }
    }
    let webhook = build(json!({"headers": {"X-Inkit-API-Token": "tok_live_SECRET"}})).expect("valid");
    let shown = format!("{webhook:?}");
    assert!(shown.contains("X-Inkit-API-Token") && shown.contains("api.inkit.com"), "{shown}");
    let userinfo = format!("{:?}", RedactedUrl("http://me:ui_pw@h/x"));
    assert_eq!(userinfo, r#""http://h"+<redacted path>"#);
}

// --- broadcast ---------------------------------------------------------------------------------------------

fn key_values(pairs: &[(&str, &str)]) -> Content {
    Content::KeyValues {
        key_values: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        fields: ProfileFields::ALL,
    }
}

#[test]
fn json_key_values_with_a_plain_url_and_no_liquid_are_a_broadcast() {
    let webhook = build(json!({})).expect("valid");
    assert!(webhook.is_broadcast(&key_values(&[("PromoCode", "MT50")])));
    assert!(webhook.is_broadcast(&key_values(&[])));
    // `@` personalization still counts as broadcast.
    assert!(webhook.is_broadcast(&key_values(&[("name", "@Profile - Name")])));
}

#[test]
fn any_of_the_four_conditions_failing_makes_it_non_broadcast() {
    let plain = build(json!({})).expect("valid");
    let text = build(json!({"content_type": "text"})).expect("valid");
    let personalized = build(json!({"url": "https://h/{{ Profile.Identity }}"})).expect("valid");
    let kv = key_values(&[("PromoCode", "MT50")]);
    assert!(!text.is_broadcast(&kv), "plain-text content");
    assert!(!plain.is_broadcast(&Content::CustomBody { source: "{}".to_owned(), format: ContentFormat::Json }));
    assert!(!personalized.is_broadcast(&kv), "personalized url");
    assert!(!plain.is_broadcast(&key_values(&[("name", "{{ Profile.Name }}")])), "liquid output in a value");
    assert!(!plain.is_broadcast(&key_values(&[("vip", "{% if Profile.vip %}y{% endif %}")])), "liquid tag");
    assert!(!plain.is_broadcast(&key_values(&[("{{ Profile.k }}", "v")])), "liquid in a key");
}
