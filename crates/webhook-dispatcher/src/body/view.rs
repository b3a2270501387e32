//! What a CleverTap Liquid body sees: `Profile`, `Event` and `Campaign`, read straight from the delivery's
//! JSON without copying it, with CleverTap's leniency: an unknown name is nil (so it renders blank or takes
//! its `default`), system properties match whatever their case (`Profile.name` is `Name`), and dates
//! written `"$D_<epoch seconds>"` render as `YYYY-MM-DD HH:MM:SS`.

use std::fmt;

use liquid_core::model::{
    ArrayView, DateTime, DisplayCow, KStringCow, ObjectView, ScalarCow, State, Value as LiquidValue, ValueView,
};
use ref_cast::RefCast;
use serde_json::{Map, Value};

/// What every name that is not there resolves to: nil, and nil again for any name looked up inside it, so
/// `{{ Profile.address.city }}` renders blank when there is no address, as in CleverTap.
static NIL: Missing = Missing;

#[derive(Debug)]
struct Missing;

impl ValueView for Missing {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&"")
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&"nil")
    }
    fn type_name(&self) -> &'static str {
        "nil"
    }
    fn query_state(&self, state: State) -> bool {
        !matches!(state, State::Truthy)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_static("")
    }
    fn to_value(&self) -> LiquidValue {
        LiquidValue::Nil
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
    fn is_nil(&self) -> bool {
        true
    }
}

impl ObjectView for Missing {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        0
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(std::iter::empty())
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(std::iter::empty())
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(std::iter::empty())
    }
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, _index: &str) -> Option<&'s dyn ValueView> {
        Some(self)
    }
}

/// CleverTap's system profile properties: these match case-insensitively.
const SYSTEM_PROPERTIES: &[&str] = &[
    "Name",
    "Email",
    "Phone",
    "Gender",
    "DOB",
    "Tz",
    "Identity",
    "Photo",
    "Employed",
    "Education",
    "Married",
    "Age",
    "Customer Type",
    "MSG-email",
    "MSG-push",
    "MSG-sms",
    "MSG-whatsapp",
    "MSG-dndPhone",
    "MSG-dndEmail",
];

/// A JSON value seen through Liquid's eyes, borrowed.
#[derive(RefCast)]
#[repr(transparent)]
pub struct JsonView(Value);

impl fmt::Debug for JsonView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl JsonView {
    pub fn of(value: &Value) -> &JsonView {
        JsonView::ref_cast(value)
    }
}

/// A CleverTap date (`$D_<epoch seconds>`) as CleverTap's Liquid prints it, and as a Liquid date. Only from
/// year 0 on (`$D_-62167219200`): Liquid reads four-digit years, so an earlier one is text, printed as written.
pub fn clevertap_date(s: &str) -> Option<(String, DateTime)> {
    const YEAR_0: i64 = -62_167_219_200;
    let secs: i64 = s.strip_prefix("$D_")?.parse().ok().filter(|secs| *secs >= YEAR_0)?;
    let t = jiff::Timestamp::from_second(secs).ok()?;
    let printed = t.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let date = DateTime::from_str(&format!("{printed} +0000"))?;
    Some((printed, date))
}

/// How a non-string value prints, the same way whether or not a filter touched it first (numbers as Liquid
/// prints them: `3.0` as `3`, as the `liquid` crate does after any filter).
pub fn render_json_value(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => printed(JsonView::of(v)),
        scalar => json_to_liquid(scalar).render().to_string(),
    }
}

/// What Liquid prints for `value` (a list's items one after another, an object's keys and values one after
/// another), with an object's fields always in key order. The `liquid` crate keeps objects in a `HashMap`, whose
/// order changes from one render to the next; a JSON object's fields are in key order already, so the body of
/// a delivery is the same however often it is rendered. (Limit: the `liquid` runtime copies every value it looks
/// up into its own types, so an object printed on the `liquid` path outside a JSON string, where `json_string`
/// does not run, still comes out in `HashMap` order.)
pub fn printed(value: &dyn ValueView) -> String {
    let mut out = String::new();
    print_into(value, &mut out);
    out
}

