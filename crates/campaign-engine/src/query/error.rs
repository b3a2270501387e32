//! The error of a query that cannot be read, naming the field at fault.

/// A CQL query that cannot be read. `path` names the field as the caller spelled it (`event_properties[1].operator`,
/// `common_profile_prop.profile_fields[0].value`, `from`); `query` is the query as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct QueryError {
    /// The field at fault.
    pub path: String,
    /// What is wrong with it and, where it helps, what is accepted.
    pub message: String,
}

impl QueryError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}
