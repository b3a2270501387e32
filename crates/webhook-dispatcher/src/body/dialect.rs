//! CleverTap's Liquid dialect on top of the `liquid` crate: Shopify's standard tags and filters, CleverTap's
//! `{% abort %}`, and our `json_string` filter, which the compiler adds where a value lands inside a JSON
//! string.

use std::fmt;
use std::io::Write;

use liquid_core::parser::{FilterArguments, ParameterReflection};
use liquid_core::{
    Error, Filter, FilterReflection, ParseFilter, ParseTag, Renderable, Result, Runtime, TagReflection, TagTokenIter,
    Value, ValueView,
};

/// The message `{% abort %}` raises; the renderer turns it into `RenderError::Aborted`.
pub const ABORT_MARKER: &str = "LiquidLogicAborted";

/// The parser for CleverTap bodies.
pub fn parser() -> liquid::Parser {
    liquid::ParserBuilder::with_stdlib()
        .tag(AbortTag)
        .filter(JsonStringFilter)
        .build()
        .expect("the standard library with our tag and filter is a valid parser")
}

/// `{% abort %}`: stop rendering and do not send this user's message (CleverTap reports
/// `LiquidLogicAborted`, "Abort liquid logic encountered").
#[derive(Clone, Debug)]
pub struct AbortTag;

impl TagReflection for AbortTag {
    fn tag(&self) -> &str {
        "abort"
    }
    fn description(&self) -> &str {
        "Stops rendering: the message is not sent for this user."
    }
}

impl ParseTag for AbortTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, _options: &liquid_core::Language) -> Result<Box<dyn Renderable>> {
        arguments.expect_nothing()?;
        Ok(Box::new(Abort))
    }
    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Abort;

impl Renderable for Abort {
    fn render_to(&self, _writer: &mut dyn Write, _runtime: &dyn Runtime) -> Result<()> {
        Err(Error::with_msg(ABORT_MARKER))
    }
}

/// `| json_string`: the value escaped for the inside of a JSON string literal, so that quotes,
/// backslashes, line breaks and control characters in profile data cannot break the body.
#[derive(Clone, Debug)]
pub struct JsonStringFilter;

impl FilterReflection for JsonStringFilter {
    fn name(&self) -> &str {
        "json_string"
    }
    fn description(&self) -> &str {
        "Escapes the value for use inside a JSON string literal."
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for JsonStringFilter {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        let mut arguments = arguments;
        if arguments.positional.next().is_some() || arguments.keyword.next().is_some() {
            return Err(Error::with_msg("json_string takes no arguments"));
        }
        Ok(Box::new(JsonString))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct JsonString;

impl fmt::Display for JsonString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("json_string")
    }
}

impl Filter for JsonString {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        // `printed`, not `to_kstr`: an object that went through another filter first (`| default: x`) is a
        // `liquid` object, whose fields would otherwise come out in a different order each time.
        let text = super::view::printed(input);
        let mut escaped = String::with_capacity(text.len() + 2);
        escape_json_string_into(&text, &mut escaped);
        Ok(Value::scalar(escaped))
    }
}

/// Appends `s` escaped for the inside of a JSON string literal (RFC 8259 §7).
pub fn escape_json_string_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < '\u{20}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
}
