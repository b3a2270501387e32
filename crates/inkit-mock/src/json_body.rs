//! Reading request bodies: JSON parsing with positions, and typed field access that names the field.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Parses a request body that must be a JSON object, with errors that say where the problem is.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed("request body is empty; expected a JSON object"));
    }
    if let Err(e) = std::str::from_utf8(body) {
        return Err(ApiError::malformed(format!(
            "request body is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => {
            Err(ApiError::invalid("body", format!("request body must be a JSON object, not {}", type_name(&other))))
        }
        Err(e) => Err(ApiError::malformed(format!(
            "malformed JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        ))),
    }
}

/// serde_json appends " at line L column C"; we already said where, so say it once.
fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed access to the fields of one JSON object, each error naming the field.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self { map }
    }

    /// A field that may be absent; `null` counts as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type(key, "a string", other)),
        }
    }

    pub fn str(&self, key: &str) -> Result<&'a str, ApiError> {
        match self.opt_str(key)? {
            None => Err(ApiError::missing(key)),
            Some("") => Err(ApiError::invalid(key, format!("{key} must not be empty"))),
            Some(s) => Ok(s),
        }
    }

    pub fn opt_object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(wrong_type(key, "an object", other)),
        }
    }

    pub fn object(&self, key: &str) -> Result<&'a Map<String, Value>, ApiError> {
        self.opt_object(key)?.ok_or_else(|| ApiError::missing(key))
    }

    pub fn array(&self, key: &str) -> Result<&'a Vec<Value>, ApiError> {
        match self.get(key) {
            None => Err(ApiError::missing(key)),
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(wrong_type(key, "an array", other)),
        }
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(wrong_type(key, "a number", other)),
        }
    }

    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.get(key)
    }
}

pub fn wrong_type(key: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid(key, format!("{key} must be {expected}, not {}", type_name(got)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_names_line_and_column() {
        let e = parse_object(b"{\n  \"a\": 1,\n  oops\n}").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("line 3 column 3"), "{}", e.message);
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_offset() {
        let e = parse_object(b"{\"a\":\"\xff\"}").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("offset 6"), "{}", e.message);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_validation_error() {
        let e = parse_object(b"[1,2]").unwrap_err();
        assert_eq!(e.status, 422);
        assert!(e.message.contains("not an array"), "{}", e.message);
    }

    #[test]
    fn wrong_field_types_name_the_field() {
        let map = parse_object(br#"{"template_id": 5}"#).unwrap();
        let e = Fields::new(&map).str("template_id").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("template_id"));
        assert_eq!(e.message, "template_id must be a string, not a number");
    }
}
