//! The fast path for the common body: literal text and outputs of the form `{{ Object.path | default: x }}`.
//!
//! Most webhook bodies (the seed walkthrough's among them) are just that. Such a body renders straight from
//! the delivery's JSON: no Liquid runtime, no copies of values, escaping written directly into the output.
//! When every output lies inside a JSON string, the body's validity is proven once at compile time, so the
//! per-render JSON check is skipped too. Anything else (tags, other filters, whitespace control) takes the
//! full `liquid` path; tests render both ways and compare.

use serde_json::Value;

use super::dialect::escape_json_string_into;
use super::json_context::Piece;
use super::view::{Properties, clevertap_date};
use super::{RenderError, RenderInput};

#[derive(Debug, Clone)]
enum Root {
    Profile,
    Event,
    Campaign,
    /// Any other name: always nil.
    Unknown,
}

#[derive(Debug, Clone)]
struct Output {
    root: Root,
    root_name: String,
    path: Vec<String>,
    /// `default: …`, as the text it renders.
    default: Option<String>,
    in_string: bool,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Output(Output),
}

/// A body the fast path can render.
#[derive(Debug, Clone)]
pub struct FastBody {
    parts: Vec<Part>,
    /// Whether rendering can produce invalid JSON (an output outside a string), so it must be checked.
    needs_check: bool,
}

impl FastBody {
    /// The fast form of `pieces`, if every piece is plain enough. `json` says whether this is a JSON body.
    pub fn from_pieces(pieces: &[Piece<'_>], json: bool) -> Option<FastBody> {
        let mut parts = Vec::with_capacity(pieces.len());
        let mut needs_check = false;
        let mut skeleton = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => {
                    skeleton.push_str(t);
                    parts.push(Part::Text((*t).to_owned()));
                }
                Piece::Tag(_) => return None,
                Piece::Output { inner, in_string, .. } => {
                    let mut output = parse_output(inner)?;
                    output.in_string = json && *in_string;
                    needs_check |= json && !*in_string;
                    parts.push(Part::Output(output));
                }
            }
        }
        // With every output inside a string (and escaped), the body is valid exactly when its literal text is.
        if json && !needs_check && serde_json::from_str::<serde::de::IgnoredAny>(&skeleton).is_err() {
            needs_check = true;
        }
        Some(FastBody { parts, needs_check })
    }

    pub fn needs_check(&self) -> bool {
        self.needs_check
    }

    /// Renders; the error is the one the `liquid` path gives, for a path that indexes into a value that is
    /// not an object.
    pub fn render(&self, input: &RenderInput<'_>) -> Result<String, RenderError> {
        let mut out = String::with_capacity(256);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Output(o) => {
                    let value = lookup(o, input)?;
                    let is_default = value.is_none_or(|v| match v {
                        Value::Null | Value::Bool(false) => true,
                        Value::String(s) => s.is_empty(),
                        Value::Array(a) => a.is_empty(),
                        Value::Object(m) => m.is_empty(),
                        _ => false,
                    });
                    match (&o.default, is_default) {
                        (Some(d), true) => push(&mut out, d, o.in_string),
                        _ => {
                            if let Some(v) = value {
                                push_value(&mut out, v, o.in_string);
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The value at the output's path; `None` when a name is missing (nil, as in CleverTap).
fn lookup<'a>(o: &Output, input: &RenderInput<'a>) -> Result<Option<&'a Value>, RenderError> {
    let Some((first, rest)) = o.path.split_first() else { return Ok(None) };
    let found = match o.root {
        Root::Profile => Properties::profile(input.profile).lookup(first),
        Root::Event => Properties::event(input.event).lookup(first),
        Root::Campaign => input.campaign.get(first),
        Root::Unknown => None,
    };
    let Some(mut v) = found else { return Ok(None) };
    for (i, key) in rest.iter().enumerate() {
        let next = match v {
            Value::Object(m) => Some(m.get(key)),
            // A list is indexed by number, nil past its end; a name (`Tags.city`) is an error, as in Liquid.
            Value::Array(a) => key.parse::<usize>().ok().map(|k| a.get(k)),
            Value::Null => Some(None),
            _ => None,
        };
        v = match next {
            Some(Some(next)) => next,
            Some(None) => return Ok(None),
            None => {
                let at = std::iter::once(o.root_name.as_str())
                    .chain(o.path[..=i].iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(".");
                return Err(RenderError::Liquid(format!(
                    "liquid: Unknown index\n  with:\n    variable={at}\n    requested index={key}"
                )));
            }
        };
    }
    Ok(Some(v))
}

fn push(out: &mut String, text: &str, in_string: bool) {
    if in_string { escape_json_string_into(text, out) } else { out.push_str(text) }
}

fn push_value(out: &mut String, v: &Value, in_string: bool) {
    match v {
        Value::Null => {}
        Value::String(s) => match clevertap_date(s) {
            Some((printed, _)) => push(out, &printed, in_string),
            None => push(out, s, in_string),
        },
        other => push(out, &super::view::render_json_value(other), in_string),
    }
}

/// Parses `Root.a["b c"].d | default: "x"` (the inside of `{{ }}`), or gives up.
fn parse_output(inner: &str) -> Option<Output> {
    if inner.starts_with('-') || inner.ends_with('-') {
        return None;
    }
    let mut parts = inner.split('|');
    let path = parts.next()?.trim();
    let default = match parts.next() {
        None => None,
        Some(filter) => Some(parse_default(filter.trim())?),
    };
    if parts.next().is_some() {
        return None;
    }
    let (root, path) = parse_path(path)?;
    let root_name = path_root_name(inner);
    Some(Output { root, root_name, path, default, in_string: false })
}

fn parse_default(filter: &str) -> Option<String> {
    let arg = filter.strip_prefix("default")?.trim_start().strip_prefix(':')?.trim();
    if let Some(s) = arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')).filter(|s| !s.contains('"')) {
        return Some(s.to_owned());
    }
    if let Some(s) = arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')).filter(|s| !s.contains('\'')) {
        return Some(s.to_owned());
    }
    // Whole numbers print as written; anything else (floats, variables, several arguments) takes the full path.
    arg.parse::<i64>().ok().map(|n| n.to_string())
}

fn parse_path(path: &str) -> Option<(Root, Vec<String>)> {
    let ident_end = path.find(['.', '[']).unwrap_or(path.len());
    let root_name = &path[..ident_end];
    if !is_identifier(root_name) {
        return None;
    }
    let root = match root_name {
        "Profile" => Root::Profile,
        "Event" => Root::Event,
        "Campaign" => Root::Campaign,
        _ => Root::Unknown,
    };
    let mut keys = Vec::new();
    let mut rest = &path[ident_end..];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if !is_identifier(&r[..end]) {
                return None;
            }
            keys.push(r[..end].to_owned());
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            if digits > 0 {
                keys.push(r[..digits].to_owned());
                rest = r[digits..].strip_prefix(']')?;
                continue;
            }
            let quote = r.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let r = &r[1..];
            let close = r.find(quote)?;
            keys.push(r[..close].to_owned());
            rest = r[close + 1..].strip_prefix(']')?;
        } else {
            return None;
        }
    }
    // `first`, `last` and `size` mean something special to Liquid on arrays: leave those to it.
    if keys.is_empty() || keys.iter().any(|k| matches!(k.as_str(), "first" | "last" | "size")) {
        return None;
    }
    Some((root, keys))
}

fn path_root_name(inner: &str) -> String {
    let path = inner.split('|').next().unwrap_or("").trim();
    path[..path.find(['.', '[']).unwrap_or(path.len())].to_owned()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
