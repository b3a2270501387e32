//! A render's merge parameters, kept as one compact JSON text: exactly what `serde_json` writes for them as a
//! `Map` (keys sorted, a repeated key's last value, numbers and strings as serde_json prints them).
//!
//! Every generate keeps its parameters in History for the life of the process. As a `serde_json::Map` they
//! cost a B-tree node of about 600 bytes and two strings per parameter, all allocated on the request path;
//! as text they cost one allocation of their JSON's size, which is also what the stored record holds, so the
//! record copies it whole. The API answers, the dashboard and merging read them back as a `Map` when asked,
//! so what they show is unchanged (tests compare the text with serde_json's, and both request paths' answers
//! byte for byte).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

#[derive(Clone, PartialEq, Eq)]
pub struct MergeParameters(Box<str>);

impl MergeParameters {
    /// `map` as serde_json writes it.
    pub fn from_map(map: &Map<String, Value>) -> Self {
        Self(serde_json::to_string(map).expect("a JSON map serialises").into_boxed_str())
    }

    /// The parameters as a JSON map.
    pub fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.0).expect("the text was written from a JSON object")
    }

    /// The compact JSON text of the object.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        &*self.0 == "{}"
    }

    /// The parameter names, in order (unescaped; borrowed from the text when they hold no escapes). Every
    /// request needs them for its warnings, so the compact text is scanned by hand rather than parsed.
    pub fn keys(&self) -> Vec<Cow<'_, str>> {
        scan_keys(&self.0).unwrap_or_else(|| self.to_map().into_iter().map(|(k, _)| Cow::Owned(k)).collect())
    }

    /// Reads a JSON object whose values are all strings, numbers, booleans or null, straight from the request
    /// body (names and strings without escapes are not copied). Fails on anything else, nested objects and
    /// arrays included: the caller then leaves the request to the general path, which words the error.
    pub fn deserialize_flat<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut pairs = Pairs.deserialize(deserializer)?;
        if !pairs.is_sorted_by(|a, b| a.0 < b.0) {
            // A map keeps the last value of a repeated key, in key order.
            pairs.reverse();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs.dedup_by(|later, first| later.0 == first.0);
        }
        let mut text = String::with_capacity(2 + pairs.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>());
        text.push('{');
        for (i, (key, value)) in pairs.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            write_text(key, &mut text);
            text.push(':');
            value.write(&mut text);
        }
        text.push('}');
        Ok(Self(text.into_boxed_str()))
    }
}

impl Default for MergeParameters {
    fn default() -> Self {
        Self("{}".into())
    }
}

impl fmt::Debug for MergeParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for MergeParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for MergeParameters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

impl<'de> Deserialize<'de> for MergeParameters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::<String, Value>::deserialize(d).map(|m| Self::from_map(&m))
    }
}

/// A parameter's value as read from the body.
enum Scalar<'de> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'de, str>),
}

impl Scalar<'_> {
    fn len(&self) -> usize {
        match self {
            Scalar::Str(s) => s.len() + 2,
            _ => 8,
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Scalar::Null => out.push_str("null"),
            Scalar::Bool(true) => out.push_str("true"),
            Scalar::Bool(false) => out.push_str("false"),
            Scalar::Number(n) => out.push_str(&serde_json::to_string(n).expect("a JSON number serialises")),
            Scalar::Str(s) => write_text(s, out),
        }
    }
}

/// A string as JSON. One borrowed from the body had no escapes there, so it has nothing to escape: no quote,
/// backslash or control character (serde_json refuses those raw in a string).
#[expect(clippy::ptr_arg, reason = "whether the text was borrowed from the body is what this looks at")]
fn write_text(s: &Cow<'_, str>, out: &mut String) {
    match s {
        Cow::Borrowed(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Cow::Owned(s) => crate::store::write_json_string(s, out),
    }
}

/// The names of a compact flat object's members, or `None` if `text` is not one (then the caller parses it).
fn scan_keys(text: &str) -> Option<Vec<Cow<'_, str>>> {
    let b = text.as_bytes();
    let mut keys = Vec::new();
    if b.first() != Some(&b'{') {
        return None;
    }
    if b.get(1) == Some(&b'}') {
        return Some(keys);
    }
    let mut i = 1;
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (end, escaped) = string_end(b, i + 1)?;
        keys.push(if escaped {
            Cow::Owned(serde_json::from_str(&text[i..=end]).ok()?)
        } else {
            Cow::Borrowed(&text[i + 1..end])
        });
        i = end + 1;
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        match b.get(i)? {
            b'"' => i = string_end(b, i + 1)?.0 + 1,
            b'{' | b'[' => return None,
            _ => {
                while !matches!(b.get(i)?, b',' | b'}') {
                    i += 1;
                }
            }
        }
        match b.get(i)? {
            b',' => i += 1,
            b'}' => return (i + 1 == b.len()).then_some(keys),
            _ => return None,
        }
    }
}