fn print_into(value: &dyn ValueView, out: &mut String) {
    if let Some(array) = value.as_array() {
        array.values().for_each(|item| print_into(item, out));
    } else if let Some(object) = value.as_object() {
        let mut fields: Vec<_> = object.iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, field) in fields {
            out.push_str(key.as_str());
            print_into(field, out);
        }
    } else {
        out.push_str(value.to_kstr().as_str());
    }
}

fn json_to_liquid(v: &Value) -> LiquidValue {
    match v {
        Value::Null => LiquidValue::Nil,
        Value::Bool(b) => LiquidValue::scalar(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => LiquidValue::scalar(i),
            None => LiquidValue::scalar(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => match clevertap_date(s) {
            Some((printed, _)) => LiquidValue::scalar(printed),
            None => LiquidValue::scalar(s.clone()),
        },
        Value::Array(a) => LiquidValue::Array(a.iter().map(json_to_liquid).collect()),
        Value::Object(o) => LiquidValue::Object(o.iter().map(|(k, v)| (k.clone().into(), json_to_liquid(v))).collect()),
    }
}

impl ValueView for JsonView {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        match &self.0 {
            Value::Null => DisplayCow::Borrowed(&""),
            Value::Bool(b) => DisplayCow::Borrowed(b),
            Value::String(s) => match clevertap_date(s) {
                Some((printed, _)) => DisplayCow::Owned(Box::new(printed)),
                None => DisplayCow::Borrowed(s),
            },
            other => DisplayCow::Owned(Box::new(render_json_value(other))),
        }
    }

    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.0.to_string()))
    }

    fn type_name(&self) -> &'static str {
        match &self.0 {
            Value::Null => "nil",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "fractional number",
            Value::Number(_) => "whole number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    fn query_state(&self, state: State) -> bool {
        let empty = match &self.0 {
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        let falsy = matches!(self.0, Value::Null | Value::Bool(false));
        match state {
            State::Truthy => !falsy,
            State::DefaultValue => falsy || empty,
            State::Empty => empty,
            State::Blank => falsy || empty || matches!(&self.0, Value::String(s) if s.trim().is_empty()),
        }
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        match &self.0 {
            Value::String(s) if !s.starts_with("$D_") => KStringCow::from_ref(s),
            _ => KStringCow::from_string(self.render().to_string()),
        }
    }

    fn to_value(&self) -> LiquidValue {
        json_to_liquid(&self.0)
    }

    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        match &self.0 {
            Value::Bool(b) => Some(ScalarCow::new(*b)),
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => ScalarCow::new(i),
                None => ScalarCow::new(n.as_f64().unwrap_or(0.0)),
            }),
            Value::String(s) => Some(match clevertap_date(s) {
                Some((_, date)) => ScalarCow::new(date),
                None => ScalarCow::new(s.as_str()),
            }),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&dyn ArrayView> {
        matches!(self.0, Value::Array(_)).then_some(self as &dyn ArrayView)
    }

    fn as_object(&self) -> Option<&dyn ObjectView> {
        matches!(self.0, Value::Object(_)).then_some(self as &dyn ObjectView)
    }

    fn is_nil(&self) -> bool {
        self.0.is_null()
    }
}

impl ArrayView for JsonView {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        self.0.as_array().map_or(0, |a| a.len() as i64)
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        let items = self.0.as_array().map(|a| a.as_slice()).unwrap_or_default();
        Box::new(items.iter().map(|v| JsonView::of(v) as &dyn ValueView))
    }

    fn contains_key(&self, index: i64) -> bool {
        self.index(index).is_some()
    }

    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        Some(nil_if_absent(self.index(index)))
    }
}

impl JsonView {
    /// An array element; negative indexes count from the end, as in Liquid.
    fn index(&self, index: i64) -> Option<&Value> {
        let a = self.0.as_array()?;
        let i = if index < 0 { a.len() as i64 + index } else { index };
        usize::try_from(i).ok().and_then(|i| a.get(i))
    }
}

