//! CleverTap's Liquid dialect on top of the `liquid` crate: Shopify's standard tags and filters, CleverTap's
//! `{% abort %}`, and our `json_string` filter, which the compiler adds where a value lands inside a JSON
//! string. The standard `date` filter is replaced by one that does not panic on non-ASCII formats.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;

use liquid_core::parser::{FilterArguments, ParameterReflection};
use liquid_core::{
    Error, Expression, Filter, FilterReflection, ParseFilter, ParseTag, Renderable, Result, Runtime, TagReflection,
    TagTokenIter, Value, ValueView,
};

/// The message `{% abort %}` raises; the renderer turns it into `RenderError::Aborted`.
pub const ABORT_MARKER: &str = "LiquidLogicAborted";

/// The parser for CleverTap bodies.
pub fn parser() -> liquid::Parser {
    liquid::ParserBuilder::with_stdlib()
        .tag(AbortTag)
        .filter(JsonStringFilter)
        .filter(DateFilter)
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

/// `| date: "%Y-%m-%d"`: the standard filter (a date, or a string that reads as one, formatted; anything else
/// unchanged), with one repair. The `liquid` crate prints a directive it does not know (`%é`) as written, but
/// slices the format by bytes to do it and panicked when the directive ended in a non-ASCII character, while
/// rendering a user's message (found by the `liquid_json_body` fuzz target).
#[derive(Clone, Debug)]
pub struct DateFilter;

impl FilterReflection for DateFilter {
    fn name(&self) -> &str {
        "date"
    }
    fn description(&self) -> &str {
        "Converts a timestamp into another date format."
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        const FORMAT: [ParameterReflection; 1] = [ParameterReflection {
            name: "format",
            description: "The format to return the date in.",
            is_optional: false,
        }];
        &FORMAT
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for DateFilter {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        let mut arguments = arguments;
        let format = arguments.positional.next().ok_or_else(|| Error::with_msg("date takes a format"))?;
        if arguments.positional.next().is_some() || arguments.keyword.next().is_some() {
            return Err(Error::with_msg("date takes one argument, the format"));
        }
        Ok(Box::new(Date { format }))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct Date {
    format: Expression,
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "date: {}", self.format)
    }
}

impl Filter for Date {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let format = self.format.evaluate(runtime)?.to_kstr().into_owned();
        match input.as_scalar().and_then(|s| s.to_date_time()) {
            Some(date) if !format.is_empty() => date
                .format(&unknown_directives_as_written(&format))
                .map(Value::scalar)
                .map_err(|_| Error::with_msg(format!("Invalid date-format string: {format}"))),
            _ => Ok(input.to_value()),
        }
    }
}

/// `format` with a second `%` before each directive that takes in a non-ASCII character (`%é`, `%-é`, `%:é`):
/// none is a known one, so the `liquid` crate would print it as written; `%%` makes it do so without slicing.
/// A directive is read as the crate reads it: `%`, flags (`-_0^#`), a width, `E`/`O`, the character, and after
/// `:` one more (two after `::`).
fn unknown_directives_as_written(format: &str) -> Cow<'_, str> {
    if format.is_ascii() {
        return Cow::Borrowed(format);
    }
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::with_capacity(format.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < chars.len() && "-_0^#".contains(chars[end]) {
            end += 1;
        }
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        match chars.get(end) {
            Some('E' | 'O') => end += 1,
            Some(':') => end += if chars.get(end + 1) == Some(&':') { 2 } else { 1 },
            _ => {}
        }
        let directive = &chars[i..=end.min(chars.len() - 1)];
        if directive.iter().any(|c| !c.is_ascii()) {
            out.push('%');
        }
        out.extend(directive);
        i = end + 1;
    }
    Cow::Owned(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_that_take_in_a_non_ascii_character_are_doubled_and_others_kept() {
        for (format, repaired) in [
            ("%Y-%m-%d", "%Y-%m-%d"),
            ("%é", "%%é"),
            ("%-_0^#12é %Y", "%%-_0^#12é %Y"),
            ("%Eé", "%%Eé"),
            ("%:é %::é %:zé", "%%:é %%::é %:zé"),
            ("%%é 100%", "%%é 100%"),
            ("日付 %Y年", "日付 %Y年"),
        ] {
            assert_eq!(unknown_directives_as_written(format), repaired, "{format}");
        }
    }
}
