//! Small readers for the JSON of a `when`: an object whose keys are checked, and values named by their path.

use serde_json::{Map, Value};

use crate::field_error::FieldError;

pub(super) use crate::field_error::{join, kind};

/// A JSON object being read, with the path the caller wrote to reach it.
pub(super) struct Fields<'a> {
    obj: &'a Map<String, Value>,
    pub(super) path: &'a str,
}

impl<'a> Fields<'a> {
    /// `value` as an object whose keys are all in `allowed`; otherwise the error names the first unknown key.
    pub(super) fn new(value: &'a Value, path: &'a str, allowed: &[&str]) -> Result<Self, FieldError> {
        let Value::Object(obj) = value else {
            return Err(FieldError::new(path, format!("must be an object, not {}", kind(value))));
        };
        crate::field_error::known_keys(obj, path, allowed)?;
        Ok(Self { obj, path })
    }

    /// The value under `key`; `null` counts as absent.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// The path of `key` in this object.
    pub(super) fn at(&self, key: &str) -> String {
        join(self.path, key)
    }

    /// An error about `key`.
    pub(super) fn error(&self, key: &str, message: impl Into<String>) -> FieldError {
        FieldError::new(self.at(key), message)
    }

    /// The string under `key`, if given; another type is an error saying what was expected.
    pub(super) fn string(&self, key: &str, expected: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.error(key, format!("must be {expected}, not {}", kind(other)))),
        }
    }

    /// The string under `key`, read by `read`; absent or unreadable is an error saying what was expected.
    pub(super) fn required<T>(
        &self,
        key: &str,
        expected: &str,
        read: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, FieldError> {
        self.optional(key, expected, read)?.ok_or_else(|| self.error(key, format!("required: {expected}")))
    }

    /// The string under `key` read by `read`, if given; unreadable is an error saying what was expected.
    pub(super) fn optional<T>(
        &self,
        key: &str,
        expected: &str,
        read: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, FieldError> {
        match self.string(key, expected)? {
            None => Ok(None),
            Some(s) => read(s).map(Some).ok_or_else(|| self.error(key, format!("{s:?} is not {expected}"))),
        }
    }

    /// The whole number under `key` within `range`, if given.
    pub(super) fn integer(&self, key: &str, range: std::ops::RangeInclusive<u64>) -> Result<Option<u64>, FieldError> {
        let Some(value) = self.get(key) else { return Ok(None) };
        let (lo, hi) = (range.start(), range.end());
        match value.as_u64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(self.error(key, format!("must be a whole number from {lo} to {hi}, not {value}"))),
        }
    }
}