impl ObjectView for JsonView {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        self.0.as_object().map_or(0, |o| o.len() as i64)
    }

    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(self.0.as_object().into_iter().flat_map(|o| o.keys().map(|k| KStringCow::from_ref(k))))
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.0.as_object().into_iter().flat_map(|o| o.values().map(|v| JsonView::of(v) as &dyn ValueView)))
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.0
                .as_object()
                .into_iter()
                .flat_map(|o| o.iter().map(|(k, v)| (KStringCow::from_ref(k), JsonView::of(v) as &dyn ValueView))),
        )
    }

    fn contains_key(&self, _index: &str) -> bool {
        // Every name resolves (to nil when absent), so Liquid never fails on a missing one.
        true
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        Some(nil_if_absent(self.0.get(index)))
    }
}

/// A value looked up by name or index: `null` is the same as absent (CleverTap's `null` removes a property),
/// so `{{ Profile.Address.city }}` renders blank whether `Address` is missing or null.
fn nil_if_absent(value: Option<&Value>) -> &dyn ValueView {
    match value {
        None | Some(Value::Null) => &NIL,
        Some(v) => JsonView::of(v),
    }
}

/// `Profile` or `Event`: properties by name, system properties in any case, nil for the rest.
#[derive(Debug, Clone, Copy)]
pub struct Properties<'a> {
    map: Option<&'a Map<String, Value>>,
    /// Whether CleverTap's system property names match in any case (profiles: yes).
    fold_system_names: bool,
}

impl<'a> Properties<'a> {
    pub fn profile(map: &'a Map<String, Value>) -> Self {
        Self { map: Some(map), fold_system_names: true }
    }

    pub fn event(map: Option<&'a Map<String, Value>>) -> Self {
        Self { map, fold_system_names: false }
    }

    pub fn lookup(&self, name: &str) -> Option<&'a Value> {
        let map = self.map?;
        if let Some(v) = map.get(name) {
            return Some(v);
        }
        if !self.fold_system_names {
            return None;
        }
        let system = SYSTEM_PROPERTIES.iter().find(|s| s.eq_ignore_ascii_case(name))?;
        map.get(*system).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(system)).map(|(_, v)| v))
    }
}

impl ValueView for Properties<'_> {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(printed(self)))
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.to_value().source().to_string()))
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        let empty = self.map.is_none_or(Map::is_empty);
        match state {
            State::Truthy => true,
            State::DefaultValue | State::Empty | State::Blank => empty,
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(self.render().to_string())
    }
    fn to_value(&self) -> LiquidValue {
        self.map.map_or(LiquidValue::Nil, |m| json_to_liquid(&Value::Object(m.clone())))
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for Properties<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        self.map.map_or(0, |m| m.len() as i64)
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(self.map.into_iter().flat_map(|m| m.keys().map(|k| KStringCow::from_ref(k))))
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.map.into_iter().flat_map(|m| m.values().map(|v| JsonView::of(v) as &dyn ValueView)))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.map
                .into_iter()
                .flat_map(|m| m.iter().map(|(k, v)| (KStringCow::from_ref(k), JsonView::of(v) as &dyn ValueView))),
        )
    }
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        Some(nil_if_absent(self.lookup(index)))
    }
}

/// The top level a body sees: `Profile`, `Event`, `Campaign`; any other name is nil.
#[derive(Debug)]
pub struct Globals<'a> {
    pub profile: Properties<'a>,
    pub event: Properties<'a>,
    /// `{"campaignId": …, "name": …}`.
    pub campaign: &'a Value,
}

impl ValueView for Globals<'_> {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&"")
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&"")
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        matches!(state, State::Truthy)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_static("")
    }
    fn to_value(&self) -> LiquidValue {
        LiquidValue::Nil
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

const GLOBAL_NAMES: [&str; 3] = ["Profile", "Event", "Campaign"];

impl ObjectView for Globals<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        GLOBAL_NAMES.len() as i64
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(GLOBAL_NAMES.iter().map(|k| KStringCow::from_static(k)))
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(GLOBAL_NAMES.iter().filter_map(|k| ObjectView::get(self, k)))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(GLOBAL_NAMES.iter().filter_map(|k| Some((KStringCow::from_static(k), ObjectView::get(self, k)?))))
    }
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        Some(match index {
            "Profile" => &self.profile,
            "Event" => &self.event,
            "Campaign" => JsonView::of(self.campaign),
            _ => &NIL,
        })
    }
}
