//! The error of input that cannot be read (a query, a schedule, a campaign), naming the field at fault.

/// Input that cannot be read. `path` names the field as the caller spelled it (`event_properties[1].operator`,
/// `common_profile_prop.profile_fields[0].value`, `when.delivery_date_time[0]`); `query` is a query as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// The field at fault.
    pub path: String,
    /// What is wrong with it and, where it helps, what is accepted.
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// The JSON type of a value, for messages ("a number", "an object").
pub(crate) fn kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `path.key`, or `key` at the top.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// Refuses the first key of `object` not in `allowed`, naming it and listing the fields.
pub(crate) fn known_keys(
    object: &serde_json::Map<String, serde_json::Value>,
    path: &str,
    allowed: &[&str],
) -> Result<(), FieldError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => {
            Err(FieldError::new(join(path, key), format!("unknown field; the fields are {}", allowed.join(", "))))
        }
        None => Ok(()),
    }
}
