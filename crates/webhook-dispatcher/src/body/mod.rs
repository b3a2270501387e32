//! Webhook bodies in CleverTap's Liquid dialect: compiled once when the campaign is saved, rendered per
//! user, and, for JSON bodies, kept valid JSON whatever the profile contains.
//!
//! ```
//! use webhook_dispatcher::body::{BodyTemplate, ContentFormat, RenderInput};
//! let body = BodyTemplate::compile(r#"{"Name": "{{ Profile.name | default: "test" }}"}"#, ContentFormat::Json)?;
//! let profile = serde_json::json!({"Name": "Ada \"The Countess\" Lovelace"});
//! let rendered = body.render(&RenderInput::for_profile(profile.as_object().unwrap()))?;
//! assert_eq!(rendered, r#"{"Name": "Ada \"The Countess\" Lovelace"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod dialect;
mod fast;
mod integers;
pub(crate) mod json_context;
mod view;

use std::sync::OnceLock;

use serde_json::{Map, Value};

pub use dialect::escape_json_string_into;
pub use view::clevertap_date;

use dialect::ABORT_MARKER;
use view::{Globals, Properties};

/// How the body is sent: CleverTap's "Content format".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentFormat {
    /// `Content-Type: application/json`; the rendered body must be valid JSON.
    Json,
    /// `Content-Type: text/plain`; rendered as written.
    Text,
}

impl ContentFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ContentFormat::Json => "application/json",
            ContentFormat::Text => "text/plain",
        }
    }
}

/// A place in the body's source or output: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// The body's source does not parse; reported when the campaign is saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Liquid syntax error{}: {message}", .position.map(|p| format!(" at {p}")).unwrap_or_default())]
pub struct CompileError {
    pub position: Option<Position>,
    pub message: String,
}

/// Why a user's body could not be produced. Each stops that user's message, and is reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// `{% abort %}` ran: CleverTap's `LiquidLogicAborted`.
    #[error("LiquidLogicAborted: abort liquid logic encountered")]
    Aborted,
    /// A runtime Liquid error (a filter given the wrong type, say).
    #[error("Liquid error: {0}")]
    Liquid(String),
    /// The rendered JSON body is not valid JSON; it is not sent.
    #[error("the rendered body is not valid JSON at {position}: {message}")]
    InvalidJson { position: Position, message: String },
}

/// What a body sees when it renders for one user.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// The user's profile properties, by CleverTap name (`Name`, `Email`, custom ones…).
    pub profile: &'a Map<String, Value>,
    /// The triggering event's properties (live campaigns only).
    pub event: Option<&'a Map<String, Value>>,
    /// `{"campaignId": …, "name": …}`, or null.
    pub campaign: &'a Value,
}

static NO_CAMPAIGN: Value = Value::Null;

impl<'a> RenderInput<'a> {
    pub fn for_profile(profile: &'a Map<String, Value>) -> Self {
        Self { profile, event: None, campaign: &NO_CAMPAIGN }
    }
}

/// A compiled body.
pub struct BodyTemplate {
    format: ContentFormat,
    template: liquid::Template,
    /// The same body for the fast path, when it is plain enough (see `fast.rs`).
    fast: Option<fast::FastBody>,
    /// How many outputs are escaped as JSON string content.
    escaped_outputs: usize,
}

impl std::fmt::Debug for BodyTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyTemplate").field("format", &self.format).finish_non_exhaustive()
    }
}

fn parser() -> &'static liquid::Parser {
    static PARSER: OnceLock<liquid::Parser> = OnceLock::new();
    PARSER.get_or_init(dialect::parser)
}

