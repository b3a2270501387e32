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