/// The position of the quote that closes the string whose text starts at `i`, and whether it holds escapes.
fn string_end(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        match b.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// Reads an object of scalars into `(name, value)` pairs in body order.
struct Pairs;

impl<'de> DeserializeSeed<'de> for Pairs {
    type Value = Vec<(Cow<'de, str>, Scalar<'de>)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pairs {
    type Value = Vec<(Cow<'de, str>, Scalar<'de>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of strings, numbers, booleans and nulls")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Text(key)) = map.next_key()? {
            let value = map.next_value::<ScalarValue<'de>>()?.0;
            pairs.push((key, value));
        }
        Ok(pairs)
    }
}

/// A string, borrowed from the input when it holds no escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A scalar value; objects and arrays are refused.
struct ScalarValue<'de>(Scalar<'de>);

impl<'de> Deserialize<'de> for ScalarValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ScalarValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ScalarValue(Scalar::Null))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(ScalarValue(Scalar::Bool(b)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(ScalarValue(Scalar::Number(n.into())))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(ScalarValue(Scalar::Number(n.into())))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                // What `Value` does: a number serde_json cannot hold becomes null.
                Ok(ScalarValue(Number::from_f64(n).map_or(Scalar::Null, Scalar::Number)))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(ScalarValue(Scalar::Str(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(ScalarValue(Scalar::Str(Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(ScalarValue(Scalar::Str(Cow::Owned(s))))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(json: &str) -> Option<MergeParameters> {
        MergeParameters::deserialize_flat(&mut serde_json::Deserializer::from_str(json)).ok()
    }

    #[test]
    fn read_flat_it_is_the_text_serde_json_writes_for_the_map() {
        let objects = [
            "{}",
            r#"{"Name": "Ada Lovelace", "email": "ada@example.com", "phone number": "+14155550100"}"#,
            r#"{"b":1,"a":-1,"c":1.5,"d":-0,"e":1e3,"f":18446744073709551616,"g":-9223372036854775809,"h":0.1}"#,
            r#"{"k":"v1","k":"v2","a":null,"k":true,"z":false}"#,
            r#"{"q":"a\"b\\c\u00e9\ud83d\ude00\n\t\u0001/","\u00e9":"x","é":"y","Z":"","a b":" "}"#,
            r#"{"\u0000":"\u001f","\/":"\/","€":"😀"}"#,
        ];
        for json in objects {
            let ours = flat(json).unwrap_or_else(|| panic!("refused {json}"));
            let map: Map<String, Value> = serde_json::from_str(json).unwrap();
            assert_eq!(ours.as_json(), serde_json::to_string(&map).unwrap(), "{json}");
            assert_eq!(ours, MergeParameters::from_map(&map), "{json}");
            assert_eq!(ours.to_map(), map, "{json}");
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            assert_eq!(ours.keys(), keys, "{json}");
        }
    }

    #[test]
    fn read_flat_it_refuses_nested_values_and_what_is_not_an_object() {
        for json in [r#"{"a":{}}"#, r#"{"a":[1]}"#, "[]", "null", r#""x""#, r#"{"a":1e999}"#, r#"{"a":"\ud800"}"#] {
            assert!(flat(json).is_none(), "{json}");
        }
    }

    #[test]
    fn it_shows_and_stores_as_the_map_it_holds() {
        let map: Map<String, Value> = serde_json::from_str(r#"{"b":"x","a":2.5,"c":null}"#).unwrap();
        let params = MergeParameters::from_map(&map);
        assert_eq!(serde_json::to_value(&params).unwrap(), Value::Object(map.clone()));
        assert_eq!(serde_json::to_string(&params).unwrap(), params.as_json());
        let back: MergeParameters = serde_json::from_str(params.as_json()).unwrap();
        assert_eq!(back, params);
        assert!(MergeParameters::default().is_empty() && !params.is_empty());
        assert_eq!(MergeParameters::default(), MergeParameters::from_map(&Map::new()));
    }

    #[test]
    fn its_keys_are_read_from_any_object_text_escaped_or_nested() {
        let json = r#"{"a\"b":{"x":[1,"}"]},"c":"\",\"d\":","d":[],"e":-1.5e-7}"#;
        let map: Map<String, Value> = serde_json::from_str(json).unwrap();
        let params = MergeParameters::from_map(&map);
        assert_eq!(params.keys(), ["a\"b", "c", "d", "e"]);
    }
}
