//! Interned names: an event's name or a property's key, kept once by the store however many events and
//! profiles use it (one pointer each), with the form CleverTap compares event names by computed once.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use foldhash::HashSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A name, as given, shared. Compares, hashes and orders as its text.
#[derive(Clone)]
pub struct Name(Arc<Text>);

struct Text {
    text: Box<str>,
    /// `text` as CleverTap compares event names (see [`Name::key`]).
    key: Box<str>,
}

impl Name {
    /// A name of its own (not shared: the store interns the names it keeps with [`Names`]).
    pub fn new(text: &str) -> Name {
        Name(Arc::new(Text { text: text.into(), key: compare_key(text).into() }))
    }

    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The name as CleverTap compares event names: without spaces, lower case (`"Added To Cart"` and
    /// `"addedtocart"` are one event).
    pub fn key(&self) -> &str {
        &self.0.key
    }
}

/// `text` as CleverTap compares event names: case- and space-insensitive.
pub(crate) fn compare_key(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name::new(text)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Name, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Name::new(&text))
    }
}

/// The names a store has seen, each kept once.
#[derive(Debug, Default)]
pub struct Names(HashSet<Name>);

impl Names {
    /// The shared name for `text`, made on first sight.
    pub fn intern(&mut self, text: &str) -> Name {
        if let Some(name) = self.0.get(text) {
            return name.clone();
        }
        let name = Name::new(text);
        self.0.insert(name.clone());
        name
    }

    /// How many distinct names.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_a_name_twice_shares_one_text() {
        let mut names = Names::default();
        let a = names.intern("Charged");
        let b = names.intern("Charged");
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_ne!(names.intern("charged"), a, "names keep their case");
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn a_name_compares_as_its_text_and_keeps_clevertaps_compare_key() {
        let name = Name::new("Added To Cart");
        assert_eq!(name, "Added To Cart");
        assert_eq!(name.key(), "addedtocart");
        assert!(Name::new("Amount") < Name::new("City"));
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"Added To Cart\"");
    }
}
