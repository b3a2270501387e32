//! CleverTap's profile deletion (`POST /1/delete/profiles.json`): which users to delete, by identity and by
//! CleverTap ID (`guid`), read from `{"identity": [...], "guid": [...]}` with errors naming the field.

use serde_json::{Map, Value};

use crate::field_error::FieldError;
use crate::profile::IdentityKind;
use crate::store::MemoryStore;

/// Most users one deletion may name in each list. Ours: CleverTap's limit is not public.
pub const MAX_USERS_PER_LIST: usize = 1000;

/// The users one deletion names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileDeletion {
    /// `identity`: the users' identities.
    pub identities: Vec<String>,
    /// `guid`: the users' CleverTap IDs (`objectId`).
    pub guids: Vec<String>,
}

impl ProfileDeletion {
    /// Reads `{"identity": [...], "guid": [...]}`. Each list may also be a single value; items are strings or
    /// integers (as identities are in uploads). At least one user must be named.
    pub fn parse(json: &Value) -> Result<Self, FieldError> {
        let Value::Object(obj) = json else {
            return Err(FieldError::new("body", "must be a JSON object with identity and/or guid"));
        };
        if let Some(key) = obj.keys().find(|k| !matches!(k.as_str(), "identity" | "guid")) {
            return Err(FieldError::new(key.clone(), "unknown field; a deletion has identity and guid"));
        }
        let deletion = Self { identities: list(obj, "identity")?, guids: list(obj, "guid")? };
        if deletion.identities.is_empty() && deletion.guids.is_empty() {
            return Err(FieldError::new(
                "identity",
                "required: give identity or guid, a list of the users' identities or CleverTap IDs",
            ));
        }
        Ok(deletion)
    }

    /// The deletion as JSON, in the form [`ProfileDeletion::parse`] reads.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("identity".into(), self.identities.iter().map(|s| Value::from(s.as_str())).collect());
        obj.insert("guid".into(), self.guids.iter().map(|s| Value::from(s.as_str())).collect());
        Value::Object(obj)
    }

    /// The CleverTap IDs of the named users that `store` has, each once, in the order named.
    pub fn object_ids(&self, store: &MemoryStore) -> Vec<String> {
        let named = self
            .identities
            .iter()
            .map(|id| (IdentityKind::Identity, id))
            .chain(self.guids.iter().map(|id| (IdentityKind::ObjectId, id)));
        let mut found: Vec<String> = Vec::new();
        for (kind, id) in named {
            if let Some(profile) = store.find(kind, id)
                && !found.contains(&profile.object_id)
            {
                found.push(profile.object_id.clone());
            }
        }
        found
    }
}

fn list(obj: &Map<String, Value>, key: &str) -> Result<Vec<String>, FieldError> {
    let items: &[Value] = match obj.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(single) => std::slice::from_ref(single),
    };
    if items.len() > MAX_USERS_PER_LIST {
        return Err(FieldError::new(key, format!("at most {MAX_USERS_PER_LIST} users, got {}", items.len())));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            _ => Err(FieldError::new(format!("{key}[{i}]"), "must be a non-empty string or an integer")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_lists_single_values_and_integer_identities() {
        let deletion = ProfileDeletion::parse(&json!({"identity": ["u1", 42], "guid": "obj-1"})).unwrap();
        assert_eq!(deletion.identities, ["u1", "42"]);
        assert_eq!(deletion.guids, ["obj-1"]);
        assert_eq!(ProfileDeletion::parse(&deletion.to_json()), Ok(deletion));
    }

    #[test]
    fn bad_deletions_name_the_field() {
        let error = |v: Value| ProfileDeletion::parse(&v).unwrap_err().to_string();
        assert_eq!(
            error(json!({})),
            "identity: required: give identity or guid, a list of the users' identities or CleverTap IDs"
        );
        assert_eq!(error(json!({"identity": []})).split(':').next(), Some("identity"));
        assert_eq!(error(json!({"identity": ["u1", {}]})), "identity[1]: must be a non-empty string or an integer");
        assert_eq!(error(json!({"guid": [""]})), "guid[0]: must be a non-empty string or an integer");
        assert_eq!(error(json!({"email": ["a@x.com"]})), "email: unknown field; a deletion has identity and guid");
        assert_eq!(error(json!([1])), "body: must be a JSON object with identity and/or guid");
        assert!(error(json!({"identity": vec!["u"; 1001]})).starts_with("identity: at most 1000"));
    }
}
