//! What a webhook campaign sends (its "What"): a custom body in Liquid, or CleverTap's "profile variables &
//! key-value pairs". The engine stores it and hands it on; rendering is the dispatcher's job.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::FieldError;
use crate::field_error::kind;

/// CleverTap's "Content format".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    Json,
    Text,
}

/// The two body modes of the webhook editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Content {
    /// "Custom Body": Liquid source, JSON or plain text.
    CustomBody { body: String, format: BodyFormat },
    /// "Profile Variables & custom key value pairs": CleverTap's payload with these pairs.
    KeyValues { key_values: Vec<(String, String)> },
}

impl Content {
    /// Reads our API's form: `{"body": "...", "format": "json"|"text"}` for a custom body (format defaults to
    /// JSON), or `{"key_values": {"k": "v", ...}}` (pairs in the order of their keys, as JSON objects carry no
    /// order). `path` names the field for errors (`content`).
    pub fn parse(json: &Value, path: &str) -> Result<Content, FieldError> {
        let Value::Object(object) = json else {
            return Err(FieldError::new(path, "must be an object with body (and format) or key_values"));
        };
        if let Some(key) = object.keys().find(|k| !matches!(k.as_str(), "body" | "format" | "key_values")) {
            return Err(FieldError::new(
                format!("{path}.{key}"),
                "unknown field; the fields are body, format, key_values",
            ));
        }
        match (object.get("body"), object.get("key_values")) {
            (Some(_), Some(_)) => Err(FieldError::new(path, "give body or key_values, not both")),
            (Some(Value::String(body)), None) => {
                let format = match object.get("format") {
                    None => BodyFormat::Json,
                    Some(Value::String(f)) if f.eq_ignore_ascii_case("json") => BodyFormat::Json,
                    Some(Value::String(f)) if f.eq_ignore_ascii_case("text") => BodyFormat::Text,
                    Some(other) => {
                        return Err(FieldError::new(
                            format!("{path}.format"),
                            format!("must be \"json\" or \"text\", not {other}"),
                        ));
                    }
                };
                Ok(Content::CustomBody { body: body.clone(), format })
            }
            (Some(other), None) => {
                Err(FieldError::new(format!("{path}.body"), format!("must be a string, not {}", kind(other))))
            }
            (None, Some(Value::Object(pairs))) => {
                Ok(Content::KeyValues { key_values: key_values(pairs, &format!("{path}.key_values"))? })
            }
            (None, Some(other)) => {
                Err(FieldError::new(format!("{path}.key_values"), format!("must be an object, not {}", kind(other))))
            }
            (None, None) => Err(FieldError::new(path, "needs body (a custom body) or key_values")),
        }
    }

    /// The content as our API shows it.
    pub fn to_json(&self) -> Value {
        match self {
            Content::CustomBody { body, format } => serde_json::json!({"body": body, "format": format}),
            Content::KeyValues { key_values } => {
                let pairs: Map<String, Value> =
                    key_values.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                serde_json::json!({"key_values": pairs})
            }
        }
    }
}

/// Key-value pairs in order; values are strings (numbers and booleans are written as text, as the editor does).
pub fn key_values(pairs: &Map<String, Value>, path: &str) -> Result<Vec<(String, String)>, FieldError> {
    pairs
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
            other => Err(FieldError::new(format!("{path}.{k}"), format!("must be a string, not {}", kind(other)))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_custom_body_defaults_to_json_and_key_values_are_pairs() {
        let body = Content::parse(&json!({"body": "{\"a\": \"{{ Profile.name }}\"}"}), "content").unwrap();
        assert!(matches!(body, Content::CustomBody { format: BodyFormat::Json, .. }));
        let pairs = Content::parse(&json!({"key_values": {"b": "1", "a": 2}}), "content").unwrap();
        assert_eq!(pairs, Content::KeyValues { key_values: vec![("a".into(), "2".into()), ("b".into(), "1".into())] });
        assert_eq!(Content::parse(&pairs.to_json(), "content").unwrap(), pairs);
    }

    #[test]
    fn bad_content_names_the_field() {
        let err = |v: Value| Content::parse(&v, "content").unwrap_err().to_string();
        assert_eq!(err(json!({"body": 3})), "content.body: must be a string, not a number");
        assert_eq!(
            err(json!({"body": "x", "format": "xml"})),
            "content.format: must be \"json\" or \"text\", not \"xml\""
        );
        assert_eq!(err(json!({"key_values": {"k": [1]}})), "content.key_values.k: must be a string, not a list");
        assert_eq!(err(json!({"title": "x"})), "content.title: unknown field; the fields are body, format, key_values");
        assert_eq!(err(json!({})), "content: needs body (a custom body) or key_values");
    }
}
