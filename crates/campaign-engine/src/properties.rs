//! The properties of an event or a profile, compactly: one pointer, no allocation when there are none, else
//! one allocation of (interned key, value) pairs sorted by key. Reads, iterates and serializes as the JSON
//! object it stands for (keys in the order a `serde_json::Map` keeps them), so API answers do not change.

use std::fmt;
use std::ops::Index;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use thin_vec::ThinVec;

use crate::name::{Name, Names};

/// Properties by key, each key once, sorted by key.
#[derive(Clone, Default, PartialEq)]
pub struct Properties(ThinVec<(Name, Value)>);

impl Properties {
    /// No properties (allocates nothing).
    pub fn new() -> Properties {
        Properties(ThinVec::new())
    }

    /// The properties of a JSON object, keys interned in `names`.
    pub fn from_map(map: Map<String, Value>, names: &mut Names) -> Properties {
        Self::collect(map.into_iter().map(|(key, value)| (names.intern(&key), value)))
    }

    fn collect(entries: impl ExactSizeIterator<Item = (Name, Value)>) -> Properties {
        let mut list = ThinVec::with_capacity(entries.len());
        list.extend(entries);
        // A `Map` gives its keys sorted already, unless serde_json's `preserve_order` is on somewhere.
        if !list.is_sorted_by(|a: &(Name, Value), b| a.0 < b.0) {
            list.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Properties(list)
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value` (keys interned in `names`), replacing any value it had.
    pub fn insert(&mut self, key: &str, value: Value, names: &mut Names) {
        match self.position(key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => {
                self.0.insert(i, (names.intern(key), value));
                self.0.shrink_to_fit();
            }
        }
    }

    /// Applies a profile upload: each key given replaces the stored value, a `null` removes it, keys not
    /// given are kept.
    pub fn merge(&mut self, changes: &Map<String, Value>, names: &mut Names) {
        for (key, value) in changes {
            match (self.position(key), value) {
                (Ok(i), Value::Null) => {
                    self.0.remove(i);
                }
                (Ok(i), value) => self.0[i].1 = value.clone(),
                (Err(_), Value::Null) => {}
                (Err(i), value) => self.0.insert(i, (names.intern(key), value.clone())),
            }
        }
        if self.0.capacity() > self.0.len() {
            self.0.shrink_to_fit();
        }
    }

    /// Each key with its value, sorted by key.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> + Clone {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect()
    }
}

/// Properties of their own (keys not shared with a store's), for values made outside one.
impl From<Map<String, Value>> for Properties {
    fn from(map: Map<String, Value>) -> Properties {
        Self::collect(map.into_iter().map(|(key, value)| (Name::new(&key), value)))
    }
}

impl From<&Properties> for Value {
    fn from(properties: &Properties) -> Value {
        Value::Object(properties.to_map())
    }
}

/// Like `Value`'s: a missing key reads as `null`.
impl Index<&str> for Properties {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl PartialEq<Map<String, Value>> for Properties {
    fn eq(&self, other: &Map<String, Value>) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Properties, D::Error> {
        Map::<String, Value>::deserialize(deserializer).map(Properties::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn properties_read_iterate_and_serialize_as_the_json_object_they_came_from() {
        let mut names = Names::default();
        let object = json!({"Tier": "gold", "Amount": 30, "Items": [{"sku": 1}], "gone": null});
        let p = Properties::from_map(map(object.clone()), &mut names);
        assert_eq!(p.get("Amount"), Some(&json!(30)));
        assert_eq!(p.get("amount"), None);
        assert_eq!(p["missing"], Value::Null);
        assert_eq!(p.keys().collect::<Vec<_>>(), ["Amount", "Items", "Tier", "gone"]);
        assert_eq!(serde_json::to_value(&p).unwrap(), object);
        assert_eq!(serde_json::to_string(&p).unwrap(), serde_json::to_string(&object).unwrap());
        assert_eq!(Value::from(&p), object);
        assert_eq!(serde_json::from_value::<Properties>(object.clone()).unwrap(), p);
    }

    #[test]
    fn a_merge_replaces_given_keys_keeps_others_and_null_removes() {
        let mut names = Names::default();
        let mut p = Properties::from_map(map(json!({"Name": "Ada", "Tier": "gold"})), &mut names);
        p.merge(&map(json!({"Name": "Ada L.", "Tier": null, "City": "Paris", "Nope": null})), &mut names);
        assert_eq!(Value::from(&p), json!({"Name": "Ada L.", "City": "Paris"}));
        p.insert("Age", json!(36), &mut names);
        assert_eq!(p.keys().collect::<Vec<_>>(), ["Age", "City", "Name"]);
    }

    #[test]
    fn no_properties_take_one_pointer_and_keys_are_shared_through_the_interner() {
        assert_eq!(std::mem::size_of::<Properties>(), std::mem::size_of::<usize>());
        let mut names = Names::default();
        let a = Properties::from_map(map(json!({"Amount": 1})), &mut names);
        let b = Properties::from_map(map(json!({"Amount": 2})), &mut names);
        assert_ne!(a, b);
        assert_eq!(names.len(), 1);
    }
}