impl BodyTemplate {
    /// Compiles `source`. For JSON bodies, every output inside a JSON string is escaped as JSON.
    pub fn compile(source: &str, format: ContentFormat) -> Result<Self, CompileError> {
        if let Some((at, literal)) = integers::oversized(source) {
            return Err(CompileError {
                position: Some(position_at(source, at)),
                message: format!("the integer {literal} does not fit in 64 bits"),
            });
        }
        let (prepared, escaped_outputs) = match format {
            ContentFormat::Json => json_context::escape_outputs_in_strings(source),
            ContentFormat::Text => (source.to_owned(), 0),
        };
        // Always parsed by the `liquid` crate: it is the one that reports syntax errors, with positions.
        let template = parse(&prepared)?;
        let fast = fast::FastBody::from_pieces(&json_context::split(source), format == ContentFormat::Json);
        Ok(Self { format, template, fast, escaped_outputs })
    }

    /// Whether this body renders on the fast path.
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }

    pub fn format(&self) -> ContentFormat {
        self.format
    }

    /// Outputs escaped as JSON string content (for previews that explain what was done).
    pub fn escaped_outputs(&self) -> usize {
        self.escaped_outputs
    }

    /// Renders the body for one user.
    pub fn render(&self, input: &RenderInput<'_>) -> Result<String, RenderError> {
        match &self.fast {
            Some(fast) => {
                let body = fast.render(input)?;
                if fast.needs_check() { self.check(body) } else { Ok(body) }
            }
            None => self.render_with_liquid(input),
        }
    }

    /// Renders on the full `liquid` path, whatever the body (also used to check the fast path).
    pub fn render_with_liquid(&self, input: &RenderInput<'_>) -> Result<String, RenderError> {
        let globals = Globals {
            profile: Properties::profile(input.profile),
            event: Properties::event(input.event),
            campaign: input.campaign,
        };
        let mut out = Vec::with_capacity(256);
        if let Err(e) = self.template.render_to(&mut out, &globals) {
            let text = e.to_string();
            return Err(if text.contains(ABORT_MARKER) { RenderError::Aborted } else { RenderError::Liquid(text) });
        }
        let body = String::from_utf8(out).map_err(|_| RenderError::Liquid("rendered text is not UTF-8".into()))?;
        self.check(body)
    }

    /// A JSON body must parse; a text body is sent as it is.
    fn check(&self, body: String) -> Result<String, RenderError> {
        if self.format == ContentFormat::Json
            && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&body)
        {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            return Err(RenderError::InvalidJson {
                position: Position { line: e.line(), column: e.column() },
                message,
            });
        }
        Ok(body)
    }
}

/// Parses with the `liquid` crate, first checking the source's structure on a copy whose non-ASCII characters are
/// `?`. The crate re-reads a failing line from a character count used as a byte offset, and panics when that cut
/// makes the rest valid (a syntax error after `日日` on the same line crashed the save; found by the fuzz target).
/// No grammar rule reads `?` or a non-ASCII character outside text and string literals, so the copy parses
/// exactly when the source does, and fails at the same line and column.
fn parse(source: &str) -> Result<liquid::Template, CompileError> {
    if !source.is_ascii() {
        let ascii: String = source.chars().map(|c| if c.is_ascii() { c } else { '?' }).collect();
        parser().parse(&ascii).map_err(|e| compile_error(&e.to_string()))?;
    }
    parser().parse(source).map_err(|e| compile_error(&e.to_string()))
}

/// The line and column (in characters) of byte `at` of `source`.
fn position_at(source: &str, at: usize) -> Position {
    let before = &source[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
}

/// Reads the position out of the `liquid` crate's parse error (`--> 3:12`).
fn compile_error(text: &str) -> CompileError {
    let position = text.split("--> ").nth(1).and_then(|rest| {
        let pos = rest.split_whitespace().next()?;
        let (line, column) = pos.split_once(':')?;
        Some(Position { line: line.parse().ok()?, column: column.parse().ok()? })
    });
    let message = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('=') || l.starts_with("liquid:"))
        .map(|l| l.trim_start_matches('=').trim_start_matches("liquid:").trim())
        .filter(|l| !l.is_empty() && !l.starts_with("-->"))
        .collect::<Vec<_>>()
        .join("; ");
    CompileError { position, message: if message.is_empty() { text.trim().to_owned() } else { message } }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
